"""The equity report's pure part: subgroups from OneRoster demographics, distributions and suppression."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lti_tool.registrar.equity import (
    ALL_STUDENTS,
    HISPANIC,
    NOT_REPORTED,
    TWO_OR_MORE,
    ClassProficiency,
    Dimension,
    IndicatorRef,
    Snapshot,
    build_equity_report,
    subgroup_of,
    suppressed_groups,
)
from lti_tool.registrar.errors import RegistrarError

LEVELS = (
    (Decimal(1), "Emerging"),
    (Decimal(2), "Developing"),
    (Decimal(3), "Proficient"),
    (Decimal(4), "Exemplary"),
)
SNAPSHOTS = (
    Snapshot("Q1", "Quarter 1", date(2026, 10, 30)),
    Snapshot("as_of", "As of 2026-12-01", date(2026, 12, 1)),
)


def one_class(students: int, values: dict[tuple[int, int, str], Decimal]) -> ClassProficiency:
    return ClassProficiency(
        class_id=1, title="Biology (1)", course_code="BIO", levels=LEVELS, scale_minimum=Decimal(0),
        indicators=(IndicatorRef("SCI.1.1", "I can model a system.", "case-1"),), snapshots=SNAPSHOTS,
        student_ids=tuple(range(1, students + 1)), values=values,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("data", "dimension", "expected"),
    [
        (None, Dimension.SEX, NOT_REPORTED),
        ({"sex": "female"}, Dimension.SEX, "Female"),
        ({"sex": "Male"}, Dimension.SEX, "Male"),
        ({"sex": "ext:nonbinary"}, Dimension.SEX, "Other"),
        ({"sex": ""}, Dimension.SEX, NOT_REPORTED),
        ({"asian": "true"}, Dimension.RACE_ETHNICITY, "Asian"),
        ({"black_or_african_american": True}, Dimension.RACE_ETHNICITY, "Black or African American"),
        ({"white": "true", "hispanicOrLatinoEthnicity": "true"}, Dimension.RACE_ETHNICITY, HISPANIC),
        ({"white": "true", "asian": "true"}, Dimension.RACE_ETHNICITY, TWO_OR_MORE),
        ({"white": "false", "demographicRaceTwoOrMoreRaces": "true"}, Dimension.RACE_ETHNICITY, TWO_OR_MORE),
        ({"white": "false", "asian": False}, Dimension.RACE_ETHNICITY, NOT_REPORTED),
        ({"sex": "female"}, Dimension.ALL, ALL_STUDENTS),
    ],
)
def test_subgroups_follow_oneroster_demographics(
    data: dict[str, object] | None, dimension: Dimension, expected: str
) -> None:
    assert subgroup_of(dimension, data) == expected


def test_nothing_is_suppressed_when_every_group_is_large_enough() -> None:
    assert suppressed_groups({"Female": 12, "Male": 10}, 10) == frozenset()


def test_a_lone_small_group_takes_the_next_smallest_with_it() -> None:
    # Female 3 alone could be recovered as total - Male - Other: the next smallest (Other 11) goes too.
    assert suppressed_groups({"Female": 3, "Male": 30, "Other": 11}, 10) == {"Female", "Other"}


def test_suppressed_groups_together_reach_the_minimum() -> None:
    # Two small groups (2 + 3 = 5 students) could be recovered together: a third is hidden.
    assert suppressed_groups({"A": 2, "B": 3, "C": 12, "D": 40}, 10) == {"A", "B", "C"}
    assert suppressed_groups({"A": 4, "B": 7, "C": 40}, 10) == {"A", "B"}


def test_everything_is_suppressed_when_the_class_is_small() -> None:
    assert suppressed_groups({"Female": 4, "Male": 5}, 10) == {"Female", "Male"}
    assert suppressed_groups({ALL_STUDENTS: 9}, 10) == {ALL_STUDENTS}


@given(st.dictionaries(st.text(min_size=1, max_size=3), st.integers(min_value=1, max_value=60), min_size=1),
       st.integers(min_value=1, max_value=20))  # fmt: skip
def test_no_small_group_can_be_shown_or_derived(sizes: dict[str, int], minimum: int) -> None:
    hidden = suppressed_groups(sizes, minimum)
    assert all(sizes[group] >= minimum for group in sizes if group not in hidden)
    if hidden and hidden != set(sizes):
        # What subtraction from the total reveals is the hidden groups together: never a small group.
        assert len(hidden) >= 2
        assert sum(sizes[group] for group in hidden) >= minimum


def test_distributions_means_and_progress() -> None:
    values = {(student, 0, "SCI.1.1"): Decimal(2) for student in range(1, 11)}
    values.update({(student, 1, "SCI.1.1"): Decimal("3.5") for student in range(1, 9)})
    values[(9, 1, "SCI.1.1")] = Decimal("0.5")
    report = build_equity_report(
        [one_class(12, values)], {}, school_id=1, school_name="Riverbend", as_of=date(2026, 12, 1)
    )
    (row,) = report.rows
    assert row.buckets == (
        "No evidence yet",
        "below Emerging",
        "Emerging",
        "Developing",
        "Proficient",
        "Exemplary",
    )
    assert report.dimensions == (Dimension.ALL,)
    assert not report.has_demographics
    (group,) = row.groups
    first, last = group.distributions
    assert first.counts == (2, 0, 0, 10, 0, 0)
    assert first.mean == Decimal("2.00")
    assert last.counts == (3, 1, 0, 0, 8, 0)
    assert last.mean == Decimal("3.17")
    assert group.change == Decimal("1.17")
    assert first.group_size == last.group_size == 12


def test_small_subgroups_are_suppressed_everywhere_and_read_fewer_than_n() -> None:
    values = {(student, index, "SCI.1.1"): Decimal(3) for student in range(1, 31) for index in (0, 1)}
    demographics: dict[int, dict[str, object]] = {
        student: {"sex": "female" if student <= 16 else "male", "asian": "true" if student <= 4 else "false",
                  "white": "true" if student > 4 else "false"}
        for student in range(1, 29)
    }  # students 29 and 30 have no demographics: "Not reported"  # fmt: skip
    report = build_equity_report(
        [one_class(30, values)], demographics, school_id=1, school_name="R", as_of=date(2026, 12, 1)
    )
    assert report.suppressed_text == "fewer than 10"
    (row,) = report.rows
    shown = {(g.dimension, g.group): g for g in row.groups}
    assert not shown[(Dimension.ALL, ALL_STUDENTS)].is_suppressed
    # Sex: Not reported (2) is small; alone it could be derived, so the next smallest (Male, 12) goes too.
    assert shown[(Dimension.SEX, NOT_REPORTED)].is_suppressed
    assert shown[(Dimension.SEX, "Male")].is_suppressed
    female = shown[(Dimension.SEX, "Female")]
    assert not female.is_suppressed
    assert female.distributions[-1].counts == (0, 0, 0, 0, 16, 0)
    # Race: Not reported (2) and Asian (4) are small, together 6 < 10, so White (24) is hidden too.
    race = {g: shown[(Dimension.RACE_ETHNICITY, g)] for g in ("Asian", "White", NOT_REPORTED)}
    assert all(group.is_suppressed for group in race.values())
    for group in race.values():
        assert all(d.counts is None and d.mean is None for d in group.distributions)
        assert group.change is None


def test_min_group_size_must_be_positive() -> None:
    with pytest.raises(RegistrarError, match="min_group_size must be at least 1"):
        build_equity_report([], {}, school_id=1, school_name="R", as_of=date(2026, 12, 1), min_group_size=0)
