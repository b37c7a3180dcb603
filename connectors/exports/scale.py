"""The school's published conversion scale, drawn into PDFs: the full text and a compact legend.

The words come from `mappings.render_conversion_scale` (Markdown); this module only lays out the subset of
Markdown that function writes: `#`/`##` headings, paragraphs, `- ` and `1. ` list items and `|` tables.
"""

from __future__ import annotations

from connectors.exports.pdf import BOLD, REGULAR, PageWriter
from mappings import Policy

__all__ = ["draw_legend", "draw_markdown", "legend_lines"]


def _plain(text: str) -> str:
    return text.replace("**", "").replace("`", "")


def draw_markdown(writer: PageWriter, markdown: str) -> None:
    """Lay out the Markdown of `render_conversion_scale` (headings, paragraphs, lists, tables)."""
    table: list[list[str]] = []

    def flush_table() -> None:
        if not table:
            return
        header, *body = table
        step = writer.width / max(len(header), 1)
        writer.row([(i * step, cell) for i, cell in enumerate(header)], font=BOLD)
        for cells in body:
            writer.row([(i * step, cell) for i, cell in enumerate(cells)])
        writer.space(4)
        table.clear()

    for raw in markdown.splitlines():
        line = raw.rstrip()
        if line.startswith("|"):
            cells = [_plain(cell.strip()) for cell in line.strip("|").split("|")]
            if not all(set(cell) <= {"-", ":"} for cell in cells):
                table.append(cells)
            continue
        flush_table()
        if line.startswith("# "):
            writer.heading(_plain(line[2:]), size=14)
        elif line.startswith("## "):
            writer.heading(_plain(line[3:]), size=11)
        elif line.startswith("- "):
            writer.paragraph("•  " + _plain(line[2:]), x=8)
        elif line[:3].rstrip(".").isdigit() and ". " in line[:4]:
            writer.paragraph(_plain(line), x=8)
        elif line:
            writer.paragraph(_plain(line))
        else:
            writer.space(3)
    flush_table()


def legend_lines(policy: Policy) -> list[str]:
    """The letter table in one or two lines ("A+ 3.70+ (4.0) · A 3.40+ (4.0) · ...")."""
    unit = "%" if policy.percent is not None else ""
    parts = [f"{row.letter} {row.min_value}{unit}+ ({row.points})" for row in policy.letters]
    return [" · ".join(parts)]


def draw_legend(writer: PageWriter, policy: Policy) -> None:
    """The compact conversion-scale legend printed on each transcript."""
    writer.need(60)
    writer.text("Conversion scale", size=8.5, font=BOLD)
    basis = "percentage" if policy.percent is not None else "course value (0-4 proficiency)"
    writer.paragraph(
        f"Letters by {basis}, at or above the value shown, with grade points: " + legend_lines(policy)[0],
        size=7.5,
    )
    writer.paragraph(
        f"Each standard's proficiency is {policy.method.describe()}; the course value combines the standards "
        f"as the policy says. Policy {policy.name} {policy.version}, in effect from {policy.effective_year}. "
        f"{policy.evidence.insufficient_code} = {policy.evidence.insufficient_label} (not a failing grade).",
        size=7.5,
        font=REGULAR,
    )
