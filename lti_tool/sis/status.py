"""`sis status`: last sync runs with their counts, warnings and errors; outbox depth; recent failures.

Read-only: functions take a `Session` and write nothing. The documents hold counts, ids, topics and error
texts as the sync and the worker recorded them; nothing here adds names or emails.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from lti_tool.models import IdentityReview, OutboxMessage, OutboxStatus, SisConnection, SyncRun, SyncStatus

RUN_LIMIT: Final = 10
FAILURE_LIMIT: Final = 20
ERROR_TEXT_LIMIT: Final = 500


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One sync run: its kind and status, counts per collection, warnings and errors as recorded."""

    id: int
    connection: str
    kind: str
    status: str
    is_dry_run: bool
    started_at: datetime
    finished_at: datetime | None
    counts: Mapping[str, Any]
    warnings: tuple[str, ...]
    errors: tuple[str, ...]

    @property
    def seconds(self) -> float | None:
        """How long the run took, if it finished."""
        return (self.finished_at - self.started_at).total_seconds() if self.finished_at else None

    def collection_counts(self) -> list[tuple[str, dict[str, int]]]:
        """(collection, {created, updated, deactivated, unchanged}) for each collection counted."""
        rows: list[tuple[str, dict[str, int]]] = []
        for collection, value in self.counts.items():
            if isinstance(value, Mapping) and all(isinstance(v, int) for v in value.values()):
                rows.append((collection, {str(k): int(v) for k, v in value.items()}))
        return rows

    def totals(self) -> dict[str, int]:
        """created, updated, deactivated and unchanged summed over the collections."""
        totals = dict.fromkeys(("created", "updated", "deactivated", "unchanged"), 0)
        for _, tally in self.collection_counts():
            for key in totals:
                totals[key] += tally.get(key, 0)
        return totals

    def other_counts(self) -> dict[str, Any]:
        """Counts that are not per-collection tallies (e.g. unmatched people)."""
        tallies = {collection for collection, _ in self.collection_counts()}
        return {key: value for key, value in self.counts.items() if key not in tallies}


@dataclass(frozen=True, slots=True)
class OutboxDepth:
    """How many outbox messages of one connection wait, failed for good, or were delivered."""

    connection: str
    pending: int = 0
    retrying: int = 0  # pending messages that failed at least once
    failed: int = 0
    delivered: int = 0
    oldest_pending_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OutboxFailure:
    """A message that failed (for good, or so far): its id, topic, attempts and the last error."""

    id: int
    connection: str
    topic: str
    status: str
    attempts: int
    last_error: str
    next_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    """One connection at a glance."""

    id: int
    name: str
    profile: str
    version: str
    auth: str
    base_url: str
    is_enabled: bool
    last_run: RunSummary | None
    last_good_run_at: datetime | None
    open_reviews: int
    outbox: OutboxDepth


@dataclass(frozen=True, slots=True)
class SisStatus:
    """Everything `sis status` and the staff page show."""

    connections: tuple[ConnectionStatus, ...]
    runs: tuple[RunSummary, ...]
    failures: tuple[OutboxFailure, ...]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready document (ISO timestamps)."""
        return {
            "connections": [
                {
                    "id": c.id,
                    "name": c.name,
                    "profile": c.profile,
                    "version": c.version,
                    "auth": c.auth,
                    "base_url": c.base_url,
                    "is_enabled": c.is_enabled,
                    "last_run": _run_json(c.last_run) if c.last_run else None,
                    "last_good_run_at": _iso(c.last_good_run_at),
                    "open_reviews": c.open_reviews,
                    "outbox": {
                        "pending": c.outbox.pending,
                        "retrying": c.outbox.retrying,
                        "failed": c.outbox.failed,
                        "delivered": c.outbox.delivered,
                        "oldest_pending_at": _iso(c.outbox.oldest_pending_at),
                    },
                }
                for c in self.connections
            ],
            "runs": [_run_json(run) for run in self.runs],
            "failures": [
                {
                    "id": f.id,
                    "connection": f.connection,
                    "topic": f.topic,
                    "status": f.status,
                    "attempts": f.attempts,
                    "last_error": f.last_error,
                    "next_attempt_at": _iso(f.next_attempt_at),
                }
                for f in self.failures
            ],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _run_json(run: RunSummary) -> dict[str, Any]:
    return {
        "id": run.id,
        "connection": run.connection,
        "kind": run.kind,
        "status": run.status,
        "is_dry_run": run.is_dry_run,
        "started_at": run.started_at.isoformat(),
        "finished_at": _iso(run.finished_at),
        "counts": dict(run.counts),
        "warnings": list(run.warnings),
        "errors": list(run.errors),
    }


def _text(item: Any) -> str:
    """A warning or error entry as one line: sync code records strings or small objects with a message."""
    if isinstance(item, Mapping):
        message = item.get("message") or item.get("reason") or item.get("error")
        where = [f"{key} {item[key]}" for key in ("collection", "sourced_id", "field") if item.get(key)]
        if isinstance(message, str):
            return f"{message} ({', '.join(where)})" if where else message
    text = item if isinstance(item, str) else str(item)
    return text if len(text) <= ERROR_TEXT_LIMIT else text[: ERROR_TEXT_LIMIT - 1] + "…"


def summarize_run(run: SyncRun, connection_name: str) -> RunSummary:
    """A RunSummary of one SyncRun row."""
    return RunSummary(
        id=run.id,
        connection=connection_name,
        kind=run.kind.value,
        status=run.status.value,
        is_dry_run=run.is_dry_run,
        started_at=run.started_at,
        finished_at=run.finished_at,
        counts=dict(run.counts or {}),
        warnings=tuple(_text(item) for item in run.warnings or ()),
        errors=tuple(_text(item) for item in run.errors or ()),
    )


def recent_runs(
    session: Session, *, connection_ids: Sequence[int] | None = None, limit: int = RUN_LIMIT
) -> list[RunSummary]:
    """The latest sync runs, newest first."""
    query = (
        select(SyncRun, SisConnection.name)
        .join(SisConnection, SisConnection.id == SyncRun.connection_id)
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(limit)
    )
    if connection_ids is not None:
        query = query.where(SyncRun.connection_id.in_(connection_ids))
    return [summarize_run(run, name) for run, name in session.execute(query)]


def outbox_depths(session: Session, connections: Sequence[SisConnection]) -> dict[int, OutboxDepth]:
    """Messages per connection and status (one grouped query)."""
    names = {c.id: c.name for c in connections}
    counts: dict[int, dict[str, Any]] = {c.id: {} for c in connections}
    rows = session.execute(
        select(
            OutboxMessage.connection_id,
            OutboxMessage.status,
            func.count(),
            func.sum(case((OutboxMessage.attempts > 0, 1), else_=0)),
            func.min(OutboxMessage.created_at),
        )
        .where(OutboxMessage.connection_id.in_(list(names)))
        .group_by(OutboxMessage.connection_id, OutboxMessage.status)
    ).all()
    for connection_id, status, count, retry_count, oldest in rows:
        if connection_id is None:
            continue
        tally = counts[connection_id]
        tally[OutboxStatus(status).value] = int(count)
        if OutboxStatus(status) is OutboxStatus.PENDING:
            tally["retrying"] = int(retry_count or 0)
            tally["oldest_pending_at"] = oldest
    return {
        connection_id: OutboxDepth(
            connection=names[connection_id],
            pending=tally.get("pending", 0),
            retrying=tally.get("retrying", 0),
            failed=tally.get("failed", 0),
            delivered=tally.get("delivered", 0),
            oldest_pending_at=tally.get("oldest_pending_at"),
        )
        for connection_id, tally in counts.items()
    }


def recent_failures(
    session: Session, *, connection_ids: Sequence[int] | None = None, limit: int = FAILURE_LIMIT
) -> list[OutboxFailure]:
    """Failed messages and pending ones that have failed at least once, most recently retried first."""
    query = (
        select(OutboxMessage, SisConnection.name)
        .join(SisConnection, SisConnection.id == OutboxMessage.connection_id)
        .where(
            or_(
                OutboxMessage.status == OutboxStatus.FAILED,
                and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.last_error.is_not(None)),
            )
        )
        .order_by(OutboxMessage.next_attempt_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
    )
    if connection_ids is not None:
        query = query.where(OutboxMessage.connection_id.in_(connection_ids))
    return [
        OutboxFailure(
            id=message.id,
            connection=name,
            topic=message.topic,
            status=message.status.value,
            attempts=message.attempts,
            last_error=_text(message.last_error or ""),
            next_attempt_at=message.next_attempt_at if message.status is OutboxStatus.PENDING else None,
        )
        for message, name in session.execute(query)
    ]


def _last_runs(
    session: Session, connection_ids: Sequence[int]
) -> tuple[dict[int, SyncRun], dict[int, datetime]]:
    latest = (
        select(SyncRun.connection_id, func.max(SyncRun.id).label("run_id"))
        .where(SyncRun.connection_id.in_(connection_ids), SyncRun.is_dry_run.is_(False))
        .group_by(SyncRun.connection_id)
        .subquery()
    )
    last = {
        run.connection_id: run
        for run in session.scalars(select(SyncRun).join(latest, latest.c.run_id == SyncRun.id))
    }
    good = dict(
        session.execute(
            select(SyncRun.connection_id, func.max(SyncRun.started_at))
            .where(
                SyncRun.connection_id.in_(connection_ids),
                SyncRun.status == SyncStatus.SUCCEEDED,
                SyncRun.is_dry_run.is_(False),
            )
            .group_by(SyncRun.connection_id)
        ).all()
    )
    return last, good


def _open_reviews(session: Session, connection_ids: Sequence[int]) -> dict[int, int]:
    rows = session.execute(
        select(IdentityReview.connection_id, func.count())
        .where(IdentityReview.connection_id.in_(connection_ids), IdentityReview.resolved_at.is_(None))
        .group_by(IdentityReview.connection_id)
    ).all()
    return {connection_id: count for connection_id, count in rows if connection_id is not None}


def sis_status(
    session: Session,
    *,
    connection: SisConnection | None = None,
    run_limit: int = RUN_LIMIT,
    failure_limit: int = FAILURE_LIMIT,
) -> SisStatus:
    """Status of every connection (or just `connection`): last runs, outbox depth, recent failures."""
    if connection is not None:
        connections = [connection]
    else:
        connections = list(session.scalars(select(SisConnection).order_by(func.lower(SisConnection.name))))
    ids = [c.id for c in connections]
    last, good = _last_runs(session, ids)
    depths = outbox_depths(session, connections)
    reviews = _open_reviews(session, ids)
    rows = tuple(
        ConnectionStatus(
            id=c.id,
            name=c.name,
            profile=c.profile,
            version=c.version.value,
            auth=c.auth.value,
            base_url=c.base_url,
            is_enabled=c.is_enabled,
            last_run=summarize_run(last[c.id], c.name) if c.id in last else None,
            last_good_run_at=good.get(c.id),
            open_reviews=reviews.get(c.id, 0),
            outbox=depths[c.id],
        )
        for c in connections
    )
    return SisStatus(
        connections=rows,
        runs=tuple(recent_runs(session, connection_ids=ids, limit=run_limit)),
        failures=tuple(recent_failures(session, connection_ids=ids, limit=failure_limit)),
    )
