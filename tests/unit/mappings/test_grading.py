"""Snapshot grades, course rules, composites and letter-table boundaries."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from mappings import (
    EvidenceKind,
    GradeStatus,
    GradingPeriod,
    MappingError,
    grade_composite,
    grade_final,
    grade_period,
    grade_periods,
    load_shipped_policy,
    parse_policy,
    resolve_method,
)
from tests.unit.mappings.builders import COURSE, Q1, Q2, STUDENT, evidence, series

PLUS_MINUS = load_shipped_policy("four-point-plus-minus")


def _grade(policy, items, period=Q1):  # type: ignore[no-untyped-def]
    return grade_period(policy, items, period, student_id=STUDENT, course_id=COURSE)


def test_improving_student_FDCBA_ends_with_an_A_under_decaying_average_while_the_mean_gives_C() -> None:
    items = series("I1", [0, 1, 2, 3, 4])
    decaying = _grade(PLUS_MINUS, items)
    assert decaying.letter in ("A", "A+")
    recent = _grade(replace(PLUS_MINUS, method=resolve_method("most_recent")), items)
    assert recent.letter in ("A", "A+")
    averaged = _grade(replace(PLUS_MINUS, method=resolve_method("mean")), items)
    assert averaged.letter == "C"


def test_declining_student_ABCDF_ends_with_an_F_under_most_recent() -> None:
    items = series("I1", [4, 3, 2, 1, 0])
    assert _grade(replace(PLUS_MINUS, method=resolve_method("most_recent")), items).letter == "F"


def test_q2_snapshot_uses_q1_evidence_too() -> None:
    items = [evidence("I1", 2, date(2026, 9, 10)), evidence("I2", 4, date(2026, 12, 1))]
    q2 = _grade(PLUS_MINUS, items, Q2)
    assert q2.course_value == Decimal("3")
    assert [r.indicator_id for r in q2.indicators] == ["I1", "I2"]


def test_evidence_after_the_period_end_is_ignored() -> None:
    items = [evidence("I1", 2, date(2026, 9, 10)), evidence("I1", 4, date(2026, 11, 5))]
    q1 = _grade(PLUS_MINUS, items, Q1)
    assert q1.course_value == Decimal("2")
    assert q1.evidence_count == 1


def test_course_end_cuts_evidence_when_the_course_ends_first() -> None:
    items = [evidence("I1", 2, date(2026, 9, 10)), evidence("I1", 4, date(2026, 11, 5))]
    grade = grade_period(
        PLUS_MINUS, items, Q2, student_id=STUDENT, course_id=COURSE, course_end=date(2026, 10, 1)
    )
    assert grade.course_value == Decimal("2")


def test_unordered_input_is_sorted_by_date() -> None:
    ordered = series("I1", [1, 2, 3, 4])
    shuffled = [ordered[2], ordered[0], ordered[3], ordered[1]]
    grade = _grade(PLUS_MINUS, shuffled, Q2)
    assert grade == _grade(PLUS_MINUS, ordered, Q2)
    assert grade.indicators[0].evidence == tuple(ordered)


def test_grade_periods_and_final_are_snapshots() -> None:
    items = [*series("I1", [1, 2]), evidence("I1", 4, date(2026, 12, 1))]
    q1, q2 = grade_periods(PLUS_MINUS, items, [Q1, Q2], student_id=STUDENT, course_id=COURSE)
    assert q1.period_id == "Q1"
    assert q2 == _grade(PLUS_MINUS, items, Q2)
    assert grade_final(PLUS_MINUS, items, [Q1, Q2], student_id=STUDENT, course_id=COURSE) == q2
    with pytest.raises(MappingError, match="credit-bearing"):
        grade_final(PLUS_MINUS, items, [Q1], student_id=STUDENT, course_id=COURSE)


def test_evidence_for_another_student_is_refused() -> None:
    other = replace(evidence("I1", 3, date(2026, 9, 1)), student_id="s2")
    with pytest.raises(MappingError, match="s2"):
        _grade(PLUS_MINUS, [other])


def test_no_evidence_is_insufficient_never_f() -> None:
    grade = _grade(PLUS_MINUS, [])
    assert grade.status is GradeStatus.INSUFFICIENT_EVIDENCE
    assert grade.letter == "I"
    assert grade.grade_points is None


POLICY_TEMPLATE = """
name = "test"
version = "9"
effective_year = "2026-27"
{extra}
[[letters]]
letter = "A"
min = "3.40"
points = 4
[[letters]]
letter = "B"
min = "2.60"
points = 3
[[letters]]
letter = "C"
min = "1.80"
points = 2
[[letters]]
letter = "F"
min = 0
points = 0
"""


def _policy(extra: str = ""):  # type: ignore[no-untyped-def]
    return parse_policy(POLICY_TEMPLATE.format(extra=extra), source="test")


def test_minimum_evidence_gives_the_policy_code() -> None:
    policy = _policy('[evidence]\nmin_indicators = 2\nmin_evidence = 3\ninsufficient_code = "IE"')
    grade = _grade(policy, [*series("I1", [3, 4])])
    assert grade.status is GradeStatus.INSUFFICIENT_EVIDENCE
    assert grade.letter == "IE"
    assert "2 scored indicator" in grade.rule
    assert "3 piece(s) of evidence (has 2)" in grade.rule
    enough = _grade(policy, [*series("I1", [3, 4]), *series("I2", [3])])
    assert enough.status is GradeStatus.GRADED


def test_conjunctive_cap_lowers_the_letter_when_an_indicator_is_below_the_floor() -> None:
    policy = _policy(
        '[[course.caps]]\nbelow = 3\nmax_letter = "B"\ndescription = "A needs every standard at 3"'
    )
    items = [*series("I1", [4]), *series("I2", [4]), *series("I3", ["2.5"])]
    grade = _grade(policy, items)
    assert grade.course_value == Decimal("3.50")
    assert grade.letter == "B"
    assert "capped at B because I3 is below 3" in grade.rule
    assert _grade(policy, [*series("I1", [4]), *series("I2", [3])]).letter == "A"


def test_weights_make_a_weighted_mean() -> None:
    policy = _policy("[course.weights]\nI1 = 3")
    grade = _grade(policy, [*series("I1", [4]), *series("I2", [2])])
    assert grade.course_value == Decimal("3.50")
    assert "weighted mean" in grade.rule


def test_formative_exclude() -> None:
    policy = _policy('[evidence]\nformative = "exclude"')
    items = [*series("I1", [4]), evidence("I1", 1, date(2026, 10, 1), kind=EvidenceKind.FORMATIVE)]
    grade = _grade(policy, items)
    assert grade.course_value == Decimal("4")
    assert grade.indicators[0].excluded[0].evidence.score == 1


def test_formative_cap_weighs_formative_at_the_share() -> None:
    policy = _policy('[method]\nname = "mean"\n[evidence]\nformative = "cap"\nformative_cap = "0.15"')
    items = [*series("I1", [4]), evidence("I1", 2, date(2026, 10, 1), kind=EvidenceKind.FORMATIVE)]
    grade = _grade(policy, items)
    assert grade.course_value == Decimal("3.70")  # 0.85 x 4 + 0.15 x 2
    alone = _grade(policy, [evidence("I1", 4, date(2026, 10, 1), kind=EvidenceKind.FORMATIVE)])
    assert alone.status is GradeStatus.INSUFFICIENT_EVIDENCE
    assert "at most 15%" in alone.indicators[0].excluded[0].reason


def test_composite_mode() -> None:
    policy = _policy(
        '[period]\nmode = "composite"\ncomponents = [{period_id = "Q1", weight = "0.45"}, '
        '{period_id = "Q2", weight = "0.45"}, {period_id = "EXAM", weight = "0.10"}]'
    )
    q1 = _grade(policy, series("I1", [2]), Q1)
    q2 = _grade(policy, [*series("I1", [2]), evidence("I1", 4, date(2026, 12, 1))], Q2)
    exam = replace(q2, period_id="EXAM", course_value=Decimal("3"))
    semester = GradingPeriod("S1", Q1.start, Q2.end, is_credit_bearing=True)
    grade = grade_composite(policy, {"Q1": q1, "Q2": q2, "EXAM": exam}, semester)
    assert q2.course_value == Decimal("3.30")
    assert grade.course_value == Decimal("2.69")  # 0.45 x 2 + 0.45 x 3.30 + 0.10 x 3
    assert grade.letter == "B"
    with pytest.raises(MappingError, match="EXAM"):
        grade_composite(policy, {"Q1": q1, "Q2": q2}, semester)
    with pytest.raises(MappingError, match="snapshot"):
        grade_composite(PLUS_MINUS, {"Q1": q1}, semester)


@pytest.mark.parametrize(
    ("value", "letter"),
    [("3.70", "A+"), ("3.69", "A"), ("3.40", "A"), ("3.39", "A-"), ("0.80", "D-"), ("0.79", "F"), ("0", "F")],
)
def test_letter_cuts_are_inclusive_lower_bounds(value: str, letter: str) -> None:
    assert PLUS_MINUS.row_for(Decimal(value)).letter == letter


def test_marzano_percentage_then_letters() -> None:
    policy = load_shipped_policy("marzano-100")
    grade = _grade(replace(policy, method=resolve_method("most_recent")), series("I1", ["2.75"]))
    assert grade.percent == Decimal("85")
    assert grade.letter == "B"
    assert policy.percent is not None
    assert policy.percent.to_percent(Decimal("3")) == Decimal("90")
    assert policy.percent.to_percent(Decimal("0.5")) == Decimal("30")


def test_no_minus_policy_gives_ins_below_two() -> None:
    policy = replace(load_shipped_policy("four-point-no-minus"), method=resolve_method("most_recent"))
    assert _grade(policy, series("I1", ["1.99"])).letter == "INS"
    assert _grade(policy, series("I1", ["3.00"])).letter == "A"
