"""When SIS work runs by itself: the nightly sync on the job queue, and the loop that replaces a worker without Redis.

Nightly scheduling. RQ 2.x offers `enqueue_at`/`enqueue_in`, run by the scheduler built into the worker
(`rq worker --with-scheduler`, which `mastery-bridge worker run` always switches on); it offers `Repeat`
(a fixed number of repeats at fixed intervals, not "every night at 02:30") and, since 2.4, a beta
`CronScheduler` that runs as a separate `rq cron` process. The installed RQ 3.0 has all three. We use
`enqueue_at` with a job that re-arms itself: no extra process, the schedule lives in Redis and survives
worker restarts, and each night's job id is deterministic (`mb-nightly-sync-<connection>-<UTC time>`),
so arming twice is harmless. `mastery-bridge worker schedule` (re)arms every enabled connection,
replacing a connection's earlier chain.

Inline (no Redis, the embedded default): `enqueue_*` run the job at once in the caller's process, and
`mastery-bridge worker run` is a loop that delivers the outbox every few seconds and runs each
connection's nightly sync when its time has passed since the last run.

`nightly_sync_job(connection_id, at, full_weekday)` first schedules tomorrow's run, then syncs, so a failed
night never breaks the chain; a full reconciliation on `full_weekday` (Sunday by default), a delta the
other nights.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.errors import MasteryBridgeError
from lti_tool.models import SisConnection, SyncRun, SyncStatus, utcnow
from lti_tool.settings import Settings, load_settings
from lti_tool.sis.queue import (
    JobQueue,
    JobQueueError,
    QueuedJob,
    job_queue,
    run_sync_job,
    session_factory_for,
    worker_id,
)
from lti_tool.sis.worker import DeliveryReport, RetryTiming, deliver_all

log = logging.getLogger("mastery_bridge.sis.schedule")

NIGHTLY_JOB_PREFIX: Final = "mb-nightly-sync"
DEFAULT_NIGHTLY_AT: Final = time(2, 30)
DEFAULT_FULL_WEEKDAY: Final = 6  # Sunday (datetime.weekday())


def next_nightly_run(after: datetime, at: time) -> datetime:
    """The first `at` (UTC) strictly after `after`."""
    candidate = datetime.combine(after.astimezone(UTC).date(), at, tzinfo=UTC)
    return candidate if candidate > after else candidate + timedelta(days=1)


def parse_time_of_day(text: str) -> time:
    """ "HH:MM" (24-hour, UTC) -> time; ValueError naming the value otherwise."""
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"time {text!r} must be HH:MM (24-hour, UTC), e.g. 02:30") from None


def nightly_job_id(connection_id: int, when: datetime) -> str:
    """The deterministic id of one night's sync of one connection."""
    return f"{NIGHTLY_JOB_PREFIX}-{connection_id}-{when:%Y%m%dT%H%M}"


def schedule_nightly_sync(
    queue: JobQueue,
    connection_id: int,
    *,
    at: time = DEFAULT_NIGHTLY_AT,
    full_weekday: int | None = DEFAULT_FULL_WEEKDAY,
    after: datetime | None = None,
) -> QueuedJob:
    """Arm the connection's next nightly sync (idempotent: the job id is the connection and the time)."""
    when = next_nightly_run(after or utcnow(), at)
    return queue.enqueue_at(
        when,
        nightly_sync_job,
        connection_id,
        at.strftime("%H:%M"),
        full_weekday,
        queue.name,
        job_id=nightly_job_id(connection_id, when),
    )


def nightly_sync_job(
    connection_id: int,
    at: str = DEFAULT_NIGHTLY_AT.strftime("%H:%M"),
    full_weekday: int | None = DEFAULT_FULL_WEEKDAY,
    queue_name: str | None = None,
) -> dict[str, Any]:
    """Tonight's sync: re-arm tomorrow's first (so a failure never breaks the chain), then sync."""
    settings = load_settings()
    now = utcnow()
    with session_factory_for(settings)() as session:
        connection = session.get(SisConnection, connection_id)
        is_enabled = connection is not None and connection.is_enabled
    if not is_enabled:
        log.info("nightly sync of connection %d stopped: the connection is gone or disabled", connection_id)
        return {"connection_id": connection_id, "status": "stopped"}
    queue = job_queue(settings, name=queue_name)
    schedule_nightly_sync(
        queue,
        connection_id,
        at=parse_time_of_day(at),
        full_weekday=full_weekday,
        after=now + timedelta(minutes=1),
    )
    return run_sync_job(connection_id, full_weekday is not None and now.weekday() == full_weekday)


@dataclass(frozen=True, slots=True)
class ArmedSync:
    """A connection's armed nightly sync."""

    connection: str
    job_id: str
    runs_at: datetime


def schedule_all_nightly(
    settings: Settings,
    *,
    at: time = DEFAULT_NIGHTLY_AT,
    full_weekday: int | None = DEFAULT_FULL_WEEKDAY,
    queue_name: str | None = None,
    now: datetime | None = None,
) -> list[ArmedSync]:
    """(Re)arm the nightly sync of every enabled connection, replacing each one's earlier schedule."""
    queue = job_queue(settings, name=queue_name)
    if queue.is_inline:
        raise JobQueueError(
            "scheduling needs the job queue: set MB_REDIS_URL; without it `mastery-bridge worker run`"
            " runs each nightly sync itself"
        )
    with session_factory_for(settings)() as session:
        connections = [
            (c.id, c.name)
            for c in session.scalars(
                select(SisConnection).where(SisConnection.is_enabled.is_(True)).order_by(SisConnection.name)
            )
        ]
    armed = []
    for connection_id, name in connections:
        queue.cancel_scheduled(f"{NIGHTLY_JOB_PREFIX}-{connection_id}-")
        job = schedule_nightly_sync(queue, connection_id, at=at, full_weekday=full_weekday, after=now)
        if job.scheduled_for is not None:
            armed.append(ArmedSync(connection=name, job_id=job.id, runs_at=job.scheduled_for))
    return armed


# -- the inline loop (no Redis) ---------------------------------------------------------------------------


def is_nightly_due(session: Session, connection_id: int, *, now: datetime, at: time) -> bool:
    """Whether the connection's nightly sync time passed since its last (non-dry) run started."""
    last = session.scalar(
        select(func.max(SyncRun.started_at)).where(
            SyncRun.connection_id == connection_id,
            SyncRun.is_dry_run.is_(False),
            SyncRun.status != SyncStatus.RUNNING,
        )
    )
    tonight = next_nightly_run(now - timedelta(days=1), at)
    if tonight > now:
        return False
    return last is None or last.replace(tzinfo=last.tzinfo or UTC) < tonight


def run_outbox_loop(
    settings: Settings,
    *,
    burst: bool,
    poll_seconds: float = 5.0,
    nightly_at: time | None = DEFAULT_NIGHTLY_AT,
    full_weekday: int | None = DEFAULT_FULL_WEEKDAY,
    timing: RetryTiming | None = None,
    stop: threading.Event | None = None,
    progress: Callable[[str, DeliveryReport], None] | None = None,
) -> DeliveryReport:
    """Deliver every enabled connection's outbox until stopped (or, with `burst`, until nothing is due).

    Also runs each connection's nightly sync when it is due (`nightly_at` None: never).
    """
    from lti_tool.sis.clients import open_grade_sink

    factory = session_factory_for(settings)
    stop = stop or threading.Event()
    holder = worker_id()
    total = DeliveryReport()
    while not stop.is_set():
        with factory() as session:
            connections = list(
                session.scalars(select(SisConnection).where(SisConnection.is_enabled.is_(True)))
            )
            due_nightly = (
                []
                if nightly_at is None or burst
                else [c.id for c in connections if is_nightly_due(session, c.id, now=utcnow(), at=nightly_at)]
            )
        for connection_id in due_nightly:
            now = utcnow()
            try:
                run_sync_job(connection_id, full_weekday is not None and now.weekday() == full_weekday)
            except MasteryBridgeError as exc:
                log.warning("nightly sync of connection %d failed: %s", connection_id, exc)
        worked = 0
        for connection in connections:
            threads = settings.push_threads
            with open_grade_sink(connection, secret_key=settings, threads=threads) as sink:
                report = deliver_all(
                    factory, connection.id, sink, worker_id=holder, timing=timing, concurrency=threads
                )
            total.add(report)
            worked += report.claimed
            if progress is not None and report.claimed:
                progress(connection.name, report)
        if burst:
            return total
        if not worked:
            stop.wait(poll_seconds)
    return total
