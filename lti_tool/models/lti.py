"""LTI 1.3 platforms, deployments, the tool's own keys, one-time-use records, contexts and line items."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.models.base import Base, UtcDateTime, json_document, str_enum, utcnow
from lti_tool.models.enums import RegistrationSource, RegistrationStatus


class LtiRegistration(Base):
    """A platform (issuer) that registered the tool under a client_id (LTI Core 1.3 §3.1.3)."""

    __tablename__ = "lti_registrations"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    auth_login_url: Mapped[str] = mapped_column(String(2048))
    auth_token_url: Mapped[str] = mapped_column(String(2048))
    key_set_url: Mapped[str] = mapped_column(String(2048))
    auth_audience: Mapped[str | None] = mapped_column(String(2048))
    status: Mapped[RegistrationStatus] = mapped_column(
        str_enum(RegistrationStatus, "status"), default=RegistrationStatus.PENDING
    )
    source: Mapped[RegistrationSource] = mapped_column(str_enum(RegistrationSource, "source"))
    platform_config: Mapped[dict[str, Any]] = mapped_column(json_document(), default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    deployments: Mapped[list[LtiDeployment]] = relationship(back_populates="registration")


class LtiDeployment(Base):
    """A deployment_id of a registration, optionally tied to the org it was deployed for."""

    __tablename__ = "lti_deployments"
    __table_args__ = (UniqueConstraint("registration_id", "deployment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("lti_registrations.id"))
    deployment_id: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))

    registration: Mapped[LtiRegistration] = relationship(back_populates="deployments")


class ToolKey(Base):
    """One of the tool's signing keys; the private half is encrypted at rest, the public half is a JWK."""

    __tablename__ = "tool_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(255), unique=True)
    private_key_pem_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(json_document())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    retire_after: Mapped[datetime | None] = mapped_column(UtcDateTime())
    is_active: Mapped[bool] = mapped_column(default=True)


class LtiNonce(Base):
    """A nonce the tool issued at login initiation; `used_at` is set once when a launch consumes it."""

    __tablename__ = "lti_nonces"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(String(255), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class LtiTokenReplay(Base):
    """Hash of an id_token already accepted, kept until it expires so it cannot be replayed."""

    __tablename__ = "lti_token_replays"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class LtiContext(Base):
    """A platform course context (LTI context claim), linked to a class once rostered."""

    __tablename__ = "lti_contexts"
    __table_args__ = (UniqueConstraint("registration_id", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("lti_registrations.id"))
    context_id: Mapped[str] = mapped_column(String(255))
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id"), index=True)
    title: Mapped[str | None] = mapped_column(String(255))
    # LTI Advantage service endpoints from the latest launch (NRPS 2.0 §3.6.1, AGS 2.0 §3.4).
    memberships_url: Mapped[str | None] = mapped_column(String(2048))
    line_items_url: Mapped[str | None] = mapped_column(String(2048))
    ags_scopes: Mapped[list[str] | None] = mapped_column(json_document())
    last_roster_sync_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The launch's `lis` claim `course_section_sourcedid` (LTI Core 1.3 §5.4.5): the SIS sourcedId of the
    # section, which identity matching uses to link the context to the SIS class.
    course_section_sourcedid: Mapped[str | None] = mapped_column(String(255))


class LtiResourceLink(Base):
    """A resource link placed in a context, optionally bound to the task it launches."""

    __tablename__ = "lti_resource_links"
    __table_args__ = (UniqueConstraint("lti_context_id", "resource_link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lti_context_id: Mapped[int] = mapped_column(ForeignKey("lti_contexts.id"))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"), index=True)


class LineItem(Base):
    """An AGS line item in the platform gradebook (LTI AGS 2.0 §3.2), by its URL."""

    __tablename__ = "line_items"
    __table_args__ = (UniqueConstraint("registration_id", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), index=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("lti_registrations.id"))
    url: Mapped[str] = mapped_column(String(2048))
    score_maximum: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    label: Mapped[str] = mapped_column(String(255))
    last_score_timestamp: Mapped[datetime | None] = mapped_column(UtcDateTime())
