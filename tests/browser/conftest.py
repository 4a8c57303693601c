"""The real server on a free 127.0.0.1 port (uvicorn in a thread) and Debian's Chromium driven by Playwright.

Never ``playwright install``: the browser is ``/usr/bin/chromium`` from the Debian package that
``.ci/run`` installs. Each test gets a fresh database (SQLite and PostgreSQL, like every
database test), the example ops applied, and four users with known passwords.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import Engine

from commandpost.app import create_app
from commandpost.clock import SystemClock
from commandpost.db.engine import make_session_factory, transaction
from commandpost.policy import service as policy_service
from commandpost.security import users
from commandpost.settings import Settings
from tests.conftest import REPO
from tests.rotation_week import wall_clock_ops

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery staple"
USERS = {"yuta": "admin", "hana": "responder", "ken": "responder", "mei": "read"}
OUTPUT = REPO / "test-output" / "browser"
DOCS_IMG = REPO / "docs" / "img"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: the browser tests drive Debian's chromium package "
            "(apt-get install chromium; .ci/run installs it). Never run `playwright install`.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every browser test runs on the real clock (the server's SystemClock): ``wallclock``; and drives
    Chromium against a real server: ``integration``."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.wallclock)
            item.add_marker(pytest.mark.integration)


@dataclass
class Server:
    url: str
    engine: Engine


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(db_url: str, engine: Engine, tmp_path: Path) -> Iterator[Server]:
    sessions = make_session_factory(engine)
    clock = SystemClock()
    with transaction(sessions) as session:
        policy_service.apply_folder(session, path=wall_clock_ops(tmp_path), now=clock.now(), actor="test")
        config = policy_service.current_config(session)
        for handle, role in USERS.items():
            users.set_password(
                session, config=config, handle=handle, password=PASSWORD, role=role, now=clock.now()
            )
    port = _free_port()
    settings = Settings(database_url=db_url, engine_enabled=False, host="127.0.0.1", port=port)
    app = create_app(settings, clock=clock, engine=engine, run_engine=False)
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the server did not start within 15 s", pytrace=False)
        time.sleep(0.02)
    yield Server(url=f"http://127.0.0.1:{port}", engine=engine)
    uv.should_exit = True
    thread.join(10)


@pytest.fixture
def login(browser: Any, server: Server) -> Iterator[Callable[[str], Any]]:
    """``login("hana")`` → a Page in its own browser context, logged in as @hana."""
    contexts = []

    def open_as(handle: str) -> Any:
        context = browser.new_context(viewport={"width": 1440, "height": 1000}, base_url=server.url)
        contexts.append(context)
        return sign_in(context.new_page(), handle)

    yield open_as
    for context in contexts:
        context.close()


def sign_in(page: Any, handle: str) -> Any:
    """``page`` logged in as ``handle`` through the login form (each test user has :data:`PASSWORD`)."""
    page.set_default_timeout(10_000)
    page.goto("/login")
    page.fill("input[name=handle]", handle)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/incidents$"))
    return page


@pytest.fixture
def shot(request: pytest.FixtureRequest, db_url: str) -> Callable[..., Path]:
    """``shot(page, "incident")``: a full-page screenshot in test-output/browser/ (a name may hold a
    folder: ``"pages/phone-login"``; and, with
    COMMANDPOST_DOCS_SCREENSHOTS=1, the SQLite run's copy in docs/img/ for docs/web.md)."""
    backend = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    docs = os.environ.get("COMMANDPOST_DOCS_SCREENSHOTS") == "1" and backend == "sqlite"

    def take(page: Any, name: str, *, full_page: bool = True) -> Path:
        path = OUTPUT / f"{name}-{backend}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(path), full_page=full_page)
        except PlaywrightError as exc:
            # Chromium now and then answers captureScreenshot with "Unable to capture screenshot" while
            # a frame is in flight (seen once in CI); the shot is a record, not what a test asserts:
            # after the next animation frame it is taken again, once.
            if "Unable to capture screenshot" not in str(exc):
                raise
            page.evaluate("() => new Promise(requestAnimationFrame)")
            page.screenshot(path=str(path), full_page=full_page)
        if docs:
            (DOCS_IMG / name).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(DOCS_IMG / f"{name}.png"), full_page=full_page)
        return path

    return take
