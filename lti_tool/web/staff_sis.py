"""Staff pages for SIS connections: list and add, test, sync now, runs, outbox, identity reviews.

For an Administrator launch (AppRole.STAFF). The session token travels in each form's hidden field and in
links (`launch_url_for`), never in a cookie. Bad form input is shown again with the problem (422); a
failed sync is shown with its reason (200, so the request commits the failed run's record).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from flask import Blueprint, abort, g, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.oneroster.profiles import load_profile, profile_names
from lti_tool.errors import InputFileError, SecretError
from lti_tool.lti.roles import AppRole
from lti_tool.models import (
    IdentifierSource,
    IdentityKind,
    IdentityReview,
    LtiContext,
    Person,
    PersonIdentifier,
    SchoolClass,
    SisConnection,
)
from lti_tool.sis.checks import ConnectionCheck, check_connection
from lti_tool.sis.connection import (
    SisConnectionError,
    connection_options,
    create_connection,
    scope_sets,
)
from lti_tool.sis.manual_sync import queue_sync, run_sync
from lti_tool.sis.queue import JobQueueError
from lti_tool.sis.status import sis_status
from lti_tool.web.auth import current_launch, require_launch
from lti_tool.web.session import app_state, db_session

bp = Blueprint("staff_sis", __name__, url_prefix="/staff/sis")

UNPROCESSABLE: Final = 422
BAD_GATEWAY: Final = 502
SERVICE_UNAVAILABLE: Final = 503
# A page of review forms stays usable; the CLI (`sis reviews`) lists every one.
REVIEWS_SHOWN: Final = 50
# Form field id of each SisConnectionError field, so the error points at the control to fix.
FORM_FIELDS: Final = {
    "name": "name",
    "profile": "profile",
    "base_url": "base_url",
    "version": "version",
    "auth": "auth",
    "client_id": "client_id",
    "secret": "secret",
    "scopes": "scopes",
    "token_url": "token_url",
    "token_auth_method": "token_auth_method",
    "org": "org",
}
ADD_FIELDS: Final = ("name", "profile", "base_url", "version", "auth", "client_id", "token_url",
                     "token_auth_method", "scopes", "org")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Candidate:
    """A person or class a review may be resolved to."""

    id: int
    label: str


@dataclass(frozen=True, slots=True)
class ReviewRow:
    """One open identity review with what the page shows about it."""

    review: IdentityReview
    subject: str
    candidates: tuple[Candidate, ...]


def _actor() -> str:
    return f"lti:person:{current_launch().person_id}"


def _profiles() -> list[tuple[str, str]]:
    return [(name, load_profile(name).display_name) for name in profile_names()]


def _render_index(
    *, form: dict[str, str] | None = None, error: str | None = None, error_field: str | None = None,
    added: str | None = None, status: int = 200,
) -> tuple[str, int]:  # fmt: skip
    session = db_session()
    page = render_template(
        "staff/sis.html",
        status=sis_status(session),
        profiles=_profiles(),
        form=form or {},
        error=error,
        error_field=error_field,
        added=added,
        session_token=g.get("session_token"),
    )
    return page, status


@bp.get("")
@require_launch(AppRole.STAFF)
def index() -> tuple[str, int]:
    """Every connection with its last run and outbox depth, and the form to add one."""
    return _render_index()


@bp.post("")
@require_launch(AppRole.STAFF)
def add_connection() -> tuple[str, int]:
    """Add a connection from the form; show the form again with the problem if it does not validate."""
    form = {key: request.form.get(key, "").strip() for key in ADD_FIELDS}
    secret = request.form.get("secret", "")
    settings: dict[str, Any] = {"token_url": form["token_url"] or None}
    if form["token_auth_method"]:
        settings["token_auth_method"] = form["token_auth_method"]
    if request.form.get("demographics") == "1":
        settings["demographics"] = True
        form["demographics"] = "1"
    if form["profile"] not in profile_names():
        return _render_index(form=form, error=f"Choose a vendor profile (got {form['profile']!r}).",
                             error_field="profile", status=UNPROCESSABLE)  # fmt: skip
    try:
        connection = create_connection(
            db_session(), name=form["name"], profile=form["profile"], base_url=form["base_url"],
            version=form["version"] or None, auth=form["auth"] or None, client_id=form["client_id"],
            secret=secret, secret_key=app_state().settings, scopes=form["scopes"].split(),
            settings={k: v for k, v in settings.items() if v is not None}, org=form["org"] or None,
            actor=_actor(),
        )  # fmt: skip
    except SisConnectionError as exc:
        return _render_index(form=form, error=str(exc), error_field=FORM_FIELDS.get(exc.field or ""),
                             status=UNPROCESSABLE)  # fmt: skip
    return _render_index(added=connection.name)


# -- one connection -------------------------------------------------------------------------------------------


def _connection(connection_id: int) -> SisConnection:
    connection = db_session().get(SisConnection, connection_id)
    if connection is None:
        abort(404, description=f"There is no SIS connection {connection_id}.")
    return connection


def _person_label(person: Person) -> str:
    name = " ".join(part for part in (person.given_name, person.family_name) if part) or f"person {person.id}"
    return f"{name} ({person.email})" if person.email else name


def _class_label(school_class: SchoolClass) -> str:
    return f"{school_class.title} ({school_class.sourced_id or 'no sourcedId'})"


def _review_rows(session: Session, connection: SisConnection) -> tuple[list[ReviewRow], int]:
    """The oldest REVIEWS_SHOWN open reviews with their candidates, and how many are open in all."""
    from lti_tool.sis.identity import open_reviews

    reviews = open_reviews(session, connection)
    rows: list[ReviewRow] = []
    for review in reviews[:REVIEWS_SHOWN]:
        candidates: list[Candidate] = []
        if review.kind is IdentityKind.CLASS:
            context = session.get(LtiContext, review.lti_context_id) if review.lti_context_id else None
            subject = f"LMS course {context.title or context.context_id}" if context else "an LMS course"
            if review.candidate_class_id is not None:
                school_class = session.get(SchoolClass, review.candidate_class_id)
                if school_class is not None:
                    candidates.append(Candidate(school_class.id, _class_label(school_class)))
        else:
            subject = f"{review.source.value} identity {review.external_value} ({review.system})"
            if review.candidate_person_id is not None:
                person = session.get(Person, review.candidate_person_id)
                if person is not None:
                    candidates.append(Candidate(person.id, _person_label(person)))
        rows.append(ReviewRow(review, subject, tuple(candidates)))
    return rows, len(reviews)


def _render_connection(
    connection: SisConnection, *, check: ConnectionCheck | None = None, sync: dict[str, Any] | None = None,
    queued: str | None = None, message: str | None = None, error: str | None = None, status: int = 200,
) -> tuple[str, int]:  # fmt: skip
    session = db_session()
    reviews, review_total = _review_rows(session, connection)
    page = render_template(
        "staff/sis_connection.html",
        connection=connection,
        options=connection_options(connection),
        scopes=scope_sets(connection),
        status=sis_status(session, connection=connection),
        reviews=reviews,
        review_total=review_total,
        check=check,
        sync=sync,
        queued=queued,
        message=message,
        error=error,
        session_token=g.get("session_token"),
    )
    return page, status


@bp.get("/<int:connection_id>")
@require_launch(AppRole.STAFF)
def connection_page(connection_id: int) -> tuple[str, int]:
    """One connection: settings, test and sync buttons, last runs, outbox, identity reviews."""
    return _render_connection(_connection(connection_id))


@bp.post("/<int:connection_id>/test")
@require_launch(AppRole.STAFF)
def test_connection(connection_id: int) -> tuple[str, int]:
    """Run the `sis test` checks and show a verdict per check."""
    connection = _connection(connection_id)
    try:
        check = check_connection(connection, secret_key=app_state().settings)
    except SecretError as exc:
        return _render_connection(connection, error=str(exc), status=BAD_GATEWAY)
    return _render_connection(connection, check=check)


@bp.post("/<int:connection_id>/sync")
@require_launch(AppRole.STAFF)
def sync_connection(connection_id: int) -> tuple[str, int]:
    """Sync now: inline in the embedded set-up, on the job queue when MB_REDIS_URL is set."""
    connection = _connection(connection_id)
    settings = app_state().settings
    full = request.form.get("full") == "1"
    dry_run = request.form.get("dry_run") == "1"
    if settings.redis_url is not None and not dry_run:
        try:
            job_id = queue_sync(settings, connection.id, full=full)
        except JobQueueError as exc:
            return _render_connection(connection, error=str(exc), status=SERVICE_UNAVAILABLE)
        return _render_connection(connection, queued=job_id)
    try:
        outcome = run_sync(db_session(), connection, secret_key=settings, full=full, dry_run=dry_run)
    except (SisConnectionError, InputFileError) as exc:
        return _render_connection(connection, error=str(exc), status=UNPROCESSABLE)
    except SecretError as exc:
        return _render_connection(connection, error=str(exc), status=BAD_GATEWAY)
    # A failed pull answers 200 all the same: the request's commit is what keeps the FAILED run on record
    # (sync_roster rolled its writes back); the page shows why it failed.
    error = None
    if outcome.has_failed:
        error = "The sync failed and nothing was imported: " + (
            "; ".join(outcome.run.errors[:3]) or "no reason recorded"
        )
    return _render_connection(connection, sync=outcome.to_json(), error=error)


def _resolve_target(session: Session, connection: SisConnection, review: IdentityReview) -> int | None:
    """The row id picked in the form: a candidate, or the record whose SIS sourcedId was typed."""
    choice = request.form.get("candidate", "").strip()
    typed = request.form.get("sourced_id", "").strip()
    if typed:
        if review.kind is IdentityKind.CLASS:
            return session.scalar(select(SchoolClass.id).where(SchoolClass.sourced_id == typed))
        return session.scalar(
            select(PersonIdentifier.person_id).where(
                PersonIdentifier.source == IdentifierSource.SIS,
                PersonIdentifier.system == connection.name,
                PersonIdentifier.value == typed,
            )
        )
    return int(choice) if choice.isdigit() else None


@bp.post("/<int:connection_id>/reviews/<int:review_id>")
@require_launch(AppRole.STAFF)
def resolve(connection_id: int, review_id: int) -> tuple[str, int]:
    """Resolve an identity review to the candidate picked (or the sourcedId typed), or dismiss it."""
    from lti_tool.sis.identity import IdentityError, resolve_review

    session = db_session()
    connection = _connection(connection_id)
    review = session.get(IdentityReview, review_id)
    if review is None or review.connection_id != connection.id:
        abort(404, description=f"There is no identity review {review_id} for this connection.")
    dismiss = request.form.get("action") == "dismiss"
    target = None if dismiss else _resolve_target(session, connection, review)
    if target is None and not dismiss:
        what = "class" if review.kind is IdentityKind.CLASS else "person"
        return _render_connection(
            connection,
            error=f"Review {review_id}: pick a candidate or type the {what}'s SIS sourcedId that exists.",
            status=UNPROCESSABLE,
        )
    try:
        if review.kind is IdentityKind.CLASS:
            resolve_review(session, review_id, class_id=target, actor=_actor())
        else:
            resolve_review(session, review_id, person_id=target, actor=_actor())
    except IdentityError as exc:
        return _render_connection(connection, error=f"Review {review_id}: {exc}", status=UNPROCESSABLE)
    done = "dismissed" if dismiss else "resolved"
    return _render_connection(connection, message=f"Review {review_id} {done}.")
