"""The registration cache of logins and launches: reused for its TTL, emptied by any change made in-process."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from lti_tool.lti.registry import CACHE_SECONDS, RegistryCache
from lti_tool.models import LtiDeployment, LtiRegistration, RegistrationStatus
from lti_tool.registrations import add_platform, disable_platform

PLATFORM: dict[str, Any] = {
    "issuer": "https://lms.registry.example",
    "client_id": "registry-client",
    "deployment_id": "dep-1",
    "auth_login_url": "https://lms.registry.example/authorize",
    "auth_token_url": "https://lms.registry.example/token",
    "key_set_url": "https://lms.registry.example/jwks",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_registration_is_read_once_per_ttl(db_session: Session) -> None:
    registration = add_platform(db_session, **PLATFORM)
    clock = Clock()
    cache = RegistryCache(clock=clock)
    first = cache.registration(db_session, registration.id)
    # A bulk UPDATE bypasses the ORM events, like a change made by another process.
    db_session.execute(
        update(LtiRegistration)
        .where(LtiRegistration.id == registration.id)
        .values(status=RegistrationStatus.DISABLED)
        .execution_options(synchronize_session=False)
    )
    db_session.expire_all()

    assert first is not None
    assert first.status == RegistrationStatus.ACTIVE
    assert cache.registration(db_session, registration.id) == first
    clock.now += CACHE_SECONDS + 0.1
    again = cache.registration(db_session, registration.id)
    assert again is not None
    assert again.status == RegistrationStatus.DISABLED


def test_an_orm_change_in_this_process_takes_effect_at_once(db_session: Session) -> None:
    registration = add_platform(db_session, **PLATFORM)
    cache = RegistryCache(clock=Clock())
    assert [r.id for r in cache.registrations_for_login(db_session, PLATFORM["issuer"], None)] == [
        registration.id
    ]
    deployment = cache.deployment(db_session, registration.id, "dep-1")
    assert deployment is not None
    assert deployment.is_active

    disable_platform(db_session, registration.id)
    for row in db_session.query(LtiDeployment):
        row.is_active = False
    db_session.flush()

    (record,) = cache.registrations_for_login(db_session, PLATFORM["issuer"], None)
    assert record.status == RegistrationStatus.DISABLED
    deployment = cache.deployment(db_session, registration.id, "dep-1")
    assert deployment is not None
    assert not deployment.is_active


def test_unknown_rows_are_not_cached(db_session: Session) -> None:
    cache = RegistryCache(clock=Clock())
    assert cache.registrations_for_login(db_session, PLATFORM["issuer"], PLATFORM["client_id"]) == ()
    registration = add_platform(db_session, **PLATFORM)

    (record,) = cache.registrations_for_login(db_session, PLATFORM["issuer"], PLATFORM["client_id"])
    assert record.id == registration.id
    assert cache.deployment(db_session, registration.id, "dep-2") is None
