"""GPA and NCAA core-course figures."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from mappings import (
    Course,
    CourseGrade,
    CourseLevel,
    GradeStatus,
    MappingError,
    NcaaArea,
    NcaaCourseGrade,
    NcaaOutcome,
    Rounding,
    compute_gpa,
    compute_ncaa,
    load_shipped_policy,
)

PLUS_MINUS = load_shipped_policy("four-point-plus-minus")  # weighted: honors +0.5, AP/IB/dual +1.0
NO_MINUS = load_shipped_policy("four-point-no-minus")  # not weighted, INS left out of GPA


def _grade(course_id: str, letter: str, points: str | None = None, policy=PLUS_MINUS) -> CourseGrade:  # type: ignore[no-untyped-def]
    status = GradeStatus.GRADED
    if letter == policy.evidence.insufficient_code and points is None:
        status = GradeStatus.INSUFFICIENT_EVIDENCE
    elif points is None:
        points = str(next(row.points for row in policy.letters if row.letter == letter))
    return CourseGrade(
        student_id="s1", course_id=course_id, period_id="S2", status=status, course_value=None, letter=letter,
        grade_points=None if points is None else Decimal(points), evidence_count=1, indicators=(), rule="",
        cut_row=None, policy_name=policy.name, policy_version=policy.version, method="most_recent", method_params=(),
    )  # fmt: skip


def _course(
    course_id: str, area: NcaaArea | None = None, credits: str = "1", level=CourseLevel.STANDARD
) -> Course:  # type: ignore[no-untyped-def]
    return Course(course_id, course_id, Decimal(credits), level, area is not None, area)


def test_gpa_unweighted_and_weighted() -> None:
    courses = {
        "eng": _course("eng"),
        "calc": _course("calc", level=CourseLevel.AP),
        "art": _course("art", credits="0.5"),
    }
    grades = [_grade("eng", "B"), _grade("calc", "A-"), _grade("art", "C")]
    result = compute_gpa(grades, courses, PLUS_MINUS)
    # (3.0 + 3.67 + 0.5 x 2.0) / 2.5 = 3.068 -> 3.07; weighted adds 1.0 x 1 credit -> 3.468 -> 3.47
    assert result.gpa == Decimal("3.07")
    assert result.weighted_gpa == Decimal("3.47")
    assert result.credits_attempted == result.credits_in_gpa == Decimal("2.5")


def test_gpa_rounding_modes() -> None:
    courses = {"a": _course("a"), "b": _course("b"), "c": _course("c")}
    grades = [_grade("a", "B"), _grade("b", "B"), _grade("c", "A-")]  # 9.67 / 3 = 3.2233...
    policy = replace(PLUS_MINUS, gpa=replace(PLUS_MINUS.gpa, places=1, rounding=Rounding.TRUNCATE))
    assert compute_gpa(grades, courses, policy).gpa == Decimal("3.2")
    grades = [_grade("a", "B+", "3.35"), _grade("b", "B", "3.0")]  # 3.175
    even = replace(PLUS_MINUS, gpa=replace(PLUS_MINUS.gpa, places=2, rounding=Rounding.HALF_EVEN))
    assert compute_gpa(grades, courses, even).gpa == Decimal("3.18")
    assert compute_gpa(grades, courses, PLUS_MINUS).gpa == Decimal("3.18")
    grades = [_grade("a", "B+", "3.25"), _grade("b", "B", "3.0")]  # 3.125
    assert compute_gpa(grades, courses, even).gpa == Decimal("3.12")
    assert compute_gpa(grades, courses, PLUS_MINUS).gpa == Decimal("3.13")


def test_gpa_leaves_out_insufficient_evidence_and_excluded_letters() -> None:
    courses = {"a": _course("a"), "b": _course("b"), "c": _course("c")}
    grades = [_grade("a", "A", policy=NO_MINUS), _grade("b", "INS", policy=NO_MINUS),
              _grade("c", "INS", "0", policy=NO_MINUS)]  # fmt: skip
    result = compute_gpa(grades, courses, NO_MINUS)
    assert result.gpa == Decimal("4.00")
    assert result.weighted_gpa is None
    assert result.credits_attempted == Decimal("3")
    assert result.credits_in_gpa == Decimal("1")
    assert [line.is_counted for line in result.lines] == [True, False, False]
    with pytest.raises(MappingError, match="'zzz'"):
        compute_gpa([_grade("zzz", "A")], courses, NO_MINUS)


def test_ncaa_drops_plus_minus_and_reads_pass_as_lowest_passing_letter() -> None:
    courses = {"e": _course("e", NcaaArea.ENGLISH), "m": _course("m", NcaaArea.MATH), "x": _course("x")}
    grades = [_grade("e", "A-"), _grade("m", "P", "0"), _grade("x", "A")]
    result = compute_ncaa(grades, courses, PLUS_MINUS)
    english, math, other = result.lines
    assert (english.ncaa_letter, english.quality_points) == ("A", Decimal(4))
    assert (math.ncaa_letter, math.quality_points) == ("D", Decimal(1))  # P -> D- -> D
    assert "lowest passing letter" in math.note
    assert not other.is_counted
    assert result.core_gpa == Decimal("2.500")


def test_ncaa_weighting_only_when_the_school_weights_and_capped_at_one() -> None:
    courses = {"ap": _course("ap", NcaaArea.SCIENCE, level=CourseLevel.AP)}
    big_bonus = replace(PLUS_MINUS, gpa=replace(PLUS_MINUS.gpa, bonus=((CourseLevel.AP, Decimal("1.5")),)))
    assert compute_ncaa([_grade("ap", "B")], courses, big_bonus).core_gpa == Decimal("4.000")
    unweighted = replace(big_bonus, gpa=replace(big_bonus.gpa, is_weighted=False))
    assert compute_ncaa([_grade("ap", "B")], courses, unweighted).core_gpa == Decimal("3.000")


def test_ncaa_partial_units() -> None:
    courses = {"sem": _course("sem", NcaaArea.ENGLISH, "0.5"), "big": _course("big", NcaaArea.ENGLISH, "2"),
               "tri": _course("tri", NcaaArea.ENGLISH, "0.34")}  # fmt: skip
    result = compute_ncaa([_grade("sem", "B"), _grade("big", "B"), _grade("tri", "B")], courses, PLUS_MINUS)
    assert result.units_in(NcaaArea.ENGLISH) == Decimal("1.84")


def test_ncaa_gpa_is_truncated_so_2_2999_fails_2_300() -> None:
    courses = {f"c{i}": _course(f"c{i}", NcaaArea.ADDITIONAL) for i in range(13)}
    courses["t"] = _course("t", NcaaArea.ADDITIONAL, "0.34")
    grades = [_grade(f"c{i}", "A" if i < 2 else "C") for i in range(13)] + [_grade("t", "C")]
    result = compute_ncaa(grades, courses, PLUS_MINUS)  # 30.68 / 13.34 = 2.29985...
    assert result.core_gpa == Decimal("2.299")
    gpa_check = next(r for r in result.division_i.requirements if "core GPA" in r.name)
    assert gpa_check.status == "unmet"


def _full_load(
    semester: int | None = 5, letter: str = "B"
) -> tuple[list[NcaaCourseGrade], dict[str, Course]]:
    plan = [(NcaaArea.ENGLISH, 4), (NcaaArea.MATH, 4), (NcaaArea.SCIENCE, 2), (NcaaArea.SOCIAL_SCIENCE, 2),
            (NcaaArea.ADDITIONAL, 4)]  # fmt: skip
    courses: dict[str, Course] = {}
    grades = []
    for area, count in plan:
        for i in range(count):
            course = _course(f"{area}{i}", area)
            courses[course.course_id] = course
            grades.append(NcaaCourseGrade(_grade(course.course_id, letter), semester))
    return grades, courses


def test_division_i_full_qualifier() -> None:
    grades, courses = _full_load()
    result = compute_ncaa(grades, courses, PLUS_MINUS)
    assert result.core_units == Decimal(16)
    assert result.division_i.outcome is NcaaOutcome.QUALIFIER
    assert result.division_i.is_met
    assert result.division_ii.outcome is NcaaOutcome.QUALIFIER


def test_division_i_distribution_shortfall_is_named() -> None:
    grades, courses = _full_load()
    result = compute_ncaa(grades[1:], courses, PLUS_MINUS)  # one English short
    assert result.division_i.outcome is NcaaOutcome.NOT_MET
    english = result.division_i.requirements[0]
    assert english.status == "unmet"
    assert "needs 4 units of English; has 3" in english.reason


def test_ten_seven_rule_unknown_semester_cannot_tell_and_late_courses_fail() -> None:
    grades, courses = _full_load(semester=None)
    unknown = compute_ncaa(grades, courses, PLUS_MINUS)
    assert unknown.division_i.outcome is NcaaOutcome.CANNOT_TELL
    assert "cannot tell" in unknown.division_i.requirements[-1].reason
    late, courses = _full_load(semester=7)
    assert compute_ncaa(late, courses, PLUS_MINUS).division_i.outcome is NcaaOutcome.NOT_MET
    bare = compute_ncaa([g.grade for g in grades], courses, PLUS_MINUS)
    assert bare.division_i.outcome is NcaaOutcome.CANNOT_TELL


def test_division_ii_partial_qualifier() -> None:
    grades, courses = _full_load()
    mixed = [
        replace(g, grade=_grade(g.grade.course_id, "C" if i < 14 else "B")) for i, g in enumerate(grades)
    ]
    result = compute_ncaa(mixed, courses, PLUS_MINUS)  # 34 / 16 = 2.125
    assert result.core_gpa == Decimal("2.125")
    assert result.division_ii.outcome is NcaaOutcome.PARTIAL_QUALIFIER
    assert result.division_i.outcome is NcaaOutcome.NOT_MET
