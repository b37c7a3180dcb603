"""Course grades: snapshot grades from all evidence so far, opt-in composites, and final grades."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

from mappings.errors import MappingError
from mappings.policy import FormativeMode, PeriodMode, Policy
from mappings.records import (
    CourseGrade,
    CutRow,
    Evidence,
    EvidenceKind,
    Exclusion,
    GradeStatus,
    GradingPeriod,
    IndicatorResult,
)
from mappings.rounding import ARITHMETIC_CONTEXT

__all__ = ["grade_composite", "grade_final", "grade_period", "grade_periods"]

_CTX = ARITHMETIC_CONTEXT


def _sorted_evidence(evidence: Sequence[Evidence], student_id: str, course_id: str) -> list[Evidence]:
    for item in evidence:
        if item.student_id != student_id or item.course_id != course_id:
            raise MappingError(
                f"evidence for student {item.student_id!r} in course {item.course_id!r} was passed to a grade "
                f"for student {student_id!r} in course {course_id!r}"
            )
    # Stable: evidence on the same day keeps the order it was given in.
    return sorted(evidence, key=lambda item: item.demonstrated_on)


def _share(value: Decimal) -> str:
    return f"{(value * 100).normalize():f}%"


def _indicator(policy: Policy, indicator_id: str, items: list[Evidence]) -> IndicatorResult:
    method = policy.method
    mode = policy.evidence.formative
    if mode is FormativeMode.INCLUDE:
        return IndicatorResult(indicator_id, method([e.score for e in items]), tuple(items))
    summative = [e for e in items if e.kind is EvidenceKind.SUMMATIVE]
    formative = [e for e in items if e.kind is EvidenceKind.FORMATIVE]
    if mode is FormativeMode.EXCLUDE:
        reason = "formative evidence does not count toward grades under this policy"
        excluded = tuple(Exclusion(e, reason) for e in formative)
        return IndicatorResult(indicator_id, method([e.score for e in summative]), tuple(summative), excluded)
    # FormativeMode.CAP: the method runs on the summative and the formative scores separately, and the
    # formative result weighs exactly `formative_cap` of the indicator. Formative evidence alone cannot set
    # a proficiency (its share would be 100%, above the cap), so such an indicator stays unscored.
    cap = policy.evidence.formative_cap or Decimal(0)
    summative_value = method([e.score for e in summative])
    if summative_value is None:
        reason = f"formative evidence alone cannot set a proficiency: it may weigh at most {_share(cap)}"
        return IndicatorResult(
            indicator_id, None, tuple(summative), tuple(Exclusion(e, reason) for e in formative)
        )
    formative_value = method([e.score for e in formative]) if formative else None
    if formative_value is None:
        return IndicatorResult(indicator_id, summative_value, tuple(summative))
    blended = _CTX.add(
        _CTX.multiply(_CTX.subtract(Decimal(1), cap), summative_value), _CTX.multiply(cap, formative_value)
    )
    note = (
        f"summative result {summative_value} weighs {_share(1 - cap)} and formative result "
        f"{formative_value} weighs {_share(cap)}"
    )
    used = tuple(sorted(items, key=lambda e: e.demonstrated_on))
    return IndicatorResult(indicator_id, policy.proficiency_rounding.apply(blended), used, note=note)


def _place(policy: Policy, value: Decimal) -> tuple[Decimal | None, CutRow]:
    """The percentage (when the policy maps to one) and the letter row for a course value."""
    if policy.percent is None:
        return None, policy.row_for(value)
    percent = policy.percent.to_percent(value)
    return percent, policy.row_for(percent)


def _insufficient(
    policy: Policy, student_id: str, course_id: str, period_id: str, count: int,
    indicators: tuple[IndicatorResult, ...], rule: str,
) -> CourseGrade:  # fmt: skip
    return CourseGrade(
        student_id=student_id,
        course_id=course_id,
        period_id=period_id,
        status=GradeStatus.INSUFFICIENT_EVIDENCE,
        course_value=None,
        letter=policy.evidence.insufficient_code,
        grade_points=None,
        evidence_count=count,
        indicators=indicators,
        rule=rule,
        cut_row=None,
        policy_name=policy.name,
        policy_version=policy.version,
        method=policy.method.name,
        method_params=policy.method.params_text,
    )


def _grade_sorted(
    policy: Policy, ordered: list[Evidence], period: GradingPeriod, student_id: str, course_id: str,
    course_end: date | None,
) -> CourseGrade:  # fmt: skip
    cutoff = period.end if course_end is None else min(period.end, course_end)
    by_indicator: dict[str, list[Evidence]] = {}
    for item in ordered:
        if item.demonstrated_on > cutoff:
            break  # sorted by date: everything after is later still
        by_indicator.setdefault(item.indicator_id, []).append(item)
    indicators = tuple(_indicator(policy, key, by_indicator[key]) for key in sorted(by_indicator))
    count = sum(len(result.evidence) for result in indicators)
    scored = [result for result in indicators if result.proficiency is not None]
    rules = policy.evidence
    missing = []
    if len(scored) < max(rules.min_indicators, 1):
        missing.append(f"at least {max(rules.min_indicators, 1)} scored indicator(s) (has {len(scored)})")
    if count < rules.min_evidence:
        missing.append(f"at least {rules.min_evidence} piece(s) of evidence (has {count})")
    if missing:
        rule = f"{rules.insufficient_label} by {cutoff.isoformat()}: a grade needs " + " and ".join(missing)
        return _insufficient(policy, student_id, course_id, period.period_id, count, indicators, rule)

    total = weight_sum = Decimal(0)
    weighted = False
    for result in scored:
        weight = policy.weight_for(result.indicator_id)
        weighted = weighted or weight != 1
        total = _CTX.add(total, _CTX.multiply(weight, result.proficiency or Decimal(0)))
        weight_sum = _CTX.add(weight_sum, weight)
    value = policy.course_rounding.apply(_CTX.divide(total, weight_sum))
    if weighted:
        parts = ", ".join(f"{r.indicator_id} x{policy.weight_for(r.indicator_id)}" for r in scored)
        rule = f"the weighted mean of {len(scored)} indicator proficiencies ({parts})"
    else:
        rule = f"the mean of {len(scored)} indicator proficiencies"
    rule += f", {policy.course_rounding.describe()}"
    percent, row = _place(policy, value)
    if percent is not None:
        rule += f", mapped to {percent}%"
    rank = policy.letter_rank(row.letter)
    for cap in policy.caps:
        below = [r.indicator_id for r in scored if (r.proficiency or Decimal(0)) < cap.below]
        cap_rank = policy.letter_rank(cap.max_letter)
        if below and cap_rank > rank:
            rank = cap_rank
            why = f" ({cap.description})" if cap.description else ""
            rule += (
                f"; the letter is capped at {cap.max_letter} because {', '.join(below)} "
                f"{'is' if len(below) == 1 else 'are'} below {cap.below}{why}"
            )
    row = policy.letters[rank]
    return CourseGrade(
        student_id=student_id,
        course_id=course_id,
        period_id=period.period_id,
        status=GradeStatus.GRADED,
        course_value=value,
        letter=row.letter,
        grade_points=row.points,
        evidence_count=count,
        indicators=indicators,
        rule=rule,
        cut_row=row,
        policy_name=policy.name,
        policy_version=policy.version,
        method=policy.method.name,
        method_params=policy.method.params_text,
        percent=percent,
    )


def grade_period(
    policy: Policy,
    evidence: Sequence[Evidence],
    period: GradingPeriod,
    *,
    student_id: str,
    course_id: str,
    course_end: date | None = None,
) -> CourseGrade:
    """A snapshot grade: where the student stands at the end of `period`, from ALL evidence up to then.

    Evidence from earlier periods counts (domain.md: "a quarter grade is a snapshot ... using all evidence
    so far"); evidence dated after `period.end` (or after `course_end`, when the course ends first) is
    ignored. Evidence is sorted by date (stably) whatever order it arrives in. All evidence must belong to
    `student_id` in `course_id`.
    """
    ordered = _sorted_evidence(evidence, student_id, course_id)
    return _grade_sorted(policy, ordered, period, student_id, course_id, course_end)


def grade_periods(
    policy: Policy,
    evidence: Sequence[Evidence],
    periods: Sequence[GradingPeriod],
    *,
    student_id: str,
    course_id: str,
    course_end: date | None = None,
) -> tuple[CourseGrade, ...]:
    """A snapshot grade for each period (in the order given), sorting the evidence once."""
    ordered = _sorted_evidence(evidence, student_id, course_id)
    return tuple(_grade_sorted(policy, ordered, p, student_id, course_id, course_end) for p in periods)


def grade_final(
    policy: Policy,
    evidence: Sequence[Evidence],
    periods: Sequence[GradingPeriod],
    *,
    student_id: str,
    course_id: str,
) -> CourseGrade:
    """The final grade: the snapshot at the course's last credit-bearing period, never a mean of periods."""
    credit = [p for p in periods if p.is_credit_bearing]
    if not credit:
        raise MappingError(
            f"course {course_id!r} has no credit-bearing period among {[p.period_id for p in periods]}"
        )
    last = max(credit, key=lambda p: p.end)
    return grade_period(policy, evidence, last, student_id=student_id, course_id=course_id)


def grade_composite(
    policy: Policy, components: Mapping[str, CourseGrade], period: GradingPeriod
) -> CourseGrade:
    """A district-mandated composite (e.g. 0.45 Q1 + 0.45 Q2 + 0.10 exam) of the components' course values.

    Opt-in only (policy period.mode = "composite"): it averages earlier results, which mastery grading
    avoids, so snapshots stay the default. Any insufficient component makes the composite insufficient.
    """
    if policy.period.mode is not PeriodMode.COMPOSITE:
        raise MappingError(
            f'policy {policy.name!r} uses snapshot grades; composites need period.mode = "composite"'
        )
    wanted = [c.period_id for c in policy.period.components]
    absent = [period_id for period_id in wanted if period_id not in components]
    if absent:
        raise MappingError(
            f"composite {period.period_id!r} is missing component grade(s) for {', '.join(absent)}"
        )
    grades = [components[period_id] for period_id in wanted]
    first = grades[0]
    if any(g.student_id != first.student_id or g.course_id != first.course_id for g in grades):
        raise MappingError("composite components must all be for one student in one course")
    count = max(g.evidence_count for g in grades)
    gaps = [g.period_id for g in grades if g.status is not GradeStatus.GRADED or g.course_value is None]
    if gaps:
        rule = f"composite cannot be computed: {', '.join(gaps)} has insufficient evidence"
        return _insufficient(policy, first.student_id, first.course_id, period.period_id, count, (), rule)
    total = weight_sum = Decimal(0)
    parts = []
    for component, grade in zip(policy.period.components, grades, strict=True):
        total = _CTX.add(total, _CTX.multiply(component.weight, grade.course_value or Decimal(0)))
        weight_sum = _CTX.add(weight_sum, component.weight)
        parts.append(f"{component.weight} x {component.period_id} ({grade.course_value})")
    value = policy.course_rounding.apply(_CTX.divide(total, weight_sum))
    rule = f"a composite of period grades: ({' + '.join(parts)}) / {weight_sum}, {policy.course_rounding.describe()}"
    percent, row = _place(policy, value)
    if percent is not None:
        rule += f", mapped to {percent}%"
    return CourseGrade(
        student_id=first.student_id,
        course_id=first.course_id,
        period_id=period.period_id,
        status=GradeStatus.GRADED,
        course_value=value,
        letter=row.letter,
        grade_points=row.points,
        evidence_count=count,
        indicators=(),
        rule=rule,
        cut_row=row,
        policy_name=policy.name,
        policy_version=policy.version,
        method=policy.method.name,
        method_params=policy.method.params_text,
        percent=percent,
    )
