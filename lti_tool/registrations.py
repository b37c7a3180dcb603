"""LTI platform registrations (issuer + client_id) and their deployments; the tool's own URLs.

Functions take a `Session` and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from lti_tool.errors import RegistrationError
from lti_tool.models import (
    LtiDeployment,
    LtiRegistration,
    RegistrationSource,
    RegistrationStatus,
    utcnow,
)

# Column limits from lti_tool.models.lti.
_MAX_ID_LENGTH = 255
_MAX_URL_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class ToolUrls:
    """The absolute URLs a platform administrator enters when registering the tool."""

    login_url: str
    launch_url: str
    jwks_url: str
    deep_link_url: str
    canvas_config_url: str


def tool_urls(public_base_url: str) -> ToolUrls:
    """The tool's endpoints under `public_base_url` (Settings.public_base_url, e.g. https://mb.example.org)."""
    base = public_base_url.rstrip("/")
    return ToolUrls(
        login_url=f"{base}/lti/login",
        launch_url=f"{base}/lti/launch",
        jwks_url=f"{base}/lti/jwks",
        # One launch endpoint handles both message types; the id_token's message_type tells them apart.
        deep_link_url=f"{base}/lti/launch",
        canvas_config_url=f"{base}/lti/config/canvas.json",
    )


def _require_text(field: str, value: str) -> str:
    text = value.strip()
    if not text:
        raise RegistrationError(f"{field} must not be empty")
    if len(text) > _MAX_ID_LENGTH:
        raise RegistrationError(f"{field} is longer than {_MAX_ID_LENGTH} characters: {text[:40]!r}...")
    return text


def _require_url(field: str, value: str) -> str:
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise RegistrationError(f"{field} must be an absolute http(s) URL, got {value!r}")
    if len(url) > _MAX_URL_LENGTH:
        raise RegistrationError(f"{field} is longer than {_MAX_URL_LENGTH} characters")
    return url


def add_platform(
    session: Session,
    *,
    issuer: str,
    client_id: str,
    deployment_id: str,
    auth_login_url: str,
    auth_token_url: str,
    key_set_url: str,
    name: str | None = None,
    source: RegistrationSource = RegistrationSource.CLI,
    status: RegistrationStatus = RegistrationStatus.ACTIVE,
    now: datetime | None = None,
) -> LtiRegistration:
    """Register a platform, or add `deployment_id` to the registration of issuer + client_id if it exists.

    Raise RegistrationError naming the field when a value is empty or not an absolute http(s) URL, or when
    an existing registration has different endpoint URLs (changing them is a separate, deliberate act).
    """
    issuer = _require_text("issuer", issuer)
    client_id = _require_text("client_id", client_id)
    deployment_id = _require_text("deployment_id", deployment_id)
    urls = {
        "auth_login_url": _require_url("auth_login_url", auth_login_url),
        "auth_token_url": _require_url("auth_token_url", auth_token_url),
        "key_set_url": _require_url("key_set_url", key_set_url),
    }
    display_name = _require_text("name", name) if name is not None else issuer
    registration = session.scalars(
        select(LtiRegistration)
        .where(LtiRegistration.issuer == issuer, LtiRegistration.client_id == client_id)
        .options(selectinload(LtiRegistration.deployments))
    ).one_or_none()
    if registration is None:
        when = now or utcnow()
        registration = LtiRegistration(
            issuer=issuer,
            client_id=client_id,
            name=display_name,
            auth_audience=None,
            status=status,
            source=source,
            platform_config={},
            created_at=when,
            approved_at=when if status == RegistrationStatus.ACTIVE else None,
            deployments=[],
            **urls,
        )
        session.add(registration)
    else:
        for field, value in urls.items():
            stored = getattr(registration, field)
            if stored != value:
                raise RegistrationError(
                    f"{field} {value!r} differs from {stored!r} already registered for issuer {issuer!r} "
                    f"and client_id {client_id!r} (registration {registration.id})"
                )
    if all(deployment.deployment_id != deployment_id for deployment in registration.deployments):
        registration.deployments.append(LtiDeployment(deployment_id=deployment_id, is_active=True))
    session.flush()
    return registration


def list_platforms(session: Session) -> list[LtiRegistration]:
    """Every registration with its deployments, oldest first."""
    return list(
        session.scalars(
            select(LtiRegistration)
            .options(selectinload(LtiRegistration.deployments))
            .order_by(LtiRegistration.id)
        )
    )


def get_platform(session: Session, registration_id: int) -> LtiRegistration:
    """The registration with `registration_id`; RegistrationError if there is none."""
    registration = session.get(LtiRegistration, registration_id)
    if registration is None:
        raise RegistrationError(f"no platform registration with id {registration_id}")
    return registration


def approve_platform(
    session: Session, registration_id: int, *, now: datetime | None = None
) -> LtiRegistration:
    """Make a pending (or disabled) registration active, so its launches are accepted."""
    registration = get_platform(session, registration_id)
    if registration.status != RegistrationStatus.ACTIVE:
        registration.status = RegistrationStatus.ACTIVE
        registration.approved_at = now or utcnow()
    session.flush()
    return registration


def disable_platform(session: Session, registration_id: int) -> LtiRegistration:
    """Disable a registration: its launches are rejected until it is approved again."""
    registration = get_platform(session, registration_id)
    registration.status = RegistrationStatus.DISABLED
    session.flush()
    return registration
