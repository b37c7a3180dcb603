"""Student progress pages: a learner's own progress, and the same detail page for the teacher of the class.

Access rules: a learner never passes a person id (their id comes from the signed launch only); a teacher sees
a student only in a class they actively teach, launched from that class; and a class is visible only through
a launch from the platform (registration) whose context is linked to it.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.lti.roles import AppRole
from lti_tool.models import EnrollmentRole, LtiContext, Person, SchoolClass
from lti_tool.progress import build_student_progress, is_enrolled, student_classes
from lti_tool.web.auth import LaunchSession, current_launch, require_launch
from lti_tool.web.session import db_session

bp = Blueprint("student", __name__)


def _registration_class_ids(session: Session, registration_id: int) -> set[int]:
    """The classes linked to a context of this platform registration."""
    class_ids = session.scalars(
        select(LtiContext.class_id).where(LtiContext.registration_id == registration_id)
    ).all()
    return {class_id for class_id in class_ids if class_id is not None}


def _class_for_launch(session: Session, launch: LaunchSession, class_id: int) -> SchoolClass:
    """The class, when this launch's platform is linked to it (403 otherwise: another platform's data)."""
    if class_id not in _registration_class_ids(session, launch.registration_id):
        abort(403, description="This class is not available from the platform you launched from.")
    school_class = session.get(SchoolClass, class_id)
    if school_class is None:  # pragma: no cover - a linked context names an existing class
        abort(404)
    return school_class


def _render_own_progress(session: Session, launch: LaunchSession, class_id: int) -> str:
    school_class = _class_for_launch(session, launch, class_id)
    if not is_enrolled(session, class_id, launch.person_id, EnrollmentRole.STUDENT):
        abort(403, description="You are not enrolled as a student in this class.")
    person = session.get(Person, launch.person_id)
    if person is None:  # pragma: no cover - the launch recorded this person
        abort(404)
    progress = build_student_progress(session, school_class, person)
    return render_template("student/progress.html", progress=progress, viewer="student")


@bp.get("/student/progress")
@require_launch(AppRole.STUDENT)
def student_progress() -> str:
    """The learner's own progress in the launch's class, or the list of their classes without one."""
    launch = current_launch()
    session = db_session()
    if launch.class_id is not None:
        return _render_own_progress(session, launch, launch.class_id)
    classes = student_classes(
        session, launch.person_id, _registration_class_ids(session, launch.registration_id)
    )
    return render_template("student/classes.html", classes=classes)


@bp.get("/student/classes/<int:class_id>/progress")
@require_launch(AppRole.STUDENT)
def student_class_progress(class_id: int) -> str:
    """The learner's own progress in one of their classes (reached from the class list)."""
    return _render_own_progress(db_session(), current_launch(), class_id)


@bp.get("/teacher/classes/<int:class_id>/students/<int:person_id>")
@require_launch(AppRole.TEACHER)
def teacher_student_detail(class_id: int, person_id: int) -> str:
    """The detail page of one student of the teacher's class."""
    launch = current_launch()
    session = db_session()
    if launch.class_id != class_id:
        abort(403, description="This session was launched from another class.")
    school_class = _class_for_launch(session, launch, class_id)
    if not is_enrolled(session, class_id, launch.person_id, EnrollmentRole.TEACHER):
        abort(403, description="You do not teach this class.")
    person = session.get(Person, person_id)
    if person is None or not is_enrolled(session, class_id, person_id, EnrollmentRole.STUDENT):
        abort(404, description="No such student in this class.")
    progress = build_student_progress(session, school_class, person)
    return render_template("student/progress.html", progress=progress, viewer="teacher")
