"""PDF exports read back: their text (pypdf) and a page rendered to PNG by poppler's pdftoppm."""

from __future__ import annotations

import io
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader
from pypdf.generic import DictionaryObject, StreamObject

from connectors.exports import render_export
from connectors.exports.pdf import LEVEL_STYLES, LINE_COLOUR, PageWriter
from connectors.exports.report_card import (
    assemble_report_cards,
    render_report_card_pages,
    report_card_order,
)
from connectors.exports.transcript import assemble_transcripts, render_transcript_pages, transcript_order
from tests.unit.connectors.exports_data import build_dataset


def _text(data: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


@pytest.fixture(scope="module")
def pdftoppm() -> str:
    found = shutil.which("pdftoppm")
    assert found, "pdftoppm is missing: install poppler-utils (make pytest does it when run as root)"
    return found


def test_transcripts_name_every_student_with_letters_gpa_and_the_legend() -> None:
    pages = _text(render_export("transcript-pdf", build_dataset()).files["transcripts.pdf"])
    text = "\n".join(pages)

    assert len(pages) == 4  # one page per student, each starting a new page
    for name in ("Nguyen, Ava", "Garcia, Liam", "Müller, Zoë", "Smith, Noah"):
        assert sum(name in page for page in pages) == 1, name
    ava = next(page for page in pages if "Nguyen, Ava" in page)
    assert "Student number: STU0001" in ava
    assert "GPA 3.73; weighted GPA 4.13" in ava
    assert "A+†" in ava
    assert "amended to A+ on 2027-06-21" in ava
    assert "Standards (mastery supplement)" in ava
    assert "SOC.1.2" in ava
    assert "Conversion scale" in text
    assert "A+ 3.70+ (4.0)" in text
    assert "F 0+ (0)" in text
    assert "not matched to the SIS yet" in next(page for page in pages if "Smith, Noah" in page)


def test_report_cards_keep_academics_and_habits_apart() -> None:
    pages = _text(render_export("report-card-pdf", build_dataset("Q2")).files["report-cards.pdf"])
    liam = next(page for page in pages if "Garcia, Liam" in page)

    assert liam.index("Academics") < liam.index("Habits of work")
    assert "Progress report: Quarter 2" in liam
    assert "Engagement" in liam.split("Habits of work", 1)[1]
    assert "Engagement" not in liam.split("Habits of work", 1)[0]
    assert "Chart key" in liam


def test_report_card_explains_insufficient_evidence_and_amendments() -> None:
    q1 = "\n".join(_text(render_export("report-card-pdf", build_dataset("Q1")).files["report-cards.pdf"]))
    final = "\n".join(_text(render_export("report-card-pdf", build_dataset()).files["report-cards.pdf"]))

    assert "This is not a failing grade" in q1
    assert "(amended)" in final
    assert "Amended on 2027-06-21" in final


def test_conversion_scale_letter_names_scale_year_and_method() -> None:
    files = render_export("ncaa", build_dataset()).files
    text = "\n".join(_text(files["ncaa-conversion-scale-letter.pdf"]))

    assert "To: NCAA Eligibility Center" in text
    assert "in effect from the 2026-27 school year" in text
    assert "How standard scores become one course grade" in text
    assert "decaying average" in text
    assert "3.70" in text
    assert "A+" in text
    assert files["ncaa-conversion-scale-letter.md"].decode().startswith("To: NCAA Eligibility Center")


@pytest.mark.parametrize(
    ("kind", "name"),
    [("transcript-pdf", "transcripts.pdf"), ("report-card-pdf", "report-cards.pdf"),
     ("ncaa", "ncaa-conversion-scale-letter.pdf")],
)  # fmt: skip
def test_first_page_renders_to_a_letter_sized_png(
    pdftoppm: str, tmp_path: Path, kind: str, name: str
) -> None:
    pdf = tmp_path / name
    pdf.write_bytes(render_export(kind, build_dataset()).files[name])

    subprocess.run([pdftoppm, "-r", "50", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) == 1
    # US Letter at 50 dpi: 8.5 x 11 inches -> 425 x 550 pixels.
    assert _png_size(pages[0]) == (425, 550)
    assert pages[0].stat().st_size > 10_000  # text and charts, not a blank page


def _rgb(colour: str) -> bytes:
    return " ".join(f"{int(colour[i : i + 2], 16) / 255:.3f}" for i in (1, 3, 5)).encode()


def test_report_cards_rendered_in_slices_make_the_same_file() -> None:
    dataset = build_dataset("Q2")
    keys = report_card_order(dataset)

    pages = render_report_card_pages(dataset, keys[:1]) + render_report_card_pages(dataset, keys[1:])

    assert len(keys) == 4
    assert assemble_report_cards(dataset, pages).files == render_export("report-card-pdf", dataset).files


def test_transcripts_rendered_in_slices_make_the_same_file() -> None:
    dataset = build_dataset()
    keys = transcript_order(dataset)

    pages = render_transcript_pages(dataset, keys[:3]) + render_transcript_pages(dataset, keys[3:])

    assert len(keys) == 4
    assert assemble_transcripts(dataset, pages).files == render_export("transcript-pdf", dataset).files


def test_report_card_charts_draw_gridlines_the_proficiency_line_and_markers_by_level() -> None:
    dataset = build_dataset("Q2")
    reader = PdfReader(io.BytesIO(render_export("report-card-pdf", dataset).files["report-cards.pdf"]))
    page = reader.pages[0]
    content = page.get_contents()
    assert content is not None
    ops = content.get_data()
    resources = page["/Resources"].get_object()
    assert isinstance(resources, DictionaryObject)
    forms = resources["/XObject"].get_object()
    assert isinstance(forms, DictionaryObject)
    (grid,) = [form.get_object() for form in forms.values()]
    assert isinstance(grid, StreamObject)
    grid_ops = grid.get_data()

    dashed, solid = grid_ops.split(b"[2 2] 0 d", 1)[1].split(b"[] 0 d")
    assert dashed.count(b" l S") == len(dataset.school.levels)  # a dashed gridline per level
    assert solid.count(b" l S") == 2  # the ends of Q1 and Q2, the periods of the year so far
    assert ops.count(b"Do") == ops.count(b" cm ")  # every chart places the gridlines
    assert _rgb(LINE_COLOUR) + b" RG" in ops
    hues = {colour for _, colour in LEVEL_STYLES}
    assert {hue for hue in hues if _rgb(hue) + b" rg" in ops} == hues  # the key shows every level


def test_cross_reference_table_points_at_every_object() -> None:
    data = render_export("report-card-pdf", build_dataset()).files["report-cards.pdf"]

    start = int(data.rsplit(b"startxref\n", 1)[1].split()[0])
    table = data[start:].split(b"trailer", 1)[0].splitlines()
    assert table[:3] == [b"xref", f"0 {len(table) - 2}".encode(), b"0000000000 65535 f "]
    for number, row in enumerate(table[3:], start=1):
        offset = int(row.split()[0])
        assert data[offset:].startswith(f"{number} 0 obj".encode()), number
    assert re.search(rb"/ID \[<[0-9a-f]{32}> <[0-9a-f]{32}>\]", data)


def test_a_section_continues_on_a_new_page_under_its_header() -> None:
    writer = PageWriter(title="Zoë's report (draft)", subject="Müller", author="A (b) \\ c")
    writer.start_section(header=("Müller, Zoë",), footer="Report of Müller, Zoë")
    for number in range(80):
        writer.text(f"Line {number}")
    data = writer.save()
    reader = PdfReader(io.BytesIO(data))
    pages = [page.extract_text() for page in reader.pages]

    assert len(pages) == 2
    assert "Müller, Zoë (continued)" in pages[1]
    assert "Line 79" in pages[1]
    assert "Page 1" in pages[0]
    assert "Page 2" in pages[1]
    assert reader.metadata is not None
    assert (reader.metadata.title, reader.metadata.subject, reader.metadata.author) == (
        "Zoë's report (draft)",
        "Müller",
        "A (b) \\ c",
    )
