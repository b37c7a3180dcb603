"""NRPS 2.0 roster sync: people, their LTI and LIS identifiers and their enrollments in a context's class.

Functions take a `Session` and never commit. Nothing here logs names, emails or user ids: counts only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.lms import Member, MembershipSource
from lti_tool.errors import MasteryBridgeError
from lti_tool.lti.roles import decide_roles
from lti_tool.models import (
    Enrollment,
    EnrollmentRole,
    IdentifierSource,
    LtiContext,
    LtiRegistration,
    Person,
    PersonIdentifier,
)

logger = logging.getLogger(__name__)

#: `PersonIdentifier.system` of a member's `lis_person_sourcedid` (source `sis`): the SIS sourcedId the LMS
#: copied from the SIS, kept so the SIS sync can match LMS people to SIS people later.
LIS_SYSTEM: Final = "lis"
#: NRPS 2.0 §2.3: a member is `Active` unless the platform says `Inactive` (or `Deleted` in a differences
#: container); a member without a status is active.
ACTIVE_STATUS: Final = "Active"
DEFAULT_MIN_INTERVAL: Final = timedelta(minutes=10)
# Bound on the values of one `IN (...)`: far below SQLite's and PostgreSQL's parameter limits.
_IN_CHUNK: Final = 1000

T = TypeVar("T")


class RosterSyncError(MasteryBridgeError):
    """A roster cannot be synced (for example the context is not linked to a class yet)."""


@dataclass(frozen=True, slots=True)
class RosterSyncResult:
    """What a roster sync changed.

    `created`, `updated` and `unchanged` count members (each member is in exactly one): created means new to
    the tool or newly enrolled in the class; updated means a changed name, email, identifier or enrollment
    (reactivated, or a new role). `deactivated` counts enrollments switched off: members absent from the
    roster, `Inactive` or `Deleted`, or enrolled under a role they no longer hold. `members` is the roster size.
    """

    created: int
    updated: int
    deactivated: int
    unchanged: int
    members: int


def _chunks(values: Sequence[T], size: int = _IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _text(value: str | None, limit: int) -> str | None:
    return (value.strip()[:limit] or None) if value is not None else None


@dataclass(frozen=True, slots=True)
class _MemberData:
    user_id: str
    given_name: str | None
    family_name: str | None
    email: str | None
    sourced_id: str | None
    role: EnrollmentRole | None
    is_active: bool


def _member_data(member: Member) -> _MemberData:
    given = _text(member.given_name, 255)
    family = _text(member.family_name, 255)
    if given is None and family is None:
        given = _text(member.name, 255)  # as the launch does: a display name only, kept whole
    return _MemberData(
        user_id=member.user_id[:255],  # same truncation as the launch's `sub`, so both find one person
        given_name=given,
        family_name=family,
        email=_text(member.email, 320),
        sourced_id=_text(member.lis_person_sourcedid, 255),
        role=decide_roles(member.roles).enrollment_role,
        is_active=(member.status or ACTIVE_STATUS) == ACTIVE_STATUS,
    )


def _identifier_owners(
    session: Session, source: IdentifierSource, system: str, values: Iterable[str]
) -> dict[str, int]:
    """value -> person id for the identifiers among `values`, in one query per 1,000 values."""
    owners: dict[str, int] = {}
    for chunk in _chunks(sorted(set(values))):
        rows = session.execute(
            select(PersonIdentifier.value, PersonIdentifier.person_id).where(
                PersonIdentifier.source == source,
                PersonIdentifier.system == system,
                PersonIdentifier.value.in_(chunk),
            )
        )
        owners.update({value: person_id for value, person_id in rows})
    return owners


def _apply_person_fields(person: Person, data: _MemberData) -> bool:
    """Copy the optional name and email claims onto `person`; absent ones keep what we knew. True if changed."""
    changed = False
    if data.given_name is not None and person.given_name != data.given_name:
        person.given_name = data.given_name
        changed = True
    if data.family_name is not None and person.family_name != data.family_name:
        person.family_name = data.family_name
        changed = True
    if data.email is not None and person.email != data.email:
        person.email = data.email
        changed = True
    return changed


def sync_roster(
    session: Session,
    lti_context: LtiContext,
    memberships_url: str,
    *,
    source: MembershipSource,
    now: datetime,
) -> RosterSyncResult:
    """Bring the context's class in line with its NRPS roster (NRPS 2.0 §2.3); never deletes anything.

    Each member becomes a `Person` with a `PersonIdentifier(lti, issuer, user_id)` (and its
    `lis_person_sourcedid` as `PersonIdentifier(sis, "lis", ...)`) and, when a context role maps to one
    (`decide_roles`: Instructor -> teacher, Learner -> student, ...), an active `Enrollment` in the class.
    Enrollments of people absent from the roster, or `Inactive`, are set inactive. Enrollments that carry a
    `sourced_id` belong to the SIS sync and are left alone.

    Bulk: identifiers, people and enrollments are each loaded in one query (per 1,000 members) and new rows
    are inserted in batches, so a 300-member class costs a handful of statements, not one per member.
    """
    class_id = lti_context.class_id
    if class_id is None:
        raise RosterSyncError(f"LTI context {lti_context.id} is not linked to a class; launch into it first")
    registration = session.get(LtiRegistration, lti_context.registration_id)
    if registration is None:  # pragma: no cover - the foreign key makes this impossible
        raise RosterSyncError(f"LTI context {lti_context.id} names a missing registration")
    issuer = registration.issuer

    # A user listed twice (some platforms page inconsistently) counts once; the last entry wins.
    members = {data.user_id: data for data in map(_member_data, source.fetch_members(memberships_url))}

    person_ids = _identifier_owners(session, IdentifierSource.LTI, issuer, members)
    people: dict[int, Person] = {}
    for chunk in _chunks(sorted(set(person_ids.values()))):
        people.update(
            {person.id: person for person in session.scalars(select(Person).where(Person.id.in_(chunk)))}
        )

    new_people: dict[str, Person] = {}
    for user_id, data in members.items():
        if user_id not in person_ids:
            new_people[user_id] = Person(
                given_name=data.given_name or "",
                family_name=data.family_name or "",
                email=data.email,
                created_at=now,
                identifiers=[PersonIdentifier(source=IdentifierSource.LTI, system=issuer, value=user_id)],
            )
    session.add_all(new_people.values())
    session.flush()  # one batched INSERT per table; gives the new people their ids
    for user_id, person in new_people.items():
        person_ids[user_id] = person.id
        people[person.id] = person

    sourced_ids = [data.sourced_id for data in members.values() if data.sourced_id is not None]
    sis_owners = _identifier_owners(session, IdentifierSource.SIS, LIS_SYSTEM, sourced_ids)
    enrollments = {
        (row.person_id, row.role): row
        for row in session.scalars(select(Enrollment).where(Enrollment.class_id == class_id))
    }

    created = updated = unchanged = 0
    sourced_id_conflicts = 0
    wanted: set[tuple[int, EnrollmentRole]] = set()
    for user_id, data in members.items():
        person_id = person_ids[user_id]
        is_new = user_id in new_people
        is_changed = not is_new and _apply_person_fields(people[person_id], data)
        if data.sourced_id is not None:
            owner = sis_owners.get(data.sourced_id)
            if owner is None:
                session.add(
                    PersonIdentifier(
                        person_id=person_id,
                        source=IdentifierSource.SIS,
                        system=LIS_SYSTEM,
                        value=data.sourced_id,
                    )
                )
                sis_owners[data.sourced_id] = person_id
                is_changed = True
            elif owner != person_id:
                # Another person already holds this sourcedId (e.g. a second LMS account); never move it.
                sourced_id_conflicts += 1
        if data.role is not None and data.is_active:
            key = (person_id, data.role)
            wanted.add(key)
            enrollment = enrollments.get(key)
            if enrollment is None:
                enrollment = Enrollment(
                    class_id=class_id, person_id=person_id, role=data.role, is_active=True
                )
                session.add(enrollment)
                enrollments[key] = enrollment
                is_new = True
            elif not enrollment.is_active:
                enrollment.is_active = True
                is_changed = True
        if is_new:
            created += 1
        elif is_changed:
            updated += 1
        else:
            unchanged += 1

    deactivated = 0
    for key, enrollment in enrollments.items():
        if enrollment.is_active and key not in wanted and enrollment.sourced_id is None:
            enrollment.is_active = False
            deactivated += 1
    session.flush()

    result = RosterSyncResult(
        created=created, updated=updated, deactivated=deactivated, unchanged=unchanged, members=len(members)
    )
    logger.info(
        "roster sync of LTI context %s: %d members, %d created, %d updated, %d deactivated, %d unchanged",
        lti_context.id, result.members, created, updated, deactivated, unchanged,
    )  # fmt: skip
    if sourced_id_conflicts:
        logger.warning(
            "roster sync of LTI context %s: %d lis_person_sourcedid value(s) already belong to another person",
            lti_context.id, sourced_id_conflicts,
        )  # fmt: skip
    return result


# Debounce ---------------------------------------------------------------------------------------------
# The durable record is `LtiContext.last_roster_sync_at`. This per-process map only stops two requests of
# one worker from fetching the same roster at the same moment, before either has committed.
_last_synced: dict[tuple[int, str], datetime] = {}
_last_synced_lock = threading.Lock()


def sync_roster_if_stale(
    session: Session,
    lti_context: LtiContext,
    memberships_url: str,
    *,
    source: MembershipSource,
    now: datetime,
    min_interval: timedelta = DEFAULT_MIN_INTERVAL,
) -> RosterSyncResult | None:
    """`sync_roster` unless the context was synced less than `min_interval` ago (then None).

    Launches call this, so a class of students opening the tool at once costs one NRPS fetch. The last
    sync instant is `LtiContext.last_roster_sync_at`, written in the caller's transaction, so it is shared
    by every worker and forgotten when the sync is rolled back. A process-local slot additionally stops
    concurrent callers in this process from syncing twice; a failed sync releases it.
    """
    previous_sync = lti_context.last_roster_sync_at
    if previous_sync is not None and now - previous_sync < min_interval:
        return None
    key = (lti_context.registration_id, lti_context.context_id)
    with _last_synced_lock:
        previous = _last_synced.get(key)
        if previous is not None and now - previous < min_interval and previous_sync is not None:
            return None  # another request of this worker is syncing it right now
        _last_synced[key] = now
    try:
        result = sync_roster(session, lti_context, memberships_url, source=source, now=now)
    except BaseException:
        with _last_synced_lock:
            if _last_synced.get(key) == now:
                if previous is None:
                    del _last_synced[key]
                else:
                    _last_synced[key] = previous
        raise
    lti_context.last_roster_sync_at = now
    session.flush()
    return result


def forget_roster_syncs() -> None:
    """Forget every recorded sync instant (tests, or after the caller rolled a sync back)."""
    with _last_synced_lock:
        _last_synced.clear()
