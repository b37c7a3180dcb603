"""The progress chart: one mark per demonstration, the running proficiency as its line, inside the scale."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import pytest

from lti_tool.charts import (
    HEIGHT,
    ChartLevel,
    ChartPeriod,
    ChartPoint,
    level_label,
    render_chart,
    running_proficiency,
)
from mappings import resolve_method

LEVELS = [
    ChartLevel(Decimal(v), label)
    for v, label in ((1, "Emerging"), (2, "Developing"), (3, "Proficient"), (4, "Exemplary"))
]
PERIODS = [
    ChartPeriod("Q1", date(2025, 9, 1), date(2025, 10, 31)),
    ChartPeriod("Q2", date(2025, 11, 1), date(2026, 1, 20)),
]
POINTS = [
    ChartPoint(date(2025, 9, 10), Decimal(1), "Quiz 1"),
    ChartPoint(date(2025, 10, 2), Decimal(2), "Lab"),
    ChartPoint(date(2025, 11, 15), Decimal(3), "Essay <draft>"),
    ChartPoint(date(2026, 1, 5), Decimal(4), None),
]


def most_recent(scores: Sequence[Decimal]) -> Decimal | None:
    return scores[-1] if scores else None


def mean(scores: Sequence[Decimal]) -> Decimal | None:
    return sum(scores, Decimal(0)) / len(scores) if scores else None


def chart(points: Sequence[ChartPoint] = POINTS) -> str:
    running = running_proficiency([p.value for p in points], mean)
    return str(render_chart(chart_id="c1", title="MA.1 over time", points=points, proficiency=running,
                            levels=LEVELS, periods=PERIODS).svg)  # fmt: skip


def test_running_proficiency_is_the_method_after_each_score() -> None:
    scores = [Decimal(1), Decimal(3), Decimal(2)]
    assert running_proficiency(scores, mean) == (Decimal(1), Decimal(2), Decimal(2))
    assert running_proficiency(scores, most_recent) == tuple(scores)
    assert running_proficiency([], mean) == ()


def test_running_proficiency_works_with_a_core_method() -> None:
    method = resolve_method("highest")
    assert running_proficiency([Decimal(2), Decimal(1), Decimal(3)], method) == (
        Decimal("2.00"),
        Decimal("2.00"),
        Decimal("3.00"),
    )


def test_one_mark_per_demonstration_and_a_line_point_per_proficiency() -> None:
    svg = chart()
    assert svg.count('class="point"') == len(POINTS)
    line = re.search(r'<polyline class="proficiency" points="([^"]+)"', svg)
    assert line is not None
    assert len(line.group(1).split()) == len(POINTS)


def test_line_follows_running_proficiency_and_stays_within_the_scale() -> None:
    svg = chart()
    line = re.search(r'<polyline class="proficiency" points="([^"]+)"', svg)
    assert line is not None
    ys = [float(pair.split(",")[1]) for pair in line.group(1).split()]
    # mean of 1, 2, 3, 4 rises: 1, 1.5, 2, 2.5 -> y falls (SVG y grows downward), evenly.
    assert ys == sorted(ys, reverse=True)
    grid = [float(y) for y in re.findall(r'<line x1="\d+" x2="\d+" y1="([\d.]+)"', svg)]
    top, bottom = min(grid), max(grid)  # the gridlines of levels 4 and 1
    assert all(top <= y <= bottom <= HEIGHT for y in ys)
    expected = [bottom - (bottom - top) * (value - 1) / 3 for value in (1, 1.5, 2, 2.5)]
    assert ys == pytest.approx(expected, abs=0.11)


def test_accessible_and_labelled() -> None:
    svg = chart()
    assert 'role="img"' in svg
    assert '<title id="c1-title">' in svg
    assert '<desc id="c1-desc">' in svg
    assert 'aria-labelledby="c1-title c1-desc"' in svg
    for level in LEVELS:
        assert level.label in svg
    assert "Q1" in svg
    assert "Q2" in svg
    # Shapes differ per level, not colour alone.
    assert "<circle" in svg
    assert "<rect" in svg
    assert svg.count("<polygon") == 2


def test_text_is_escaped_and_output_is_deterministic() -> None:
    data = render_chart(chart_id="c1", title="<script>", points=POINTS,
                        proficiency=running_proficiency([p.value for p in POINTS], mean), levels=LEVELS)  # fmt: skip
    assert "<script>" not in str(data.svg)
    assert chart() == chart()
    assert [row.level_label for row in data.rows] == ["Emerging", "Developing", "Proficient", "Exemplary"]
    assert data.rows[1].proficiency == Decimal("1.5")
    assert data.rows[1].proficiency_label == "Emerging"


def test_empty_chart_and_mismatched_lengths() -> None:
    data = render_chart(chart_id="e", title="t", points=[], proficiency=[], levels=LEVELS, periods=PERIODS)
    assert 'class="point"' not in str(data.svg)
    assert "polyline" not in str(data.svg)
    assert "No scored demonstrations yet." in data.description
    with pytest.raises(ValueError, match="chart 'e'"):
        render_chart(chart_id="e", title="t", points=POINTS, proficiency=[], levels=LEVELS)


def test_level_label_below_the_scale() -> None:
    assert level_label(Decimal("0.5"), LEVELS) == "below Emerging"
    assert level_label(Decimal("2.5"), LEVELS) == "Developing"
