"""The grading policy value: scale, method, rounding, course rules, letter table, GPA and NCAA settings."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from mappings.errors import MappingError
from mappings.methods import Method
from mappings.records import CourseLevel, CutRow
from mappings.rounding import ARITHMETIC_CONTEXT, Rounding, quantize

__all__ = [
    "CapRule",
    "EvidenceRules",
    "FormativeMode",
    "GpaRules",
    "NcaaRules",
    "PercentMapping",
    "PercentPoint",
    "PeriodComponent",
    "PeriodMode",
    "PeriodRules",
    "Policy",
    "ProficiencyScale",
    "RoundingRule",
    "ScaleLevel",
]


class FormativeMode(StrEnum):
    """How formative evidence counts: fully, not at all, or capped at a share of each indicator."""

    INCLUDE = "include"
    EXCLUDE = "exclude"
    CAP = "cap"


class PeriodMode(StrEnum):
    """Snapshot (where the student stands now, the default) or a district-mandated weighted composite."""

    SNAPSHOT = "snapshot"
    COMPOSITE = "composite"


@dataclass(frozen=True, slots=True)
class ScaleLevel:
    """A named level on the proficiency scale, e.g. 3 = Proficient."""

    value: Decimal
    label: str


@dataclass(frozen=True, slots=True)
class ProficiencyScale:
    """The proficiency scale: its range, the mastery level and the level labels (ascending)."""

    minimum: Decimal
    maximum: Decimal
    mastery: Decimal
    levels: tuple[ScaleLevel, ...]

    def label_for(self, value: Decimal) -> str:
        """The label of the highest level at or below `value` ("below Emerging" under the lowest)."""
        label = None
        for level in self.levels:
            if value >= level.value:
                label = level.label
        if label is None:
            return f"below {self.levels[0].label}" if self.levels else ""
        return label


@dataclass(frozen=True, slots=True)
class RoundingRule:
    """A named rounding mode and a number of decimal places."""

    mode: Rounding = Rounding.HALF_UP
    places: int = 2

    def apply(self, value: Decimal) -> Decimal:
        """`value` rounded by this rule."""
        return quantize(value, self.places, self.mode)

    def describe(self) -> str:
        """The rule in words, e.g. "rounded half up to 2 decimal places"."""
        words = {Rounding.HALF_UP: "rounded half up", Rounding.HALF_EVEN: "rounded half to even"}
        how = words.get(self.mode, "truncated (cut, never rounded up)")
        return f"{how} to {self.places} decimal place{'s' if self.places != 1 else ''}"


@dataclass(frozen=True, slots=True)
class CapRule:
    """A conjunctive rule: when any scored indicator is below `below`, the letter is at most `max_letter`."""

    below: Decimal
    max_letter: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class EvidenceRules:
    """Minimum evidence for a grade, the code shown without it, and how formative evidence counts."""

    min_indicators: int = 1
    min_evidence: int = 1
    insufficient_code: str = "I"
    insufficient_label: str = "Insufficient evidence"
    formative: FormativeMode = FormativeMode.INCLUDE
    formative_cap: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PeriodComponent:
    """One period's weight in a composite grade."""

    period_id: str
    weight: Decimal


@dataclass(frozen=True, slots=True)
class PeriodRules:
    """Whether period grades are snapshots or composites, and the composite's components."""

    mode: PeriodMode = PeriodMode.SNAPSHOT
    components: tuple[PeriodComponent, ...] = ()


@dataclass(frozen=True, slots=True)
class PercentPoint:
    """A breakpoint of the piecewise-linear proficiency -> percentage mapping."""

    value: Decimal
    percent: Decimal


@dataclass(frozen=True, slots=True)
class PercentMapping:
    """A piecewise-linear map from the proficiency scale to a percentage (breakpoints ascending)."""

    points: tuple[PercentPoint, ...]
    rounding: RoundingRule = RoundingRule(Rounding.HALF_UP, 0)

    def to_percent(self, value: Decimal) -> Decimal:
        """The percentage for `value`, interpolated between breakpoints, clamped to the ends, rounded."""
        points = self.points
        if value <= points[0].value:
            return self.rounding.apply(points[0].percent)
        for low, high in itertools.pairwise(points):
            if value <= high.value:
                ctx = ARITHMETIC_CONTEXT
                share = ctx.divide(ctx.subtract(value, low.value), ctx.subtract(high.value, low.value))
                span = ctx.subtract(high.percent, low.percent)
                return self.rounding.apply(ctx.add(low.percent, ctx.multiply(share, span)))
        return self.rounding.apply(points[-1].percent)


@dataclass(frozen=True, slots=True)
class GpaRules:
    """GPA rounding, whether the school weights grades, the per-level bonus and letters left out of GPA."""

    places: int = 2
    rounding: Rounding = Rounding.HALF_UP
    is_weighted: bool = False
    bonus: tuple[tuple[CourseLevel, Decimal], ...] = ()
    excluded_letters: tuple[str, ...] = ()

    def bonus_for(self, level: CourseLevel) -> Decimal:
        """The weighted-GPA bonus for a course level (0 when the policy names none)."""
        for named, amount in self.bonus:
            if named == level:
                return amount
        return Decimal(0)


@dataclass(frozen=True, slots=True)
class NcaaRules:
    """The school's lowest passing letter (what a Pass becomes for the NCAA) and its pass codes."""

    lowest_passing_letter: str = "D"
    pass_codes: tuple[str, ...] = ("P",)


@dataclass(frozen=True, slots=True)
class Policy:
    """A school's complete grading policy; parse one with `parse_policy` (format: policies/README.md)."""

    name: str
    version: str
    effective_year: str
    description: str
    scale: ProficiencyScale
    method: Method
    proficiency_rounding: RoundingRule
    course_rounding: RoundingRule
    weights: tuple[tuple[str, Decimal], ...]
    caps: tuple[CapRule, ...]
    evidence: EvidenceRules
    period: PeriodRules
    letters: tuple[CutRow, ...]
    percent: PercentMapping | None
    gpa: GpaRules
    ncaa: NcaaRules

    def weight_for(self, indicator_id: str) -> Decimal:
        """The indicator's weight in the course value (1 unless the policy says otherwise)."""
        for named, weight in self.weights:
            if named == indicator_id:
                return weight
        return Decimal(1)

    def row_for(self, value: Decimal) -> CutRow:
        """The letter-table row for a course value (or percentage): the first row whose minimum it reaches."""
        for row in self.letters:
            if value >= row.min_value:
                return row
        raise MappingError(
            f"value {value} is below the lowest row of the letter table of policy {self.name!r}"
        )

    def letter_rank(self, letter: str) -> int:
        """The row index of `letter` in the letter table (0 is the highest letter)."""
        for index, row in enumerate(self.letters):
            if row.letter == letter:
                return index
        raise MappingError(f"letter {letter!r} is not in the letter table of policy {self.name!r}")
