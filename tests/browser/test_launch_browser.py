"""A real browser: the demo LMS on localhost frames the tool on 127.0.0.1 with third-party cookies blocked."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Route

from tests.browser.axe import assert_accessible
from tests.browser.conftest import DemoStackUrls


def _drop_tool_cookies(route: Route, tool_url: str) -> None:
    """Strip Set-Cookie from the tool's responses: no cookie of any kind (not even partitioned) survives."""
    response = route.fetch()
    headers = {k: v for k, v in response.headers.items() if k.lower() != "set-cookie"}
    route.fulfill(response=response, headers=headers)


def test_teacher_launch_without_third_party_cookies_uses_platform_storage(
    browser: Browser, demo_stack: DemoStackUrls, screenshot_dir: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        context.route(f"{demo_stack.tool}/**", lambda route: _drop_tool_cookies(route, demo_stack.tool))
        page = context.new_page()
        page.goto(f"{demo_stack.lms}/")
        page.get_by_role("button", name="Launch the tool as Rosa Delgado").click()
        frame = page.frame_locator("#tool-frame")
        frame.get_by_role("heading", level=1).first.wait_for(timeout=15_000)
        text = frame.locator("body").inner_text()
        assert "Algebra II" in text
        assert not context.cookies(demo_stack.tool)
        page.screenshot(path=str(screenshot_dir / "launch-teacher-platform-storage.png"), full_page=True)
    finally:
        context.close()


def test_student_launch_lands_on_own_progress(
    browser: Browser, demo_stack: DemoStackUrls, screenshot_dir: Path
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(f"{demo_stack.lms}/")
        page.get_by_role("button", name="Launch the tool as").nth(1).click()
        frame = page.frame_locator("#tool-frame")
        frame.get_by_role("heading", level=1).first.wait_for(timeout=15_000)
        assert "progress" in frame.locator("body").inner_text().lower()
        page.screenshot(path=str(screenshot_dir / "launch-student.png"), full_page=True)
    finally:
        context.close()


def test_landing_pages_pass_axe(browser: Browser, demo_stack: DemoStackUrls) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{demo_stack.lms}/")
        assert_accessible(page)
        page.get_by_role("button", name="Launch the tool as Rosa Delgado").click()
        page.frame_locator("#tool-frame").get_by_role("heading", level=1).first.wait_for(timeout=15_000)
        tool_frames = [frame for frame in page.frames if frame.url.startswith(demo_stack.tool)]
        assert tool_frames
        assert_accessible(tool_frames[0])
    finally:
        context.close()
