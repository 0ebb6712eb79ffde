"""End-to-end fixtures: the real engine with the bundled packs, and a running app per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.deps import Engine
from tests.unit.service.support import open_client


@pytest.fixture(scope="module")
def engine() -> Engine:
    import cdss
    from cdss.packs.registry import default_registry

    return Engine(default_registry(), cdss.evaluate)


@pytest.fixture()
def client(tmp_path: Path, engine: Engine) -> Iterator[TestClient]:
    with open_client(tmp_path, engine=engine) as c:
        yield c


# --- the real service in Debian's headless Chromium (the panel's browser tests) -------------------------
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # screenshots (gitignored)


@pytest.fixture(scope="module")
def panel_engine() -> Engine | None:
    """The engine the browser tests' service runs (None: the app's default, every bundled pack); a test
    module overrides this fixture to serve other packs."""
    return None


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, panel_engine: Engine | None) -> Iterator[str]:
    """The real app under uvicorn in a thread, on a socket bound before the thread starts (so no waiting)."""
    import socket
    import threading

    import uvicorn

    from service.app import create_app
    from service.settings import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("panel-data"), auth="off", host="127.0.0.1")
    app = create_app(settings) if panel_engine is None else create_app(settings, engine=panel_engine)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's headless Chromium driven by Playwright (skips without /usr/bin/chromium or playwright).

    Per module, not per session: Playwright's sync API runs an asyncio loop in this thread while it is open,
    and a later test's `asyncio.run()` (the fhirServer fetches) would fail inside it."""
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (run .ci/browser.sh)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[test])")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser: object) -> Iterator[object]:
    """A fresh zh-CN page at 1280x800 (the first screen of a centre's desktop)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")  # type: ignore[attr-defined]
    context.set_default_timeout(30_000)
    pg = context.new_page()
    yield pg
    context.close()


def shot(page: object, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot as test-artifacts/panel-NAME.png (looked at by people; nothing compares pixels)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"panel-{name}.png"
    page.screenshot(path=str(path), full_page=full_page)  # type: ignore[attr-defined]
    return path
