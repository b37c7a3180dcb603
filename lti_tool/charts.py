"""Server-rendered SVG progress charts: a pure function of plain values, no I/O and no clock.

A chart shows every demonstration on one indicator as a point (a shape per level, so colour is never the
only cue), the running proficiency (the method's value after each piece of evidence) as a line, the scale's
levels as labelled gridlines and the grading-period boundaries. It carries `role="img"`, `<title>` and
`<desc>`; pages render `ChartData.rows` as a table beside it as the text alternative.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape

from markupsafe import Markup

WIDTH = 640
HEIGHT = 240
LEFT = 96  # room for the level labels ("3 Proficient")
RIGHT = 16
TOP = 16
BOTTOM = 40
# Okabe-Ito-derived hues, darkened to >= 3:1 against white, and told apart by shape as well.
LEVEL_STYLES: tuple[tuple[str, str], ...] = (
    ("triangle", "#b3401a"),
    ("square", "#7a5a00"),
    ("circle", "#0b6fa4"),
    ("diamond", "#5b2a86"),
)
LINE_COLOUR = "#1f2933"
GRID_COLOUR = "#616e7c"


@dataclass(frozen=True, slots=True)
class ChartLevel:
    """A level of the scale: its value and name."""

    value: Decimal
    label: str


@dataclass(frozen=True, slots=True)
class ChartPoint:
    """One scored demonstration (oldest first)."""

    demonstrated_on: date
    value: Decimal
    task: str | None = None


@dataclass(frozen=True, slots=True)
class ChartPeriod:
    """A grading period, drawn as a boundary at its end."""

    label: str
    start: date
    end: date


@dataclass(frozen=True, slots=True)
class ChartRow:
    """One row of the text alternative: a demonstration and the running proficiency after it."""

    demonstrated_on: date
    task: str | None
    value: Decimal
    level_label: str
    proficiency: Decimal | None
    proficiency_label: str


@dataclass(frozen=True, slots=True)
class ChartData:
    """Everything a chart shows, and the SVG drawn from it."""

    title: str
    description: str
    rows: tuple[ChartRow, ...]
    svg: Markup


def running_proficiency(
    scores: Sequence[Decimal], method: Callable[[Sequence[Decimal]], Decimal | None]
) -> tuple[Decimal | None, ...]:
    """The method's value after each score: element i is `method(scores[: i + 1])`."""
    return tuple(method(scores[: index + 1]) for index in range(len(scores)))


def level_label(value: Decimal, levels: Sequence[ChartLevel]) -> str:
    """The name of the highest level at or below `value` ("below <lowest>" under the scale)."""
    label = None
    for level in sorted(levels, key=lambda item: item.value):
        if value >= level.value:
            label = level.label
    if label is None:
        return f"below {levels[0].label}" if levels else ""
    return label


def _level_index(value: Decimal, levels: Sequence[ChartLevel]) -> int:
    index = 0
    for position, level in enumerate(levels):
        if value >= level.value:
            index = position
    return index


def _fmt(number: float) -> str:
    return f"{number:.1f}"


def _marker(shape: str, x: float, y: float, colour: str) -> str:
    size = 6.0
    if shape == "circle":
        return f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="{_fmt(size)}" class="point" fill="{colour}" stroke="#ffffff" stroke-width="1"/>'
    if shape == "square":
        side = size * 1.7
        return (
            f'<rect x="{_fmt(x - side / 2)}" y="{_fmt(y - side / 2)}" width="{_fmt(side)}" '
            f'height="{_fmt(side)}" class="point" fill="{colour}" stroke="#ffffff" stroke-width="1"/>'
        )
    if shape == "diamond":
        d = size * 1.3
        points = (
            f"{_fmt(x)},{_fmt(y - d)} {_fmt(x + d)},{_fmt(y)} {_fmt(x)},{_fmt(y + d)} {_fmt(x - d)},{_fmt(y)}"
        )
        return f'<polygon points="{points}" class="point" fill="{colour}" stroke="#ffffff" stroke-width="1"/>'
    d = size * 1.2
    points = f"{_fmt(x)},{_fmt(y - d)} {_fmt(x + d)},{_fmt(y + d * 0.8)} {_fmt(x - d)},{_fmt(y + d * 0.8)}"
    return f'<polygon points="{points}" class="point" fill="{colour}" stroke="#ffffff" stroke-width="1"/>'


def marker_shape(value: Decimal, levels: Sequence[ChartLevel]) -> str:
    """The marker shape used for a score at `value` (for legends)."""
    return LEVEL_STYLES[_level_index(value, levels) % len(LEVEL_STYLES)][0]


def render_chart(
    *,
    chart_id: str,
    title: str,
    points: Sequence[ChartPoint],
    proficiency: Sequence[Decimal | None],
    levels: Sequence[ChartLevel],
    periods: Sequence[ChartPeriod] = (),
) -> ChartData:
    """Draw the chart of one indicator; `proficiency[i]` is the running proficiency after `points[i]`."""
    if len(proficiency) != len(points):
        raise ValueError(
            f"{len(points)} points but {len(proficiency)} proficiency values for chart {chart_id!r}"
        )
    levels = sorted(levels, key=lambda item: item.value)
    values = [level.value for level in levels] + [point.value for point in points]
    values += [value for value in proficiency if value is not None]
    y_min = min(values, default=Decimal(1))
    y_max = max(values, default=Decimal(4))
    if y_max == y_min:
        y_max = y_min + 1
    dates = [point.demonstrated_on for point in points]
    dates += [period.start for period in periods] + [period.end for period in periods]
    x_min = min(dates, default=date(2000, 1, 1))
    x_max = max(dates, default=date(2000, 1, 2))
    span_days = max((x_max - x_min).days, 1)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def x_of(day: date) -> float:
        return LEFT + plot_w * (day - x_min).days / span_days

    def y_of(value: Decimal) -> float:
        return TOP + plot_h * float((y_max - value) / (y_max - y_min))

    rows = tuple(
        ChartRow(
            demonstrated_on=point.demonstrated_on,
            task=point.task,
            value=point.value,
            level_label=level_label(point.value, levels),
            proficiency=value,
            proficiency_label=level_label(value, levels) if value is not None else "",
        )
        for point, value in zip(points, proficiency, strict=True)
    )
    latest = next((value for value in reversed(proficiency) if value is not None), None)
    if points:
        description = (
            f"{len(points)} scored demonstrations from {points[0].demonstrated_on.isoformat()} to "
            f"{points[-1].demonstrated_on.isoformat()}. "
            + (
                f"Proficiency now {latest} ({level_label(latest, levels)})."
                if latest is not None
                else "No proficiency yet."
            )
        )
    else:
        description = "No scored demonstrations yet."
    description += " Each point is one demonstration, its shape shows its level; the line is the proficiency."

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="progress-chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
        '<g class="levels" aria-hidden="true">',
    ]
    for level in levels:
        y = y_of(level.value)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_fmt(y)}" y2="{_fmt(y)}" stroke="{GRID_COLOUR}" '
            f'stroke-width="1" stroke-dasharray="4 4"/>'
        )
        parts.append(
            f'<text x="{LEFT - 8}" y="{_fmt(y + 4)}" text-anchor="end" font-size="13" fill="{LINE_COLOUR}">'
            f"{escape(f'{level.value.normalize():f} {level.label}')}</text>"
        )
    parts.append("</g>")
    parts.append('<g class="periods" aria-hidden="true">')
    for period in periods:
        x = x_of(period.end)
        parts.append(
            f'<line x1="{_fmt(x)}" x2="{_fmt(x)}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="{GRID_COLOUR}" '
            f'stroke-width="1.5"/>'
        )
        parts.append(
            f'<text x="{_fmt(x - 4)}" y="{HEIGHT - BOTTOM + 18}" text-anchor="end" font-size="12" '
            f'fill="{LINE_COLOUR}">{escape(period.label)}</text>'
        )
    parts.append("</g>")
    line = [
        f"{_fmt(x_of(point.demonstrated_on))},{_fmt(y_of(value))}"
        for point, value in zip(points, proficiency, strict=True)
        if value is not None
    ]
    if line:
        parts.append(
            f'<polyline class="proficiency" points="{" ".join(line)}" fill="none" stroke="{LINE_COLOUR}" '
            f'stroke-width="2.5" stroke-linejoin="round" aria-hidden="true"/>'
        )
    parts.append('<g class="demonstrations" aria-hidden="true">')
    for point in points:
        shape, colour = LEVEL_STYLES[_level_index(point.value, levels) % len(LEVEL_STYLES)]
        parts.append(_marker(shape, x_of(point.demonstrated_on), y_of(point.value), colour))
    parts.append("</g>")
    parts.append("</svg>")
    # Every text interpolated above went through html.escape; the rest is numbers and fixed markup.
    svg = Markup("".join(parts))  # noqa: S704
    return ChartData(title=title, description=description, rows=rows, svg=svg)
