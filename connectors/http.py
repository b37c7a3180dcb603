"""HTTP pieces every connector shares: the User-Agent, the retryable statuses and `Retry-After` parsing.

The LTI Advantage transport (`connectors.lms.http`) and the OneRoster transport (`connectors.oneroster.http`)
keep their own retry loops, because their policies differ (which methods are idempotent, jitter, auth
renewal); what they have in common lives here once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Final

# 429 and the 5xx a proxy or an overloaded server answers; other 5xx are bugs that a retry will not fix.
RETRYABLE_STATUSES: Final = frozenset({429, 500, 502, 503, 504})


def user_agent() -> str:
    """`mastery-bridge/<version>`; Canvas refuses API calls that carry no User-Agent."""
    try:
        return f"mastery-bridge/{version('mastery-bridge')}"
    except PackageNotFoundError:
        return "mastery-bridge/0"


def parse_retry_after(value: str) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3); None if unreadable."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - datetime.now(UTC)).total_seconds()
