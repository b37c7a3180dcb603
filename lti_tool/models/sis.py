"""SIS connections, sync runs, the delivery outbox, identity reviews and demographics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, false, text, true
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.models.base import Base, UtcDateTime, json_document, str_enum, utcnow
from lti_tool.models.enums import (
    IdentifierSource,
    IdentityKind,
    OneRosterVersion,
    OutboxStatus,
    SisAuth,
    SyncKind,
    SyncStatus,
)


class SisConnection(Base):
    """A configured OneRoster SIS endpoint; the client secret is encrypted at rest."""

    __tablename__ = "sis_connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    profile: Mapped[str] = mapped_column(String(64))
    base_url: Mapped[str] = mapped_column(String(2048))
    version: Mapped[OneRosterVersion] = mapped_column(str_enum(OneRosterVersion, "version"))
    auth: Mapped[SisAuth] = mapped_column(str_enum(SisAuth, "auth"))
    client_id: Mapped[str] = mapped_column(String(255))
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    scopes: Mapped[str] = mapped_column(String(1024), default="")
    settings: Mapped[dict[str, Any]] = mapped_column(json_document(), default=dict)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), index=True)
    is_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class SyncRun(Base):
    """One roster sync against a connection, with what it counted, warned about and failed on."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("sis_connections.id"), index=True)
    kind: Mapped[SyncKind] = mapped_column(str_enum(SyncKind, "kind"))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    status: Mapped[SyncStatus] = mapped_column(str_enum(SyncStatus, "status"), default=SyncStatus.RUNNING)
    counts: Mapped[dict[str, Any]] = mapped_column(json_document(), default=dict)
    warnings: Mapped[list[Any]] = mapped_column(json_document(), default=list)
    errors: Mapped[list[Any]] = mapped_column(json_document(), default=list)
    is_dry_run: Mapped[bool] = mapped_column(default=False, server_default=false())


class OutboxMessage(Base):
    """A message to deliver to another system (grade passback, SIS write), retried until delivered.

    `dedupe_key` is unique so enqueueing the same logical message twice is a no-op for the caller to detect.
    A worker claims a message by setting `claimed_by` and a lease in `claimed_until`; a worker that dies
    leaves the lease to expire, and the message is claimed again (delivery is idempotent by sourcedId).
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
        # What a worker's claim walks: a connection's pending messages of one topic in id order. Without it
        # every claim scanned the delivered rows too (156 ms a claim at 100,000 messages; 4 ms with it).
        Index(
            "ix_outbox_messages_pending",
            "connection_id",
            "topic",
            "id",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(json_document())
    status: Mapped[OutboxStatus] = mapped_column(
        str_enum(OutboxStatus, "status"), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    connection_id: Mapped[int | None] = mapped_column(ForeignKey("sis_connections.id"), index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime())


class IdentityReview(Base):
    """An external identity that could not be matched to a person automatically, awaiting a human."""

    __tablename__ = "identity_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[IdentityKind] = mapped_column(
        str_enum(IdentityKind, "kind"), default=IdentityKind.PERSON, server_default=IdentityKind.PERSON.value
    )
    connection_id: Mapped[int | None] = mapped_column(ForeignKey("sis_connections.id"), index=True)
    lti_context_id: Mapped[int | None] = mapped_column(ForeignKey("lti_contexts.id"))
    source: Mapped[IdentifierSource] = mapped_column(str_enum(IdentifierSource, "source"))
    system: Mapped[str] = mapped_column(String(255))
    external_value: Mapped[str] = mapped_column(String(255))
    candidate_person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    candidate_class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id"))
    resolved_class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id"))
    resolved_by: Mapped[str | None] = mapped_column(String(255))


class Demographic(Base):
    """Demographic attributes of a person from the SIS, for equity questions; sensitive, never logged."""

    __tablename__ = "demographics"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), unique=True)
    data: Mapped[dict[str, Any]] = mapped_column(json_document(), default=dict)
