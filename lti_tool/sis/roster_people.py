"""Roster pull, the people: users, their enrollments and (only when switched on) their demographics.

A SIS user is a `Person` with `PersonIdentifier(sis, <connection name>, sourcedId)`; the username is kept
case-folded as `PersonIdentifier(sis, "<connection>#username", ...)` for identity matching, and the email
on the person. A username two users share is marked under `#username-conflict` and never matched on.
Nothing here logs or warns with a name, email, username or demographic value: sourcedIds only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import date
from typing import Any, Final

from sqlalchemy import select

from connectors.oneroster.records import Demographics as SisDemographics
from connectors.oneroster.records import Enrollment as SisEnrollment
from connectors.oneroster.records import User as SisUser
from lti_tool.models import Demographic, Enrollment, EnrollmentRole, IdentifierSource, Person
from lti_tool.sis.roster_catalog import CLASSES, is_active
from lti_tool.sis.roster_context import IDENTIFIERS, ORGS, Change, PullContext, changed_columns, compare
from lti_tool.sis.upsert import (
    AnyRow,
    delete_in,
    insert_new_ids,
    insert_rows,
    select_in,
    select_tuples_in,
    table_of,
    update_by_id,
)

PERSONS = table_of(Person)
ENROLLMENTS = table_of(Enrollment)
DEMOGRAPHICS = table_of(Demographic)

# Enrollment roles (1.1 §4.13.6 RoleEnum; 1.2 rostering §4.13.5 EnrolRoleEnum) onto the tool's.
ENROLLMENT_ROLES: Final[Mapping[str, EnrollmentRole]] = {
    "student": EnrollmentRole.STUDENT,
    "teacher": EnrollmentRole.TEACHER,
    "aide": EnrollmentRole.TEACHING_ASSISTANT,
    "proctor": EnrollmentRole.TEACHING_ASSISTANT,
    "administrator": EnrollmentRole.ADMINISTRATOR,
    "guardian": EnrollmentRole.OBSERVER,
    "parent": EnrollmentRole.OBSERVER,
    "relative": EnrollmentRole.OBSERVER,
}
_RECORD_FIELDS: Final = frozenset({"sourced_id", "status", "date_last_modified"})


def _text(value: str | None, limit: int) -> str | None:
    return (value.strip()[:limit] or None) if value is not None else None


def pull_users(ctx: PullContext, records: Sequence[SisUser]) -> None:
    """Users (1.2 rostering §4.2.13): a person per sourcedId with names, email, status and username."""
    collection = "users"
    ctx.see(collection, (record.sourced_id for record in records))
    rows = select_in(
        ctx.db,
        [
            IDENTIFIERS.c.value.label("sourced_id"),
            PERSONS.c.id,
            PERSONS.c.given_name,
            PERSONS.c.family_name,
            PERSONS.c.email,
            PERSONS.c.is_active,
        ],
        IDENTIFIERS.c.value,
        [record.sourced_id for record in records],
        IDENTIFIERS.c.source == IdentifierSource.SIS,
        IDENTIFIERS.c.system == ctx.system,
        from_=IDENTIFIERS.join(PERSONS, PERSONS.c.id == IDENTIFIERS.c.person_id),
    )
    existing = {row.sourced_id: row for row in rows}
    new_people: list[tuple[str, dict[str, Any]]] = []
    updates: list[dict[str, Any]] = []
    changes: dict[str, Change] = {}
    usernames: dict[str, str | None] = {}
    for record in records:
        sourced_id = record.sourced_id
        row = existing.get(sourced_id)
        values = {
            "given_name": record.given_name.strip()[:255],
            "family_name": record.family_name.strip()[:255],
            "email": _text(record.email, 320),
            "is_active": is_active(record.status),
        }
        change = compare(row, values)
        if row is None:
            if not values["is_active"]:
                ctx.tally(collection).unchanged += 1
                continue
            new_people.append((sourced_id, {**values, "created_at": ctx.started_at}))
        elif change is not Change.UNCHANGED:
            updates.append({"id": row.id, **changed_columns(row, values)})
        changes[sourced_id] = change
        username = _text(record.username, 255)
        usernames[sourced_id] = username.casefold() if username else None
    created = insert_new_ids(ctx.db, PERSONS, [values for _, values in new_people])
    for (sourced_id, _), person_id in zip(new_people, created, strict=True):
        ctx.person_ids[sourced_id] = person_id
    insert_rows(
        ctx.db,
        IDENTIFIERS,
        [
            {
                "person_id": ctx.person_ids[sid],
                "source": IdentifierSource.SIS,
                "system": ctx.system,
                "value": sid,
            }
            for sid, _ in new_people
        ],
        conflict=["source", "system", "value"],
    )
    update_by_id(ctx.db, PERSONS, updates)
    for sourced_id, row in existing.items():
        ctx.person_ids[sourced_id] = row.id
    for sourced_id in _set_usernames(ctx, usernames):
        if changes[sourced_id] is Change.UNCHANGED:
            changes[sourced_id] = Change.UPDATED
    for change in changes.values():
        ctx.tally(collection).add(change)


def _set_usernames(ctx: PullContext, usernames: Mapping[str, str | None]) -> set[str]:
    """Make each user's username identifier what the SIS says; the sourcedIds whose username changed."""
    person_to_sid = {ctx.person_ids[sid]: sid for sid in usernames}
    current: dict[int, str] = {}
    for person_id, value in select_in(
        ctx.db,
        [IDENTIFIERS.c.person_id, IDENTIFIERS.c.value],
        IDENTIFIERS.c.person_id,
        person_to_sid,
        IDENTIFIERS.c.source == IdentifierSource.SIS,
        IDENTIFIERS.c.system == ctx.username_system,
    ):
        current[person_id] = value
    wanted = {ctx.person_ids[sid]: name for sid, name in usernames.items() if name}
    holders = {
        value: person_id
        for value, person_id in select_in(
            ctx.db,
            [IDENTIFIERS.c.value, IDENTIFIERS.c.person_id],
            IDENTIFIERS.c.value,
            set(wanted.values()),
            IDENTIFIERS.c.source == IdentifierSource.SIS,
            IDENTIFIERS.c.system == ctx.username_system,
        )
    }
    stale = [person_id for person_id, value in current.items() if wanted.get(person_id) != value]
    changed = {person_to_sid[person_id] for person_id in stale}
    if stale:
        delete_in(ctx.db, IDENTIFIERS, IDENTIFIERS.c.id, _username_row_ids(ctx, stale))
        for person_id in stale:
            holders.pop(current[person_id], None)
    claims: list[dict[str, Any]] = []
    conflicts: list[dict[str, Any]] = []
    for person_id, value in sorted(wanted.items()):
        if current.get(person_id) == value:
            continue
        holder = holders.get(value)
        row = {"person_id": person_id, "source": IdentifierSource.SIS, "value": value}
        if holder is not None and holder != person_id:
            conflicts.append({**row, "system": ctx.username_conflict_system})
            ctx.warn("users", person_to_sid[person_id], "username is shared with another SIS user; "
                     "it is not used for identity matching")  # fmt: skip
            continue
        holders[value] = person_id
        claims.append({**row, "system": ctx.username_system})
        changed.add(person_to_sid[person_id])
    insert_rows(ctx.db, IDENTIFIERS, claims, conflict=["source", "system", "value"])
    insert_rows(ctx.db, IDENTIFIERS, conflicts, conflict=["source", "system", "value"])
    return changed


def _username_row_ids(ctx: PullContext, person_ids: Sequence[int]) -> list[int]:
    return [
        row.id
        for row in select_in(
            ctx.db,
            [IDENTIFIERS.c.id],
            IDENTIFIERS.c.person_id,
            person_ids,
            IDENTIFIERS.c.source == IdentifierSource.SIS,
            IDENTIFIERS.c.system == ctx.username_system,
        )
    ]


def pull_enrollments(ctx: PullContext, records: Sequence[SisEnrollment]) -> None:
    """Enrollments (1.2 rostering §4.2.7): role, status and dates of a user in a class.

    `(class, person, role)` is unique. An enrollment the LMS created for the same triple (no sourcedId;
    launches and NRPS sync make them) is adopted; an inactive SIS enrollment of that triple is taken over
    by an active one; any other duplicate is skipped with a warning.
    """
    collection = "enrollments"
    ctx.see(collection, (record.sourced_id for record in records))
    names = ("id", "sourced_id", "class_id", "person_id", "role", "is_active", "begin_date", "end_date")
    columns = [ENROLLMENTS.c[name] for name in names]
    existing = {
        row.sourced_id: row
        for row in select_in(ctx.db, columns, ENROLLMENTS.c.sourced_id, [r.sourced_id for r in records])
    }
    owned_classes = set(ctx.class_ids.values())
    staged: list[tuple[str, AnyRow | None, dict[str, Any]]] = []
    for record in records:
        sourced_id = record.sourced_id
        row = existing.get(sourced_id)
        class_id = ctx.class_ids.get(record.class_sourced_id)
        person_id = ctx.person_ids.get(record.user_sourced_id)
        role = ENROLLMENT_ROLES.get(record.role.casefold())
        if row is not None and row.class_id not in owned_classes:
            ctx.skip(collection, sourced_id, "the enrollment belongs to another SIS connection")
        elif class_id is None:
            ctx.skip(collection, sourced_id, f"class {record.class_sourced_id!r} is unknown")
        elif person_id is None:
            ctx.skip(collection, sourced_id, f"user {record.user_sourced_id!r} is unknown")
        elif role is None:
            ctx.skip(collection, sourced_id, f"role {record.role!r} is not one the tool keeps")
        else:
            values = {
                "class_id": class_id,
                "person_id": person_id,
                "role": role,
                "is_active": is_active(record.status),
                "begin_date": record.begin_date,
                "end_date": record.end_date,
            }
            staged.append((sourced_id, row, values))
    _write_enrollments(ctx, staged)


def _triple(values: Mapping[Any, Any]) -> tuple[int, int, str]:
    return (values["class_id"], values["person_id"], str(values["role"]))


_ROLE_NUMBERS: Final = {str(role): number for number, role in enumerate(EnrollmentRole)}


def _triple_key(class_id: int, person_id: int, role: str) -> int:
    """One int per (class, person, role): a set of 300,000 of them costs ~15 MB, not ~60 MB of tuples."""
    return (class_id * 4_294_967_296 + person_id) * 8 + _ROLE_NUMBERS[str(role)]


def _held_triples(ctx: PullContext) -> set[int]:
    """Every (class, person, role) already enrolled in this connection's classes, read once per pull.

    One pass over the connection's enrollments instead of a row-value `IN` per batch, which PostgreSQL
    answers slowly; the rare batch that hits a held triple then reads just those rows.
    """
    if ctx.held_triples is None:
        rows = ctx.db.execute(
            select(ENROLLMENTS.c.class_id, ENROLLMENTS.c.person_id, ENROLLMENTS.c.role)
            .join(CLASSES, CLASSES.c.id == ENROLLMENTS.c.class_id)
            .join(ORGS, ORGS.c.id == CLASSES.c.org_id)
            .where(ORGS.c.sis_connection_id == ctx.connection_id)
        )
        ctx.held_triples = {_triple_key(class_id, person_id, role) for class_id, person_id, role in rows}
    return ctx.held_triples


def _write_enrollments(ctx: PullContext, staged: list[tuple[str, AnyRow | None, dict[str, Any]]]) -> None:
    collection = "enrollments"
    tally = ctx.tally(collection)
    held = _held_triples(ctx)
    moving = {
        _triple(values)
        for _, row, values in staged
        if (row is None or _triple(row._mapping) != _triple(values)) and _triple_key(*_triple(values)) in held
    }
    names = ("id", "sourced_id", "class_id", "person_id", "role", "is_active", "begin_date", "end_date")
    holders = {
        _triple(row._mapping): row
        for row in select_tuples_in(
            ctx.db,
            [ENROLLMENTS.c[name] for name in names],
            [ENROLLMENTS.c.class_id, ENROLLMENTS.c.person_id, ENROLLMENTS.c.role],
            moving,
        )
    }
    claimed: dict[tuple[int, int, str], str] = {}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for sourced_id, row, values in staged:
        triple = _triple(values)
        holder = holders.get(triple)
        if claimed.get(triple, sourced_id) != sourced_id:
            ctx.skip(
                collection, sourced_id, f"duplicates enrollment {claimed[triple]!r} (same user, class, role)"
            )
            continue
        if holder is not None and (row is None or holder.id != row.id):
            if row is None and (holder.sourced_id is None or (not holder.is_active and values["is_active"])):
                row = holder  # the LMS's enrollment of that triple, or an ended one: take it over
                values = {**values, "sourced_id": sourced_id}
            else:
                other = holder.sourced_id or "created by the LMS"
                ctx.skip(collection, sourced_id, f"duplicates enrollment {other!r} (same user, class, role)")
                continue
        change = compare(row, values)
        if row is None:
            if not values["is_active"]:
                tally.unchanged += 1
                continue
            inserts.append({"sourced_id": sourced_id, **values})
        elif change is not Change.UNCHANGED:
            updates.append({"id": row.id, **changed_columns(row, values)})
        claimed[triple] = sourced_id
        held.add(_triple_key(*triple))
        tally.add(change)
    insert_rows(
        ctx.db,
        ENROLLMENTS,
        inserts,
        conflict=["sourced_id"],
        update_columns=["class_id", "person_id", "role", "is_active", "begin_date", "end_date"],
    )
    update_by_id(ctx.db, ENROLLMENTS, updates)


def demographic_data(record: SisDemographics) -> dict[str, Any]:
    """The demographic fields the SIS sent (None left out), dates as ISO strings, for `Demographic.data`."""
    data: dict[str, Any] = {}
    for item in fields(record):
        if item.name in _RECORD_FIELDS:
            continue
        value = getattr(record, item.name)
        if value is None:
            continue
        data[item.name] = value.isoformat() if isinstance(value, date) else value
    return data


def pull_demographics(ctx: PullContext, records: Sequence[SisDemographics]) -> None:
    """Demographics (1.2 rostering §4.2.6) of known users; `tobedeleted` removes the row (sensitive data)."""
    collection = "demographics"
    tally = ctx.tally(collection)
    ctx.see(collection, (record.sourced_id for record in records))
    wanted: dict[int, tuple[str, dict[str, Any] | None]] = {}
    for record in records:
        person_id = ctx.person_ids.get(record.sourced_id)
        if person_id is None:
            ctx.skip(collection, record.sourced_id, "user is unknown")
            continue
        wanted[person_id] = (
            record.sourced_id,
            demographic_data(record) if is_active(record.status) else None,
        )
    current = {
        row.person_id: row.data
        for row in select_in(
            ctx.db, [DEMOGRAPHICS.c.person_id, DEMOGRAPHICS.c.data], DEMOGRAPHICS.c.person_id, wanted
        )
    }
    upserts: list[dict[str, Any]] = []
    removed: list[int] = []
    for person_id, (_, data) in wanted.items():
        have = current.get(person_id)
        if data is None:
            if have is None:
                tally.unchanged += 1
            else:
                removed.append(person_id)
                tally.deactivated += 1
        elif have is None:
            upserts.append({"person_id": person_id, "data": data})
            tally.created += 1
        elif have != data:
            upserts.append({"person_id": person_id, "data": data})
            tally.updated += 1
        else:
            tally.unchanged += 1
    insert_rows(ctx.db, DEMOGRAPHICS, upserts, conflict=["person_id"], update_columns=["data"])
    delete_in(ctx.db, DEMOGRAPHICS, DEMOGRAPHICS.c.person_id, removed)
