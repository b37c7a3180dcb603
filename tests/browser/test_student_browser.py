"""A real browser: a student launches from the demo LMS and reads their progress, chart included."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import DemoStackUrls


@pytest.mark.parametrize("width", [390, 1280])
def test_student_sees_progress_with_chart(
    browser: Browser, demo_stack: DemoStackUrls, screenshot_dir: Path, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{demo_stack.lms}/")
        # The first launch button is the teacher's; the next ones are students'.
        page.get_by_role("button", name="Launch the tool as").nth(1).click()
        frame = page.frame_locator("#tool-frame")
        frame.get_by_role("heading", level=1).first.wait_for(timeout=15_000)
        assert "My progress" in frame.get_by_role("heading", level=1).first.inner_text()
        chart = frame.get_by_role("img").first
        chart.wait_for(timeout=5_000)
        assert "proficiency over time" in chart.inner_html()
        assert frame.locator("svg.progress-chart .point").count() > 0
        assert frame.get_by_role("heading", name="What the levels mean").is_visible()
        frame.get_by_text("Why ").first.click()
        assert "Evidence used, oldest first" in frame.locator("pre.explanation").first.inner_text()
        page.screenshot(path=str(screenshot_dir / f"student-progress-lms-{width}.png"))
        # The framed page itself, full length, at the same width (an iframe never grows a full-page shot).
        tool_frame = page.frame(name="lti_tool_frame")
        assert tool_frame is not None
        tool_page = context.new_page()
        tool_page.goto(tool_frame.url)
        tool_page.get_by_role("img").first.wait_for(timeout=5_000)
        tool_page.screenshot(path=str(screenshot_dir / f"student-progress-{width}.png"), full_page=True)
    finally:
        context.close()
