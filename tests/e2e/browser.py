"""Browser-test setup shared by the panel's browser tests: Debian's headless Chromium driven by Playwright,
and the real app served by uvicorn in a thread on 127.0.0.1. Importing it skips the importing test module
when /usr/bin/chromium (`.ci/browser.sh`) or playwright is missing."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian chromium is not installed at /usr/bin/chromium (run .ci/browser.sh)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[test])")
expect = sync_api.expect
expect.set_options(timeout=20_000)  # auto-waiting, generous for a loaded CI machine (no timing is asserted)

import uvicorn  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # screenshots (gitignored)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    """The app under uvicorn in a thread, on a socket bound before the thread starts (so no waiting); its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def launch(pw: Any) -> Any:
    """Debian's Chromium, headless, through a started `sync_playwright()`."""
    return pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
