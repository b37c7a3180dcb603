"""Merge two rows that are one person (or one class): move everything that points at the row that goes.

Evidence is append-only (database triggers refuse any UPDATE), so evidence can never be re-pointed. The
row evidence refers to therefore survives: usually the LMS-created person or class, which is where
teachers recorded work. When neither holds evidence the SIS row survives (its id stays stable); when both
do, no merge is possible and `MergeError` says so. The survivor takes the SIS identity: for a person the
SIS identifiers (moved) and the SIS names, email and status; for a class the SIS sourcedId, course,
school, title, section and status, so `LtiContext.class_id` ends up on the SIS class either way.

Every other reference is found from the models' foreign keys, so a table added later is moved too:
plain columns are re-pointed with one UPDATE; `enrollments`, `demographics` and the link tables whose
key includes the column are merged row by row (a duplicate keeps one row). Each merge runs in its own
SAVEPOINT and writes an AuditLog row with ids only (never names).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, Final

from sqlalchemy import Column, Connection, Table, and_, delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lti_tool.errors import MasteryBridgeError
from lti_tool.models import (
    AuditLog,
    Base,
    ClassIndicator,
    ClassSession,
    Demographic,
    Enrollment,
    Evidence,
    Person,
    SchoolClass,
    utcnow,
)
from lti_tool.sis.upsert import table_of

PERSONS = table_of(Person)
CLASSES = table_of(SchoolClass)
ENROLLMENTS = table_of(Enrollment)
EVIDENCE = table_of(Evidence)
DEMOGRAPHICS = table_of(Demographic)
#: Tables whose rows must never change; a row they reference cannot be merged away.
APPEND_ONLY: Final = frozenset({EVIDENCE.name})
#: Tables whose key includes the reference: (table, the other key columns). Duplicates are dropped.
_LINK_KEYS: Final[dict[str, tuple[str, ...]]] = {
    table_of(ClassSession).name: ("academic_session_id",),
    table_of(ClassIndicator).name: ("indicator_id",),
}


class IdentityError(MasteryBridgeError):
    """An identity review or merge cannot be done as asked; the message says why (ids, never names)."""


class MergeError(IdentityError):
    """Two rows cannot be merged (both hold append-only evidence, or a posted grade would collide)."""


@cache
def references(target: Table) -> tuple[Column[Any], ...]:
    """Every foreign-key column, in any model's table, that points at `target.id` (read once per target)."""
    found = [
        key.parent
        for table in Base.metadata.tables.values()
        for key in table.foreign_keys
        if key.column.table is target and key.parent.table is table
    ]
    return tuple(sorted(found, key=lambda column: (column.table.name, column.name)))


def holds_evidence(db: Connection, target: Table, row_id: int) -> bool:
    """Whether append-only rows refer to the row (a student, an assessor, a class of evidence)."""
    return any(
        db.execute(select(exists().where(column == row_id))).scalar()
        for column in references(target)
        if column.table.name in APPEND_ONLY
    )


def _merge_enrollments(db: Connection, column: Column[Any], keep: int, gone: int) -> int:
    """Move `gone`'s enrollments to `keep`; on a duplicate keep the SIS row (the one with a sourcedId)."""
    others = [c for c in (ENROLLMENTS.c.class_id, ENROLLMENTS.c.person_id) if c is not column]
    other = others[0]
    fields = [ENROLLMENTS.c.id, ENROLLMENTS.c.sourced_id, ENROLLMENTS.c.is_active, other, ENROLLMENTS.c.role]
    kept = {(row[3], str(row[4])): row for row in db.execute(select(*fields).where(column == keep))}
    moved = 0
    for row in db.execute(select(*fields).where(column == gone)).all():
        twin = kept.get((row[3], str(row[4])))
        if twin is None:
            db.execute(update(ENROLLMENTS).where(ENROLLMENTS.c.id == row.id).values({column.name: keep}))
        elif row.sourced_id is not None and twin.sourced_id is None:
            db.execute(delete(ENROLLMENTS).where(ENROLLMENTS.c.id == twin.id))
            db.execute(update(ENROLLMENTS).where(ENROLLMENTS.c.id == row.id).values({column.name: keep}))
        else:
            db.execute(delete(ENROLLMENTS).where(ENROLLMENTS.c.id == row.id))
            if twin.sourced_id is None and row.is_active and not twin.is_active:
                db.execute(update(ENROLLMENTS).where(ENROLLMENTS.c.id == twin.id).values(is_active=True))
        moved += 1
    return moved


def _merge_links(db: Connection, column: Column[Any], keys: Sequence[str], keep: int, gone: int) -> int:
    """Move link rows whose other key columns `keep` lacks; drop the rest (the same fact twice)."""
    table = column.table
    others = [table.c[name] for name in keys]
    kept = {tuple(row) for row in db.execute(select(*others).where(column == keep))}
    moved = 0
    for row in db.execute(select(*others).where(column == gone)).all():
        match = and_(column == gone, *(c == value for c, value in zip(others, row, strict=True)))
        if tuple(row) in kept:
            db.execute(delete(table).where(match))
        else:
            db.execute(update(table).where(match).values({column.name: keep}))
        moved += 1
    return moved


def _move_references(db: Connection, target: Table, keep: int, gone: int) -> dict[str, int]:
    """Re-point every reference to `gone` at `keep`; how many rows moved per `table.column`."""
    moved: dict[str, int] = {}
    for column in references(target):
        table = column.table
        name = f"{table.name}.{column.name}"
        if table.name in APPEND_ONLY:
            continue
        if table is ENROLLMENTS:
            count = _merge_enrollments(db, column, keep, gone)
        elif table is DEMOGRAPHICS:
            has_own = db.execute(select(exists().where(column == keep))).scalar()
            statement = (
                delete(table).where(column == gone)
                if has_own
                else update(table).where(column == gone).values({column.name: keep})
            )
            count = db.execute(statement).rowcount
        elif table.name in _LINK_KEYS:
            count = _merge_links(db, column, _LINK_KEYS[table.name], keep, gone)
        else:
            count = db.execute(update(table).where(column == gone).values({column.name: keep})).rowcount
        if count:
            moved[name] = count
    return moved


def _survivor(db: Connection, target: Table, sis_id: int, lms_id: int, what: str) -> tuple[int, int]:
    """(keep, gone): the row evidence refers to survives; else the SIS row."""
    sis_locked = holds_evidence(db, target, sis_id)
    lms_locked = holds_evidence(db, target, lms_id)
    if sis_locked and lms_locked:
        raise MergeError(
            f"{what} {sis_id} (SIS) and {lms_id} (LMS) both have recorded evidence, which is append-only: "
            "they cannot be merged"
        )
    return (lms_id, sis_id) if lms_locked else (sis_id, lms_id)


def _audit(
    session: Session, *, actor: str, action: str, entity: str, keep: int, detail: dict[str, Any]
) -> None:
    session.add(
        AuditLog(
            at=utcnow(), actor=actor, action=action, entity_type=entity, entity_id=str(keep), detail=detail
        )
    )


def merge_people(
    session: Session, *, sis_person_id: int, lms_person_id: int, actor: str, evidence: str, connection: str
) -> int:
    """Make the SIS person and the LMS person one; returns the id of the person that remains.

    `evidence` names what matched them ("lis", "email", "username", "review") for the audit trail.
    """
    if sis_person_id == lms_person_id:
        return sis_person_id
    session.flush()
    db = session.connection()
    keep, gone = _survivor(db, PERSONS, sis_person_id, lms_person_id, "people")
    try:
        with session.begin_nested():
            db = session.connection()  # emits the SAVEPOINT: the writes below are undone together
            moved = _move_references(db, PERSONS, keep, gone)
            if keep == lms_person_id:
                # The SIS is the authority on names, email and status.
                sis = db.execute(
                    select(
                        PERSONS.c.given_name, PERSONS.c.family_name, PERSONS.c.email, PERSONS.c.is_active
                    ).where(PERSONS.c.id == sis_person_id)
                ).one()
                db.execute(update(PERSONS).where(PERSONS.c.id == keep).values(**sis._mapping))
            db.execute(delete(PERSONS).where(PERSONS.c.id == gone))
            _audit(session, actor=actor, action="identity.merge_person", entity="person", keep=keep,
                   detail={"merged_person_id": gone, "sis_person_id": sis_person_id,
                           "lms_person_id": lms_person_id, "evidence": evidence, "connection": connection,
                           "moved": moved})  # fmt: skip
            session.flush()
    except IntegrityError as exc:
        raise MergeError(
            f"people {sis_person_id} (SIS) and {lms_person_id} (LMS) cannot be merged: "
            "their rows collide (for example both have a posted grade for the same class and period)"
        ) from exc
    return keep


def merge_classes(
    session: Session, *, sis_class_id: int, lms_class_id: int, actor: str, evidence: str, connection: str
) -> int:
    """Make the SIS class and the LMS-created class one; returns the id of the class that remains."""
    if sis_class_id == lms_class_id:
        return sis_class_id
    session.flush()
    db = session.connection()
    keep, gone = _survivor(db, CLASSES, sis_class_id, lms_class_id, "classes")
    try:
        with session.begin_nested():
            db = session.connection()  # emits the SAVEPOINT: the writes below are undone together
            moved = _move_references(db, CLASSES, keep, gone)
            identity: dict[str, Any] | None = None
            if keep == lms_class_id:
                row = db.execute(
                    select(
                        CLASSES.c.sourced_id,
                        CLASSES.c.course_id,
                        CLASSES.c.org_id,
                        CLASSES.c.title,
                        CLASSES.c.section_code,
                        CLASSES.c.is_active,
                        CLASSES.c.policy_id,
                    ).where(CLASSES.c.id == sis_class_id)
                ).one()
                identity = dict(row._mapping)
                kept_policy = db.execute(select(CLASSES.c.policy_id).where(CLASSES.c.id == keep)).scalar()
                if kept_policy is not None:
                    identity["policy_id"] = kept_policy
            db.execute(delete(CLASSES).where(CLASSES.c.id == gone))
            if identity is not None:  # after the delete: the sourcedId is unique
                db.execute(update(CLASSES).where(CLASSES.c.id == keep).values(**identity))
            _audit(session, actor=actor, action="identity.merge_class", entity="class", keep=keep,
                   detail={"merged_class_id": gone, "sis_class_id": sis_class_id,
                           "lms_class_id": lms_class_id, "evidence": evidence, "connection": connection,
                           "moved": moved})  # fmt: skip
            session.flush()
    except IntegrityError as exc:
        raise MergeError(
            f"classes {sis_class_id} (SIS) and {lms_class_id} (LMS) cannot be merged: "
            "their rows collide (for example both have a posted grade for the same student and period)"
        ) from exc
    return keep
