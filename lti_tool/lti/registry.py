"""Registrations and deployments as logins and launches see them: read-only records cached for a few seconds.

Every login and launch needs its registration and deployment, which change a few times a year. A
`RegistryCache` (one per app, so per worker process) keeps what it read for `CACHE_SECONDS`, so a change
made elsewhere (`mastery-bridge platforms disable` in another process, another worker) takes effect within
that time. It fails closed: only rows that exist are cached, and the status and `is_active` checks are made
on every request against the cached record, so a disabled registration is never accepted for longer than
that. A change made through the ORM in this process (`approve_platform`, `disable_platform`, dynamic
registration, a test's `registration.status = ...`) empties every cache at flush and again at commit, so it
takes effect at once here; bulk `UPDATE` statements and raw SQL do not, and wait out `CACHE_SECONDS`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import event, select
from sqlalchemy.orm import Mapper, Session, object_session

from lti_tool.models import LtiDeployment, LtiRegistration, RegistrationStatus

CACHE_SECONDS = 5.0

T = TypeVar("T")
_CHANGED = "mastery_bridge.registry_changed"
_generation_lock = threading.Lock()
_generation = 0


@dataclass(frozen=True, slots=True)
class RegistrationRecord:
    """What a login or launch reads of an `LtiRegistration` (a snapshot, detached from any session)."""

    id: int
    issuer: str
    client_id: str
    name: str
    status: RegistrationStatus
    auth_login_url: str
    key_set_url: str

    @classmethod
    def of(cls, row: LtiRegistration) -> RegistrationRecord:
        """The record of a loaded row."""
        return cls(
            id=row.id,
            issuer=row.issuer,
            client_id=row.client_id,
            name=row.name,
            status=row.status,
            auth_login_url=row.auth_login_url,
            key_set_url=row.key_set_url,
        )


@dataclass(frozen=True, slots=True)
class DeploymentRecord:
    """What a launch reads of an `LtiDeployment`."""

    id: int
    registration_id: int
    deployment_id: str
    is_active: bool
    org_id: int | None


@dataclass(frozen=True, slots=True)
class _Entry:
    value: Any
    expires_at: float
    generation: int


def forget_cached_registrations() -> None:
    """Empty every RegistryCache of this process (called on any ORM change of a registration or deployment)."""
    global _generation
    with _generation_lock:
        _generation += 1


class RegistryCache:
    """Thread-safe per-app cache of registration and deployment records, each kept for `ttl_seconds`."""

    def __init__(
        self, *, ttl_seconds: float = CACHE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[Hashable, _Entry] = {}

    def registration(self, session: Session, registration_id: int) -> RegistrationRecord | None:
        """The registration with `registration_id`, or None if there is none."""

        def load() -> RegistrationRecord | None:
            row = session.get(LtiRegistration, registration_id)
            return RegistrationRecord.of(row) if row is not None else None

        return self._cached(("registration", registration_id), load)

    def registrations_for_login(
        self, session: Session, issuer: str, client_id: str | None
    ) -> tuple[RegistrationRecord, ...]:
        """Up to two registrations of `issuer` (and `client_id` if given): two means the login is ambiguous."""

        def load() -> tuple[RegistrationRecord, ...] | None:
            query = select(LtiRegistration).where(LtiRegistration.issuer == issuer)
            if client_id:
                query = query.where(LtiRegistration.client_id == client_id)
            rows = tuple(RegistrationRecord.of(row) for row in session.scalars(query.limit(2)))
            return rows or None

        return self._cached(("login", issuer, client_id), load) or ()

    def deployment(
        self, session: Session, registration_id: int, deployment_id: str
    ) -> DeploymentRecord | None:
        """The deployment `deployment_id` of the registration, or None if it is unknown."""

        def load() -> DeploymentRecord | None:
            row = session.execute(
                select(LtiDeployment.id, LtiDeployment.is_active, LtiDeployment.org_id).where(
                    LtiDeployment.registration_id == registration_id,
                    LtiDeployment.deployment_id == deployment_id,
                )
            ).one_or_none()
            if row is None:
                return None
            return DeploymentRecord(
                id=row.id,
                registration_id=registration_id,
                deployment_id=deployment_id,
                is_active=row.is_active,
                org_id=row.org_id,
            )

        return self._cached(("deployment", registration_id, deployment_id), load)

    def _cached(self, key: Hashable, load: Callable[[], T | None]) -> T | None:
        now = self._clock()
        generation = _generation
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry.generation == generation and entry.expires_at > now:
            value: T = entry.value
            return value
        loaded = load()
        # Only rows that exist are kept: an unknown registration or deployment is looked up every time.
        if loaded is not None:
            with self._lock:
                self._entries[key] = _Entry(loaded, now + self._ttl, generation)
        return loaded


def _on_row_change(_mapper: Mapper[Any], _connection: Any, target: object) -> None:
    forget_cached_registrations()
    session = object_session(target)
    if session is not None:
        # Again at commit: another thread may have cached the old row between this flush and the commit.
        session.info[_CHANGED] = True


def _on_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        forget_cached_registrations()


for _model in (LtiRegistration, LtiDeployment):
    for _change in ("after_insert", "after_update", "after_delete"):
        event.listen(_model, _change, _on_row_change)
event.listen(Session, "after_commit", _on_commit)
