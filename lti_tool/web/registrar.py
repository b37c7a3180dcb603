"""Registrar pages (Administrator launch, AppRole.STAFF): pre-posting check, posting, amendments, equity.

Authorization: every route needs a staff launch, else 403. CSRF: as on the teacher pages, the tool sets no
cookies; every write is authorised only by the signed session token in the form's hidden `mb_session`
field. Posting asks for an explicit confirmation (a checkbox), and amendments need a reason.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import Blueprint, abort, g, redirect, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from lti_tool.lti.roles import AppRole
from lti_tool.models import AcademicSession, Org, OrgType, Person, PostedGrade, SchoolClass
from lti_tool.registrar.amendments import amend_grade, grade_history, parse_course_value
from lti_tool.registrar.equity import DEFAULT_MIN_GROUP_SIZE, school_equity_report
from lti_tool.registrar.errors import AmendmentError, PostingRefusedError
from lti_tool.registrar.lookup import gradable_periods, list_schools
from lti_tool.registrar.posting import post_period
from lti_tool.registrar.precheck import check_before_posting
from lti_tool.registrar.queries import class_summaries, current_grade_views, period_statuses
from lti_tool.web.auth import current_launch, launch_url_for, require_launch
from lti_tool.web.session import db_session

bp = Blueprint("registrar", __name__, url_prefix="/staff/registrar")

# 422: the form is shown again with the problem; the request's transaction is rolled back (status >= 400).
UNPROCESSABLE = 422
CONFLICT = 409


def _actor() -> str:
    # The launch's person id, never a name: audit rows and posted_by are read by other staff and exported.
    return f"lti:person:{current_launch().person_id}"


def _school(school_id: int) -> Org:
    school = db_session().get(Org, school_id)
    if school is None or school.type != OrgType.SCHOOL:
        abort(404, description=f"No school {school_id}.")
    return school


def _period(school: Org, period_id: int) -> AcademicSession:
    period = db_session().get(AcademicSession, period_id)
    if period is None or period.id not in {item.id for item in gradable_periods(db_session(), school)}:
        abort(404, description=f"No grading period {period_id} at {school.name}.")
    return period


@bp.get("")
@require_launch(AppRole.STAFF)
def index() -> str:
    """Every school with its grading periods and whether each is posted."""
    session = db_session()
    schools = [(school, period_statuses(session, school)) for school in list_schools(session)]
    return render_template("registrar/index.html", schools=schools)


def _render_check(
    school: Org, period: AcademicSession, *, error: str | None = None, status: int = 200
) -> tuple[str, int]:
    check = check_before_posting(db_session(), school, period)
    page = render_template(
        "registrar/check.html",
        school=school,
        period=period,
        check=check,
        error=error,
        session_token=g.get("session_token"),
    )
    return page, status


@bp.get("/schools/<int:school_id>/periods/<int:period_id>")
@require_launch(AppRole.STAFF)
def check(school_id: int, period_id: int) -> tuple[str, int]:
    """The pre-posting check of one period, with the post form when nothing blocks."""
    school = _school(school_id)
    return _render_check(school, _period(school, period_id))


@bp.post("/schools/<int:school_id>/periods/<int:period_id>/post")
@require_launch(AppRole.STAFF)
def post(school_id: int, period_id: int) -> ResponseReturnValue:
    """Post the period (after the confirmation checkbox); a refused posting shows the check again."""
    school = _school(school_id)
    period = _period(school, period_id)
    if request.form.get("confirm") != "yes":
        return _render_check(
            school,
            period,
            error="Tick the confirmation box: posted grades are locked and sent to the SIS.",
            status=UNPROCESSABLE,
        )
    try:
        post_period(db_session(), school, period, actor=_actor())
    except PostingRefusedError as exc:
        db_session().rollback()
        return _render_check(school, period, error=str(exc), status=CONFLICT)
    return redirect(
        launch_url_for("registrar.posted", school_id=school.id, period_id=period.id, posted="1"), code=303
    )


@bp.get("/schools/<int:school_id>/periods/<int:period_id>/grades")
@require_launch(AppRole.STAFF)
def posted(school_id: int, period_id: int) -> str:
    """The posted grades of a period: per class, then one class's students with amendments marked."""
    session = db_session()
    school = _school(school_id)
    period = _period(school, period_id)
    class_id = request.args.get("class_id", type=int)
    school_class = session.get(SchoolClass, class_id) if class_id is not None else None
    if class_id is not None and (school_class is None or school_class.org_id != school.id):
        abort(404, description=f"No class {class_id} at {school.name}.")
    views = (
        current_grade_views(session, academic_session_id=period.id, org_id=school.id, class_id=class_id)
        if school_class is not None
        else []
    )
    names = {
        person_id: f"{given} {family}".strip()
        for person_id, given, family in session.execute(
            select(Person.id, Person.given_name, Person.family_name).where(
                Person.id.in_([view.student_id for view in views])
            )
        )
    }
    return render_template(
        "registrar/grades.html",
        school=school,
        period=period,
        summaries=class_summaries(session, org_id=school.id, academic_session_id=period.id),
        school_class=school_class,
        views=views,
        names=names,
        just_posted=request.args.get("posted") == "1",
    )


def _render_grade(posted_grade_id: int, *, error: str | None = None, status: int = 200) -> tuple[str, int]:
    session = db_session()
    row = session.get(PostedGrade, posted_grade_id)
    if row is None:
        abort(404, description=f"No posted grade {posted_grade_id}.")
    history = grade_history(session, posted_grade_id)
    school_class = session.get(SchoolClass, row.class_id)
    period = session.get(AcademicSession, row.academic_session_id)
    person = session.get(Person, row.student_id)
    page = render_template(
        "registrar/grade.html",
        row=row,
        history=history,
        school_class=school_class,
        period=period,
        student_name=f"{person.given_name} {person.family_name}".strip() if person else "",
        explanation=str(row.provenance.get("explanation", "")),
        error=error,
        form=request.form,
        session_token=g.get("session_token"),
    )
    return page, status


@bp.get("/grades/<int:posted_grade_id>")
@require_launch(AppRole.STAFF)
def grade(posted_grade_id: int) -> tuple[str, int]:
    """One posted grade: its history (original and amendments) and the amendment form."""
    return _render_grade(posted_grade_id)


@bp.post("/grades/<int:posted_grade_id>/amend")
@require_launch(AppRole.STAFF)
def amend(posted_grade_id: int) -> ResponseReturnValue:
    """Amend the grade: a new letter and/or course value and a required reason."""
    if db_session().get(PostedGrade, posted_grade_id) is None:
        abort(404, description=f"No posted grade {posted_grade_id}.")
    letter = (request.form.get("letter") or "").strip() or None
    value_text = (request.form.get("course_value") or "").strip()
    try:
        value: Decimal | None = parse_course_value(value_text) if value_text else None
        amended = amend_grade(
            db_session(),
            posted_grade_id,
            letter=letter,
            course_value=value,
            reason=request.form.get("reason", ""),
            actor=_actor(),
        )
    except AmendmentError as exc:
        db_session().rollback()
        return _render_grade(posted_grade_id, error=str(exc), status=UNPROCESSABLE)
    return redirect(launch_url_for("registrar.grade", posted_grade_id=amended.id, amended="1"), code=303)


@bp.get("/schools/<int:school_id>/equity")
@require_launch(AppRole.STAFF)
def equity(school_id: int) -> str:
    """The equity report: distributions per indicator and class, over time and by subgroup, suppressed."""
    school = _school(school_id)
    as_of_text = request.args.get("as_of") or ""
    as_of: date | None = None
    if as_of_text:
        try:
            as_of = date.fromisoformat(as_of_text)
        except ValueError:
            abort(400, description=f"as_of: {as_of_text!r} is not a date (YYYY-MM-DD).")
    size_text = (request.args.get("min_group_size") or "").strip()
    min_group_size = int(size_text) if size_text.isdigit() else DEFAULT_MIN_GROUP_SIZE
    if size_text and (not size_text.isdigit() or min_group_size < 1):
        abort(400, description=f"min_group_size: {size_text!r} is not a whole number of at least 1.")
    report = school_equity_report(db_session(), school, as_of=as_of, min_group_size=min_group_size)
    return render_template(
        "registrar/equity.html", school=school, report=report, session_token=g.get("session_token")
    )
