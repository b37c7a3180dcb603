"""The outbox worker: claims due messages with a lease, PUTs them in dependency order, records each outcome.

Exactly-once effect without distributed transactions: every PUT names its record by a deterministic
sourcedId, so sending a message twice leaves the SIS as sending it once, and a message is claimed by one
worker at a time through a lease (`claimed_by`, `claimed_until`). A worker that dies keeps its lease until
it expires; then another claims those messages and sends them again, which is harmless.

No database transaction is held across HTTP: claiming is one short transaction, and each message's outcome
is written in a short transaction after its PUT: failures and closed windows one by one, deliveries in
groups (up to `mark_group` messages, at most 0.25 s after the first; `mark_group=1` writes each alone).
A mark lost to a crash only means the message is sent again, so grouping changes nothing but the cost: one
commit per group instead of one per result (on PostgreSQL also with `synchronous_commit` off, see
`lti_tool.sis.leases.relaxed_commit`). How claims work on PostgreSQL and SQLite: `lti_tool.sis.leases`.

Order: categories and score scales, then line items, then results. A message waits (is not claimed) while
a message it requires is still pending elsewhere; inside a batch, results whose line item failed are
released untouched. Failures back off exponentially (with jitter) and give up after `max_attempts`; a
closed grading window is not a failure: the message stays pending, says so in plain words, and is tried
again after a longer wait. `last_error` never holds student data: for results the SIS's own words are left
out, only the HTTP status and the kind of error are kept.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy.orm import Session, sessionmaker

from connectors.errors import ConnectorError
from connectors.oneroster.gradebook import GradeSink, GradingWindowClosedError, WriteOutcome
from connectors.oneroster.profiles import ProfileError, load_profile
from connectors.oneroster_csv.payloads import (
    GradebookCategory,
    GradebookScoreScale,
    PeriodLineItem,
    PeriodResult,
)
from lti_tool.models import SisConnection, utcnow
from lti_tool.sis.grade_push import MessageKind
from lti_tool.sis.leases import Claimed, claim_batch, mark_delivered, mark_retry, release, renew
from lti_tool.sis.outbox import PayloadError, decode_record
from lti_tool.sis.push_bodies import GradebookRecord

log = logging.getLogger("mastery_bridge.sis.worker")

MAX_ERRORS_REPORTED: Final = 5
# Delivered marks are written together, up to this many or 0.25 s after the first (see the docstring).
DEFAULT_MARK_GROUP: Final = 50

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class RetryTiming:
    """Lease length, backoff and when to give up."""

    lease: timedelta = timedelta(minutes=2)
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=6)
    window_closed_delay: timedelta = timedelta(hours=1)
    max_attempts: int = 8

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """Wait before try `attempts + 1`: base x 2^(attempts-1), capped, with jitter in [50%, 100%]."""
        ceiling = min(self.base_delay * (1 << max(attempts - 1, 0)), self.max_delay)
        return ceiling * rng.uniform(0.5, 1.0)


@dataclass(slots=True)
class DeliveryReport:
    """What one `deliver_due` call did (or several, added up with `add`)."""

    claimed: int = 0
    delivered: int = 0
    created: int = 0
    updated: int = 0
    skipped_writes: int = 0
    retrying: int = 0
    failed: int = 0
    deferred: int = 0
    released: int = 0
    errors: list[str] = field(default_factory=list)

    def note_error(self, message: str) -> None:
        """Remember a distinct error message (a few, for the operator)."""
        if message not in self.errors and len(self.errors) < MAX_ERRORS_REPORTED:
            self.errors.append(message)

    def add(self, other: DeliveryReport) -> None:
        """Add another report's counts to this one."""
        for name in (
            "claimed",
            "delivered",
            "created",
            "updated",
            "skipped_writes",
            "retrying",
            "failed",
            "deferred",
            "released",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for message in other.errors:
            self.note_error(message)

    def to_json(self) -> dict[str, Any]:
        """The counts and errors as JSON."""
        return {
            "claimed": self.claimed,
            "delivered": self.delivered,
            "created": self.created,
            "updated": self.updated,
            "skipped_writes": self.skipped_writes,
            "retrying": self.retrying,
            "failed": self.failed,
            "deferred": self.deferred,
            "released": self.released,
            "errors": list(self.errors),
        }


# -- delivering -------------------------------------------------------------------------------------------


def put_record(sink: GradeSink, record: GradebookRecord) -> WriteOutcome:
    """PUT one record through the sink's method for its kind."""
    if isinstance(record, GradebookCategory):
        return sink.put_category(record)
    if isinstance(record, GradebookScoreScale):
        return sink.put_score_scale(record)
    if isinstance(record, PeriodLineItem):
        return sink.put_line_item(record)
    if isinstance(record, PeriodResult):
        return sink.put_result(record)
    raise TypeError(f"cannot PUT a {type(record).__name__}")  # pragma: no cover - exhaustive


def describe_failure(message: Claimed, exc: Exception) -> str:
    """A plain `last_error`: the kind of record, the HTTP status and, except for results, the SIS's words."""
    if isinstance(exc, PayloadError | ValueError) and not isinstance(exc, ConnectorError):
        return f"the stored {message.kind.value} could not be sent: {exc}"
    status = getattr(exc, "status", None)
    said = f"HTTP {status}" if status is not None else "no answer"
    detail = "" if message.kind is MessageKind.RESULT else f": {exc.args[0] if exc.args else exc}"
    return f"PUT {message.kind.value} failed ({type(exc).__name__}, {said}){detail}"


def window_closed_text(period_title: str | None, system: str, retry_at: datetime) -> str:
    """What IT staff read when the SIS's grading window is closed."""
    period = period_title or "this grading period"
    return (
        f"the grading window for {period} is closed in {system}; grades will be sent when it opens"
        f" (next try {retry_at:%Y-%m-%d %H:%M} UTC)"
    )


@dataclass(slots=True)
class _Run:
    """One batch's delivery state, shared by the threads that deliver its results."""

    session_factory: sessionmaker[Session]
    sink: GradeSink
    worker_id: str
    system: str
    timing: RetryTiming
    clock: Clock
    rng: random.Random
    report: DeliveryReport
    lease_until: datetime
    pending_ids: set[int]
    mark_group: int = 1
    mark_seconds: float = 0.25
    failed_sids: set[str] = field(default_factory=set)
    unmarked: list[int] = field(default_factory=list)
    last_mark: float = field(default_factory=time.monotonic)
    closed_periods: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def renew_if_due(self) -> None:
        now = self.clock()
        with self.lock:
            if now < self.lease_until - self.timing.lease / 2:
                return
            self.lease_until = now + self.timing.lease
            ids = sorted(self.pending_ids)
        renew(self.session_factory, ids, worker_id=self.worker_id, until=self.lease_until)

    def deliver(self, message: Claimed) -> None:
        self.renew_if_due()
        if message.period_sourced_id in self.closed_periods:
            self._defer(message)
            return
        try:
            outcome = put_record(self.sink, decode_record(message.kind, message.record))
        except GradingWindowClosedError:
            if message.period_sourced_id:
                with self.lock:
                    self.closed_periods.add(message.period_sourced_id)
            self._defer(message)
            return
        except (ConnectorError, PayloadError, ValueError) as exc:
            self._fail(message, exc)
            return
        self._record_delivered(message.id)
        with self.lock:
            self.report.delivered += 1
            if outcome.skipped:
                self.report.skipped_writes += 1
            elif outcome.created:
                self.report.created += 1
            else:
                self.report.updated += 1

    def _record_delivered(self, message_id: int) -> None:
        """Mark delivered now, or with the next few (up to `mark_group`, at most `mark_seconds` later)."""
        with self.lock:
            # Still leased (and renewed) until its mark is written.
            self.unmarked.append(message_id)
            if len(self.unmarked) < self.mark_group and time.monotonic() - self.last_mark < self.mark_seconds:
                return
        self.flush()

    def flush(self) -> None:
        """Mark the deliveries still waiting for their group."""
        with self.lock:
            ids, self.unmarked = self.unmarked, []
            self.last_mark = time.monotonic()
        if ids:
            mark_delivered(self.session_factory, ids, self.clock())
            with self.lock:
                self.pending_ids.difference_update(ids)

    def _defer(self, message: Claimed) -> None:
        retry_at = self.clock() + self.timing.window_closed_delay
        text = window_closed_text(message.period_title, self.system, retry_at)
        mark_retry(
            self.session_factory,
            message,
            worker_id=self.worker_id,
            error=text,
            next_attempt_at=retry_at,
            gives_up=False,
            counts_attempt=False,
        )
        with self.lock:
            self.pending_ids.discard(message.id)
            self.failed_sids.add(message.sourced_id)
            self.report.deferred += 1
            self.report.note_error(text)

    def _fail(self, message: Claimed, exc: Exception) -> None:
        attempts = message.attempts + 1
        gives_up = attempts >= self.timing.max_attempts
        retry_at = self.clock() + self.timing.delay(attempts, self.rng)
        text = describe_failure(message, exc)
        if gives_up:
            text = f"gave up after {attempts} attempts: {text}"
        mark_retry(
            self.session_factory,
            message,
            worker_id=self.worker_id,
            error=text,
            next_attempt_at=retry_at,
            gives_up=gives_up,
        )
        log.warning("outbox message %d (%s) failed: %s", message.id, message.kind.value, text)
        with self.lock:
            self.pending_ids.discard(message.id)
            self.failed_sids.add(message.sourced_id)
            self.report.note_error(text)
            if gives_up:
                self.report.failed += 1
            else:
                self.report.retrying += 1


def _system_name(session_factory: sessionmaker[Session], connection_id: int) -> str:
    with session_factory() as session:
        connection = session.get(SisConnection, connection_id)
        if connection is None:
            return "the SIS"
        try:
            return load_profile(connection.profile).display_name
        except ProfileError:
            return connection.name


def _claim(
    session_factory: sessionmaker[Session],
    connection_id: int,
    *,
    worker_id: str,
    batch_size: int,
    clock: Clock,
    timing: RetryTiming,
) -> tuple[list[Claimed], datetime]:
    """One batch of the connection's due messages and the moment it was leased."""
    started = clock()
    batch = claim_batch(
        session_factory,
        connection_id,
        worker_id=worker_id,
        batch_size=batch_size,
        now=started,
        lease=timing.lease,
    )
    return batch, started


def _deliver_batch(
    session_factory: sessionmaker[Session],
    sink: GradeSink,
    batch: list[Claimed],
    *,
    claimed_at: datetime,
    worker_id: str,
    system: str,
    timing: RetryTiming,
    clock: Clock,
    rng: random.Random,
    mark_group: int,
    pool: ThreadPoolExecutor | None,
) -> DeliveryReport:
    """Deliver a claimed batch: prerequisites one by one, then results (through `pool` when given)."""
    report = DeliveryReport(claimed=len(batch))
    if not batch:
        return report
    run = _Run(
        session_factory=session_factory,
        sink=sink,
        worker_id=worker_id,
        system=system,
        timing=timing,
        clock=clock,
        rng=rng,
        report=report,
        lease_until=claimed_at + timing.lease,
        pending_ids={m.id for m in batch},
        mark_group=max(1, mark_group),
    )
    results: list[Claimed] = []
    for message in sorted(batch, key=lambda m: (m.kind.rank, m.id)):
        if message.kind is MessageKind.RESULT:
            results.append(message)
            continue
        if message.requires & run.failed_sids:
            run.failed_sids.add(message.sourced_id)  # so its own dependents wait too
            continue  # released below with the rest
        run.deliver(message)
    ready = [m for m in results if not m.requires & run.failed_sids]
    if pool is not None and len(ready) > 1:
        # The first PUT alone, so that a token is fetched (once) before the threads share it.
        run.deliver(ready[0])
        for future in [pool.submit(run.deliver, m) for m in ready[1:]]:
            future.result()
    else:
        for message in ready:
            run.deliver(message)
    run.flush()
    leftover = sorted(run.pending_ids)
    release(session_factory, leftover, worker_id=worker_id)
    report.released = len(leftover)
    return report


def _clock(now: datetime | None) -> Clock:
    return (lambda: now) if now is not None else utcnow


def deliver_due(
    session_factory: sessionmaker[Session],
    connection_id: int,
    sink: GradeSink,
    *,
    worker_id: str,
    batch_size: int = 200,
    now: datetime | None = None,
    timing: RetryTiming | None = None,
    concurrency: int = 1,
    rng: random.Random | None = None,
    mark_group: int = DEFAULT_MARK_GROUP,
) -> DeliveryReport:
    """Claim one batch of the connection's due messages and deliver it through `sink`.

    `now` fixes the clock (tests); by default each step reads the current time. `concurrency` > 1 sends
    results from that many threads (prerequisites always go one by one, first); `sink` must then be safe
    to share between threads. `mark_group` deliveries are marked per transaction (the module docstring).
    """
    timing = timing or RetryTiming()
    clock = _clock(now)
    batch, claimed_at = _claim(
        session_factory, connection_id, worker_id=worker_id, batch_size=batch_size, clock=clock, timing=timing
    )
    if not batch:
        return DeliveryReport()

    def deliver(pool: ThreadPoolExecutor | None) -> DeliveryReport:
        return _deliver_batch(
            session_factory,
            sink,
            batch,
            claimed_at=claimed_at,
            worker_id=worker_id,
            system=_system_name(session_factory, connection_id),
            timing=timing,
            clock=clock,
            rng=rng or random.Random(),  # noqa: S311 - backoff jitter, not a secret
            mark_group=mark_group,
            pool=pool,
        )

    if concurrency <= 1:
        return deliver(None)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="mb-outbox") as pool:
        return deliver(pool)


def deliver_all(
    session_factory: sessionmaker[Session],
    connection_id: int,
    sink: GradeSink,
    *,
    worker_id: str,
    batch_size: int = 200,
    timing: RetryTiming | None = None,
    concurrency: int = 1,
    progress: Callable[[DeliveryReport], None] | None = None,
    mark_group: int = DEFAULT_MARK_GROUP,
) -> DeliveryReport:
    """Deliver batches until nothing of the connection is due (what a push job or `worker run --burst` does).

    With `concurrency` > 1 one pool of sending threads serves every batch, and while a batch of results
    is being sent the next one is claimed in the background, so the senders never wait for a claim
    (a claim of 1,000 messages takes 0.1-0.2 s, a fifth of a batch's time at 8 threads). A batch holding
    prerequisites is never overlapped: its results are claimable only once their line items are sent.
    """
    timing = timing or RetryTiming()
    clock = _clock(None)
    rng = random.Random()  # noqa: S311 - backoff jitter, not a secret
    system = _system_name(session_factory, connection_id)
    total = DeliveryReport()

    def claim() -> tuple[list[Claimed], datetime]:
        return _claim(
            session_factory,
            connection_id,
            worker_id=worker_id,
            batch_size=batch_size,
            clock=clock,
            timing=timing,
        )

    with (
        ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="mb-outbox") as pool,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="mb-outbox-claim") as claimer,
    ):
        batch, claimed_at = claim()
        while batch:
            overlap = concurrency > 1 and all(m.kind is MessageKind.RESULT for m in batch)
            upcoming = claimer.submit(claim) if overlap else None
            report = _deliver_batch(
                session_factory, sink, batch, claimed_at=claimed_at, worker_id=worker_id, system=system,
                timing=timing, clock=clock, rng=rng, mark_group=mark_group, pool=pool if concurrency > 1 else None,
            )  # fmt: skip
            total.add(report)
            if progress is not None:
                progress(report)
            following = upcoming.result() if upcoming is not None else None
            if report.claimed == report.released:
                # Nothing of this batch could be attempted: stop rather than claim it again at once.
                if following is not None:
                    release(session_factory, [m.id for m in following[0]], worker_id=worker_id)
                break
            if following is None or not following[0]:
                # Claimed while the batch was in flight, an empty answer may only mean "wait for it".
                following = claim()
            batch, claimed_at = following
    return total
