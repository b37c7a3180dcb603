"""Record a validated LTI 1.3 launch: consume its nonce, remember its id_token, upsert what it tells us.

Everything runs in the caller's transaction, so a launch rejected here (replayed id_token; nonce not issued,
used or expired) or later rolls back and stores nothing. The hot path is Core statements on the session's
connection, one round trip each, because the ORM unit of work cost more than the statements themselves:

- the one-time checks are the writes themselves: `INSERT ... ON CONFLICT DO NOTHING` of the token hash and
  `UPDATE lti_nonces ... WHERE used_at IS NULL`; a row count of 0 is the rejection, and two concurrent
  launches of the same token or nonce cannot both pass (the second waits on the first's row lock);
- get-or-create reads first and then inserts with `ON CONFLICT DO NOTHING` (PostgreSQL and SQLite both have
  it), re-reading the row a concurrent launch created first, with no SAVEPOINT;
- a row that exists is updated only when the launch changes it: most launches of a course change nothing,
  and an UPDATE would lock the course's context row for the rest of each launch's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Executable,
    Row,
    Select,
    Table,
    bindparam,
    delete,
    exists,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lti_tool.errors import LaunchError
from lti_tool.lti.adapter import MESSAGE_DEEP_LINKING, MESSAGE_RESOURCE_LINK
from lti_tool.lti.launch import CLAIM_DEEP_LINKING, LTI, AcceptedLaunch, ValidatedLaunch
from lti_tool.lti.login import STATE_MAX_AGE_SECONDS
from lti_tool.lti.roster_sync import LIS_SYSTEM
from lti_tool.models import (
    Base,
    Course,
    Enrollment,
    IdentifierSource,
    LtiContext,
    LtiNonce,
    LtiResourceLink,
    LtiTokenReplay,
    Org,
    OrgType,
    Person,
    PersonIdentifier,
    SchoolClass,
    Task,
)

CLAIM_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
CLAIM_AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"

T = TypeVar("T")


def _table(model: type[Base]) -> Table:
    table = model.__table__
    if not isinstance(table, Table):  # pragma: no cover - every model here maps one table
        raise TypeError(f"{model.__name__} is not mapped to a single table")
    return table


_NONCES = _table(LtiNonce)
_REPLAYS = _table(LtiTokenReplay)
_PERSONS = _table(Person)
_IDENTIFIERS = _table(PersonIdentifier)
_LIS = _IDENTIFIERS.alias("lis_identifiers")
_CONTEXTS = _table(LtiContext)
_ENROLLMENTS = _table(Enrollment)
_LINKS = _table(LtiResourceLink)


def _insert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT with the dialect's `ON CONFLICT` clauses (the tool runs on PostgreSQL and SQLite only)."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"INSERT ... ON CONFLICT for database dialect {dialect!r}")


@dataclass(frozen=True, slots=True)
class _Statements:
    """The hot path's statements, built once per dialect with bind parameters.

    Built once because SQLAlchemy memoizes a statement object's cache key: a statement built per call costs
    its construction plus its cache key on every launch, about as much CPU as the round trip it makes.
    """

    remember_token: Executable
    consume_nonce: Executable
    find_nonce: Executable
    find_person: Select[Any]
    insert_person: Executable
    claim_identifier: Executable
    claim_lis_identifier: Executable
    find_context: Select[Any]
    insert_context: Executable
    enroll: Executable
    find_link: Select[Any]
    insert_link: Executable

    @classmethod
    def build(cls, dialect: str) -> _Statements:
        """The statements for `dialect` ("postgresql" or "sqlite")."""
        identifier_key = [_IDENTIFIERS.c.source, _IDENTIFIERS.c.system, _IDENTIFIERS.c.value]
        return cls(
            remember_token=_insert(dialect, _REPLAYS)
            .values(
                token_hash=bindparam("token_hash"),
                seen_at=bindparam("now"),
                expires_at=bindparam("expires_at"),
            )
            .on_conflict_do_nothing(index_elements=[_REPLAYS.c.token_hash])
            .returning(_REPLAYS.c.id),
            consume_nonce=update(_NONCES)
            .where(
                _NONCES.c.value == bindparam("nonce"),
                _NONCES.c.used_at.is_(None),
                _NONCES.c.issued_at >= bindparam("issued_after"),
            )
            .values(used_at=bindparam("now")),
            find_nonce=select(_NONCES.c.used_at, _NONCES.c.issued_at).where(
                _NONCES.c.value == bindparam("nonce")
            ),
            find_person=select(
                _PERSONS.c.id,
                _PERSONS.c.given_name,
                _PERSONS.c.family_name,
                _PERSONS.c.email,
                # Whether the person already holds the launch's lis person_sourcedid: read in the same round
                # trip, so the common launch (identifier known) writes nothing for it.
                exists()
                .where(
                    _LIS.c.person_id == _PERSONS.c.id,
                    _LIS.c.source == IdentifierSource.SIS,
                    _LIS.c.system == LIS_SYSTEM,
                    _LIS.c.value == bindparam("lis_sourcedid"),
                )
                .label("has_lis"),
            )
            .join(_IDENTIFIERS, _IDENTIFIERS.c.person_id == _PERSONS.c.id)
            .where(
                _IDENTIFIERS.c.source == IdentifierSource.LTI,
                _IDENTIFIERS.c.system == bindparam("issuer"),
                _IDENTIFIERS.c.value == bindparam("sub"),
            ),
            insert_person=insert(_PERSONS)
            .values(
                given_name=bindparam("given_name"),
                family_name=bindparam("family_name"),
                email=bindparam("email"),
                created_at=bindparam("now"),
            )
            .returning(_PERSONS.c.id),
            claim_identifier=_insert(dialect, _IDENTIFIERS)
            .values(
                person_id=bindparam("person_id"),
                source=IdentifierSource.LTI,
                system=bindparam("issuer"),
                value=bindparam("sub"),
            )
            .on_conflict_do_nothing(index_elements=identifier_key)
            .returning(_IDENTIFIERS.c.id),
            # Another person may hold the sourcedid already (a second LMS account): never move it here.
            claim_lis_identifier=_insert(dialect, _IDENTIFIERS)
            .values(
                person_id=bindparam("person_id"),
                source=IdentifierSource.SIS,
                system=LIS_SYSTEM,
                value=bindparam("lis_sourcedid"),
            )
            .on_conflict_do_nothing(index_elements=identifier_key),
            find_context=select(_CONTEXTS).where(
                _CONTEXTS.c.registration_id == bindparam("registration_id"),
                _CONTEXTS.c.context_id == bindparam("context_id"),
            ),
            insert_context=_insert(dialect, _CONTEXTS)
            .values(registration_id=bindparam("registration_id"), context_id=bindparam("context_id"))
            .on_conflict_do_nothing(index_elements=[_CONTEXTS.c.registration_id, _CONTEXTS.c.context_id])
            .returning(_CONTEXTS.c.id),
            enroll=_insert(dialect, _ENROLLMENTS)
            .values(
                class_id=bindparam("class_id"),
                person_id=bindparam("person_id"),
                role=bindparam("role"),
                is_active=True,
            )
            .on_conflict_do_update(
                index_elements=[_ENROLLMENTS.c.class_id, _ENROLLMENTS.c.person_id, _ENROLLMENTS.c.role],
                set_={"is_active": True},
                where=_ENROLLMENTS.c.is_active.is_(False),
            ),
            find_link=select(_LINKS.c.id, _LINKS.c.task_id).where(
                _LINKS.c.lti_context_id == bindparam("lti_context_id"),
                _LINKS.c.resource_link_id == bindparam("resource_link_id"),
            ),
            insert_link=_insert(dialect, _LINKS)
            .values(
                lti_context_id=bindparam("lti_context_id"), resource_link_id=bindparam("resource_link_id")
            )
            .on_conflict_do_nothing(index_elements=[_LINKS.c.lti_context_id, _LINKS.c.resource_link_id])
            .returning(_LINKS.c.id, _LINKS.c.task_id),
        )


_statements_by_dialect: dict[str, _Statements] = {}


def _statements(connection: Connection) -> _Statements:
    dialect = connection.dialect.name
    statements = _statements_by_dialect.get(dialect)
    if statements is None:
        # Two threads may both build them the first time; either result is the same, so no lock.
        statements = _statements_by_dialect[dialect] = _Statements.build(dialect)
    return statements


def _text(value: object, limit: int) -> str | None:
    return value.strip()[:limit] or None if isinstance(value, str) else None


# One-time checks ------------------------------------------------------------------------------------------


def _consume(connection: Connection, statements: _Statements, launch: ValidatedLaunch, now: datetime) -> None:
    """Security Framework §5.1.3 step 9 (nonce) and the id_token replay check, as the writes that record them."""
    # The token first, as the checks were always ordered: a replayed id_token also carries a used nonce.
    remembered = connection.execute(
        statements.remember_token,
        {"token_hash": launch.token_hash, "now": now, "expires_at": launch.expires_at},
    ).first()
    if remembered is None:
        raise LaunchError("id_token replayed: it was already accepted once")
    consumed = connection.execute(
        statements.consume_nonce,
        {"nonce": launch.nonce, "now": now, "issued_after": now - timedelta(seconds=STATE_MAX_AGE_SECONDS)},
    )
    if consumed.rowcount != 1:
        raise LaunchError(_nonce_refusal(connection, statements, launch.nonce))


def _nonce_refusal(connection: Connection, statements: _Statements, nonce: str) -> str:
    """Why the nonce could not be consumed (read only on this failure path)."""
    row = connection.execute(statements.find_nonce, {"nonce": nonce}).first()
    if row is None:
        return "nonce was not issued by this tool"
    if row.used_at is not None:
        return "nonce already used"
    return "nonce expired"


# Upserts --------------------------------------------------------------------------------------------------


def _upsert_person(
    connection: Connection, statements: _Statements, issuer: str, claims: Mapping[str, Any], now: datetime
) -> int:
    sub = str(claims["sub"])[:255]
    given = _text(claims.get("given_name"), 255)
    family = _text(claims.get("family_name"), 255)
    if given is None and family is None:
        given = _text(claims.get("name"), 255)
    email = _text(claims.get("email"), 320)
    key = {"issuer": issuer, "sub": sub}
    lis_sourcedid = _lis(claims, "person_sourcedid")
    find = {**key, "lis_sourcedid": lis_sourcedid}
    found = connection.execute(statements.find_person, find).first()
    if found is None:
        person_id: int = connection.execute(
            statements.insert_person,
            {"given_name": given or "", "family_name": family or "", "email": email, "now": now},
        ).scalar_one()
        claimed = connection.execute(statements.claim_identifier, {**key, "person_id": person_id}).first()
        if claimed is not None:
            _claim_lis(connection, statements, person_id, lis_sourcedid)
            return person_id
        # A concurrent launch of the same person created it first: drop ours, update theirs.
        connection.execute(delete(_PERSONS).where(_PERSONS.c.id == person_id))
        found = connection.execute(statements.find_person, find).one()
    # Names and email are optional claims (privacy settings); keep what we knew when they are absent.
    wanted = {"given_name": given, "family_name": family, "email": email}
    changes = {
        name: value for name, value in wanted.items() if value is not None and value != found._mapping[name]
    }
    if changes:
        connection.execute(update(_PERSONS).where(_PERSONS.c.id == found.id).values(**changes))
    if not found.has_lis:
        _claim_lis(connection, statements, int(found.id), lis_sourcedid)
    return int(found.id)


def _lis(claims: Mapping[str, Any], name: str) -> str | None:
    """A sourcedid of the optional `lis` claim (LTI Core 1.3 §5.4.5), as NRPS sync stores it."""
    lis = claims.get(LTI + "lis")
    return _text(lis.get(name), 255) if isinstance(lis, dict) else None


def _claim_lis(
    connection: Connection, statements: _Statements, person_id: int, lis_sourcedid: str | None
) -> None:
    """Keep the LMS-reported SIS sourcedid as PersonIdentifier(sis, "lis", ...) for identity matching."""
    if lis_sourcedid is not None:
        connection.execute(
            statements.claim_lis_identifier, {"person_id": person_id, "lis_sourcedid": lis_sourcedid}
        )


def _get_or_create(session: Session, find: Callable[[], T | None], make: Callable[[], T]) -> T:
    """`find()`, else insert `make()` in a SAVEPOINT; a concurrent insert of the same row wins and is reused.

    Only for the rows a course's first launch creates (org, course, class): the ORM is simpler there, and
    the SAVEPOINT it costs is paid once per course.
    """
    found = find()
    if found is not None:
        return found
    try:
        with session.begin_nested():
            created = make()
            session.add(created)
    except IntegrityError:
        found = find()
        if found is None:
            raise
        return found
    return created


def _default_org(session: Session, launch: ValidatedLaunch) -> Org:
    sourced_id = f"lti-registration-{launch.registration.id}"
    return _get_or_create(
        session,
        lambda: session.scalars(select(Org).where(Org.sourced_id == sourced_id)).one_or_none(),
        lambda: Org(sourced_id=sourced_id, name=launch.registration.name[:255], type=OrgType.SCHOOL),
    )


def _new_class(session: Session, launch: ValidatedLaunch, context: Mapping[str, Any]) -> SchoolClass:
    org_id = launch.deployment.org_id or _default_org(session, launch).id
    label = _text(context.get("label"), 64)
    code = label or str(context["id"])[:64]
    title = _text(context.get("title"), 255) or label or str(context["id"])[:255]
    course = _get_or_create(
        session,
        lambda: session.scalars(
            select(Course).where(Course.org_id == org_id, Course.code == code)
        ).one_or_none(),
        lambda: Course(org_id=org_id, code=code, title=title, credits=Decimal("0")),
    )
    school_class = SchoolClass(course_id=course.id, org_id=org_id, title=title)
    session.add(school_class)
    session.flush()
    return school_class


def _context_values(context: Mapping[str, Any], claims: Mapping[str, Any]) -> dict[str, Any]:
    """The context columns this launch sets: its title, and the NRPS and AGS endpoints (NRPS 2.0 §3.6.1,
    AGS 2.0 §3.4) kept for later syncs. A claim that is absent leaves what we knew."""
    values: dict[str, Any] = {}
    title = _text(context.get("title"), 255)
    if title is not None:
        values["title"] = title
    section = _lis(claims, "course_section_sourcedid")
    if section is not None:
        values["course_section_sourcedid"] = section
    nrps = claims.get(CLAIM_NRPS)
    if isinstance(nrps, dict) and isinstance(nrps.get("context_memberships_url"), str):
        values["memberships_url"] = nrps["context_memberships_url"][:2048]
    ags = claims.get(CLAIM_AGS)
    if isinstance(ags, dict):
        if isinstance(ags.get("lineitems"), str):
            values["line_items_url"] = ags["lineitems"][:2048]
        scopes = ags.get("scope")
        if isinstance(scopes, list):
            values["ags_scopes"] = [str(scope)[:255] for scope in scopes][:10]
    return values


def _upsert_context(
    session: Session, connection: Connection, statements: _Statements, launch: ValidatedLaunch
) -> tuple[int, int] | None:
    """The (lti_contexts.id, class id) of the launch's context, creating both on its first launch."""
    context = launch.claims.get(LTI + "context")
    if not isinstance(context, dict):
        return None
    key = {"registration_id": launch.registration.id, "context_id": str(context["id"])[:255]}
    values = _context_values(context, launch.claims)
    found = connection.execute(statements.find_context, key).first()
    class_id: int | None
    if found is not None:
        row_id, class_id, changes = int(found.id), found.class_id, _changed(values, found)
    elif (created := connection.execute(statements.insert_context, key).first()) is not None:
        row_id, class_id, changes = int(created.id), None, values
    else:  # a concurrent launch of the same context created it first
        found = connection.execute(statements.find_context, key).one()
        row_id, class_id, changes = int(found.id), found.class_id, _changed(values, found)
    if class_id is None:
        class_id = _sis_class_id(connection, values.get("course_section_sourcedid"))
        if class_id is None:
            class_id = _new_class(session, launch, context).id
        changes = {**changes, "class_id": class_id}
    if changes:
        connection.execute(update(_CONTEXTS).where(_CONTEXTS.c.id == row_id).values(**changes))
    return row_id, class_id


def _sis_class_id(connection: Connection, course_section_sourcedid: str | None) -> int | None:
    """On a context's first launch, the SIS class its lis course_section_sourcedid names, if rostered.

    The same evidence `lti_tool.sis.identity.match_classes` accepts first; found here, the new context joins
    the SIS class at once instead of getting a class of its own to merge later.
    """
    if course_section_sourcedid is None:
        return None
    classes = _table(SchoolClass)
    found = connection.execute(
        select(classes.c.id).where(
            classes.c.sourced_id == course_section_sourcedid, classes.c.is_active.is_(True)
        )
    ).scalar_one_or_none()
    return None if found is None else int(found)


def _changed(values: Mapping[str, Any], row: Row[Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value != row._mapping[name]}


def _upsert_enrollment(
    connection: Connection, statements: _Statements, class_id: int, person_id: int, launch: ValidatedLaunch
) -> None:
    """Enroll the person in the class in their LTI role, re-activating an enrollment a sync ended."""
    role = launch.roles.enrollment_role
    if role is None:
        return
    connection.execute(statements.enroll, {"class_id": class_id, "person_id": person_id, "role": role})


def _upsert_resource_link(
    connection: Connection, statements: _Statements, lti_context_id: int, resource_link_id: str
) -> Row[Any]:
    """The (id, task_id) row of the resource link, created on its first launch."""
    key = {"lti_context_id": lti_context_id, "resource_link_id": resource_link_id}
    found = connection.execute(statements.find_link, key).first()
    if found is None:
        found = (
            connection.execute(statements.insert_link, key).first()
            or connection.execute(statements.find_link, key).one()
        )
    return found


def _link_custom_task(
    session: Session, connection: Connection, link: Row[Any], claims: Mapping[str, Any], class_id: int | None
) -> None:
    """Bind the resource link to the task named by custom `task_id` (set by our Deep Linking response).

    Only a task of the launch's own class counts: a link copied into another course keeps its custom
    parameters but must not reach the original class's task, so it is then left as it was.
    """
    custom = claims.get(LTI + "custom")
    raw = custom.get("task_id") if isinstance(custom, dict) else None
    if class_id is None or not isinstance(raw, str) or not (raw.isascii() and raw.isdigit()):
        return
    task = session.get(Task, int(raw))
    if task is not None and task.class_id == class_id and link.task_id != task.id:
        connection.execute(update(_LINKS).where(_LINKS.c.id == link.id).values(task_id=task.id))


def record_launch(session: Session, launch: ValidatedLaunch, *, now: datetime) -> AcceptedLaunch:
    """Consume the nonce, record the id_token against replay, upsert everything the launch tells us.

    Raises LaunchError if the id_token was already accepted, or the nonce was not issued by this tool, was
    used or expired; the caller must then roll back (the request does: an error response never commits).
    """
    connection = session.connection()
    statements = _statements(connection)
    _consume(connection, statements, launch, now)
    claims = launch.claims
    person_id = _upsert_person(connection, statements, launch.registration.issuer, claims, now)
    context = _upsert_context(session, connection, statements, launch)
    lti_context_id, class_id = context if context is not None else (None, None)
    if class_id is not None:
        _upsert_enrollment(connection, statements, class_id, person_id, launch)
    resource_link = claims.get(LTI + "resource_link")
    resource_link_id = (
        str(resource_link["id"])[:255]
        if launch.message_type == MESSAGE_RESOURCE_LINK and isinstance(resource_link, dict)
        else None
    )
    if lti_context_id is not None and resource_link_id is not None:
        link = _upsert_resource_link(connection, statements, lti_context_id, resource_link_id)
        _link_custom_task(session, connection, link, claims, class_id)
    settings = claims.get(CLAIM_DEEP_LINKING)
    return AcceptedLaunch(
        person_id=person_id,
        registration_id=launch.registration.id,
        deployment_id=launch.deployment.deployment_id,
        lti_context_id=lti_context_id,
        class_id=class_id,
        roles=launch.roles.app_roles,
        message_type=launch.message_type,
        resource_link_id=resource_link_id,
        deep_link_settings=dict(settings)
        if launch.message_type == MESSAGE_DEEP_LINKING and isinstance(settings, dict)
        else None,
    )
