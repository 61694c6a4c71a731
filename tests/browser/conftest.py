"""A real server and a real browser: uvicorn on a free local port over a fresh database
seeded with the demo people, and Debian's Chromium driven by Playwright.

Outside CI a missing Chromium (or Playwright) skips these tests with a reason; in CI it
fails them, like PostgreSQL and Redis (``support.require_service``).
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import FreshDatabase, make_settings, require_service

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
PHONE = {"width": 360, "height": 740}


def _chromium_available() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).exists() or shutil.which("chromium") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, databases: FreshDatabase
) -> Iterator[str]:
    """The app served by uvicorn in a thread, over a fresh database with the demo people."""
    import uvicorn

    from datatrust.bootstrap import build
    from datatrust.services.demo import seed_demo
    from datatrust.web.app import create_app

    port = _free_port()
    settings = make_settings(
        tmp_path_factory.mktemp("browser"),
        database_url=databases.create(),
        base_url=f"http://127.0.0.1:{port}",
    )
    services = build(settings)
    seed_demo(services.uow, services.hasher, services.storage)
    config = uvicorn.Config(
        create_app(services, start_worker=False),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator:
    require_service("Chromium (apt-get install chromium) with Playwright", _chromium_available())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        yield chromium
        chromium.close()


@pytest.fixture
def phone(browser, live_server: str) -> Iterator:
    """A fresh browser context (no cookies) the size of a cheap Android phone."""
    context = browser.new_context(viewport=PHONE, base_url=live_server, locale="en-GB")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
