"""The NCAA worksheet files as a registrar reads them: letters, quality points, units, GPA and the checks."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources

from connectors.exports import (
    ExportClass,
    ExportCourse,
    ExportDataset,
    ExportGrade,
    ExportStudent,
    render_export,
)
from mappings import Course, CourseLevel, GradeStatus, NcaaArea, Policy, parse_policy
from tests.unit.connectors.exports_data import POLICY, build_dataset

POSTED = datetime(2027, 6, 14, 15, 0, tzinfo=UTC)
E, M, S, SS, ADD = (
    NcaaArea.ENGLISH,
    NcaaArea.MATH,
    NcaaArea.SCIENCE,
    NcaaArea.SOCIAL_SCIENCE,
    NcaaArea.ADDITIONAL,
)


def _dataset(
    rows: list[tuple[str, NcaaArea | None, str, CourseLevel, str]], policy: Policy = POLICY
) -> ExportDataset:
    """One student with a final (Y1) grade per row: (code, area, credits, level, letter)."""
    base = build_dataset(policy=policy)
    courses, classes, grades = {}, {}, []
    for code, area, credits, level, letter in rows:
        courses[code] = ExportCourse(
            Course(code, f"Course {code}", Decimal(credits), level, area is not None, area)
        )
        classes[f"{code}-1"] = ExportClass(f"{code}-1", code, f"{code} (1)", f"{code}-1", "1", "SY2026")
        points = next((row.points for row in policy.letters if row.letter == letter), None)
        grades.append(ExportGrade("p1", f"{code}-1", "Y1", GradeStatus.GRADED, letter, None, points, POSTED))
    student = ExportStudent("p1", "Ava", "Nguyen", "STU0001", "12")
    return ExportDataset(
        base.school, base.period, base.sessions, {"p1": student}, courses, classes, tuple(grades)
    )


def _rows(dataset: ExportDataset, name: str) -> list[dict[str, str]]:
    data = render_export("ncaa", dataset).files[name]
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def _line(dataset: ExportDataset, code: str) -> dict[str, str]:
    return next(row for row in _rows(dataset, "ncaa-worksheet.csv") if row["course_code"] == code)


def _summary(dataset: ExportDataset) -> dict[str, str]:
    return _rows(dataset, "ncaa-summary.csv")[0]


def test_pluses_and_minuses_are_dropped() -> None:
    dataset = _dataset(
        [("ENG", E, "1", CourseLevel.STANDARD, "B+"), ("ALG", M, "1", CourseLevel.STANDARD, "C-")]
    )

    assert (_line(dataset, "ENG")["ncaa_letter"], _line(dataset, "ENG")["quality_points"]) == ("B", "3")
    assert (_line(dataset, "ALG")["ncaa_letter"], _line(dataset, "ALG")["quality_points"]) == ("C", "2")
    assert "pluses and minuses are dropped" in _line(dataset, "ENG")["note"]
    assert _summary(dataset)["core_gpa"] == "2.500"


def test_a_pass_grade_counts_as_the_lowest_passing_letter() -> None:
    line = _line(_dataset([("PE", ADD, "1", CourseLevel.STANDARD, "P")]), "PE")

    # four-point-plus-minus: the lowest passing letter is D-, which the NCAA reads as D (1 point).
    assert (line["letter"], line["ncaa_letter"], line["quality_points"], line["is_counted"]) == (
        "P",
        "D",
        "1",
        "yes",
    )
    assert "pass grade P counts as D-" in line["note"]


def test_weighting_is_capped_at_one_quality_point() -> None:
    document = (resources.files("mappings") / "policies" / "four-point-plus-minus.toml").read_text(
        encoding="utf-8"
    )
    generous = parse_policy(document.replace('ap = "1.0"', 'ap = "1.5"'), source="test")
    dataset = _dataset(
        [("APBIO", S, "1", CourseLevel.AP, "A"), ("HENG", E, "1", CourseLevel.HONORS, "B")], generous
    )

    assert (_line(dataset, "APBIO")["quality_points"], _line(dataset, "APBIO")["bonus"]) == ("4", "1.00")
    assert _line(dataset, "HENG")["bonus"] == "0.5"
    assert _summary(dataset)["core_gpa"] == "4.250"  # (5 + 3.5) / 2


def test_partial_units_count_their_share_and_never_more_than_one() -> None:
    dataset = _dataset(
        [("GOV", SS, "0.5", CourseLevel.STANDARD, "A"), ("ENG", E, "1.5", CourseLevel.STANDARD, "C")]
    )

    assert _line(dataset, "GOV")["units"] == "0.5"
    assert _line(dataset, "ENG")["units"] == "1"
    summary = _summary(dataset)
    assert (summary["units_social_science"], summary["units_english"], summary["core_units"]) == (
        "0.5",
        "1",
        "1.5",
    )
    assert summary["core_gpa"] == "2.666"  # (0.5 x 4 + 1 x 2) / 1.5 = 2.6666...


def test_core_gpa_is_truncated_at_three_places_never_rounded() -> None:
    dataset = _dataset(
        [(c, E, "1", CourseLevel.STANDARD, letter) for c, letter in (("E1", "B"), ("E2", "B"), ("E3", "C"))]
    )

    assert _summary(dataset)["core_gpa"] == "2.666"  # 8 / 3 = 2.6667 would round to 2.667


def test_non_core_courses_are_listed_but_not_counted() -> None:
    dataset = _dataset(
        [("ART", None, "1", CourseLevel.STANDARD, "A"), ("ENG", E, "1", CourseLevel.STANDARD, "C")]
    )

    assert (_line(dataset, "ART")["is_counted"], _line(dataset, "ART")["note"]) == (
        "no",
        "not an NCAA core course",
    )
    assert _summary(dataset)["core_gpa"] == "2.000"


def _sixteen() -> list[tuple[str, NcaaArea | None, str, CourseLevel, str]]:
    areas = [E] * 4 + [M] * 3 + [S] * 3 + [SS] * 2 + [ADD] * 4
    return [(f"C{i:02d}", area, "1", CourseLevel.STANDARD, "B") for i, area in enumerate(areas)]


def test_division_distributions_and_the_ten_seven_rule() -> None:
    dataset = _dataset(_sixteen())
    requirements = _rows(dataset, "ncaa-requirements.csv")
    division_i = {r["requirement"]: r for r in requirements if r["division"] == "Division I"}
    division_ii = [r for r in requirements if r["division"] == "Division II"]

    assert division_i["English"]["status"] == "met"
    assert division_i["more English, math or science"]["actual"] == "1 units"
    assert division_i["total core units"]["status"] == "met"
    assert division_i["Division I core GPA"]["actual"] == "3.000"
    # The completion semester of posted grades is not known, so 10/7 cannot be told and DI waits on it.
    ten_seven = next(r for name, r in division_i.items() if name.startswith("10 core units"))
    assert ten_seven["status"] == "cannot_tell"
    assert {r["outcome"] for r in division_i.values()} == {"cannot_tell"}
    assert {r["outcome"] for r in division_ii} == {"qualifier"}
    summary = _summary(dataset)
    assert (summary["division_i"], summary["division_ii"], summary["ten_seven"]) == (
        "cannot_tell",
        "qualifier",
        "cannot_tell",
    )


def test_too_few_core_units_fail_the_distribution_and_ten_seven() -> None:
    dataset = _dataset(_sixteen()[:6])
    division_i = {
        r["requirement"]: r for r in _rows(dataset, "ncaa-requirements.csv") if r["division"] == "Division I"
    }

    assert division_i["total core units"]["status"] == "unmet"
    assert division_i["math (Algebra I or higher; course level is not checked here)"]["actual"] == "2 units"
    assert next(r for n, r in division_i.items() if n.startswith("10 core units"))["status"] == "unmet"
    assert _summary(dataset)["division_i"] == "not_met"


def test_an_f_counts_in_the_gpa_but_earns_no_units() -> None:
    dataset = _dataset(
        [("ENG", E, "1", CourseLevel.STANDARD, "F"), ("ALG", M, "1", CourseLevel.STANDARD, "A")]
    )
    summary = _summary(dataset)

    assert (summary["core_gpa"], summary["units_english"], summary["units_math"]) == ("2.000", "0", "1")
