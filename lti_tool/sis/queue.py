"""The SIS job queue: RQ on Redis when MB_REDIS_URL is set, inline in this process otherwise.

Jobs (module-level functions taking only ids, so RQ can pickle them and nothing secret enters Redis; each
reads the process settings and opens its own database session):

- `run_sync_job(connection_id, full)`: one roster pull plus identity matching (`lti_tool.sis.manual_sync`).
- `run_push_job(connection_id)`: deliver the connection's due outbox messages; when some wait for a
  retry, the job schedules itself again for the earliest of them.
- `lti_tool.sis.schedule.nightly_sync_job`: the nightly sync, which re-arms itself.

The nightly sync and the loop that replaces the worker without Redis: `lti_tool.sis.schedule`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from redis import Redis
from rq import Queue, SimpleWorker, Worker
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.db import make_engine, make_session_factory
from lti_tool.errors import MasteryBridgeError
from lti_tool.models import OutboxMessage, OutboxStatus, SisConnection, utcnow
from lti_tool.settings import Settings, load_settings
from lti_tool.sis.worker import deliver_all

log = logging.getLogger("mastery_bridge.sis.queue")

DEFAULT_QUEUE_NAME: Final = "mastery-bridge"
JOB_TIMEOUT_SECONDS: Final = 3 * 3600
RESULT_TTL_SECONDS: Final = 7 * 24 * 3600


class JobQueueError(MasteryBridgeError):
    """A job cannot be queued or scheduled as asked (e.g. scheduling without Redis)."""


@dataclass(frozen=True, slots=True)
class QueuedJob:
    """A job handed to the queue: its id, status, result when it already ran (inline), when it will run."""

    id: str
    status: str
    result: Any = None
    scheduled_for: datetime | None = None

    def __str__(self) -> str:
        return self.id


class JobQueue(Protocol):
    """Where jobs go: RQ on Redis, or this process."""

    name: str
    is_inline: bool

    def enqueue(self, func: Callable[..., Any], *args: Any, job_id: str | None = None) -> QueuedJob: ...
    def enqueue_at(self, when: datetime, func: Callable[..., Any], *args: Any, job_id: str) -> QueuedJob: ...
    def cancel_scheduled(self, prefix: str) -> int: ...


class InlineQueue:
    """Runs each job at once, in the caller's process; nothing can be scheduled for later."""

    is_inline = True

    def __init__(self, name: str = DEFAULT_QUEUE_NAME) -> None:
        self.name = name

    def enqueue(self, func: Callable[..., Any], *args: Any, job_id: str | None = None) -> QueuedJob:
        """Run `func(*args)` now; its result is in the returned job."""
        result = func(*args)
        return QueuedJob(id=job_id or f"inline-{uuid.uuid4().hex[:12]}", status="finished", result=result)

    def enqueue_at(self, when: datetime, func: Callable[..., Any], *args: Any, job_id: str) -> QueuedJob:
        """Refused: without Redis, `mastery-bridge worker run` runs the nightly sync itself."""
        raise JobQueueError(
            "scheduling needs the job queue: set MB_REDIS_URL (e.g. redis://127.0.0.1:6379/0); without it"
            " `mastery-bridge worker run` runs each nightly sync itself"
        )

    def cancel_scheduled(self, prefix: str) -> int:
        """Nothing is ever scheduled inline."""
        return 0


class RedisQueue:
    """An RQ queue on Redis."""

    is_inline = False

    def __init__(self, redis_url: str, name: str = DEFAULT_QUEUE_NAME) -> None:
        self.name = name
        self.connection = Redis.from_url(redis_url)
        self.queue = Queue(name, connection=self.connection, default_timeout=JOB_TIMEOUT_SECONDS)

    def enqueue(self, func: Callable[..., Any], *args: Any, job_id: str | None = None) -> QueuedJob:
        """Queue `func(*args)` for a worker."""
        job = self.queue.enqueue(func, *args, job_id=job_id, result_ttl=RESULT_TTL_SECONDS)
        return QueuedJob(id=job.id, status=_status(job))

    def enqueue_at(self, when: datetime, func: Callable[..., Any], *args: Any, job_id: str) -> QueuedJob:
        """Queue `func(*args)` to run at `when` (the worker's scheduler moves it to the queue)."""
        job = self.queue.enqueue_at(when, func, *args, job_id=job_id, result_ttl=RESULT_TTL_SECONDS)
        return QueuedJob(id=job.id, status=_status(job), scheduled_for=when)

    def cancel_scheduled(self, prefix: str) -> int:
        """Remove the scheduled jobs whose id starts with `prefix`; how many there were."""
        registry: ScheduledJobRegistry = self.queue.scheduled_job_registry
        removed = 0
        for job_id in registry.get_job_ids():
            if job_id.startswith(prefix):
                registry.remove(job_id, delete_job=True)
                removed += 1
        return removed

    def scheduled(self, prefix: str = "") -> list[tuple[str, datetime]]:
        """Scheduled job ids (starting with `prefix`) and when each runs."""
        registry: ScheduledJobRegistry = self.queue.scheduled_job_registry
        found = []
        for job_id in registry.get_job_ids():
            if job_id.startswith(prefix):
                found.append((job_id, registry.get_scheduled_time(job_id)))
        return sorted(found, key=lambda item: item[1])


def _status(job: Job) -> str:
    status = job.get_status()
    return status.value if status is not None else "unknown"


def job_queue(settings: Settings | None = None, *, name: str | None = None) -> JobQueue:
    """RQ on Redis when MB_REDIS_URL is set, else inline."""
    settings = settings or load_settings()
    queue_name = name or settings.queue_name
    if settings.redis_url:
        return RedisQueue(settings.redis_url, queue_name)
    return InlineQueue(queue_name)


# -- the process's database -------------------------------------------------------------------------------

_FACTORIES: dict[str, sessionmaker[Session]] = {}
_FACTORIES_LOCK = threading.Lock()


def session_factory_for(settings: Settings) -> sessionmaker[Session]:
    """One engine and session factory per database URL per process (jobs reuse them)."""
    with _FACTORIES_LOCK:
        factory = _FACTORIES.get(settings.database_url)
        if factory is None:
            factory = make_session_factory(make_engine(settings.database_url))
            _FACTORIES[settings.database_url] = factory
        return factory


def dispose_engines() -> None:
    """Close every engine jobs opened in this process (tests, worker shutdown)."""
    with _FACTORIES_LOCK:
        for factory in _FACTORIES.values():
            bind = factory.kw.get("bind")
            if bind is not None:
                bind.dispose()
        _FACTORIES.clear()


def _forget_engines_in_child() -> None:
    # A forked RQ work horse must not share the parent's pooled connections (SQLAlchemy "Using
    # Connection Pools with Multiprocessing"): drop them without closing, and open its own.
    for factory in _FACTORIES.values():
        bind = factory.kw.get("bind")
        if bind is not None:
            bind.dispose(close=False)
    _FACTORIES.clear()


os.register_at_fork(after_in_child=_forget_engines_in_child)


def worker_id() -> str:
    """This process's outbox lease holder name: host, pid and a random part (a restart is a new worker)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _enabled_connection(session: Session, connection_id: int) -> SisConnection:
    connection = session.get(SisConnection, connection_id)
    if connection is None:
        raise JobQueueError(f"SIS connection {connection_id} does not exist")
    if not connection.is_enabled:
        raise JobQueueError(f"SIS connection {connection.name!r} is disabled")
    return connection


# -- jobs -------------------------------------------------------------------------------------------------


def run_sync_job(connection_id: int, full: bool = False) -> dict[str, Any]:
    """Pull the connection's roster and match identities; commits. The run summary as JSON."""
    from lti_tool.sis.manual_sync import run_sync

    settings = load_settings()
    with session_factory_for(settings)() as session:
        connection = _enabled_connection(session, connection_id)
        outcome = run_sync(session, connection, secret_key=settings, full=full)
        session.commit()
    return outcome.to_json()


def run_push_job(connection_id: int, queue_name: str | None = None) -> dict[str, Any]:
    """Deliver the connection's due outbox messages; reschedule itself for retries waiting on a backoff."""
    from lti_tool.sis.clients import open_grade_sink

    settings = load_settings()
    factory = session_factory_for(settings)
    with factory() as session:
        connection = _enabled_connection(session, connection_id)
    threads = settings.push_threads
    with open_grade_sink(connection, secret_key=settings, threads=threads) as sink:
        report = deliver_all(factory, connection_id, sink, worker_id=worker_id(), concurrency=threads)
    retry_at = next_retry_at(factory, connection_id)
    queue = job_queue(settings, name=queue_name)
    if retry_at is not None and not queue.is_inline:
        # Rounded up to the minute: retries due together share one job (deterministic id).
        when = max(retry_at, utcnow()).replace(second=0, microsecond=0) + timedelta(minutes=1)
        queue.enqueue_at(
            when,
            run_push_job,
            connection_id,
            queue.name,
            job_id=f"mb-push-{connection_id}-{when:%Y%m%dT%H%M}",
        )
    summary = report.to_json()
    summary["next_retry_at"] = retry_at.isoformat() if retry_at else None
    return summary


def next_retry_at(factory: sessionmaker[Session], connection_id: int) -> datetime | None:
    """When the connection's next pending message is due, if any is pending."""
    with factory() as session:
        value = session.scalar(
            select(func.min(OutboxMessage.next_attempt_at)).where(
                OutboxMessage.connection_id == connection_id, OutboxMessage.status == OutboxStatus.PENDING
            )
        )
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- what the CLI and pages call --------------------------------------------------------------------------


def enqueue_sync(
    settings: Settings, connection_id: int, *, full: bool, queue_name: str | None = None
) -> QueuedJob:
    """Sync on a worker (Redis) or now (inline)."""
    queue = job_queue(settings, name=queue_name)
    return queue.enqueue(run_sync_job, connection_id, full)


def enqueue_push(settings: Settings, connection_id: int, *, queue_name: str | None = None) -> QueuedJob:
    """Deliver the connection's outbox on a worker (Redis) or now (inline).

    Extra push jobs are harmless: leases keep two workers off the same message.
    """
    queue = job_queue(settings, name=queue_name)
    return queue.enqueue(run_push_job, connection_id, queue.name)


def run_rq_worker(
    settings: Settings, *, burst: bool, queue_name: str | None = None, fork: bool = True
) -> bool:
    """Run an RQ worker (with its scheduler) on the queue; returns whether it ran any job."""
    if not settings.redis_url:
        raise JobQueueError("MB_REDIS_URL is not set: there is no job queue to work on")
    queue = job_queue(settings, name=queue_name)
    if not isinstance(queue, RedisQueue):  # pragma: no cover - redis_url set above
        raise JobQueueError("MB_REDIS_URL is not set")
    worker_class = Worker if fork else SimpleWorker
    worker = worker_class([queue.queue], connection=queue.connection)
    try:
        return worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level)
    finally:
        dispose_engines()


def fetch_job(settings: Settings, job_id: str) -> Job | None:
    """An RQ job by id (None inline or when Redis has forgotten it)."""
    if not settings.redis_url:
        return None
    return Job.fetch(job_id, connection=Redis.from_url(settings.redis_url)) if job_id else None
