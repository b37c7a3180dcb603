"""Roster pull, the organisation: orgs and academic sessions (the calendar tree), plus the helpers the
course catalogue (`roster_classes`) shares.

Each function takes one batch of OneRoster records, compares them with the rows they map to (one read per
batch), and writes only what changed: new rows in one multi-row INSERT, changed rows in one bulk UPDATE. A row belongs to a connection through its org (`orgs.sis_connection_id`); a row of another
connection with the same sourcedId is never touched (the record is skipped with a warning).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import ColumnElement, Table

from connectors.oneroster.records import AcademicSession as SisSession
from connectors.oneroster.records import Org as SisOrg
from connectors.oneroster.records import Status
from lti_tool.models import (
    AcademicSession,
    ClassSession,
    Course,
    OrgType,
    SchoolClass,
    SessionType,
)
from lti_tool.sis.roster_context import ORGS, Change, PullContext, changed_columns, compare
from lti_tool.sis.upsert import AnyRow, insert_rows, select_in, table_of, update_by_id

SESSIONS = table_of(AcademicSession)
COURSES = table_of(Course)
CLASSES = table_of(SchoolClass)
CLASS_SESSIONS = table_of(ClassSession)

# OneRoster org types (1.1 §4.13.5, 1.2 rostering §4.13.6 OrgTypeEnum) onto the two the tool keeps: a
# school holds classes (a department is part of one); every body above schools reads as a district.
ORG_TYPES: Final[Mapping[str, OrgType]] = {
    "school": OrgType.SCHOOL,
    "department": OrgType.SCHOOL,
    "district": OrgType.DISTRICT,
    "local": OrgType.DISTRICT,
    "state": OrgType.DISTRICT,
    "national": OrgType.DISTRICT,
}
# OneRoster SessionTypeEnum (1.1 §4.13.7, 1.2 rostering §4.13.7), compared case-insensitively.
SESSION_TYPES: Final[Mapping[str, SessionType]] = {
    "schoolyear": SessionType.SCHOOL_YEAR,
    "semester": SessionType.SEMESTER,
    "term": SessionType.TERM,
    "gradingperiod": SessionType.GRADING_PERIOD,
}


def is_active(status: Status) -> bool:
    """`active` is active; `tobedeleted` (and 1.1's `inactive`, 1.2 §4.13.8) deactivates."""
    return status is Status.ACTIVE


def owned_rows(
    ctx: PullContext, table: Table, columns: Sequence[str], sourced_ids: Sequence[str]
) -> dict[str, AnyRow]:
    """sourcedId -> row (with `owner`, the connection owning its org) for the given records."""
    selected: list[ColumnElement[Any]] = [table.c[name] for name in ("id", "sourced_id", *columns)]
    selected.append(ORGS.c.sis_connection_id.label("owner"))
    rows = select_in(
        ctx.db, selected, table.c.sourced_id, sourced_ids, from_=table.join(ORGS, ORGS.c.id == table.c.org_id)
    )
    return {row.sourced_id: row for row in rows}


def is_foreign(ctx: PullContext, row: AnyRow | None) -> bool:
    return row is not None and row.owner not in (None, ctx.connection_id)


def write(
    ctx: PullContext, table: Table, inserts: list[dict[str, Any]], updates: list[dict[str, Any]]
) -> dict[str, int]:
    """Insert the new rows and update the changed ones; sourcedId -> id of the inserted rows."""
    update_columns = [name for name in inserts[0] if name != "sourced_id"] if inserts else []
    created = insert_rows(
        ctx.db,
        table,
        inserts,
        conflict=["sourced_id"],
        update_columns=update_columns,
        returning=["sourced_id", "id"],
    )
    update_by_id(ctx.db, table, updates)
    return {row.sourced_id: row.id for row in created}


def stage(
    ctx: PullContext,
    collection: str,
    sourced_id: str,
    row: AnyRow | None,
    values: dict[str, Any],
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
) -> Change | None:
    """Queue the write `values` call for; None when there is nothing to store (a deletion of a stranger)."""
    change = compare(row, values)
    if row is None:
        if not values["is_active"]:
            ctx.tally(collection).unchanged += 1  # deleted in the SIS before we ever stored it
            return None
        inserts.append({"sourced_id": sourced_id, **values})
    elif change is not Change.UNCHANGED:
        updates.append({"id": row.id, **changed_columns(row, values)})
    return change


def _parent_lookup(
    ctx: PullContext, table: Table, owned: Mapping[str, int], wanted: set[str]
) -> dict[str, int]:
    """sourcedId -> id for parents: this connection's rows first, then any row with that sourcedId."""
    found = {sid: owned[sid] for sid in wanted if sid in owned}
    missing = wanted - found.keys()
    if missing:
        rows = select_in(ctx.db, [table.c.sourced_id, table.c.id], table.c.sourced_id, missing)
        found.update({row.sourced_id: row.id for row in rows})
    return found


def _set_parents(
    ctx: PullContext,
    collection: str,
    table: Table,
    owned: Mapping[str, int],
    parents: Mapping[str, str | None],
    current: Mapping[str, int | None],
    changes: dict[str, Change],
) -> None:
    """Second pass of a tree: point each row at its parent once every row of the batch has an id."""
    lookup = _parent_lookup(ctx, table, owned, {p for p in parents.values() if p})
    updates: list[dict[str, Any]] = []
    for sourced_id, parent in parents.items():
        want = lookup.get(parent) if parent else None
        if parent and want is None:
            ctx.warn(collection, sourced_id, f"parent {parent!r} is unknown; stored without a parent")
        if want != current.get(sourced_id):
            updates.append({"id": owned[sourced_id], "parent_id": want})
            if changes[sourced_id] is Change.UNCHANGED:
                changes[sourced_id] = Change.UPDATED
    update_by_id(ctx.db, table, updates)


def pull_orgs(ctx: PullContext, records: Sequence[SisOrg]) -> None:
    """Orgs (1.2 rostering §4.2.9): name, type, status and the parent tree; claims them for the connection."""
    collection = "orgs"
    ctx.see(collection, (record.sourced_id for record in records))
    names = ("id", "sourced_id", "name", "type", "is_active", "parent_id", "sis_connection_id")
    rows = select_in(
        ctx.db,
        [*(ORGS.c[name] for name in names), ORGS.c.sis_connection_id.label("owner")],
        ORGS.c.sourced_id,
        [record.sourced_id for record in records],
    )
    existing = {row.sourced_id: row for row in rows}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    changes: dict[str, Change] = {}
    parents: dict[str, str | None] = {}
    for record in records:
        sourced_id = record.sourced_id
        row = existing.get(sourced_id)
        org_type = ORG_TYPES.get(record.type.casefold())
        if org_type is None:
            ctx.skip(collection, sourced_id, f"org type {record.type!r} is not one the tool keeps")
            continue
        if is_foreign(ctx, row):
            ctx.skip(collection, sourced_id, "the org belongs to another SIS connection")
            continue
        values = {
            "name": record.name[:255],
            "type": org_type,
            "is_active": is_active(record.status),
            "sis_connection_id": ctx.connection_id,  # an org nobody owned yet is adopted (an update)
        }
        change = stage(ctx, collection, sourced_id, row, values, inserts, updates)
        if change is not None:
            changes[sourced_id] = change
            parents[sourced_id] = record.parent_sourced_id
    ctx.org_ids.update({sid: row.id for sid, row in existing.items() if sid in changes})
    ctx.org_ids.update(write(ctx, ORGS, inserts, updates))
    current_parents = {sid: row.parent_id for sid, row in existing.items()}
    _set_parents(ctx, collection, ORGS, ctx.org_ids, parents, current_parents, changes)
    for change in changes.values():
        ctx.tally(collection).add(change)


def pull_sessions(ctx: PullContext, records: Sequence[SisSession]) -> None:
    """Academic sessions (1.2 rostering §4.2.1) as the calendar tree grades use, under the home org.

    OneRoster sessions name no org; the tool files them under the connection's district (`home_org_id`),
    where `lti_tool.registrar.lookup.gradable_periods` finds them for each of its schools.
    """
    collection = "academicSessions"
    ctx.see(collection, (record.sourced_id for record in records))
    columns = ("title", "type", "start_date", "end_date", "is_active", "parent_id")
    existing = owned_rows(ctx, SESSIONS, columns, [record.sourced_id for record in records])
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    changes: dict[str, Change] = {}
    parents: dict[str, str | None] = {}
    for record in records:
        sourced_id = record.sourced_id
        row = existing.get(sourced_id)
        session_type = SESSION_TYPES.get(record.type.casefold())
        if session_type is None:
            ctx.skip(collection, sourced_id, f"session type {record.type!r} is not a OneRoster type")
            continue
        if record.end_date < record.start_date:
            ctx.skip(collection, sourced_id, "endDate is before startDate")
            continue
        if is_foreign(ctx, row):
            ctx.skip(collection, sourced_id, "the session belongs to another SIS connection")
            continue
        if row is None and ctx.home_org_id is None:
            ctx.skip(collection, sourced_id, "no district org to file the calendar under")
            continue
        values = {
            "title": record.title[:255],
            "type": session_type,
            "start_date": record.start_date,
            "end_date": record.end_date,
            "is_active": is_active(record.status),
        }
        change = stage(ctx, collection, sourced_id, row, values, inserts, updates)
        if change is not None:
            changes[sourced_id] = change
            parents[sourced_id] = record.parent_sourced_id
    for item in inserts:
        item["org_id"] = ctx.home_org_id
    ctx.session_ids.update({sid: row.id for sid, row in existing.items() if sid in changes})
    ctx.session_ids.update(write(ctx, SESSIONS, inserts, updates))
    current_parents = {sid: row.parent_id for sid, row in existing.items()}
    _set_parents(ctx, collection, SESSIONS, ctx.session_ids, parents, current_parents, changes)
    for change in changes.values():
        ctx.tally(collection).add(change)
