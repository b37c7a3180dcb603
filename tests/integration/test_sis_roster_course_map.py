"""The district course map: credits, level and NCAA facts by course sourcedId or code; errors name file, line, column."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from lti_tool.errors import InputFileError
from lti_tool.models import CourseLevel, NcaaArea
from lti_tool.sis.course_map import CourseFacts, CourseMap, CourseMapError

HEADER = "course_sourced_id,course_code,credits,level,ncaa_core,ncaa_area\n"


def write(tmp_path: Path, text: str, name: str = "course-map.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_rows_are_found_by_sourced_id_first_then_by_code(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER + "crs-alg2,ALG2,1.0,Honors,true,math\n" + ",eng9,0.5,,no,\n" + "\n" + ",AP-BIO,,ap,,\n",
    )
    course_map = CourseMap.from_csv(path)
    assert len(course_map) == 3
    assert course_map.facts_for("crs-alg2", "whatever") == CourseFacts(
        Decimal("1.00"), CourseLevel.HONORS, True, NcaaArea.MATH
    )
    assert course_map.facts_for("crs-unknown", "ENG9") == CourseFacts(Decimal("0.50"), None, False, None)
    assert course_map.facts_for("crs-unknown", " ap-bio ") == CourseFacts(None, CourseLevel.AP, None, None)
    assert course_map.facts_for("crs-unknown", None) is None
    assert course_map.source == str(path)


@pytest.mark.parametrize(
    ("text", "line", "column", "value", "message"),
    [
        (HEADER + "c1,,one,,,\n", 2, "credits", "one", "expected a number of credits"),
        (HEADER + "c1,,1,,,\nc2,,-1,,,\n", 3, "credits", "-1", "credits must be between 0 and 999.99"),
        (
            HEADER + "c1,,1,advanced,,\n",
            2,
            "level",
            "advanced",
            "expected one of standard, honors, ap, ib, dual",
        ),
        (HEADER + "c1,,1,,maybe,\n", 2, "ncaa_core", "maybe", "expected true or false"),
        (HEADER + "c1,,1,,true,\n", 2, "ncaa_area", None, "an NCAA core course needs its area"),
        (HEADER + "c1,,1,,false,math\n", 2, "ncaa_area", "math", "only an NCAA core course has an area"),
        (HEADER + "c1,,1,,true,art\n", 2, "ncaa_area", "art", "expected one of english, math"),
        (
            HEADER + ",,1,,,\n",
            2,
            "course_sourced_id",
            None,
            "a course_sourced_id or a course_code is required",
        ),
        (HEADER + "c1,,1,,,\nc1,,2,,,\n", 3, "course_sourced_id", "c1", "listed twice (first on line 2)"),
        (HEADER + ",ALG,1,,,\n,alg,2,,,\n", 3, "course_code", "alg", "listed twice (first on line 2)"),
        (
            "credits,level\n1,honors\n",
            1,
            "course_sourced_id",
            None,
            "the header needs course_sourced_id or course_code",
        ),
        ("course_code,credit\nALG,1\n", 1, "credit", None, "unknown column"),
        (HEADER + "c1,,1,,,,extra\n", 2, None, None, "more cells than the 6 columns of the header"),
        ("", 1, None, None, "the file is empty"),
    ],
)
def test_errors_name_the_file_line_and_column(
    tmp_path: Path, text: str, line: int, column: str | None, value: str | None, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CourseMapError) as caught:
        CourseMap.from_csv(path)
    error = caught.value
    assert isinstance(error, InputFileError)
    assert (error.file, error.line, error.column, error.value) == (str(path), line, column, value)
    assert message in str(error)
    assert str(error).startswith(f"{path}, line {line}")


def test_a_missing_or_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CourseMapError, match="cannot open the course map") as caught:
        CourseMap.from_csv(tmp_path / "absent.csv")
    assert caught.value.file == str(tmp_path / "absent.csv")
    path = tmp_path / "latin1.csv"
    path.write_bytes(HEADER.encode() + "c1,,1,,,\xe9\n".encode("latin-1"))
    with pytest.raises(CourseMapError, match="not a readable UTF-8 CSV file"):
        CourseMap.from_csv(path)
