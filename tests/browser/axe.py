"""Run axe-core (WCAG 2.1 A/AA rules) inside a page or frame and fail on any violation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Frame, Page

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
RULE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def axe_violations(target: Page | Frame) -> list[dict[str, Any]]:
    """axe's violations for the current document of `target`."""
    if not AXE.exists():
        raise FileNotFoundError(f"{AXE} is missing: run `make test` (it runs npm install) or `npm install`")
    target.add_script_tag(path=str(AXE))
    result = target.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", RULE_TAGS
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per violation and offending node, for assertion messages."""
    lines = []
    for violation in violations:
        for node in violation["nodes"]:
            lines.append(f"{violation['id']} ({violation['impact']}): {node['target']} {violation['help']}")
    return "\n".join(lines)


def assert_accessible(target: Page | Frame) -> None:
    """Fail with a readable list when axe finds any violation."""
    violations = axe_violations(target)
    assert not violations, describe(violations)
