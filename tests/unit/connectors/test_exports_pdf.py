"""PDF exports read back: their text (pypdf) and a page rendered to PNG by poppler's pdftoppm."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from connectors.exports import render_export
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
