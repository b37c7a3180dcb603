"""SIS connections: create, update and find them; the client secret is encrypted at rest.

The secret is encrypted with `lti_tool.crypto` before it reaches the row and decrypted only to build an
authenticator (`lti_tool.sis.clients`); nothing here returns it, and nothing logs it. Creating or changing a
connection writes an AuditLog row naming the fields changed, never their values.

Functions take a `Session` and never commit; the CLI command or the request owns the transaction.
The client builders are re-exported here, so `lti_tool.sis.connection` is the one place to start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.crypto import encrypt_secret
from lti_tool.models import AuditLog, Org, SisConnection
from lti_tool.sis.clients import (
    build_authenticator,
    build_grade_sink,
    build_roster_source,
    build_transport,
    connection_secret,
    gradebook_url,
    open_grade_sink,
    open_roster_source,
    rostering_url,
    scope_sets,
)
from lti_tool.sis.connection_rules import (
    ConnectionOptions,
    SisConnectionError,
    connection_options,
    parse_options,
    validate_auth,
    validate_base_url,
    validate_client_id,
    validate_name,
    validate_options,
    validate_profile,
    validate_scopes,
    validate_secret,
    validate_version,
)

if TYPE_CHECKING:
    from lti_tool.settings import Settings

__all__ = [
    "ConnectionOptions",
    "SisConnectionError",
    "build_authenticator",
    "build_grade_sink",
    "build_roster_source",
    "build_transport",
    "connection_options",
    "connection_secret",
    "create_connection",
    "get_connection",
    "gradebook_url",
    "list_connections",
    "open_grade_sink",
    "open_roster_source",
    "rostering_url",
    "scope_sets",
    "update_connection",
]


def _resolve_org(session: Session, org: str | int | None) -> int | None:
    if org is None or org == "":
        return None
    row = (
        session.get(Org, org)
        if isinstance(org, int)
        else session.scalar(select(Org).where(Org.sourced_id == org))
    )
    if row is None:
        raise SisConnectionError(f"org {org!r} is not known (give an org sourcedId)", field="org")
    return row.id


def _audit(
    session: Session, connection: SisConnection, *, action: str, actor: str, changed: Sequence[str]
) -> None:
    # Field names only, never values: the secret above all must not reach the audit trail.
    session.add(
        AuditLog(
            actor=actor,
            action=action,
            entity_type="sis_connection",
            entity_id=str(connection.id),
            detail={"name": connection.name, "changed": sorted(changed)},
        )
    )


def create_connection(
    session: Session,
    *,
    name: str,
    profile: str,
    base_url: str,
    version: str | None,
    auth: str | None,
    client_id: str,
    secret: str,
    secret_key: Settings | str,
    scopes: Sequence[str] = (),
    settings: Mapping[str, Any] | ConnectionOptions | None = None,
    org: str | int | None = None,
    actor: str = "cli",
) -> SisConnection:
    """Validate and add a connection; `version`/`auth` None take the profile's defaults."""
    clean_name = validate_name(name)
    vendor = validate_profile(profile)
    if session.scalar(select(SisConnection.id).where(func.lower(SisConnection.name) == clean_name.lower())):
        raise SisConnectionError(
            f"an SIS connection named {clean_name!r} exists already; change it with `sis update`",
            field="name",
        )
    clean_version = validate_version(version or vendor.default_version.value, vendor)
    clean_auth = validate_auth(auth or vendor.auth.value, clean_version)
    options = (
        settings
        if isinstance(settings, ConnectionOptions)
        else parse_options(settings or {}, where="settings")
    )
    connection = SisConnection(
        name=clean_name,
        profile=vendor.name,
        base_url=validate_base_url(base_url),
        version=clean_version,
        auth=clean_auth,
        client_id=validate_client_id(client_id),
        secret_encrypted=encrypt_secret(secret_key, validate_secret(secret).encode("utf-8")),
        scopes=" ".join(validate_scopes(scopes)),
        settings=validate_options(options, auth=clean_auth, profile=vendor).to_json(),
        org_id=_resolve_org(session, org),
        is_enabled=True,
    )
    session.add(connection)
    session.flush()
    _audit(session, connection, action="sis_connection.create", actor=actor, changed=["*"])
    return connection


_UNSET: Final[Any] = object()


def update_connection(
    session: Session,
    name: str,
    *,
    secret_key: Settings | str,
    base_url: str | None = None,
    version: str | None = None,
    client_id: str | None = None,
    secret: str | None = None,
    scopes: Sequence[str] | None = None,
    settings: Mapping[str, Any] | None = None,
    org: str | int | None = _UNSET,
    is_enabled: bool | None = None,
    actor: str = "cli",
) -> SisConnection:
    """Change a connection; `settings` keys are merged (a None value removes one). Everything is re-validated."""
    connection = get_connection(session, name)
    vendor = validate_profile(connection.profile)
    changed: list[str] = []
    if base_url is not None:
        connection.base_url = validate_base_url(base_url)
        changed.append("base_url")
    if version is not None:
        connection.version = validate_version(version, vendor)
        changed.append("version")
    validate_auth(connection.auth.value, connection.version)
    if client_id is not None:
        connection.client_id = validate_client_id(client_id)
        changed.append("client_id")
    if secret is not None:
        connection.secret_encrypted = encrypt_secret(secret_key, validate_secret(secret).encode("utf-8"))
        changed.append("secret")
    if scopes is not None:
        connection.scopes = " ".join(validate_scopes(scopes))
        changed.append("scopes")
    merged = dict(connection.settings or {})
    if settings:
        for key, value in settings.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        changed.extend(f"settings.{key}" for key in settings)
    options = validate_options(parse_options(merged, where="settings"), auth=connection.auth, profile=vendor)
    connection.settings = options.to_json()
    if org is not _UNSET:
        connection.org_id = _resolve_org(session, org)
        changed.append("org")
    if is_enabled is not None:
        connection.is_enabled = is_enabled
        changed.append("is_enabled")
    session.flush()
    _audit(session, connection, action="sis_connection.update", actor=actor, changed=changed)
    return connection


def get_connection(session: Session, name_or_id: str | int) -> SisConnection:
    """The connection with this name (case-insensitive) or row id."""
    if isinstance(name_or_id, int):
        connection = session.get(SisConnection, name_or_id)
    else:
        connection = session.scalar(
            select(SisConnection).where(func.lower(SisConnection.name) == name_or_id.strip().lower())
        )
    if connection is None:
        raise SisConnectionError(
            f"no SIS connection named {name_or_id!r}; `mastery-bridge sis list` shows them", field="name"
        )
    return connection


def list_connections(session: Session) -> list[SisConnection]:
    """Every connection, by name."""
    return list(session.scalars(select(SisConnection).order_by(func.lower(SisConnection.name))))
