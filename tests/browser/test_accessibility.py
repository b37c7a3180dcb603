"""Every tool page passes axe (WCAG 2.1 A/AA) at LMS-iframe widths and never scrolls sideways at 320 px."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.browser.axe import assert_accessible
from tests.browser.conftest import DemoStackUrls

WIDTHS = (320, 768, 1280)
TEACHER = "Rosa Delgado"
LAUNCH_TIMEOUT_MS = 15_000

# Page name -> how to reach it from the tokens and ids the launches found (see `tool_pages`).
PAGES = (
    "teacher-grid",
    "teacher-grid-q1",
    "teacher-grid-flagged",
    "teacher-tasks",
    "teacher-score",
    "teacher-trail",
    "teacher-habits",
    "teacher-policy-preview",
    "teacher-student-detail",
    "student-progress",
    "staff-home",
    "staff-frameworks",
    "deep-link-picker",
    "error-403",
)


def _launched_url(page: Page, tool_url: str) -> str:
    """Wait for the framed tool to render its heading, then return the frame's URL."""
    page.frame_locator("#tool-frame").get_by_role("heading", level=1).first.wait_for(
        timeout=LAUNCH_TIMEOUT_MS
    )
    frames = [frame for frame in page.frames if frame.url.startswith(tool_url)]
    assert frames, f"no tool frame on {page.url}"
    return frames[0].url


def _token(url: str) -> str:
    """The launch's `mb_session`, quoted again for use in a query string."""
    token = parse_qs(urlsplit(url).query).get("mb_session")
    assert token, f"{url} carries no mb_session"
    return quote(token[0], safe="")


def _launch_from_home(context: BrowserContext, stack: DemoStackUrls, button: str, nth: int = 0) -> str:
    """Click a launch button on the course page; the URL the tool landed on inside the frame."""
    page = context.new_page()
    page.goto(f"{stack.lms}/")
    page.get_by_role("button", name=button).nth(nth).click()
    url = _launched_url(page, stack.tool)
    page.close()
    return url


def _launch_user(context: BrowserContext, stack: DemoStackUrls, user_id: str) -> str:
    """Launch a user the course page does not list (the registrar) through the LMS's launch page."""
    page = context.new_page()
    page.goto(f"{stack.lms}/platform/launch/{user_id}")
    url = _launched_url(page, stack.tool)
    page.close()
    return url


def _first_task_url(page: Page, tasks_url: str) -> str:
    """The score sheet of the class's first task, creating one if the class has none yet."""
    page.goto(tasks_url)
    existing = page.locator(".task-list a")
    if existing.count():
        return str(existing.first.get_attribute("href"))
    page.get_by_label("Title").fill("Accessibility check quiz")
    page.locator("input[name=indicator_id]").first.check()
    page.get_by_role("button", name="Create and score").click()
    page.locator("input.level").first.wait_for(timeout=10_000)
    landed = urlsplit(page.url)
    return f"{landed.path}?{landed.query}"


@pytest.fixture(scope="module")
def tool_pages(browser: Browser, demo_stack: DemoStackUrls) -> Iterator[dict[str, str]]:
    """Absolute URL of every page in PAGES, each carrying the session token of a real launch."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        tool = demo_stack.tool
        grid_url = _launch_from_home(context, demo_stack, f"Launch the tool as {TEACHER}")
        teacher = _token(grid_url)
        student = _token(_launch_from_home(context, demo_stack, "Launch the tool as", nth=1))
        deep_link = _token(
            _launch_from_home(context, demo_stack, f"Deep link: add content from the tool as {TEACHER}")
        )
        staff = _token(_launch_user(context, demo_stack, "lms-registrar"))
        match = re.search(r"/teacher/classes/(\d+)", grid_url)
        assert match, f"the teacher launch landed on {grid_url}, not a class grid"
        base = f"{tool}/teacher/classes/{match.group(1)}"
        token = f"mb_session={teacher}"
        page = context.new_page()
        page.goto(f"{base}?{token}")
        trail = page.locator("#mastery-grid td.cell a").first.get_attribute("href")
        student_id = page.locator("#mastery-grid tbody tr").first.get_attribute("data-student")
        assert trail, "the grid links no cell to an evidence trail"
        assert student_id, "the grid has no student row"
        score = _first_task_url(page, f"{base}/tasks?{token}")
        yield {
            "teacher-grid": f"{base}?{token}",
            "teacher-grid-q1": f"{base}?period=Q1&{token}",
            "teacher-grid-flagged": f"{base}?flagged=1&{token}",
            "teacher-tasks": f"{base}/tasks?{token}",
            "teacher-score": tool + score,
            "teacher-trail": tool + trail,
            "teacher-habits": f"{base}/habits?{token}",
            "teacher-policy-preview": f"{base}/policy-preview?{token}",
            "teacher-student-detail": f"{base}/students/{student_id}?{token}",
            "student-progress": f"{tool}/student/progress?mb_session={student}",
            "staff-home": f"{tool}/staff?mb_session={staff}",
            "staff-frameworks": f"{tool}/staff/frameworks?mb_session={staff}",
            "deep-link-picker": f"{tool}/lti/deep-link?mb_session={deep_link}",
            # A student's token on the teacher grid: the tool's own 403 page.
            "error-403": f"{base}?mb_session={student}",
        }
    finally:
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", PAGES)
def test_page_is_accessible_at_width(
    browser: Browser, tool_pages: dict[str, str], screenshot_dir: Path, name: str, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        response = page.goto(tool_pages[name])
        assert response is not None
        expected = 403 if name.startswith("error-") else 200
        assert response.status == expected, f"{name}: HTTP {response.status}"
        page.get_by_role("heading", level=1).first.wait_for(timeout=5_000)
        page.screenshot(path=str(screenshot_dir / f"a11y-{name}-{width}.png"), full_page=True)
        assert_accessible(page)
        scroll_width, inner_width = page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert scroll_width <= inner_width, (
            f"{name} at {width} px scrolls sideways: document is {scroll_width} px wide"
        )
    finally:
        context.close()
