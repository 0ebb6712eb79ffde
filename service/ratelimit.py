"""Service: a per-client rate limit (one-minute windows starting at a client's first item).

Used for feedback, the one endpoint that stores what a caller sends without evaluating anything. The
client is the verified token's issuer and subject when auth is on, else the peer address.
:class:`SharedRateLimiter` counts in the audit database (SQLite or PostgreSQL), so every worker of
``cdss serve --workers N`` (and every server on one PostgreSQL database) shares one count per client: the
limit holds for the whole service. :class:`RateLimiter` counts in one process's memory (tests, tools).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any

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


class SharedRateLimiter:
    """`take(client, n)` as RateLimiter, counted in the audit database shared by every worker."""

    def __init__(self, storage: Any, per_window: int, *, name: str = "feedback",
                 clock: Callable[[], float] = time.time):
        self.storage = storage
        self.per_window = per_window
        self.name = name
        self.clock = clock

    def _key(self, client: str) -> str:
        return hashlib.sha256(f"{self.name}\n{client}".encode()).hexdigest()

    def take(self, client: str, n: int = 1) -> bool:
        return self.storage.take_rate(self._key(client), n, limit=self.per_window, window_s=WINDOW_S,
                                      now=self.clock())

    def retry_after(self, client: str) -> int:
        """Seconds until the client's window ends (at least 1)."""
        now = self.clock()
        start = self.storage.rate_window_start(self._key(client))
        start = now if start is None else start
        return max(1, int(WINDOW_S - (now - start)) + 1)
