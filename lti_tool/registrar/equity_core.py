"""The equity report's pure core: subgroups from OneRoster demographics, suppression, distributions.

Typed rows in, a typed report out; no database (lti_tool.registrar.equity gathers the rows). The
suppression rule is described in lti_tool.registrar.equity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from lti_tool.registrar.errors import RegistrarError
from mappings import Rounding, quantize

DEFAULT_MIN_GROUP_SIZE = 10
NO_EVIDENCE = "No evidence yet"
NOT_REPORTED = "Not reported"
ALL_STUDENTS = "All students"
AS_OF_KEY = "as_of"


class Dimension(StrEnum):
    """How students are grouped in a row."""

    ALL = "all"
    SEX = "sex"
    RACE_ETHNICITY = "race_ethnicity"


DIMENSION_TITLES = {Dimension.ALL: "All students", Dimension.SEX: "Sex",
                    Dimension.RACE_ETHNICITY: "Race and ethnicity"}  # fmt: skip
SUBGROUP_DIMENSIONS = (Dimension.SEX, Dimension.RACE_ETHNICITY)

# OneRoster 1.2 Rostering, DemographicsDType (sex, the five race flags, demographicRaceTwoOrMoreRaces,
# hispanicOrLatinoEthnicity; flags are the strings "true"/"false"). The race and ethnicity categories
# are the federal seven (Hispanic or Latino of any race first, then each single race, then two or more).
SEX_LABELS = {"female": "Female", "male": "Male", "other": "Other", "unspecified": "Unspecified"}
RACE_FLAGS = (
    ("americanIndianOrAlaskaNative", "American Indian or Alaska Native"),
    ("asian", "Asian"),
    ("blackOrAfricanAmerican", "Black or African American"),
    ("nativeHawaiianOrOtherPacificIslander", "Native Hawaiian or Other Pacific Islander"),
    ("white", "White"),
)
HISPANIC = "Hispanic or Latino"
TWO_OR_MORE = "Two or more races"


def _normal_key(name: str) -> str:
    # The sync may keep OneRoster's camelCase or the connector records' snake_case: accept both.
    return name.replace("_", "").casefold()


def _is_true(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().casefold() == "true")


def subgroup_of(dimension: Dimension, data: Mapping[str, object] | None) -> str:
    """The subgroup a student's demographics put them in (NOT_REPORTED without data)."""
    if dimension is Dimension.ALL:
        return ALL_STUDENTS
    fields = {_normal_key(key): value for key, value in (data or {}).items()}
    if dimension is Dimension.SEX:
        sex = fields.get("sex")
        if not isinstance(sex, str) or not sex.strip():
            return NOT_REPORTED
        # "ext:..." values extend the vocabulary (OneRoster 1.2): reported as Other.
        return SEX_LABELS.get(sex.strip().casefold(), "Other")
    if _is_true(fields.get("hispanicorlatinoethnicity")):
        return HISPANIC
    races = [label for key, label in RACE_FLAGS if _is_true(fields.get(_normal_key(key)))]
    if _is_true(fields.get("demographicracetwoormoreraces")) or len(races) > 1:
        return TWO_OR_MORE
    return races[0] if races else NOT_REPORTED


def suppressed_groups(sizes: Mapping[str, int], min_group_size: int) -> frozenset[str]:
    """The groups of one dimension to suppress: the small ones, plus complementary ones (module docstring)."""
    hidden = {group for group, size in sizes.items() if size < min_group_size}
    if not hidden:
        return frozenset()
    shown = sorted((size, group) for group, size in sizes.items() if group not in hidden)
    while shown and (len(hidden) < 2 or sum(sizes[group] for group in hidden) < min_group_size):
        hidden.add(shown.pop(0)[1])
    return frozenset(hidden)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A moment the report looks at: the end of a grading period, or the report date (key `as_of`)."""

    key: str
    title: str
    end: date


@dataclass(frozen=True, slots=True)
class IndicatorRef:
    """An indicator a class is assessed on."""

    code: str
    statement: str
    case_identifier: str | None


@dataclass(frozen=True, slots=True)
class ClassProficiency:
    """The report's input for one class: students, indicators, snapshots and each proficiency found."""

    class_id: int
    title: str
    course_code: str
    levels: tuple[tuple[Decimal, str], ...]  # the policy scale's levels, ascending (value, label)
    scale_minimum: Decimal
    indicators: tuple[IndicatorRef, ...]
    snapshots: tuple[Snapshot, ...]  # oldest first; the last is the report date
    student_ids: tuple[int, ...]
    values: Mapping[tuple[int, int, str], Decimal]  # (student, snapshot index, indicator code) -> proficiency


@dataclass(frozen=True, slots=True)
class Distribution:
    """One group at one snapshot: students per bucket and the mean proficiency (None when suppressed)."""

    group_size: int
    counts: tuple[int, ...] | None
    mean: Decimal | None

    @property
    def is_suppressed(self) -> bool:
        """True when the group is too small to show (or hidden to protect another)."""
        return self.counts is None


@dataclass(frozen=True, slots=True)
class GroupRow:
    """One group's distributions over the snapshots, and the change of its mean from first to last."""

    dimension: Dimension
    group: str
    distributions: tuple[Distribution, ...]
    change: Decimal | None

    @property
    def is_suppressed(self) -> bool:
        """True when the group is suppressed (at every snapshot, since its size does not change)."""
        return bool(self.distributions) and self.distributions[-1].is_suppressed


@dataclass(frozen=True, slots=True)
class IndicatorRow:
    """One indicator in one class: buckets, snapshots and the groups (all students first)."""

    class_id: int
    class_title: str
    course_code: str
    indicator: IndicatorRef
    buckets: tuple[str, ...]
    snapshots: tuple[Snapshot, ...]
    groups: tuple[GroupRow, ...]


@dataclass(frozen=True, slots=True)
class EquityReport:
    """The whole report."""

    school_id: int
    school_name: str
    as_of: date
    min_group_size: int
    has_demographics: bool
    dimensions: tuple[Dimension, ...]
    rows: tuple[IndicatorRow, ...]

    @property
    def suppressed_text(self) -> str:
        """How a suppressed cell reads."""
        return f"fewer than {self.min_group_size}"


def _buckets(item: ClassProficiency) -> tuple[str, ...]:
    below = (f"below {item.levels[0][1]}",) if item.levels and item.scale_minimum < item.levels[0][0] else ()
    return (NO_EVIDENCE, *below, *(label for _, label in item.levels))


def _bucket_index(item: ClassProficiency, value: Decimal | None, has_below: bool) -> int:
    if value is None:
        return 0
    rank = 0
    for index, (level, _) in enumerate(item.levels, start=1):
        if value >= level:
            rank = index
    # Without a "below" bucket a value under the lowest level counts in the lowest level.
    return rank + 1 if has_below else max(rank, 1)


def _distribution(
    item: ClassProficiency, students: Sequence[int], snapshot: int, code: str, size: int, *, is_hidden: bool,
    has_below: bool,
) -> Distribution:  # fmt: skip
    if is_hidden:
        return Distribution(size, None, None)
    counts = [0] * (len(item.levels) + 1 + int(has_below))
    values = []
    for student in students:
        value = item.values.get((student, snapshot, code))
        counts[_bucket_index(item, value, has_below)] += 1
        if value is not None:
            values.append(value)
    mean = quantize(sum(values, Decimal(0)) / len(values), 2, Rounding.HALF_UP) if values else None
    return Distribution(size, tuple(counts), mean)


def _change(distributions: Sequence[Distribution]) -> Decimal | None:
    if len(distributions) < 2 or distributions[0].mean is None or distributions[-1].mean is None:
        return None
    return distributions[-1].mean - distributions[0].mean


def build_equity_report(
    classes: Sequence[ClassProficiency],
    demographics: Mapping[int, Mapping[str, object]],
    *,
    school_id: int,
    school_name: str,
    as_of: date,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> EquityReport:
    """The report from typed rows (pure): distributions, progress and suppressed subgroups."""
    if min_group_size < 1:
        raise RegistrarError(f"min_group_size must be at least 1 (got {min_group_size})")
    has_demographics = bool(demographics)
    dimensions = (Dimension.ALL, *(SUBGROUP_DIMENSIONS if has_demographics else ()))
    rows: list[IndicatorRow] = []
    for item in sorted(classes, key=lambda c: (c.title.casefold(), c.class_id)):
        buckets = _buckets(item)
        has_below = len(buckets) == len(item.levels) + 2
        groups: list[tuple[Dimension, str, list[int], bool]] = []
        for dimension in dimensions:
            members: dict[str, list[int]] = {}
            for student in item.student_ids:
                members.setdefault(subgroup_of(dimension, demographics.get(student)), []).append(student)
            hidden = suppressed_groups({g: len(m) for g, m in members.items()}, min_group_size)
            for group in sorted(members, key=lambda g: (g == NOT_REPORTED, g)):
                groups.append((dimension, group, members[group], group in hidden))
        for indicator in item.indicators:
            group_rows = []
            for dimension, group, students, is_hidden in groups:
                distributions = tuple(
                    _distribution(item, students, index, indicator.code, len(students), is_hidden=is_hidden,
                                  has_below=has_below)
                    for index in range(len(item.snapshots))
                )  # fmt: skip
                group_rows.append(GroupRow(dimension, group, distributions, _change(distributions)))
            rows.append(
                IndicatorRow(item.class_id, item.title, item.course_code, indicator, buckets, item.snapshots,
                             tuple(group_rows))
            )  # fmt: skip
    return EquityReport(
        school_id, school_name, as_of, min_group_size, has_demographics, dimensions, tuple(rows)
    )
