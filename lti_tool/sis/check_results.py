"""The verdicts of `sis test`: one CheckResult per check, gathered into a ConnectionCheck."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from connectors.oneroster.http import RetryPolicy
from connectors.oneroster.profiles import VendorProfile
from lti_tool.models import SisConnection

if TYPE_CHECKING:
    from lti_tool.settings import Settings

CLOCK_WARN_SECONDS: Final = 60
# OAuth 1.0a servers refuse timestamps outside a window; 300 s is the common choice (RFC 5849 §3.3 leaves
# it to the server), so beyond it every signed request fails.
CLOCK_FAIL_SECONDS_OAUTH1: Final = 300
CERT_WARN_DAYS: Final = 14
DEFAULT_TIMEOUT: Final = 10.0
# One quick retry: `sis test` must answer in seconds, not sit out a vendor's backoff schedule.
CHECK_RETRY: Final = RetryPolicy(max_retries=1, backoff_seconds=0.2, max_delay_seconds=2.0)

Clock = Callable[[], datetime]


class Verdict(StrEnum):
    """The outcome of one check; `fail` makes `sis test` exit 1."""

    PASS = "pass"  # noqa: S105 - a verdict, not a password
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check: a short machine name, a title, the verdict and a plain-words reason naming what to fix."""

    name: str
    title: str
    verdict: Verdict
    reason: str


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    """Every check run against one connection."""

    connection: str
    checked_at: datetime
    results: tuple[CheckResult, ...]

    @property
    def has_failures(self) -> bool:
        """True when any check failed."""
        return any(result.verdict is Verdict.FAIL for result in self.results)

    @property
    def verdict(self) -> Verdict:
        """The worst verdict: fail, else warn, else pass."""
        verdicts = {result.verdict for result in self.results}
        for worst in (Verdict.FAIL, Verdict.WARN):
            if worst in verdicts:
                return worst
        return Verdict.PASS

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready document."""
        return {
            "connection": self.connection,
            "checked_at": self.checked_at.isoformat(),
            "verdict": self.verdict.value,
            "checks": [
                {"name": r.name, "title": r.title, "verdict": r.verdict.value, "reason": r.reason}
                for r in self.results
            ],
        }


TITLES: Final = {
    "dns": "Host name resolves",
    "tcp": "Server accepts connections",
    "tls": "TLS certificate verifies",
    "http": "OneRoster service answers",
    "clock": "Clocks agree",
    "auth": "Authentication",
    "scopes": "Scopes granted",
    "orgs": "Sample page of orgs",
    "users": "Sample page of users",
}


def utcnow() -> datetime:
    """Now, in UTC (the default clock)."""
    return datetime.now(UTC)


@dataclass
class CheckRun:
    """The state of one `check_connection` call: what it checks and the results so far."""

    connection: SisConnection
    profile: VendorProfile
    secret_key: Settings | str = field(repr=False)
    timeout: float
    clock: Clock
    results: list[CheckResult] = field(default_factory=list)
    server_date: datetime | None = None
    local_date: datetime | None = None

    def add(self, name: str, verdict: Verdict, reason: str) -> Verdict:
        """Record one result; returns its verdict so callers can branch on it."""
        self.results.append(CheckResult(name, TITLES[name], verdict, reason))
        return verdict

    def skip(self, names: Sequence[str], because: str) -> None:
        """Record `names` as not run, saying why."""
        for name in names:
            self.add(name, Verdict.SKIP, f"not run: {because}")
