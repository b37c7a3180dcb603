"""`sync_roster`: pull a district's roster from its SIS (OneRoster REST or a CSV package) into the database.

Order follows the references: orgs, academic sessions, courses, classes (with their terms), users,
enrollments, then demographics when switched on. A delta pull asks each collection for
`dateLastModified>` the start of the last good (non-dry-run, succeeded) run, less `CLOCK_SKEW_ALLOWANCE`;
the first pull, or `full=True`, reads everything and reconciles (`roster_reconcile`).

Transactions. `sync_roster` takes the caller's Session and never commits:

1. the `SyncRun` row (RUNNING) is flushed in the caller's transaction;
2. every data write happens inside a SAVEPOINT (`session.begin_nested()`);
3. success releases the SAVEPOINT and marks the run SUCCEEDED; a failure (a `ConnectorError` mid-pull:
   an SIS that stops answering, a body that cannot be read; or a database error) rolls the SAVEPOINT
   back, so nothing the pull wrote survives, and marks the run FAILED with the error; a dry run rolls
   the SAVEPOINT back after counting, so its counts are exact and only its run record remains;
4. the function returns the run either way, and the caller commits: after a failure that commit stores
   the FAILED run and nothing else. Any other exception (a bug) rolls the SAVEPOINT back and propagates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, Protocol, TypeVar, runtime_checkable

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from connectors.errors import ConnectorError
from connectors.oneroster.client import RosterSource
from connectors.oneroster.filters import Query, modified_since
from connectors.oneroster.records import Demographics
from lti_tool.models import OrgType, SisConnection, SyncKind, SyncRun, SyncStatus, utcnow
from lti_tool.sis.course_map import CourseMap
from lti_tool.sis.identity import match_classes, match_people
from lti_tool.sis.roster_catalog import CLASSES, COURSES, SESSIONS, pull_orgs, pull_sessions
from lti_tool.sis.roster_classes import pull_classes, pull_courses
from lti_tool.sis.roster_context import ORGS, Progress, PullContext
from lti_tool.sis.roster_people import pull_demographics, pull_enrollments, pull_users
from lti_tool.sis.roster_prefetch import ReadAhead
from lti_tool.sis.roster_reconcile import reconcile
from lti_tool.sis.upsert import chunked, plan_each_statement

logger = logging.getLogger(__name__)

#: A delta re-reads records modified this long before the last good run started, so a SIS clock a little
#: behind ours loses nothing; re-reading is harmless because every write is an idempotent upsert.
CLOCK_SKEW_ALLOWANCE: Final = timedelta(minutes=5)
COLLECTIONS: Final = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments")

R = TypeVar("R")


@runtime_checkable
class DemographicsSource(Protocol):
    """A roster source that can also list demographics (the REST client and the CSV package can)."""

    def fetch_demographics(self, query: Query | None = None) -> Iterator[Demographics]: ...


@runtime_checkable
class PartialSource(Protocol):
    """A source that can say a collection holds changes only (a CSV package whose manifest.csv declares
    `file.<name>,delta`): records it lacks were not deleted, so reconciliation leaves it alone."""

    def is_delta(self, collection: str) -> bool: ...


def last_good_run(session: Session, connection: SisConnection) -> SyncRun | None:
    """The connection's latest succeeded, non-dry-run sync: the base of the next delta."""
    return session.scalars(
        select(SyncRun)
        .where(
            SyncRun.connection_id == connection.id,
            SyncRun.status == SyncStatus.SUCCEEDED,
            SyncRun.is_dry_run.is_(False),
        )
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(1)
    ).first()


def sync_roster(
    session: Session,
    connection: SisConnection,
    source: RosterSource,
    *,
    full: bool,
    dry_run: bool = False,
    course_map: CourseMap | None = None,
    include_demographics: bool = False,
    progress: Progress | None = None,
    now: datetime | None = None,
    match_identities: bool = True,
) -> SyncRun:
    """Pull the roster into the database and return the run record (see the module docstring).

    `progress(collection, records_read)` is called after each batch of up to 1,000 records and once at
    the end of each collection. With `match_identities`, LMS people and contexts are matched to the SIS
    ones afterwards (`lti_tool.sis.identity`) inside the same SAVEPOINT, and the unmatched counts are
    stored in `counts["identity"]`.
    """
    started_at = now or utcnow()
    previous = None if full else last_good_run(session, connection)
    since = None if previous is None else previous.started_at - CLOCK_SKEW_ALLOWANCE
    run = SyncRun(
        connection_id=connection.id,
        kind=SyncKind.DELTA if since is not None else SyncKind.FULL,
        started_at=started_at,
        status=SyncStatus.RUNNING,
        is_dry_run=dry_run,
        counts={},
        warnings=[],
        errors=[],
    )
    session.add(run)
    session.flush()
    savepoint = session.begin_nested()
    # SQLAlchemy emits the SAVEPOINT when the session next hands out its connection: all writes use it.
    ctx = PullContext(
        db=session.connection(),
        connection_id=connection.id,
        system=connection.name,
        started_at=started_at,
        is_full=since is None,
        course_map=course_map,
        progress=progress,
    )
    try:
        plan_each_statement(ctx.db)
        _pull(session, connection, ctx, source, since=since, include_demographics=include_demographics)
        identity = _match(session, connection) if match_identities else None
    except (ConnectorError, SQLAlchemyError) as exc:
        savepoint.rollback()
        _fail(run, ctx, exc)
    except BaseException:
        savepoint.rollback()
        raise
    else:
        if dry_run:
            savepoint.rollback()
        else:
            savepoint.commit()
        run.status = SyncStatus.SUCCEEDED
        run.counts = _counts(ctx, since, identity)
        run.warnings = ctx.closing_warnings()
    run.finished_at = utcnow()
    session.flush()
    _log(connection, run)
    return run


def _pull(
    session: Session,
    connection: SisConnection,
    ctx: PullContext,
    source: RosterSource,
    *,
    since: datetime | None,
    include_demographics: bool,
) -> None:
    query = Query(filter=modified_since(since)) if since is not None else None
    _load_maps(ctx)
    pull_orgs(ctx, _read_all(ctx, "orgs", source.fetch_orgs(query)))
    _settle_home_org(session, connection, ctx)
    pull_sessions(ctx, _read_all(ctx, "academicSessions", source.fetch_academic_sessions(query)))
    _stream(ctx, "courses", source.fetch_courses(query), pull_courses)
    _stream(ctx, "classes", source.fetch_classes(query), pull_classes)
    _stream(ctx, "users", source.fetch_users(query), pull_users)
    _stream(ctx, "enrollments", source.fetch_enrollments(query), pull_enrollments)
    if include_demographics:
        if isinstance(source, DemographicsSource):
            _stream(ctx, "demographics", source.fetch_demographics(query), pull_demographics)
        else:
            ctx.warn("demographics", "", "this roster source cannot list demographics")
    if ctx.is_full:
        partial = (
            {name for name in (*COLLECTIONS, "demographics") if source.is_delta(name)}
            if isinstance(source, PartialSource)
            else set()
        )
        reconcile(
            ctx,
            include_demographics=include_demographics and isinstance(source, DemographicsSource),
            partial=partial,
        )


def _read_all(ctx: PullContext, collection: str, records: Iterable[R]) -> list[R]:
    """A small collection read whole (orgs, sessions: their parent trees are set in a second pass)."""
    found: list[R] = []
    for batch in chunked(records):
        found.extend(batch)
        ctx.report(collection, len(found))
    ctx.tally(collection)
    ctx.report(collection, len(found))
    return found


def _stream(
    ctx: PullContext,
    collection: str,
    records: Iterable[R],
    apply: Callable[[PullContext, Sequence[R]], None],
) -> None:
    """Apply a large collection batch by batch, the next batches read ahead while one is written."""
    count = 0
    ctx.tally(collection)
    with ReadAhead(records) as batches:
        for batch in batches:
            apply(ctx, batch)
            count += len(batch)
            ctx.report(collection, count)
    ctx.report(collection, count)


def _load_maps(ctx: PullContext) -> None:
    """sourcedId -> id of the rows this connection already owns (a delta's records refer to them)."""
    owner = ORGS.c.sis_connection_id == ctx.connection_id
    ctx.org_ids = {
        sid: row_id for sid, row_id in ctx.db.execute(select(ORGS.c.sourced_id, ORGS.c.id).where(owner))
    }
    for target, table in (
        (ctx.session_ids, SESSIONS),
        (ctx.course_ids, COURSES),
        (ctx.class_ids, CLASSES),
    ):
        rows = ctx.db.execute(
            select(table.c.sourced_id, table.c.id)
            .join(ORGS, ORGS.c.id == table.c.org_id)
            .where(owner, table.c.sourced_id.is_not(None))
        )
        target.update({sid: row_id for sid, row_id in rows})
    ctx.load_person_ids()


def _settle_home_org(session: Session, connection: SisConnection, ctx: PullContext) -> None:
    """The org the calendar is filed under: the connection's org, else its one top-level district.

    When the connection names no org yet and the SIS has exactly one top-level district (or, failing
    that, one top-level org), the connection is pointed at it, as the grade push routes by it.
    """
    if connection.org_id is not None:
        ctx.home_org_id = connection.org_id
        return
    roots = ctx.db.execute(
        select(ORGS.c.id, ORGS.c.type).where(
            ORGS.c.sis_connection_id == ctx.connection_id,
            ORGS.c.parent_id.is_(None),
            ORGS.c.is_active.is_(True),
        )
    ).all()
    districts = [row for row in roots if row.type == OrgType.DISTRICT] or roots
    if len(districts) == 1:
        connection.org_id = ctx.home_org_id = int(districts[0].id)
        session.flush()
    elif districts:
        ctx.warn(
            "orgs",
            "",
            "several top-level orgs: set the connection's org to the district to file the calendar under",
        )


def _match(session: Session, connection: SisConnection) -> dict[str, Any]:
    people = match_people(session, connection)
    classes = match_classes(session, connection)
    return {"people": people.as_counts(), "classes": classes.as_counts()}


def _counts(ctx: PullContext, since: datetime | None, identity: dict[str, Any] | None) -> dict[str, Any]:
    counts: dict[str, Any] = {name: tally.as_dict() for name, tally in ctx.tallies.items()}
    if identity is not None:
        counts["identity"] = identity
    if since is not None:
        counts["delta_since"] = since.isoformat()
    return counts


def _fail(run: SyncRun, ctx: PullContext, exc: Exception) -> None:
    run.status = SyncStatus.FAILED
    run.counts = {}
    run.warnings = ctx.closing_warnings()
    if isinstance(exc, ConnectorError):
        error: dict[str, Any] = {"message": f"{exc}; nothing was imported", "type": type(exc).__name__}
        if exc.url:
            error["url"] = exc.url
        if exc.status is not None:
            error["status"] = exc.status
    else:
        # A database error's text can quote the row it refused (names, emails): keep only its kind.
        error = {
            "message": f"the database refused a write ({type(exc).__name__}); nothing was imported",
            "type": type(exc).__name__,
        }
    run.errors = [error]


def _log(connection: SisConnection, run: SyncRun) -> None:
    totals = {
        name: value for name, value in run.counts.items() if name in COLLECTIONS or name == "demographics"
    }
    logger.info(
        "roster sync %s of SIS connection %s: %s (%s run%s), %d warnings, counts %s",
        run.id, connection.name, run.status.value, run.kind.value, ", dry" if run.is_dry_run else "",
        len(run.warnings), totals,
    )  # fmt: skip
    for error in run.errors:
        logger.warning("roster sync %s of %s failed: %s", run.id, connection.name, error.get("message"))
