"""A small page writer over reportlab's canvas, shared by the PDF exports, and the evidence chart drawing.

Deterministic by construction: reportlab's invariant mode fixes the creation date and document id, and
nothing reads the clock. Text uses the PDF standard fonts (Helvetica family, WinAnsi encoding): nothing is
downloaded or embedded, every PDF reader has them, and characters outside Windows-1252 print as "?".

Speed: a school's worth of report cards (20,000 students) has to render in seconds. reportlab's canvas
keeps the document structure, fonts, compression and invariance, but strings and charts are written as
literal PDF operators (`Canvas.addLiteral`, public API): `drawString` and path objects cost 20-50 us a
call in Python, the literal about 2 us.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

from reportlab.lib.colors import Color, HexColor
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from connectors.exports.records import ScaleLevel

__all__ = [
    "BOLD",
    "COLOURS",
    "ITALIC",
    "LEVEL_STYLES",
    "REGULAR",
    "ChartGeometry",
    "PageWriter",
    "draw_chart",
    "draw_marker",
    "pdf_text",
]

REGULAR: Final = "Helvetica"
BOLD: Final = "Helvetica-Bold"
ITALIC: Final = "Helvetica-Oblique"
PAGE_WIDTH, PAGE_HEIGHT = LETTER
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
# Parsed once: reportlab parses a hex string on every setFillColor call.
COLOURS: Final[dict[str, Color]] = {
    hex_: HexColor(hex_)
    for hex_ in (*(c for _, c in LEVEL_STYLES), LINE_COLOUR, GRID_COLOUR, "#000000", "#444444")
}
_BYTE_TEXT: Final = tuple(
    chr(b) if 32 <= b < 127 and chr(b) not in "()\\" else f"\\{b:03o}" for b in range(256)
)


def pdf_text(value: str) -> str:
    """`value` as the body of a PDF literal string in WinAnsi (cp1252); other characters become "?"."""
    if value.isascii() and value.isprintable():
        return value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return "".join(_BYTE_TEXT[byte] for byte in value.encode("cp1252", errors="replace"))


def _rgb(colour: Color) -> str:
    return f"{colour.red:.3f} {colour.green:.3f} {colour.blue:.3f}"


class PageWriter:
    """Top-down text layout on US Letter pages with a running header; `save()` returns the PDF bytes."""

    def __init__(self, *, title: str, subject: str, author: str) -> None:
        self._buffer = io.BytesIO()
        self.canvas = Canvas(self._buffer, pagesize=LETTER, invariant=1, pageCompression=1)
        self.canvas.setTitle(title)
        self.canvas.setSubject(subject)
        self.canvas.setAuthor(author)
        self.canvas.setCreator("mastery-bridge")
        self.canvas.setProducer("mastery-bridge (reportlab)")
        self.y = PAGE_HEIGHT - MARGIN
        self.left = MARGIN
        self.width = PAGE_WIDTH - 2 * MARGIN
        self._header: tuple[str, ...] = ()
        self._footer = ""
        self._page_in_section = 0
        self._has_content = False
        self._font: tuple[str, float] | None = None

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
        self.canvas.setFillColor(COLOURS["#444444"])
        self.draw_text(self.left, MARGIN / 2, self._footer, size=7.5)
        number = f"Page {self._page_in_section}"
        self.draw_text(
            self.left + self.width - pdfmetrics.stringWidth(number, REGULAR, 7.5),
            MARGIN / 2,
            number,
            size=7.5,
        )
        self.canvas.setFillColor(COLOURS["#000000"])
        self.canvas.showPage()
        self._has_content = False
        self._font = None  # a new page starts from reportlab's initial text state

    def need(self, height: float) -> None:
        """Start a new page of the section unless `height` points still fit above the bottom margin."""
        if self.y - height < MARGIN:
            self._finish_page()
            self._begin_page()

    # -- text ----------------------------------------------------------------------------------------------

    def _use_font(self, font: str, size: float) -> None:
        # The font (Tf) is part of the graphics state, so it carries from one text object to the next:
        # it is set once per change, and every string is a single literal "BT .. Tm (..) Tj ET".
        if self._font != (font, size):
            self.canvas.setFont(font, size)
            self._font = (font, size)

    def draw_text(self, x: float, y: float, value: str, *, font: str = REGULAR, size: float = 9.0) -> None:
        """One string with its baseline starting at page coordinates (x, y)."""
        self._use_font(font, size)
        self.canvas.addLiteral(f"BT 1 0 0 1 {x:.2f} {y:.2f} Tm ({pdf_text(value)}) Tj ET")

    def text(
        self, value: str, *, size: float = 9.0, font: str = REGULAR, x: float = 0.0, gap: float = 1.35
    ) -> None:
        """One line of text at the cursor (offset `x` from the left margin), then move down."""
        self.need(size * gap)
        self.draw_text(self.left + x, self.y - size, value, font=font, size=size)
        self.y -= size * gap

    def paragraph(self, value: str, *, size: float = 9.0, font: str = REGULAR, x: float = 0.0) -> None:
        """`value` wrapped to the text width (less `x`), line by line."""
        for line in simpleSplit(value, font, size, self.width - x) or [""]:
            self.text(line, size=size, font=font, x=x)

    def heading(self, value: str, *, size: float = 12.0) -> None:
        """A bold heading with a little space above it."""
        self.need(size * 3)
        self.y -= size * 0.5
        self.text(value, size=size, font=BOLD)

    def row(self, cells: Sequence[tuple[float, str]], *, size: float = 8.5, font: str = REGULAR) -> None:
        """One table row: each cell is (x offset, text); text is clipped to the next cell's start."""
        self.need(size * 1.4)
        baseline = self.y - size
        for index, (x, value) in enumerate(cells):
            if not value:
                continue
            limit = cells[index + 1][0] - x - 4 if index + 1 < len(cells) else self.width - x
            self.draw_text(self.left + x, baseline, _clip(value, font, size, limit), font=font, size=size)
        self.y -= size * 1.4

    def rule(self, *, gap: float = 3.0) -> None:
        """A thin horizontal line across the text width."""
        self.need(gap * 2)
        y = self.y - gap
        self.canvas.addLiteral(
            f"q 0.5 w {_rgb(COLOURS[GRID_COLOUR])} RG {self.left:.1f} {y:.1f} m {self.left + self.width:.1f} {y:.1f} l S Q"
        )
        self.y -= gap * 2

    def space(self, points: float) -> None:
        """Move the cursor down."""
        self.y -= points

    def save(self) -> bytes:
        """Finish the last page and return the document."""
        if self._has_content:
            self._finish_page()
        self.canvas.save()
        return self._buffer.getvalue()


def _clip(value: str, font: str, size: float, limit: float) -> str:
    if pdfmetrics.stringWidth(value, font, size) <= limit:
        return value
    while value and pdfmetrics.stringWidth(value + "…", font, size) > limit:
        value = value[:-1]
    return value + "…"


@dataclass(frozen=True, slots=True)
class ChartGeometry:
    """Where a chart goes (bottom-left corner, size in points) and the date range its x axis spans."""

    x: float
    y: float
    width: float
    height: float
    first: date
    last: date


def _level_index(value: Decimal, levels: Sequence[ScaleLevel]) -> int:
    index = 0
    for position, level in enumerate(levels):
        if value >= level.value:
            index = position
    return index


def draw_marker(canvas: Canvas, shape: str, colour: str, x: float, y: float, size: float) -> None:
    """A filled marker of `shape` in `colour` (a LEVEL_STYLES hue) centred on (x, y)."""
    canvas.addLiteral(f"q {_rgb(COLOURS[colour])} rg {marker_path(shape, x, y, size)} f Q")


def draw_chart(
    canvas: Canvas,
    where: ChartGeometry,
    points: Sequence[tuple[date, Decimal]],
    proficiency: Sequence[Decimal | None],
    levels: Sequence[ScaleLevel],
    period_ends: Sequence[date] = (),
) -> None:
    """An evidence chart as lti_tool.charts draws it: level gridlines, period boundaries, one marker per
    demonstration (shape by level) and the running proficiency as a line."""
    values = [level.value for level in levels] + [value for _, value in points]
    values += [value for value in proficiency if value is not None]
    low = min(values, default=Decimal(1))
    high = max(values, default=Decimal(4))
    if high == low:
        high = low + 1
    span_days = max((where.last - where.first).days, 1)

    def x_of(day: date) -> float:
        return where.x + where.width * (day - where.first).days / span_days

    def y_of(value: Decimal) -> float:
        return where.y + where.height * float((value - low) / (high - low))

    ops = [f"q 0.4 w {_rgb(COLOURS[GRID_COLOUR])} RG [2 2] 0 d"]
    right = where.x + where.width
    top = where.y + where.height
    for level in levels:
        y = y_of(level.value)
        ops.append(f"{where.x:.1f} {y:.1f} m {right:.1f} {y:.1f} l S")
    ops.append("[] 0 d")
    for day in period_ends:
        if where.first <= day <= where.last:
            x = x_of(day)
            ops.append(f"{x:.1f} {where.y:.1f} m {x:.1f} {top:.1f} l S")
    line = [
        (x_of(day), y_of(value))
        for (day, _), value in zip(points, proficiency, strict=True)
        if value is not None
    ]
    if len(line) > 1:
        path = " ".join(f"{x:.1f} {y:.1f} l" for x, y in line[1:])
        ops.append(f"1.2 w {_rgb(COLOURS[LINE_COLOUR])} RG {line[0][0]:.1f} {line[0][1]:.1f} m {path} S")
    for day, value in points:
        shape, colour = LEVEL_STYLES[_level_index(value, levels) % len(LEVEL_STYLES)]
        ops.append(f"{_rgb(COLOURS[colour])} rg {marker_path(shape, x_of(day), y_of(value), 1.8)} f")
    ops.append("Q")
    canvas.addLiteral(" ".join(ops))


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
