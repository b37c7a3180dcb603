"""HTTP pieces every connector shares: the User-Agent, the retryable statuses and `Retry-After` parsing.

The LTI Advantage transport (`connectors.lms.http`) and the OneRoster transport (`connectors.oneroster.http`)
keep their own retry loops, because their policies differ (which methods are idempotent, jitter, auth
renewal); what they have in common lives here once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Final

import requests
from requests.adapters import HTTPAdapter

# What requests reads from the environment when a session trusts it: proxies, the CA bundle, ~/.netrc.
ENVIRONMENT_SETTINGS: Final = frozenset(
    {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "requests_ca_bundle", "curl_ca_bundle", "netrc"}
)

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


def environment_has_http_settings(environ: Mapping[str, str] | None = None) -> bool:
    """Whether a proxy, CA bundle or netrc variable is set (in any case), i.e. whether to trust the environment."""
    names = {name.lower() for name in (os.environ if environ is None else environ)}
    return not names.isdisjoint(ENVIRONMENT_SETTINGS)


def tune_session(session: requests.Session, *, pool_size: int = 10) -> requests.Session:
    """Size `session`'s connection pools for `pool_size` concurrent callers; read the environment only when
    it says something.

    requests re-reads proxy variables on every call of a session that trusts the environment (0.7 ms a
    call, a third of a grade PUT's cost on loopback); when none is set there is nothing to read, and a
    process started with one still honours it.
    """
    session.trust_env = environment_has_http_settings()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(1, pool_size))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
