"""A top-down page layout writer shared by the PDF exports, and the evidence chart drawing.

Deterministic by construction: nothing reads the clock, and each page's bytes depend only on what was drawn
on it (pdfdoc writes the file). Text uses the PDF standard fonts (Helvetica family, WinAnsi encoding):
nothing is downloaded or embedded, every PDF reader has them, and characters outside Windows-1252 print as
"?". Widths for wrapping and clipping come from reportlab's metrics of those fonts.

Speed: a school's worth of report cards (20,000 students, 40,000 pages) has to render in seconds. Every
line of text and every table row is one pre-formatted text object ("BT x y Td (..) Tj .. ET"), and
escaped strings, laid-out rows, wrapped paragraphs and formatted positions are cached per writer:
registrar documents repeat the same layout, course titles, labels and statements on every page. Charts
come from a `ChartTemplate` that formats each distinct chart once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Final

from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics

from connectors.exports.pdfdoc import (
    FONT_RESOURCES,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    FormXObject,
    assemble_pdf,
    compress_page,
)
from connectors.exports.records import ScaleLevel

__all__ = [
    "BOLD",
    "GRID_COLOUR",
    "ITALIC",
    "LEVEL_STYLES",
    "LINE_COLOUR",
    "REGULAR",
    "ChartTemplate",
    "PageWriter",
    "draw_marker",
    "marker_path",
    "pdf_text",
]

REGULAR: Final = "Helvetica"
BOLD: Final = "Helvetica-Bold"
ITALIC: Final = "Helvetica-Oblique"
MARGIN: Final = 54.0
# The same hues and shapes as lti_tool.charts.LEVEL_STYLES (a test keeps them equal): colour is never the
# only cue, each level has its own marker shape.
LEVEL_STYLES: Final = (
    ("triangle", "#b3401a"),
    ("square", "#7a5a00"),
    ("circle", "#0b6fa4"),
    ("diamond", "#5b2a86"),
)
LINE_COLOUR: Final = "#1f2933"
GRID_COLOUR: Final = "#616e7c"
FOOTER_COLOUR: Final = "#444444"
# Charts a template keeps formatted: past this many distinct ones the rest are formatted each time
# instead of growing the cache without bound (a class's charts share their dates and levels, so they repeat).
CHART_CACHE_LIMIT: Final = 20_000
# Windows-1252 bytes (read as Latin-1 characters) that a PDF literal string gets as octal escapes.
_ESCAPES: Final = str.maketrans(
    {chr(b): f"\\{b:03o}" for b in range(256) if not 32 <= b < 127 or chr(b) in "()\\"}
)


def _rgb(colour: str) -> str:
    """The "r g b" operands of a "#rrggbb" colour (three decimals, as PDF readers need no more)."""
    return " ".join(f"{int(colour[i : i + 2], 16) / 255:.3f}" for i in (1, 3, 5))


# Formatted once: the operands are written on every page and chart.
_RGB: Final = {
    colour: _rgb(colour)
    for colour in (*(c for _, c in LEVEL_STYLES), LINE_COLOUR, GRID_COLOUR, FOOTER_COLOUR)
}


def pdf_text(value: str) -> str:
    """`value` as the body of a PDF literal string in WinAnsi (cp1252); other characters become "?"."""
    if value.isascii() and value.isprintable():
        return value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return value.encode("cp1252", errors="replace").decode("latin-1").translate(_ESCAPES)


class PageWriter:
    """Top-down text layout on US Letter pages with a running header; `save()` returns the PDF bytes.

    `finish()` instead returns the compressed pages, so a caller can render parts of one document in
    separate processes and join them with `pdfdoc.assemble_pdf` (pages never depend on one another; the
    `forms` they place, by name, go to the document).
    """

    def __init__(self, *, title: str, subject: str, author: str) -> None:
        self.title = title
        self.subject = subject
        self.author = author
        self.y = PAGE_HEIGHT - MARGIN
        self.left = MARGIN
        self.width = PAGE_WIDTH - 2 * MARGIN
        self.forms: dict[str, FormXObject] = {}
        self._pages: list[bytes] = []
        self._ops: list[str] = []
        self._header: tuple[str, ...] = ()
        self._footer = ""
        self._page_in_section = 0
        self._has_content = False
        self._font_name = ""  # none yet: the next string sets its font
        self._font_size = 0.0
        self._select: dict[tuple[str, float], str] = {}
        self._numbers: dict[float, str] = {}
        self._shown: dict[str, str] = {}
        self._rows: dict[tuple[object, ...], tuple[float, str]] = {}
        self._wrapped: dict[tuple[str, str, float, float], list[str]] = {}

    # -- pages ---------------------------------------------------------------------------------------------

    def start_section(self, header: Sequence[str], footer: str) -> None:
        """Begin a new document part (one student) on a fresh page; `header` repeats on its later pages."""
        if self._has_content:
            self._finish_page()
        self._header = tuple(header)
        self._footer = footer
        self._page_in_section = 0
        self._begin_page()

    def _begin_page(self) -> None:
        self._page_in_section += 1
        self._has_content = True
        self.y = PAGE_HEIGHT - MARGIN
        if self._page_in_section > 1 and self._header:
            self.text(f"{self._header[0]} (continued)", size=9, font=ITALIC)
            self.y -= 4

    def _finish_page(self) -> None:
        self._ops.append(f"{_RGB[FOOTER_COLOUR]} rg")
        self.draw_text(self.left, MARGIN / 2, self._footer, size=7.5)
        number = f"Page {self._page_in_section}"
        right = self.left + self.width - pdfmetrics.stringWidth(number, REGULAR, 7.5)
        self.draw_text(right, MARGIN / 2, number, size=7.5)
        self._pages.append(compress_page("\n".join(self._ops)))
        self._ops = []
        self._has_content = False
        self._font_name = ""  # a new page starts from the initial text state

    def need(self, height: float) -> None:
        """Start a new page of the section unless `height` points still fit above the bottom margin."""
        if self.y - height < MARGIN:
            self._finish_page()
            self._begin_page()

    # -- drawing -------------------------------------------------------------------------------------------

    def add_operators(self, operators: str) -> None:
        """Raw PDF operators onto the current page (they must leave the graphics state as they found it)."""
        self._ops.append(operators)

    def _number(self, value: float) -> str:
        text = self._numbers[value] = f"{value:.2f}"
        return text

    def _put(self, x: float, y: float, shown: str, font: str, size: float) -> None:
        """One text object at (x, y): `shown` is its string operators ("(..) Tj", "0 Td" moves between)."""
        # Layouts repeat on every page, so positions are formatted once (a float format is 3/4 of an op).
        numbers = self._numbers
        at = f"{numbers.get(x) or self._number(x)} {numbers.get(y) or self._number(y)}"
        # The font (Tf) is part of the text state, which carries from one text object to the next: it is
        # set once per change, not per string.
        if font == self._font_name and size == self._font_size:
            self._ops.append(f"BT {at} Td {shown} ET")
            return
        self._font_name, self._font_size = font, size
        select = self._select.get((font, size))
        if select is None:
            select = self._select[(font, size)] = f"/{FONT_RESOURCES[font]} {size:g} Tf"
        self._ops.append(f"BT {select} {at} Td {shown} ET")

    def draw_text(self, x: float, y: float, value: str, *, font: str = REGULAR, size: float = 9.0) -> None:
        """One string with its baseline starting at page coordinates (x, y)."""
        shown = self._shown.get(value)
        if shown is None:
            shown = self._shown[value] = f"({pdf_text(value)}) Tj"
        self._put(x, y, shown, font, size)

    def text(
        self, value: str, *, size: float = 9.0, font: str = REGULAR, x: float = 0.0, gap: float = 1.35
    ) -> None:
        """One line of text at the cursor (offset `x` from the left margin), then move down."""
        self.need(size * gap)
        self.draw_text(self.left + x, self.y - size, value, font=font, size=size)
        self.y -= size * gap

    def paragraph(self, value: str, *, size: float = 9.0, font: str = REGULAR, x: float = 0.0) -> None:
        """`value` wrapped to the text width (less `x`), line by line."""
        key = (value, font, size, self.width - x)
        lines = self._wrapped.get(key)
        if lines is None:
            lines = self._wrapped[key] = simpleSplit(value, font, size, self.width - x) or [""]
        for line in lines:
            self.text(line, size=size, font=font, x=x)

    def heading(self, value: str, *, size: float = 12.0) -> None:
        """A bold heading with a little space above it."""
        self.need(size * 3)
        self.y -= size * 0.5
        self.text(value, size=size, font=BOLD)

    def row(self, cells: Sequence[tuple[float, str]], *, size: float = 8.5, font: str = REGULAR) -> None:
        """One table row: each cell is (x offset, text); text is clipped to the next cell's start."""
        self.need(size * 1.4)
        # A row is one text object, laid out once per distinct row: tables repeat their rows from one
        # student to the next (a 3-cell row cost 14 us on reportlab's canvas, 1.4 us this way).
        key = (font, size, *cells)
        laid = self._rows.get(key)
        if laid is None:
            laid = self._rows[key] = _lay_out_row(cells, font, size, self.width)
        if laid[1]:
            self._put(self.left + laid[0], self.y - size, laid[1], font, size)
        self.y -= size * 1.4

    def rule(self, *, gap: float = 3.0) -> None:
        """A thin horizontal line across the text width."""
        self.need(gap * 2)
        y = self.y - gap
        self._ops.append(
            f"q 0.5 w {_RGB[GRID_COLOUR]} RG {self.left:.1f} {y:.1f} m {self.left + self.width:.1f} {y:.1f} l S Q"
        )
        self.y -= gap * 2

    def space(self, points: float) -> None:
        """Move the cursor down."""
        self.y -= points

    def finish(self) -> list[bytes]:
        """Finish the last page and return every page's compressed content stream, in order."""
        if self._has_content:
            self._finish_page()
        return self._pages

    def save(self) -> bytes:
        """Finish the last page and return the document."""
        return assemble_pdf(
            self.finish(), title=self.title, subject=self.subject, author=self.author, forms=self.forms
        )


def _lay_out_row(
    cells: Sequence[tuple[float, str]], font: str, size: float, width: float
) -> tuple[float, str]:
    """The first non-empty cell's x offset and the string operators of the row's cells, each clipped."""
    shown: list[str] = []
    first = previous = 0.0
    for index, (x, value) in enumerate(cells):
        if not value:
            continue
        limit = cells[index + 1][0] - x - 4 if index + 1 < len(cells) else width - x
        if shown:
            shown.append(f"{x - previous:.2f} 0 Td")
        else:
            first = x
        shown.append(f"({pdf_text(_clip(value, font, size, limit))}) Tj")
        previous = x
    return first, " ".join(shown)


def _clip(value: str, font: str, size: float, limit: float) -> str:
    if pdfmetrics.stringWidth(value, font, size) <= limit:
        return value
    while value and pdfmetrics.stringWidth(value + "…", font, size) > limit:
        value = value[:-1]
    return value + "…"


def _level_index(value: Decimal, levels: Sequence[ScaleLevel]) -> int:
    index = 0
    for position, level in enumerate(levels):
        if value >= level.value:
            index = position
    return index


def marker_path(shape: str, x: float, y: float, size: float) -> str:
    """PDF path operators of a marker centred on (x, y): square, diamond, circle (an octagon) or triangle."""
    if shape == "square":
        return f"{x - size:.1f} {y - size:.1f} {size * 2:.1f} {size * 2:.1f} re"
    if shape == "diamond":
        d = size * 1.3
        return f"{x:.1f} {y + d:.1f} m {x + d:.1f} {y:.1f} l {x:.1f} {y - d:.1f} l {x - d:.1f} {y:.1f} l h"
    if shape == "circle":  # an octagon: at 4 points across it reads as a dot, at a fraction of a curve's cost
        r, k = size, size * 0.414
        corners = ((-k, r), (k, r), (r, k), (r, -k), (k, -r), (-k, -r), (-r, -k), (-r, k))
        first, *rest = corners
        return (
            f"{x + first[0]:.1f} {y + first[1]:.1f} m "
            + " ".join(f"{x + dx:.1f} {y + dy:.1f} l" for dx, dy in rest)
            + " h"
        )
    d = size * 1.2
    return f"{x:.1f} {y + d:.1f} m {x + d:.1f} {y - d * 0.8:.1f} l {x - d:.1f} {y - d * 0.8:.1f} l h"


def draw_marker(writer: PageWriter, shape: str, colour: str, x: float, y: float, size: float) -> None:
    """A filled marker of `shape` in `colour` (a LEVEL_STYLES hue) centred on (x, y)."""
    writer.add_operators(f"q {_RGB[colour]} rg {marker_path(shape, x, y, size)} f Q")


class _Scale:
    """A chart template's drawing for one value range: gridlines and boundaries, y positions, markers."""

    def __init__(self, template: ChartTemplate, low: Decimal, high: Decimal) -> None:
        self.template = template
        self.low = low
        self.span = high - low
        self.y: dict[Decimal, float] = {}
        self.markers: dict[tuple[date, Decimal], tuple[str, str]] = {}
        ops = [f"0.4 w {_RGB[GRID_COLOUR]} RG [2 2] 0 d"]
        for level in template.levels:
            y = self.y_of(level.value)
            ops.append(f"0 {y:.1f} m {template.width:.1f} {y:.1f} l S")
        ops.append("[] 0 d")
        for day in template.period_ends:
            if template.first <= day <= template.last:
                x = template.x_of(day)
                ops.append(f"{x:.1f} 0 m {x:.1f} {template.height:.1f} l S")
        self.grid = " ".join(ops)

    def y_of(self, value: Decimal) -> float:
        y = self.y.get(value)
        if y is None:
            y = self.y[value] = self.template.height * float((value - self.low) / self.span)
        return y

    def marker(self, day: date, value: Decimal) -> tuple[str, str]:
        """The fill colour operands and the path of the marker of a demonstration of `value` on `day`."""
        key = (day, value)
        marker = self.markers.get(key)
        if marker is None:
            template = self.template
            shape, colour = LEVEL_STYLES[_level_index(value, template.levels) % len(LEVEL_STYLES)]
            path = marker_path(shape, template.x_of(day), self.y_of(value), 1.8)
            marker = self.markers[key] = (_RGB[colour], path)
        return marker


class ChartTemplate:
    """Evidence charts of one size, date range, scale and set of period boundaries, as lti_tool.charts
    draws them: level gridlines, period boundaries, one marker per demonstration (shape by level) and the
    running proficiency as a line.

    A chart is drawn in its own coordinates (origin at its bottom-left corner, moved into place with `cm`),
    so its operators depend only on its data: they are formatted once per distinct chart and reused, with
    the gridlines and boundaries as one shared form. The 120,000 charts of 5,000 report cards went from
    about 4.5 s to under 0.5 s, most of it now zlib's.
    """

    def __init__(
        self,
        *,
        width: float,
        height: float,
        first: date,
        last: date,
        levels: Sequence[ScaleLevel],
        period_ends: Sequence[date] = (),
    ) -> None:
        self.width = width
        self.height = height
        self.first = first
        self.last = last
        self.levels = tuple(levels)
        self.period_ends = tuple(period_ends)
        self._span_days = max((last - first).days, 1)
        self._x: dict[date, float] = {}
        self._scales: dict[tuple[Decimal, Decimal], _Scale] = {}
        self._charts: dict[tuple[tuple[tuple[date, Decimal], ...], tuple[Decimal | None, ...]], str] = {}
        # Charts whose values stay within the scale (all but out-of-range data) share their gridlines and
        # boundaries as one form: a third of a chart's bytes, and of the time zlib spends on them.
        self._common = self._scale([level.value for level in self.levels])
        # Named by its content, so templates of other geometries or scales never share a name in a file.
        digest = hashlib.md5(self._common.grid.encode("ascii"), usedforsecurity=False).hexdigest()
        self.form_name = f"Grid{digest[:12]}"

    def x_of(self, day: date) -> float:
        """The x position of `day` in chart coordinates."""
        x = self._x.get(day)
        if x is None:
            x = self._x[day] = self.width * (day - self.first).days / self._span_days
        return x

    def _scale(self, values: list[Decimal]) -> _Scale:
        low = min(values, default=Decimal(1))
        high = max(values, default=Decimal(4))
        if high == low:
            high = low + 1
        scale = self._scales.get((low, high))
        if scale is None:
            scale = self._scales[(low, high)] = _Scale(self, low, high)
        return scale

    def operators(
        self, points: tuple[tuple[date, Decimal], ...], proficiency: tuple[Decimal | None, ...]
    ) -> str:
        """The chart's operators in its own coordinates (cached per distinct chart)."""
        key = (points, proficiency)
        ops = self._charts.get(key)
        if ops is not None:
            return ops
        values = [level.value for level in self.levels] + [value for _, value in points]
        values += [value for value in proficiency if value is not None]
        scale = self._scale(values)
        parts = [f"/{self.form_name} Do" if scale is self._common else scale.grid]
        line = [
            (self.x_of(day), scale.y_of(value))
            for (day, _), value in zip(points, proficiency, strict=True)
            if value is not None
        ]
        if len(line) > 1:
            path = " ".join(f"{x:.1f} {y:.1f} l" for x, y in line[1:])
            parts.append(f"1.2 w {_RGB[LINE_COLOUR]} RG {line[0][0]:.1f} {line[0][1]:.1f} m {path} S")
        fill = ""
        for day, value in points:
            colour, path = scale.marker(day, value)
            parts.append(f"{path} f" if colour == fill else f"{colour} rg {path} f")
            fill = colour
        ops = " ".join(parts)
        if len(self._charts) < CHART_CACHE_LIMIT:
            self._charts[key] = ops
        return ops

    def forms(self) -> dict[str, FormXObject]:
        """The form the charts place (pass it to `pdfdoc.assemble_pdf` when joining their pages)."""
        margin = 1.0  # half the gridlines' width lies outside the chart
        bbox = (-margin, -margin, self.width + margin, self.height + margin)
        return {self.form_name: FormXObject(bbox, self._common.grid)}

    def draw(
        self,
        writer: PageWriter,
        x: float,
        y: float,
        points: tuple[tuple[date, Decimal], ...],
        proficiency: tuple[Decimal | None, ...],
    ) -> None:
        """One chart with its bottom-left corner at page coordinates (x, y)."""
        if self.form_name not in writer.forms:
            writer.forms.update(self.forms())
        writer.add_operators(f"q 1 0 0 1 {x:.2f} {y:.2f} cm {self.operators(points, proficiency)} Q")
