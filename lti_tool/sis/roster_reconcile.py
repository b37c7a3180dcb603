"""Full reconciliation: deactivate what this connection stored earlier and the SIS no longer returns.

Many SIS hard-delete records instead of marking them `tobedeleted`, and a delta pull cannot see a record
that is gone; a full pull can, by difference. Rows are never deleted (evidence, postings and reviews point
at them); they become `is_active = False`. Demographics are the exception: sensitive data whose user the
SIS no longer holds is deleted. A collection the SIS returned nothing for is left alone, with a warning:
an empty answer is far more often a scope or filter problem than a district that deleted everything.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Select, Table, select

from lti_tool.models import IdentifierSource
from lti_tool.sis.roster_catalog import CLASSES, COURSES, SESSIONS
from lti_tool.sis.roster_context import IDENTIFIERS, ORGS, PullContext
from lti_tool.sis.roster_people import DEMOGRAPHICS, ENROLLMENTS, PERSONS
from lti_tool.sis.upsert import delete_in, set_where_in


def _owned_by_org(ctx: PullContext, table: Table) -> Select[Any]:
    return (
        select(table.c.id, table.c.sourced_id)
        .join(ORGS, ORGS.c.id == table.c.org_id)
        .where(ORGS.c.sis_connection_id == ctx.connection_id, table.c.is_active.is_(True))
        .where(table.c.sourced_id.is_not(None))
    )


def _scopes(ctx: PullContext) -> list[tuple[str, Table, Select[Any]]]:
    """(collection, table to deactivate in, SELECT of (id, sourcedId) of its active rows this connection owns)."""
    orgs = select(ORGS.c.id, ORGS.c.sourced_id).where(
        ORGS.c.sis_connection_id == ctx.connection_id, ORGS.c.is_active.is_(True)
    )
    people = (
        select(PERSONS.c.id, IDENTIFIERS.c.value)
        .join(IDENTIFIERS, IDENTIFIERS.c.person_id == PERSONS.c.id)
        .where(
            IDENTIFIERS.c.source == IdentifierSource.SIS,
            IDENTIFIERS.c.system == ctx.system,
            PERSONS.c.is_active.is_(True),
        )
    )
    enrollments = (
        select(ENROLLMENTS.c.id, ENROLLMENTS.c.sourced_id)
        .join(CLASSES, CLASSES.c.id == ENROLLMENTS.c.class_id)
        .join(ORGS, ORGS.c.id == CLASSES.c.org_id)
        .where(
            ORGS.c.sis_connection_id == ctx.connection_id,
            ENROLLMENTS.c.is_active.is_(True),
            ENROLLMENTS.c.sourced_id.is_not(None),
        )
    )
    return [
        ("orgs", ORGS, orgs),
        ("academicSessions", SESSIONS, _owned_by_org(ctx, SESSIONS)),
        ("courses", COURSES, _owned_by_org(ctx, COURSES)),
        ("classes", CLASSES, _owned_by_org(ctx, CLASSES)),
        ("users", PERSONS, people),
        ("enrollments", ENROLLMENTS, enrollments),
    ]


def reconcile(ctx: PullContext, *, include_demographics: bool, partial: Collection[str] = ()) -> None:
    """Deactivate (or, for demographics, delete) rows of this connection the full pull did not return.

    Collections in `partial` (a source's delta files) are left alone: absence there is not deletion.
    """
    for collection, table, query in _scopes(ctx):
        if collection in partial:
            continue
        seen = ctx.seen.get(collection, set())
        rows = ctx.db.execute(query).all()
        if not seen and rows:
            ctx.warn(collection, "", "the SIS returned no records; nothing was deactivated")
            continue
        gone = [row_id for row_id, sourced_id in rows if sourced_id not in seen]
        set_where_in(ctx.db, table, gone, {"is_active": False})
        ctx.tally(collection).deactivated += len(gone)
    if include_demographics and "demographics" not in partial:
        seen = ctx.seen.get("demographics", set())
        rows = ctx.db.execute(
            select(DEMOGRAPHICS.c.person_id, IDENTIFIERS.c.value)
            .join(IDENTIFIERS, IDENTIFIERS.c.person_id == DEMOGRAPHICS.c.person_id)
            .where(IDENTIFIERS.c.source == IdentifierSource.SIS, IDENTIFIERS.c.system == ctx.system)
        ).all()
        if not seen and rows:
            ctx.warn("demographics", "", "the SIS returned no records; nothing was deleted")
            return
        gone = [person_id for person_id, sourced_id in rows if sourced_id not in seen]
        delete_in(ctx.db, DEMOGRAPHICS, DEMOGRAPHICS.c.person_id, gone)
        ctx.tally("demographics").deactivated += len(gone)
