"""Builders shared by the mappings tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from mappings import Evidence, EvidenceKind, GradingPeriod

STUDENT = "s1"
COURSE = "alg1"
Q1 = GradingPeriod("Q1", date(2026, 8, 20), date(2026, 10, 31))
Q2 = GradingPeriod("Q2", date(2026, 11, 1), date(2027, 1, 20), is_credit_bearing=True)


def evidence(
    indicator: str,
    score: float | str,
    day: date,
    *,
    kind: EvidenceKind = EvidenceKind.SUMMATIVE,
    task: str | None = None,
) -> Evidence:
    """One piece of evidence for the default student and course."""
    return Evidence(STUDENT, COURSE, indicator, Decimal(str(score)), day, kind, task)


def series(indicator: str, scores: Sequence[float | str], start: date = date(2026, 9, 1)) -> list[Evidence]:
    """Scores one week apart from `start`, oldest first."""
    return [evidence(indicator, s, date.fromordinal(start.toordinal() + 7 * i)) for i, s in enumerate(scores)]
