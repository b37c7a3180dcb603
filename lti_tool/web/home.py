"""Landing pages after a launch, one per role (placeholders the role-specific surfaces will replace)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from sqlalchemy import func, select

from lti_tool.lti.roles import AppRole
from lti_tool.models import Enrollment, EnrollmentRole, Person, SchoolClass
from lti_tool.web.auth import current_launch, require_launch
from lti_tool.web.session import db_session

bp = Blueprint("home", __name__)


@bp.get("/teacher/classes/<int:class_id>")
@require_launch(AppRole.TEACHER)
def teacher_class(class_id: int) -> str:
    """The class of the launch with its student count and roster."""
    if current_launch().class_id != class_id:
        abort(403, description="This session was launched from another class.")
    session = db_session()
    school_class = session.get(SchoolClass, class_id)
    if school_class is None:
        abort(404)
    students = list(
        session.scalars(
            select(Person)
            .join(Enrollment, Enrollment.person_id == Person.id)
            .where(
                Enrollment.class_id == class_id,
                Enrollment.role == EnrollmentRole.STUDENT,
                Enrollment.is_active.is_(True),
            )
            .order_by(func.lower(Person.family_name), func.lower(Person.given_name), Person.id)
        )
    )
    return render_template("home/teacher_class.html", school_class=school_class, students=students)


@bp.get("/student/progress")
@require_launch(AppRole.STUDENT)
def student_progress() -> str:
    """The learner's own progress (placeholder)."""
    person = db_session().get(Person, current_launch().person_id)
    return render_template("home/student_progress.html", person=person)


@bp.get("/staff")
@require_launch(AppRole.STAFF)
def staff() -> str:
    """The staff overview (placeholder)."""
    return render_template("home/staff.html")


@bp.get("/home")
@require_launch()
def welcome() -> str:
    """Where a launch without a course role lands."""
    return render_template("home/welcome.html")
