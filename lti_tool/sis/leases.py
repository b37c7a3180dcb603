"""Outbox leases: claiming due messages in dependency order and recording each outcome, in short transactions.

Used by `lti_tool.sis.worker`. A claim sets `claimed_by` and `claimed_until` on up to a batch of due
messages whose prerequisites are delivered or in the same batch (a result's dedupe key carries its line
item's sourcedId, `lti_tool.sis.grade_push.dedupe_key`, so the claim can hold results back in SQL). On
PostgreSQL the candidates are read `FOR UPDATE SKIP LOCKED`, so concurrent workers take disjoint batches;
on SQLite, which has a single writer, the claim's first statement is a write, so that a second claimer
waits for the lock instead of failing when it upgrades from a read (the effect of BEGIN IMMEDIATE). The
final UPDATE repeats the claimable test and says with RETURNING which rows were taken.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import case, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.models import OutboxMessage, OutboxStatus
from lti_tool.sis.grade_push import MessageKind, result_key_prefix

PREREQUISITE_TOPICS: Final = tuple(k.topic for k in MessageKind if k is not MessageKind.RESULT)
SOURCED_ID_LENGTH: Final = 36  # our sourcedIds are UUIDs (connectors.oneroster_csv.payloads)
# Columns, not ORM objects: a claim reads up to a batch of rows and builds nothing it does not use.
_COLUMNS: Final = (OutboxMessage.id, OutboxMessage.topic, OutboxMessage.attempts, OutboxMessage.payload)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed message, decoded enough to deliver it."""

    id: int
    kind: MessageKind
    sourced_id: str
    requires: frozenset[str]
    period_sourced_id: str | None
    period_title: str | None
    record: Any
    attempts: int


# -- claiming ---------------------------------------------------------------------------------------------


def _claimable(now: datetime) -> Any:
    return (
        (OutboxMessage.status == OutboxStatus.PENDING)
        & (OutboxMessage.next_attempt_at <= now)
        & (OutboxMessage.claimed_until.is_(None) | (OutboxMessage.claimed_until < now))
    )


def _sid_from_key(dedupe_key: str) -> str:
    # "or:<connection>:<kind>:<sourcedId>:<...>" (lti_tool.sis.grade_push.dedupe_key)
    return dedupe_key.split(":")[3]


def _claimed(row: Any) -> Claimed:
    payload = row.payload
    kind = MessageKind.from_topic(row.topic)
    period = payload.get("period") or {}
    return Claimed(
        id=row.id,
        kind=kind,
        sourced_id=str(payload.get("sourcedId", "")),
        requires=frozenset(payload.get("requires") or ()),
        period_sourced_id=period.get("sourcedId"),
        period_title=period.get("title"),
        record=payload.get("record"),
        attempts=row.attempts,
    )


def claim_batch(
    session_factory: sessionmaker[Session],
    connection_id: int,
    *,
    worker_id: str,
    batch_size: int,
    now: datetime,
    lease: timedelta,
) -> list[Claimed]:
    """Lease up to `batch_size` due messages whose prerequisites are delivered (or in this batch).

    One short transaction. Prerequisites come first; a result is left for later while its line item is
    pending and not part of this batch.
    """
    with session_factory.begin() as session:
        is_postgres = session.get_bind().dialect.name == "postgresql"
        if not is_postgres:
            # Take SQLite's write lock first (the effect of BEGIN IMMEDIATE): see the module docstring.
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == -1)
                .values(claimed_by=OutboxMessage.claimed_by)
            )
        of_connection = OutboxMessage.connection_id == connection_id
        waiting = {
            _sid_from_key(key): topic
            for key, topic in session.execute(
                select(OutboxMessage.dedupe_key, OutboxMessage.topic).where(
                    of_connection,
                    OutboxMessage.status == OutboxStatus.PENDING,
                    OutboxMessage.topic.in_(PREREQUISITE_TOPICS),
                )
            )
        }
        rank = case((OutboxMessage.topic == MessageKind.LINE_ITEM.topic, 1), else_=0)
        query = (
            select(*_COLUMNS)
            .where(of_connection, _claimable(now), OutboxMessage.topic.in_(PREREQUISITE_TOPICS))
            .order_by(rank, OutboxMessage.id)
            .limit(batch_size)
        )
        if is_postgres:
            query = query.with_for_update(skip_locked=True)
        chosen: list[Claimed] = []
        chosen_sids: set[str] = set()
        for row in session.execute(query):
            message = _claimed(row)
            if any(sid in waiting and sid not in chosen_sids for sid in message.requires):
                continue
            chosen.append(message)
            chosen_sids.add(message.sourced_id)
        room = batch_size - len(chosen)
        if room > 0:
            blocked = sorted(sid for sid, topic in waiting.items() if sid not in chosen_sids)
            prefix = result_key_prefix(connection_id)
            results = (
                select(*_COLUMNS)
                .where(of_connection, _claimable(now), OutboxMessage.topic == MessageKind.RESULT.topic)
                .order_by(OutboxMessage.id)
                .limit(room)
            )
            if blocked:
                line_item_sid = func.substr(OutboxMessage.dedupe_key, len(prefix) + 1, SOURCED_ID_LENGTH)
                results = results.where(line_item_sid.not_in(blocked))
            if is_postgres:
                results = results.with_for_update(skip_locked=True)
            chosen.extend(_claimed(row) for row in session.execute(results))
        if not chosen:
            return []
        # The WHERE repeats the claimable test, so on SQLite a row another worker claimed in between is
        # not taken twice; RETURNING says which rows this worker now holds.
        taken = set(
            session.scalars(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([m.id for m in chosen]), _claimable(now))
                .values(claimed_by=worker_id, claimed_until=now + lease)
                .returning(OutboxMessage.id)
            )
        )
    return [m for m in chosen if m.id in taken]


# -- recording outcomes (short transactions) ----------------------------------------------------------------


def relaxed_commit(session: Session) -> None:
    """On PostgreSQL, let this transaction's COMMIT return before its WAL reaches the disk.

    An outcome lost to a database crash in the next fraction of a second only means the message is
    sent again, which is harmless (PUT by sourcedId), while waiting for the disk on every message cost
    20 ms each on a busy machine and capped a push at a few dozen results per second per thread.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def mark_delivered(session_factory: sessionmaker[Session], message_ids: Sequence[int], now: datetime) -> None:
    """Record that these messages reached the SIS (one transaction) and drop their leases."""
    with session_factory.begin() as session:
        relaxed_commit(session)
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(list(message_ids)), OutboxMessage.status == OutboxStatus.PENDING)
            .values(
                status=OutboxStatus.DELIVERED,
                delivered_at=now,
                attempts=OutboxMessage.attempts + 1,
                last_error=None,
                claimed_by=None,
                claimed_until=None,
            )
        )


def mark_retry(
    session_factory: sessionmaker[Session],
    message: Claimed,
    *,
    worker_id: str,
    error: str,
    next_attempt_at: datetime,
    gives_up: bool,
    counts_attempt: bool = True,
) -> None:
    """Record a failed attempt: retry at `next_attempt_at`, or `gives_up` (status failed); lease dropped."""
    values: dict[str, Any] = {"last_error": error[:2000], "claimed_by": None, "claimed_until": None}
    if counts_attempt:
        values["attempts"] = OutboxMessage.attempts + 1
    if gives_up:
        values["status"] = OutboxStatus.FAILED
    else:
        values["next_attempt_at"] = next_attempt_at
    with session_factory.begin() as session:
        relaxed_commit(session)
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message.id,
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.claimed_by == worker_id,
            )
            .values(**values)
        )


def release(session_factory: sessionmaker[Session], ids: Iterable[int], *, worker_id: str) -> None:
    """Drop this worker's leases on messages it claimed but did not attempt."""
    chosen = list(ids)
    if not chosen:
        return
    with session_factory.begin() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(chosen), OutboxMessage.claimed_by == worker_id)
            .values(claimed_by=None, claimed_until=None)
        )


def renew(
    session_factory: sessionmaker[Session], ids: Sequence[int], *, worker_id: str, until: datetime
) -> None:
    """Extend this worker's leases on messages it still holds."""
    if not ids:
        return
    with session_factory.begin() as session:
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(list(ids)),
                OutboxMessage.claimed_by == worker_id,
                OutboxMessage.status == OutboxStatus.PENDING,
            )
            .values(claimed_until=until)
        )
