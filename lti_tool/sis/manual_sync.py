"""Sync now: one roster pull plus identity matching, run by `sis sync` or the staff page's button.

The pull and the identity matching after it are `lti_tool.sis.roster_pull.sync_roster` (matching runs
inside the pull's SAVEPOINT, so a dry run counts it and writes nothing but its run record). With a job
queue configured the same work runs on a worker instead (`queue_sync`, `lti_tool.sis.queue.run_sync_job`).

Functions take a `Session` and never commit; the CLI command or the request owns the transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.models import IdentityReview, SisConnection, SyncStatus
from lti_tool.sis.clients import open_roster_source
from lti_tool.sis.connection_rules import SisConnectionError, connection_options
from lti_tool.sis.course_map import CourseMap
from lti_tool.sis.status import RunSummary, summarize_run

if TYPE_CHECKING:
    from lti_tool.settings import Settings

# orgs, academicSessions, courses, classes, users, enrollments (+ demographics when switched on).
SYNC_COLLECTION_COUNT: Final = 7

Progress = Callable[[str, int], None]


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    """What `run_sync` did: the run (succeeded or failed) and the identity reviews left open."""

    run: RunSummary
    open_reviews: int

    @property
    def has_failed(self) -> bool:
        """True when the pull failed (nothing was imported; the failed run is recorded)."""
        return self.run.status == SyncStatus.FAILED.value

    def to_json(self) -> dict[str, Any]:
        """The summary `sis sync --json` prints and the staff page shows."""
        run = self.run
        other = run.other_counts()
        identity = other.pop("identity", None)
        return {
            "run_id": run.id,
            "connection": run.connection,
            "kind": run.kind,
            "status": run.status,
            "is_dry_run": run.is_dry_run,
            "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "collections": dict(run.collection_counts()),
            "other_counts": other,
            "warnings": list(run.warnings),
            "errors": list(run.errors),
            "identity": identity if isinstance(identity, dict) else None,
            "open_reviews": self.open_reviews,
        }


def open_review_count(session: Session, connection: SisConnection) -> int:
    """Identity reviews of `connection` still waiting for a person to resolve them."""
    return (
        session.scalar(
            select(func.count())
            .select_from(IdentityReview)
            .where(IdentityReview.connection_id == connection.id, IdentityReview.resolved_at.is_(None))
        )
        or 0
    )


def run_sync(
    session: Session,
    connection: SisConnection,
    *,
    secret_key: Settings | str,
    full: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> SyncOutcome:
    """Pull the roster of `connection` and match identities (`sync_roster` does both).

    A failed pull is not raised: `sync_roster` rolls its writes back and marks the run FAILED, and the
    caller must commit so that record survives; check `SyncOutcome.has_failed`.
    """
    from lti_tool.sis.roster_pull import sync_roster

    if not connection.is_enabled:
        raise SisConnectionError(
            f"SIS connection {connection.name!r} is disabled; enable it with "
            f"`mastery-bridge sis update {connection.name} --enable`",
            field="name",
        )
    options = connection_options(connection)
    course_map = CourseMap.from_csv(Path(options.course_map)) if options.course_map else None
    with open_roster_source(connection, secret_key=secret_key) as source:
        run = sync_roster(
            session,
            connection,
            source,
            full=full,
            dry_run=dry_run,
            course_map=course_map,
            include_demographics=options.include_demographics,
            progress=progress,
            now=now,
        )
    return SyncOutcome(summarize_run(run, connection.name), open_review_count(session, connection))


def queue_sync(settings: Settings, connection_id: int, *, full: bool) -> str:
    """Queue the sync on the job queue (MB_REDIS_URL); the job's id. JobQueueError if Redis is down."""
    from lti_tool.sis.queue import enqueue_sync

    with _queue_errors(settings):
        return str(enqueue_sync(settings, connection_id, full=full))


def queue_push(settings: Settings, connection_id: int) -> str:
    """Queue delivery of the connection's outbox; the job's id. JobQueueError if Redis is down."""
    from lti_tool.sis.queue import enqueue_push

    with _queue_errors(settings):
        return str(enqueue_push(settings, connection_id))


@contextmanager
def _queue_errors(settings: Settings) -> Iterator[None]:
    from redis.exceptions import RedisError

    from lti_tool.sis.queue import JobQueueError

    try:
        yield
    except RedisError as exc:
        # The URL may carry a password: name the variable, not its value.
        raise JobQueueError(
            f"cannot queue the job: the Redis at MB_REDIS_URL does not answer ({type(exc).__name__}); "
            "start Redis, or unset MB_REDIS_URL to run jobs inline"
        ) from exc
