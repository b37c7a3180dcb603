"""Browser fixtures: the tool on 127.0.0.1 and the demo LMS on localhost (cross-site), driven by chromium."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright
from werkzeug.serving import BaseWSGIServer, make_server

from lti_tool.app import create_app
from lti_tool.db import make_engine, make_session_factory, upgrade_database
from lti_tool.demo.district import generate_district
from lti_tool.demo.load import load_district
from lti_tool.demo.platform.serve import PlatformServer
from lti_tool.demo.stack import prepare_demo_stack
from lti_tool.settings import load_settings
from lti_tool.web.session import app_state

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The flags Debian's chromium needs here (no sandbox as root, no background network), plus
# third-party cookies blocked the way Chrome's own setting blocks them.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--test-third-party-cookie-phaseout",
]


@dataclass(frozen=True)
class DemoStackUrls:
    """Where the running demo stack answers."""

    lms: str
    tool: str


def _free_server(app: object, host: str) -> BaseWSGIServer:
    return make_server(host, 0, app, threaded=True)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def browser_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file of its own: the servers run in threads and commit, so no rolled-back session here."""
    return f"sqlite:///{tmp_path_factory.mktemp('browser') / 'browser.db'}"


@pytest.fixture(scope="session")
def demo_stack(browser_database_url: str) -> Iterator[DemoStackUrls]:
    """Tool and demo LMS serving in background threads, registered and linked to the demo district."""
    upgrade_database(browser_database_url)
    tool_server = _free_server(None, "127.0.0.1")
    tool_url = f"http://127.0.0.1:{tool_server.server_port}"
    settings = load_settings({"DATABASE_URL": browser_database_url, "MB_PUBLIC_BASE_URL": tool_url})
    app = create_app(settings)
    tool_server.app = app  # type: ignore[attr-defined]
    platform = PlatformServer(
        lambda base: base and _platform_config(base, browser_database_url, tool_url), host="localhost"
    )
    tool_thread = threading.Thread(
        target=tool_server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    tool_thread.start()
    platform.start()
    try:
        yield DemoStackUrls(lms=platform.base_url, tool=tool_url)
    finally:
        platform.stop()
        tool_server.shutdown()
        tool_thread.join(timeout=5)
        tool_server.server_close()
        app_state(app).dispose()


def _platform_config(issuer: str, database_url: str, tool_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine).begin() as session:
            load_district(session, generate_district())
            return prepare_demo_stack(
                session, issuer, tool_url, secret_key=load_settings({}).secret_key
            ).platform
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def screenshot_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
