"""`mastery-bridge translate`: files in, grades and GPA out, bad input named precisely."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from lti_tool.cli import main
from lti_tool.translate import GPA_HEADER, GRADES_HEADER

PERIODS = "period_id,course_id,start,end,credit_bearing\nQ1,*,2026-08-24,2026-10-30,false\nY1,*,2026-08-24,2027-06-11,true\n"
COURSES = "course_id,title,credits,level,ncaa_core,ncaa_area\nALG2,Algebra II,1,standard,true,math\n"


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _run(
    folder: Path, evidence: str, *extra: str, periods: str = PERIODS, courses: str = COURSES
) -> tuple[int, str]:
    args = [
        "translate",
        "--policy",
        "four-point-plus-minus",
        "--evidence",
        str(_write(folder, "evidence.csv", evidence)),
        "--periods",
        str(_write(folder, "periods.csv", periods)),
        "--courses",
        str(_write(folder, "courses.csv", courses)),
        "--out",
        str(folder / "grades.csv"),
        "--gpa",
        str(folder / "gpa.csv"),
        *extra,
    ]
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.output


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


IMPROVER = (
    "student_id,course_id,indicator_id,score,demonstrated_on,kind,task\n"
    "S1,ALG2,MTH.1.1,0,2026-09-01,summative,Quiz 1\n"
    "S1,ALG2,MTH.1.1,1,2026-09-15,summative,Quiz 2\n"
    "S1,ALG2,MTH.1.1,2,2026-10-01,summative,Quiz 3\n"
    "S1,ALG2,MTH.1.1,3,2026-11-15,summative,Quiz 4\n"
    "S1,ALG2,MTH.1.1,4,2027-02-01,summative,Project\n"
)


def test_improver_is_graded_where_they_stand_now(tmp_path: Path) -> None:
    code, output = _run(tmp_path, IMPROVER)
    assert code == 0, output
    grades = {row["period_id"]: row for row in _read(tmp_path / "grades.csv")}
    assert list(_read(tmp_path / "grades.csv")[0]) == list(GRADES_HEADER)
    assert grades["Y1"]["letter"] in {"A", "A+"}
    assert grades["Y1"]["evidence_count"] == "5"
    assert grades["Y1"]["status"] == "graded"
    # Q1 is a snapshot at 30 October: only the first three pieces count.
    assert grades["Q1"]["evidence_count"] == "3"
    gpa = _read(tmp_path / "gpa.csv")
    assert list(gpa[0]) == list(GPA_HEADER)
    assert gpa[0]["student_id"] == "S1"
    assert gpa[0]["gpa"] == "4.00"


def test_explain_prints_plain_words(tmp_path: Path) -> None:
    code, output = _run(tmp_path, IMPROVER, "--explain")
    assert code == 0, output
    assert "MTH.1.1" in output
    assert "2027-02-01" in output
    assert "Project" in output


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        (
            "student_id,course_id,indicator_id,score,demonstrated_on\nS1,ALG2,X,three,2026-09-01\n",
            ["line 2", "'score'", "'three'"],
        ),
        (
            "student_id,course_id,indicator_id,score,demonstrated_on\nS1,ALG2,X,3,2026-09-01\nS1,ALG2,X,3,01/09/2026\n",
            ["line 3", "'demonstrated_on'", "'01/09/2026'"],
        ),
        (
            "student_id,course_id,indicator_id,score\nS1,ALG2,X,3\n",
            ["line 1", "'demonstrated_on'", "missing column"],
        ),
        (
            "student_id,course_id,indicator_id,score,demonstrated_on\nS1,BIO,X,3,2026-09-01\n",
            ["line 2", "'course_id'", "'BIO'"],
        ),
        (
            "student_id,course_id,indicator_id,score,demonstrated_on,kind\nS1,ALG2,X,3,2026-09-01,homework\n",
            ["line 2", "'kind'", "'homework'"],
        ),
        (
            "student_id,course_id,indicator_id,score,demonstrated_on\nS1,ALG2,X,-1,2026-09-01\n",
            ["line 2", "'score'", "'-1'"],
        ),
    ],
)
def test_bad_evidence_is_named_and_nothing_is_written(
    tmp_path: Path, evidence: str, expected: list[str]
) -> None:
    code, output = _run(tmp_path, evidence)
    assert code == 2
    assert "evidence.csv" in output
    for fragment in expected:
        assert fragment in output
    assert not (tmp_path / "grades.csv").exists()
    assert not (tmp_path / "gpa.csv").exists()


def test_bad_period_row_is_named(tmp_path: Path) -> None:
    periods = "period_id,course_id,start,end,credit_bearing\nQ1,*,2026-08-24,2026-10-30,maybe\n"
    code, output = _run(tmp_path, IMPROVER, periods=periods)
    assert code == 2
    assert "periods.csv, line 2, column 'credit_bearing'" in output
    assert "'maybe'" in output


def test_bad_course_row_is_named(tmp_path: Path) -> None:
    courses = "course_id,title,credits,level,ncaa_core,ncaa_area\nALG2,Algebra II,1,advanced,true,math\n"
    code, output = _run(tmp_path, IMPROVER, courses=courses)
    assert code == 2
    assert "courses.csv, line 2, column 'level'" in output


def test_unknown_policy_lists_the_shipped_ones(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["translate", "--policy", "no-such-policy", "--evidence", str(_write(tmp_path, "e.csv", IMPROVER)),
         "--periods", str(_write(tmp_path, "p.csv", PERIODS))],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "four-point-plus-minus" in result.output


def test_existing_outputs_survive_a_failed_run(tmp_path: Path) -> None:
    (tmp_path / "grades.csv").write_text("previous run\n", encoding="utf-8")
    code, _ = _run(
        tmp_path, "student_id,course_id,indicator_id,score,demonstrated_on\nS1,ALG2,X,x,2026-09-01\n"
    )
    assert code == 2
    assert (tmp_path / "grades.csv").read_text(encoding="utf-8") == "previous run\n"


def test_demo_district_translates(tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(main, ["demo", "files", str(tmp_path)])
    assert made.exit_code == 0, made.output
    result = runner.invoke(
        main,
        ["translate", "--policy", "four-point-plus-minus", "--evidence", str(tmp_path / "evidence.csv"),
         "--periods", str(tmp_path / "periods.csv"), "--courses", str(tmp_path / "courses.csv"),
         "--out", str(tmp_path / "grades.csv"), "--gpa", str(tmp_path / "gpa.csv"),
         "--explain", "--student", "STU0001"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    grades = _read(tmp_path / "grades.csv")
    gpas = _read(tmp_path / "gpa.csv")
    assert len(gpas) == 120
    assert {row["status"] for row in grades} == {"graded", "insufficient_evidence"}
    assert {row["period_id"] for row in grades} == {"Q1", "Q2", "Q3", "Q4", "Y1", "S2"}
    assert "STU0001" in result.output
    assert "STU0002" not in result.output
