"""Roster pull, the course catalogue: courses (with the district's course map) and classes with their terms.

Same pattern as `roster_catalog`: one read per batch, new rows in one INSERT, changed rows in one UPDATE.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from connectors.oneroster.records import Class as SisClass
from connectors.oneroster.records import Course as SisCourse
from lti_tool.models import CourseLevel
from lti_tool.sis.roster_catalog import (
    CLASS_SESSIONS,
    CLASSES,
    COURSES,
    is_active,
    is_foreign,
    owned_rows,
    stage,
    write,
)
from lti_tool.sis.roster_context import Change, PullContext
from lti_tool.sis.upsert import AnyRow, insert_rows, select_in

CODE_LENGTH: Final = 64


def _course_values(ctx: PullContext, record: SisCourse, row: AnyRow | None, org_id: int) -> dict[str, Any]:
    """Columns of a course; credits, level and NCAA facts come from the course map, else stay as they were."""
    facts = ctx.course_map.facts_for(record.sourced_id, record.course_code) if ctx.course_map else None
    credits = row.credits if row is not None else Decimal("0")
    level = row.level if row is not None else CourseLevel.STANDARD
    is_core = row.is_ncaa_core if row is not None else False
    area = row.ncaa_area if row is not None else None
    if facts is not None:
        credits = facts.credits if facts.credits is not None else credits
        level = facts.level or level
        if facts.is_ncaa_core is not None:
            is_core, area = facts.is_ncaa_core, facts.ncaa_area
    return {
        "org_id": org_id,
        "code": (record.course_code or record.sourced_id).strip()[:CODE_LENGTH],
        "title": record.title[:255],
        "credits": credits,
        "level": level,
        "is_ncaa_core": is_core,
        "ncaa_area": area,
        "is_active": is_active(record.status),
    }


def _unique_code(code: str, sourced_id: str) -> str:
    suffix = f"~{sourced_id}"
    return (code[: max(CODE_LENGTH - len(suffix), 1)] + suffix)[:CODE_LENGTH]


def pull_courses(ctx: PullContext, records: Sequence[SisCourse]) -> None:
    """Courses (1.2 rostering §4.2.5), with the district's course map filling what OneRoster lacks.

    `(org, code)` is unique. A course the LMS created (no sourcedId) with the same code in the same org is
    the same catalogue entry and is adopted; a code another SIS course holds gets `~sourcedId` appended.
    """
    collection = "courses"
    ctx.see(collection, (record.sourced_id for record in records))
    columns = ("org_id", "code", "title", "credits", "level", "is_ncaa_core", "ncaa_area", "is_active")
    existing = owned_rows(ctx, COURSES, columns, [record.sourced_id for record in records])
    codes = {(record.course_code or record.sourced_id).strip()[:CODE_LENGTH] for record in records}
    holder_rows = select_in(
        ctx.db,
        [COURSES.c[name] for name in ("id", "sourced_id", *columns)],
        COURSES.c.code,
        codes,
    )
    holders = {(row.org_id, row.code): row for row in holder_rows}
    claimed: dict[tuple[int, str], str] = {}  # (org, code) -> sourcedId of this batch's course
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    changes: dict[str, Change] = {}
    for record in records:
        sourced_id = record.sourced_id
        row: AnyRow | None = existing.get(sourced_id)
        if is_foreign(ctx, row):
            ctx.skip(collection, sourced_id, "the course belongs to another SIS connection")
            continue
        if record.org_sourced_id and record.org_sourced_id not in ctx.org_ids:
            ctx.skip(collection, sourced_id, f"org {record.org_sourced_id!r} is unknown")
            continue
        org_id = ctx.org_ids[record.org_sourced_id] if record.org_sourced_id else ctx.home_org_id
        if org_id is None:
            ctx.skip(collection, sourced_id, "the course names no org and there is no district org")
            continue
        values = _course_values(ctx, record, row, org_id)
        holder = holders.get((org_id, values["code"]))
        if holder is not None and row is None and holder.sourced_id is None:
            row = holder  # the LMS's course of that code in that org: adopt it
            values = {**_course_values(ctx, record, row, org_id), "sourced_id": sourced_id}
        elif (holder is not None and (row is None or holder.id != row.id)) or claimed.get(
            (org_id, values["code"]), sourced_id
        ) != sourced_id:
            values["code"] = _unique_code(values["code"], sourced_id)
            ctx.warn(collection, sourced_id, "course code already used in the org; stored with a suffix")
        change = stage(ctx, collection, sourced_id, row, values, inserts, updates)
        if change is None:
            continue
        claimed[(org_id, values["code"])] = sourced_id
        changes[sourced_id] = change
        if row is not None:
            ctx.course_ids[sourced_id] = row.id
    ctx.course_ids.update(write(ctx, COURSES, inserts, updates))
    for change in changes.values():
        ctx.tally(collection).add(change)


def pull_classes(ctx: PullContext, records: Sequence[SisClass]) -> None:
    """Classes (1.2 rostering §4.2.3) with their `terms` as class_sessions links (the periods they run in)."""
    collection = "classes"
    ctx.see(collection, (record.sourced_id for record in records))
    columns = ("course_id", "org_id", "title", "section_code", "is_active")
    existing = owned_rows(ctx, CLASSES, columns, [record.sourced_id for record in records])
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    changes: dict[str, Change] = {}
    terms: dict[str, set[int]] = {}
    for record in records:
        sourced_id = record.sourced_id
        row = existing.get(sourced_id)
        course_id = ctx.course_ids.get(record.course_sourced_id)
        org_id = ctx.org_ids.get(record.school_sourced_id)
        if is_foreign(ctx, row):
            ctx.skip(collection, sourced_id, "the class belongs to another SIS connection")
            continue
        if course_id is None:
            ctx.skip(collection, sourced_id, f"course {record.course_sourced_id!r} is unknown")
            continue
        if org_id is None:
            ctx.skip(collection, sourced_id, f"school {record.school_sourced_id!r} is unknown")
            continue
        values = {
            "course_id": course_id,
            "org_id": org_id,
            "title": record.title[:255],
            "section_code": record.class_code.strip()[:CODE_LENGTH] if record.class_code else None,
            "is_active": is_active(record.status),
        }
        change = stage(ctx, collection, sourced_id, row, values, inserts, updates)
        if change is None:
            continue
        changes[sourced_id] = change
        wanted: set[int] = set()
        for term in record.term_sourced_ids:
            if term in ctx.session_ids:
                wanted.add(ctx.session_ids[term])
            else:
                ctx.warn(collection, sourced_id, f"term {term!r} is unknown; the class is stored without it")
        terms[sourced_id] = wanted
        if row is not None:
            ctx.class_ids[sourced_id] = row.id
    ctx.class_ids.update(write(ctx, CLASSES, inserts, updates))
    _link_terms(ctx, terms, changes)
    for change in changes.values():
        ctx.tally(collection).add(change)


def _link_terms(ctx: PullContext, terms: Mapping[str, set[int]], changes: dict[str, Change]) -> None:
    """Make each class's class_sessions rows exactly its terms; a changed link counts as an update."""
    by_id = {ctx.class_ids[sid]: sid for sid in terms}
    current: dict[int, set[int]] = {class_id: set() for class_id in by_id}
    rows = select_in(
        ctx.db,
        [CLASS_SESSIONS.c.class_id, CLASS_SESSIONS.c.academic_session_id],
        CLASS_SESSIONS.c.class_id,
        by_id,
    )
    for class_id, session_id in rows:
        current[class_id].add(session_id)
    inserts: list[dict[str, int]] = []
    for class_id, sourced_id in by_id.items():
        wanted, have = terms[sourced_id], current[class_id]
        if wanted == have:
            continue
        inserts.extend({"class_id": class_id, "academic_session_id": s} for s in sorted(wanted - have))
        stale = have - wanted
        if stale:
            ctx.db.execute(
                CLASS_SESSIONS.delete().where(
                    CLASS_SESSIONS.c.class_id == class_id, CLASS_SESSIONS.c.academic_session_id.in_(stale)
                )
            )
        if changes[sourced_id] is Change.UNCHANGED:
            changes[sourced_id] = Change.UPDATED
    insert_rows(ctx.db, CLASS_SESSIONS, inserts, conflict=["class_id", "academic_session_id"])
