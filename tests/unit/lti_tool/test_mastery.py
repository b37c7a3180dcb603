"""Trend and "not progressing" flags of the mastery grid."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lti_tool.mastery import Signal, Trend, indicator_signal
from mappings import resolve_method

MOST_RECENT = resolve_method("most_recent")
MASTERY = Decimal(3)
FAR = [date(2027, 1, 15)]
TODAY = date(2026, 11, 24)


def _signal(*scores: int, period_ends: list[date] = FAR) -> Signal:
    return indicator_signal(
        MOST_RECENT, MASTERY, [Decimal(s) for s in scores], as_of=TODAY, period_ends=period_ends
    )


def test_trend_compares_with_and_without_the_latest_score() -> None:
    assert _signal(1, 2).trend is Trend.UP
    assert _signal(3, 2).trend is Trend.DOWN
    assert _signal(2, 2).trend is Trend.FLAT
    assert _signal(2).trend is Trend.NONE
    assert _signal().trend is Trend.NONE


def test_no_growth_over_three_pieces_below_mastery_is_stalled() -> None:
    assert _signal(2, 3, 2).is_stalled
    assert _signal(2, 2, 2).is_stalled
    assert not _signal(1, 2, 2).is_stalled
    assert not _signal(2, 2).is_stalled
    assert not _signal(3, 3, 3).is_stalled  # at mastery: nothing to flag


def test_below_mastery_near_a_period_end_is_flagged() -> None:
    near = [date(2026, 12, 8)]
    assert _signal(2, period_ends=near).is_near_period_end
    assert _signal(period_ends=near).is_near_period_end  # no evidence yet
    assert not _signal(3, period_ends=near).is_near_period_end
    assert not _signal(2, period_ends=[date(2026, 12, 9)]).is_near_period_end
    assert not _signal(2, period_ends=[date(2026, 11, 23)]).is_near_period_end
    assert _signal(2, period_ends=near).is_not_progressing
