"""A teacher launches from the demo LMS, sees the grid and scores a class on a task by keyboard only."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser

from tests.browser.conftest import DemoStackUrls


def test_teacher_scores_a_class_by_keyboard(
    browser: Browser, demo_stack: DemoStackUrls, screenshot_dir: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{demo_stack.lms}/")
        page.get_by_role("button", name="Launch the tool as Rosa Delgado").click()
        frame = page.frame_locator("#tool-frame")
        frame.get_by_role("grid").wait_for(timeout=15_000)
        assert (
            "Proficient" in frame.get_by_role("grid").inner_text()
            or "Developing" in frame.get_by_role("grid").inner_text()
        )

        frame.get_by_role("link", name="Score a task").first.click()
        frame.get_by_label("Title").fill("Keyboard quiz")
        for box in frame.locator("input[name=indicator_id]").all()[:3]:
            box.check()
        frame.get_by_role("button", name="Create and score").click()
        first_cell = frame.locator("input.level").first
        first_cell.wait_for(timeout=10_000)
        rows = frame.locator("#score-sheet tbody tr")
        count = rows.count()
        assert count == 30
        first_cell.focus()
        keystrokes = 0
        for index in range(count):
            for digit in ("3", "2", "4") if index % 2 else ("2", "3", "1"):
                page.keyboard.press(digit)
                keystrokes += 1
            page.keyboard.press("Enter")
            keystrokes += 1
        assert keystrokes <= 4 * count
        last_status = rows.nth(count - 1).locator(".status")
        for index in (0, count - 1):
            rows.nth(index).locator(".status").filter(has_text="Saved 3").wait_for(timeout=10_000)
        assert "Saved 3" in last_status.inner_text()
        page.screenshot(path=str(screenshot_dir / "teacher-score-keyboard.png"), full_page=True)

        frame.get_by_role("link", name="Mastery grid").click()
        frame.get_by_role("grid").wait_for(timeout=10_000)
        page.screenshot(path=str(screenshot_dir / "teacher-grid.png"), full_page=True)
    finally:
        context.close()
