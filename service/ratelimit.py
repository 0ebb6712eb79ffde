"""Service: a per-client rate limit (fixed one-minute windows, in this worker's memory).

Used for feedback, the one endpoint that stores what a caller sends without evaluating anything. The
client is the verified token's issuer and subject when auth is on, else the peer address. Each worker
counts on its own, so a server of N workers admits up to N times the limit; that bounds abuse, which is
its purpose, not an exact quota.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

WINDOW_S = 60.0
MAX_CLIENTS = 10_000


class RateLimiter:
    """`take(client, n)`: True when `n` more items fit in the client's current window."""

    def __init__(self, per_window: int, *, clock: Callable[[], float] = time.monotonic):
        self.per_window = per_window
        self.clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def take(self, client: str, n: int = 1) -> bool:
        now = self.clock()
        with self._lock:
            start, used = self._windows.get(client, (now, 0))
            if now - start >= WINDOW_S:
                start, used = now, 0
            if used + n > self.per_window:
                self._windows[client] = (start, used)
                return False
            if len(self._windows) >= MAX_CLIENTS and client not in self._windows:
                self._windows = {k: v for k, v in self._windows.items() if now - v[0] < WINDOW_S}
            self._windows[client] = (start, used + n)
            return True

    def retry_after(self, client: str) -> int:
        """Seconds until the client's window ends (at least 1)."""
        start, _ = self._windows.get(client, (self.clock(), 0))
        return max(1, int(WINDOW_S - (self.clock() - start)) + 1)
