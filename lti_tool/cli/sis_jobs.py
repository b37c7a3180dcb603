"""`mastery-bridge sis sync|push|reviews|resolve`: the jobs behind an SIS connection, with progress on stderr.

`sync` and `push` run here (the embedded default) or on the job queue when MB_REDIS_URL is set; `--inline`
and `--queue` choose explicitly. Dry runs always run here: they write nothing to the SIS or the roster.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from lti_tool.cli.core import CliContext, InputError, pass_context, transaction
from lti_tool.cli.sis import cli_actor, connection_errors, echo_json, sis

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from lti_tool.models import AcademicSession
    from lti_tool.settings import Settings


class _Progress:
    """A click progress bar on stderr, advanced per collection; the label shows records read so far."""

    def __init__(self, collections: int) -> None:
        self._bar = click.progressbar(length=collections, label="sync", file=sys.stderr,
                                      show_pos=True)  # fmt: skip
        self._current: str | None = None

    def __enter__(self) -> Callable[[str, int], None]:
        self._bar.__enter__()
        return self.update

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(None, None, None)

    def update(self, collection: str, count: int) -> None:
        if collection != self._current:
            if self._current is not None:
                self._bar.update(1)
            self._current = collection
        self._bar.label = f"{collection}: {count}"
        self._bar.render_progress()


@sis.command("sync")
@click.argument("name")
@click.option("--full", is_flag=True, help="Full reconciliation: deactivate what the SIS no longer returns.")
@click.option("--dry-run", is_flag=True, help="Count what would change; write nothing but the run record.")
@click.option("--queue/--inline", "use_queue", default=None,
              help="Queue on Redis (default when MB_REDIS_URL is set) or run here.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def sis_sync(
    context: CliContext, name: str, full: bool, dry_run: bool, use_queue: bool | None, as_json: bool
) -> None:
    """Pull the roster from NAME (delta since the last good run, or --full), then match identities."""
    from lti_tool.errors import InputFileError
    from lti_tool.sis.connection import get_connection
    from lti_tool.sis.manual_sync import SYNC_COLLECTION_COUNT, queue_sync, run_sync
    from lti_tool.sis.queue import JobQueueError

    settings = context.settings
    queued = _use_queue(settings, use_queue) and not (dry_run and use_queue is None)
    if queued:
        if dry_run:
            raise InputError("--dry-run runs here, not on the queue; add --inline")
        with connection_errors(), transaction(context) as session:
            connection_id = get_connection(session, name).id
        try:
            job_id = queue_sync(settings, connection_id, full=full)
        except JobQueueError as exc:
            raise click.ClickException(str(exc)) from exc
        if as_json:
            echo_json({"queued": True, "job_id": job_id})
        else:
            click.echo(f"queued sync job {job_id}; `mastery-bridge sis status {name}` shows it when done")
        return
    try:
        # The transaction commits a failed run too: sync_roster rolled its writes back, the record stays.
        with (
            connection_errors(),
            transaction(context) as session,
            _Progress(SYNC_COLLECTION_COUNT) as progress,
        ):
            outcome = run_sync(session, get_connection(session, name), secret_key=settings, full=full,
                               dry_run=dry_run, progress=progress)  # fmt: skip
            document = outcome.to_json()
    except InputFileError as exc:
        raise click.ClickException(f"the connection's course map: {exc}") from exc
    if as_json:
        echo_json(document)
    else:
        echo_sync(document)
    if outcome.has_failed:
        reason = "; ".join(outcome.run.errors[:3]) or "see `mastery-bridge sis status`"
        raise click.ClickException(f"sync of {name} failed: {reason}")


def echo_sync(document: dict[str, Any]) -> None:
    """The summary of a sync: counts per collection, warnings, unmatched identities."""
    dry = " (dry run: nothing written)" if document["is_dry_run"] else ""
    click.echo(
        f"sync run {document['run_id']} of {document['connection']}: {document['kind']} {document['status']}{dry}"
    )
    click.echo(f"  {'collection':<17} {'created':>8} {'updated':>8} {'deactivated':>12} {'unchanged':>10}")
    for collection, tally in document["collections"].items():
        click.echo(f"  {collection:<17} {tally.get('created', 0):>8} {tally.get('updated', 0):>8} "
                   f"{tally.get('deactivated', 0):>12} {tally.get('unchanged', 0):>10}")  # fmt: skip
    for key, value in document["other_counts"].items():
        click.echo(f"  {key}: {value}")
    click.echo(f"  warnings: {len(document['warnings'])}")
    for warning in document["warnings"][:20]:
        click.echo(f"    - {warning}")
    if len(document["warnings"]) > 20:
        click.echo(f"    ... and {len(document['warnings']) - 20} more (`sis status --json`)")
    for error in document["errors"]:
        click.echo(f"  error: {error}")
    identity = document.get("identity") or {}
    for kind, tally in identity.items():
        if isinstance(tally, dict):
            counts = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in tally.items())
            click.echo(f"  identity matching, {kind}: {counts}")
    if document.get("open_reviews"):
        click.echo(f"  {document['open_reviews']} identity reviews wait: "
                   f"`mastery-bridge sis reviews {document['connection']}`")  # fmt: skip


# -- push -----------------------------------------------------------------------------------------------------


def find_period(session: Session, value: str) -> AcademicSession:
    """The academic session whose sourcedId (or, failing that, title) is `value`."""
    from sqlalchemy import func, select

    from lti_tool.models import AcademicSession, SessionType

    found = session.scalar(select(AcademicSession).where(AcademicSession.sourced_id == value))
    if found is not None:
        return found
    by_title = session.scalars(
        select(AcademicSession).where(func.lower(AcademicSession.title) == value.strip().lower())
    ).all()
    if len(by_title) == 1:
        return by_title[0]
    periods = session.scalars(
        select(AcademicSession.sourced_id)
        .where(AcademicSession.type == SessionType.GRADING_PERIOD, AcademicSession.sourced_id.is_not(None))
        .order_by(AcademicSession.start_date)
    ).all()
    if by_title:
        ids = ", ".join(p.sourced_id or str(p.id) for p in by_title)
        raise InputError(
            f"--period: {len(by_title)} academic sessions are titled {value!r} ({ids}); give a sourcedId"
        )
    known = ", ".join(str(p) for p in periods[:20]) or "none"
    raise InputError(
        f"--period: no academic session with sourcedId or title {value!r}; grading periods: {known}"
    )


def _posted_count(session: Session, period: AcademicSession) -> int:
    from sqlalchemy import func, select

    from lti_tool.models import current_posted_grades_query

    query = current_posted_grades_query(academic_session_id=period.id).order_by(None).subquery()
    return session.scalar(select(func.count()).select_from(query)) or 0


def _plan(context: CliContext, name: str, period_value: str) -> dict[str, Any]:
    from lti_tool.sis.connection import get_connection, open_grade_sink
    from lti_tool.sis.push_plan import plan_push

    with connection_errors(), transaction(context) as session:
        connection = get_connection(session, name)
        period = find_period(session, period_value)
        total = _posted_count(session, period)
        with (
            open_grade_sink(connection, secret_key=context.settings) as sink,
            click.progressbar(length=max(total, 1), label="comparing with the SIS", file=sys.stderr) as bar,
        ):
            plan = plan_push(session, connection, period, sink, progress=bar.update)
        return plan.to_json()


def _deliver_inline(settings: Settings, connection_id: int, pending: int) -> dict[str, Any]:
    from lti_tool.db import make_engine, make_session_factory
    from lti_tool.sis.connection import get_connection, open_grade_sink
    from lti_tool.sis.queue import worker_id
    from lti_tool.sis.worker import DeliveryReport, deliver_all

    engine = make_engine(settings.database_url)
    try:
        factory = make_session_factory(engine)
        with factory() as session:
            connection = get_connection(session, connection_id)
            session.expunge(connection)
        with (
            open_grade_sink(connection, secret_key=settings, threads=settings.push_threads) as sink,
            click.progressbar(length=max(pending, 1), label="delivering", file=sys.stderr) as bar,
        ):

            def advance(report: DeliveryReport) -> None:
                bar.update(report.claimed)

            return deliver_all(
                factory,
                connection_id,
                sink,
                worker_id=worker_id(),
                progress=advance,
                concurrency=settings.push_threads,
            ).to_json()
    finally:
        engine.dispose()


@sis.command("push")
@click.argument("name")
@click.option("--period", "period_value", required=True, help="Grading period: sourcedId (e.g. Q1) or title.")
@click.option(
    "--dry-run", is_flag=True, help="Show what would change in the SIS (new / changed / same); send nothing."
)
@click.option("--queue/--inline", "use_queue", default=None,
              help="Deliver on the worker (default when MB_REDIS_URL is set) or here.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def sis_push(context: CliContext, name: str, period_value: str, dry_run: bool, use_queue: bool | None,
             as_json: bool) -> None:  # fmt: skip
    """Send the posted grades of a period to NAME through the outbox (exactly once, by sourcedId)."""
    from lti_tool.sis.connection import get_connection
    from lti_tool.sis.manual_sync import queue_push
    from lti_tool.sis.push_plan import enqueue_period
    from lti_tool.sis.queue import JobQueueError
    from lti_tool.sis.status import outbox_depths

    settings = context.settings
    if dry_run:
        document = _plan(context, name, period_value)
        if as_json:
            echo_json(document)
            return
        counts = document["counts"]
        click.echo(f"dry run of {document['period']} to {document['connection']}: {counts['new']} new, "
                   f"{counts['changed']} changed, {counts['same']} the same, {counts['skipped']} skipped")  # fmt: skip
        for result in document["results"]:
            changes = "; ".join(f"{c['field']}: {c['theirs']} -> {c['ours']}" for c in result["changes"])
            click.echo(f"  {result['state']:<8} {result['sourcedId']}" + (f"  {changes}" if changes else ""))
        for reason, count in document["skipped"].items():
            click.echo(f"  skipped {count}: {reason}")
        return
    queued = _use_queue(settings, use_queue)
    with connection_errors(), transaction(context) as session:
        connection = get_connection(session, name)
        if not connection.is_enabled:
            raise InputError(
                f"NAME: SIS connection {connection.name!r} is disabled; `sis update {name} --enable`"
            )
        period = find_period(session, period_value)
        enqueued = enqueue_period(session, connection, period).to_json()
        connection_id = connection.id
        pending = outbox_depths(session, [connection])[connection.id].pending
    document = {"connection": name, "period": period_value, "enqueued": enqueued}
    if queued:
        try:
            document["job_id"] = queue_push(settings, connection_id)
        except JobQueueError as exc:
            raise click.ClickException(f"{exc}; the grades stay queued in the outbox") from exc
    else:
        document["delivery"] = _deliver_inline(settings, connection_id, pending)
    if as_json:
        echo_json(document)
    else:
        _echo_push(document)
    if document.get("delivery", {}).get("failed"):
        raise SystemExit(1)


def _use_queue(settings: Settings, use_queue: bool | None) -> bool:
    if use_queue and settings.redis_url is None:
        raise InputError("--queue: MB_REDIS_URL is not set, so there is no queue; drop --queue to run here")
    return settings.redis_url is not None if use_queue is None else use_queue


def _echo_push(document: dict[str, Any]) -> None:
    enqueued = document["enqueued"]
    queued = sum(enqueued["queued"].values())
    click.echo(f"{document['period']} to {document['connection']}: {queued} messages queued, "
               f"{enqueued['already_queued']} already queued")  # fmt: skip
    for reason, count in enqueued.get("skipped", {}).items():
        click.echo(f"  skipped {count}: {reason}")
    if "job_id" in document:
        click.echo(f"delivery queued as job {document['job_id']}; `mastery-bridge sis status` shows progress")
        return
    delivery = document["delivery"]
    click.echo(f"delivered {delivery['delivered']} ({delivery['created']} created, {delivery['updated']} updated), "
               f"{delivery['retrying']} waiting to retry, {delivery['failed']} failed")  # fmt: skip
    for error in delivery["errors"]:
        click.echo(f"  error: {error}")


# -- identity reviews -----------------------------------------------------------------------------------------


@sis.command("reviews")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def sis_reviews(context: CliContext, name: str | None, as_json: bool) -> None:
    """Open identity reviews (of NAME, or all): LMS people or courses that could not be matched safely."""
    from lti_tool.sis.connection import get_connection
    from lti_tool.sis.identity import open_reviews

    with connection_errors(), transaction(context) as session:
        connection = get_connection(session, name) if name else None
        rows = [_review_row(session, review) for review in open_reviews(session, connection)]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no open identity reviews", err=True)
    for row in rows:
        candidate = row["candidate"]
        click.echo(f"{row['id']:>6}  {row['kind']:<6} {row['source']}:{row['system']} {row['external_value']}  "
                   f"{row['reason']}" + (f"  candidate: {candidate['id']} {candidate['label']}" if candidate else ""))  # fmt: skip
    if rows:
        click.echo(
            "resolve with `mastery-bridge sis resolve REVIEW_ID --person ID` (or --class ID)", err=True
        )


def _review_row(session: Session, review: Any) -> dict[str, Any]:
    from lti_tool.models import IdentityKind, Person, SchoolClass

    candidate: dict[str, Any] | None = None
    if review.kind is IdentityKind.CLASS and review.candidate_class_id is not None:
        school_class = session.get(SchoolClass, review.candidate_class_id)
        if school_class is not None:
            candidate = {"id": school_class.id, "label": f"{school_class.title} ({school_class.sourced_id})"}
    elif review.candidate_person_id is not None:
        person = session.get(Person, review.candidate_person_id)
        if person is not None:
            candidate = {"id": person.id, "label": f"{person.given_name} {person.family_name}".strip()}
    return {
        "id": review.id,
        "kind": review.kind.value,
        "connection_id": review.connection_id,
        "source": review.source.value,
        "system": review.system,
        "external_value": review.external_value,
        "reason": review.reason,
        "candidate": candidate,
        "created_at": review.created_at.isoformat(),
    }


@sis.command("resolve")
@click.argument("review_id", type=int)
@click.option("--person", "person_id", type=int, default=None, help="Row id of the person this identity is.")
@click.option("--class", "class_id", type=int, default=None, help="Row id of the class this LMS course is.")
@click.option("--dismiss", is_flag=True, help="Close the review without linking anything.")
@pass_context
def sis_resolve(
    context: CliContext, review_id: int, person_id: int | None, class_id: int | None, dismiss: bool
) -> None:
    """Resolve identity review REVIEW_ID to a person (--person) or class (--class), or --dismiss it; audited."""
    from lti_tool.sis.identity import IdentityError, resolve_review

    if sum((person_id is not None, class_id is not None, dismiss)) != 1:
        raise InputError("give exactly one of --person, --class or --dismiss")
    try:
        with transaction(context) as session:
            review = resolve_review(
                session, review_id, person_id=person_id, class_id=class_id, actor=cli_actor()
            )
            target = review.resolved_person_id or review.resolved_class_id
    except IdentityError as exc:
        raise InputError(str(exc)) from exc
    if dismiss:
        click.echo(f"review {review_id} dismissed", err=True)
    else:
        click.echo(f"review {review_id} resolved to {'person' if person_id else 'class'} {target}", err=True)
