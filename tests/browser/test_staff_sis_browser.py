"""The staff SIS pages in chromium: an Administrator launch adds a connection, tests it, and axe finds nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from playwright.sync_api import Browser, Page

from lti_tool.demo.sis import FakeOneRoster, RunningServer, serve
from tests.browser.axe import assert_accessible
from tests.browser.conftest import DemoStackUrls
from tests.support.oneroster_district import seed_district

LAUNCH_TIMEOUT_MS = 15_000
WIDTHS = (320, 1280)


@pytest.fixture(scope="module")
def sis() -> Iterator[RunningServer]:
    fake = FakeOneRoster()
    seed_district(fake)
    with serve(fake) as running:
        yield running


@pytest.fixture(scope="module")
def staff_url(browser: Browser, demo_stack: DemoStackUrls) -> str:
    """The staff SIS page with the session token of a real Administrator launch from the demo LMS."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{demo_stack.lms}/platform/launch/lms-registrar")
        page.frame_locator("#tool-frame").get_by_role("heading", level=1).first.wait_for(
            timeout=LAUNCH_TIMEOUT_MS
        )
        frames = [frame for frame in page.frames if frame.url.startswith(demo_stack.tool)]
        assert frames, "the registrar launch did not open the tool"
        token = parse_qs(urlsplit(frames[0].url).query)["mb_session"][0]
        return f"{demo_stack.tool}/staff/sis?mb_session={quote(token, safe='')}"
    finally:
        context.close()


def _no_sideways_scroll(page: Page, name: str) -> None:
    scroll_width, inner_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert scroll_width <= inner_width, f"{name} scrolls sideways: {scroll_width} px in {inner_width} px"


def _add(page: Page, sis: RunningServer, name: str, *, base_url: str | None = None) -> None:
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Vendor profile").select_option("generic-1.2")
    page.get_by_label("Base URL").fill(base_url or sis.base_url)
    page.get_by_label("Client id").fill("district-client")
    page.get_by_label("Client secret").fill("s3cret&key=+/")
    page.get_by_label("Token URL").fill(sis.token_url)
    page.get_by_role("button", name="Add connection").click()


def test_staff_adds_tests_and_reads_a_connection_accessibly(
    browser: Browser, staff_url: str, sis: RunningServer, screenshot_dir: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        response = page.goto(staff_url)
        assert response is not None
        assert response.status == 200
        assert_accessible(page)

        # A bad base URL: the form comes back with the problem linked to its field.
        _add(page, sis, "browser-bad", base_url="http://sis.example.edu/api")
        page.get_by_role("alert").wait_for()
        assert "uses plain http" in page.get_by_role("alert").inner_text()
        assert page.get_by_label("Base URL").get_attribute("aria-invalid") == "true"
        assert_accessible(page)

        _add(page, sis, "browser-sis")
        page.get_by_text("Added connection").wait_for()
        assert_accessible(page)
        page.get_by_role("link", name="Open it to test the connection").click()
        page.get_by_role("heading", level=1, name="SIS connection browser-sis").wait_for()
        detail_url = page.url
        assert_accessible(page)

        page.get_by_role("button", name="Test connection").click()
        page.get_by_role("heading", name="Test result: pass").wait_for()
        assert page.get_by_role("row", name="Authentication pass").count() == 1
        page.screenshot(path=str(screenshot_dir / "staff-sis-test.png"), full_page=True)
        assert_accessible(page)

        page.get_by_role("button", name="Sync now").click()
        page.get_by_role("heading", name=re.compile(r"Sync run \d+: full, succeeded")).wait_for()
        assert page.get_by_role("row", name=re.compile(r"^users 24 0 0 0")).count() == 1
        page.get_by_text(re.compile(r"Run \d+: counts per collection")).click()
        page.screenshot(path=str(screenshot_dir / "staff-sis-sync.png"), full_page=True)
        assert_accessible(page)
    finally:
        context.close()

    for width in WIDTHS:
        narrow = browser.new_context(viewport={"width": width, "height": 900})
        try:
            page = narrow.new_page()
            for name, url in (("staff-sis", staff_url), ("staff-sis-connection", detail_url)):
                assert (page.goto(url) or pytest.fail(f"{name}: no response")).status == 200
                page.screenshot(path=str(screenshot_dir / f"a11y-{name}-{width}.png"), full_page=True)
                assert_accessible(page)
                _no_sideways_scroll(page, f"{name} at {width} px")
        finally:
            narrow.close()
