"""Student progress pages on the demo district: own data only, teachers of the class only, the core's "why"."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import make_url, select

from lti_tool.db import make_engine, make_session_factory
from lti_tool.demo.district import generate_district
from lti_tool.demo.load import load_district
from lti_tool.grading import grade_class
from lti_tool.lti.roles import AppRole
from lti_tool.models import (
    Course,
    Enrollment,
    EnrollmentRole,
    Evidence,
    EvidenceSource,
    LtiContext,
    SchoolClass,
    ScoreStatus,
)
from lti_tool.policies import policy_from_row, policy_row_for_class
from lti_tool.registrations import add_platform
from lti_tool.web.auth import LaunchSession, issue_session_token
from lti_tool.web.session import app_state
from mappings import render_explanation
from tests.integration.launch_harness import build_app


@dataclass(frozen=True)
class World:
    """Ids of the people and classes the tests launch as."""

    registration_a: int
    registration_b: int
    class_a: int
    class_b: int
    teacher_a: int
    teacher_b: int
    student: int
    classmate: int
    outsider: int  # a student not enrolled in class A
    superseded_value: Decimal
    corrected_value: Decimal


@pytest.fixture(scope="module")
def module_database_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of this module's own (the app commits), of the same kind as `database_url`."""
    sa_url = make_url(database_url)
    if sa_url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('student-pages') / 'student.db'}"
        return
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(database_url)
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        yield sa_url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    finally:
        admin.dispose()


@pytest.fixture(scope="module")
def app(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    yield from build_app(module_database_url, tmp_path_factory.mktemp("student-app"))


@pytest.fixture(scope="module")
def world(app: Flask, module_database_url: str) -> World:
    engine = make_engine(module_database_url)
    try:
        with make_session_factory(engine).begin() as session:
            load_district(session, generate_district(student_count=40))
            classes = session.scalars(select(SchoolClass).order_by(SchoolClass.id)).all()

            def teacher_of(class_id: int) -> int:
                return session.scalars(
                    select(Enrollment.person_id).where(
                        Enrollment.class_id == class_id, Enrollment.role == EnrollmentRole.TEACHER
                    )
                ).one()

            def students_of(class_id: int) -> list[int]:
                return list(
                    session.scalars(
                        select(Enrollment.person_id)
                        .where(Enrollment.class_id == class_id, Enrollment.role == EnrollmentRole.STUDENT)
                        .order_by(Enrollment.person_id)
                    )
                )

            class_a = classes[0]
            teacher_a = teacher_of(class_a.id)
            class_b = next(item for item in classes if teacher_of(item.id) != teacher_a)
            in_a = students_of(class_a.id)
            outsider = next(
                person for item in classes for person in students_of(item.id) if person not in in_a
            )
            student, classmate = in_a[0], in_a[1]
            reg_a = add_platform(session, issuer="https://lms-a.example", client_id="a", deployment_id="1",
                                 auth_login_url="https://lms-a.example/auth", auth_token_url="https://lms-a.example/token",
                                 key_set_url="https://lms-a.example/jwks")  # fmt: skip
            reg_b = add_platform(session, issuer="https://lms-b.example", client_id="b", deployment_id="1",
                                 auth_login_url="https://lms-b.example/auth", auth_token_url="https://lms-b.example/token",
                                 key_set_url="https://lms-b.example/jwks")  # fmt: skip
            session.add_all(
                [
                    LtiContext(registration_id=reg_a.id, context_id="ctx-a", class_id=class_a.id),
                    LtiContext(registration_id=reg_a.id, context_id="ctx-b", class_id=class_b.id),
                ]
            )
            # A correction of the student's oldest evidence: shown as corrected, never counted twice.
            oldest = session.scalars(
                select(Evidence)
                .where(Evidence.class_id == class_a.id, Evidence.student_id == student)
                .order_by(Evidence.demonstrated_at, Evidence.id)
            ).first()
            assert oldest is not None
            assert oldest.level_value is not None
            corrected = Decimal(4) if oldest.level_value < 4 else Decimal(1)
            session.add(
                Evidence(
                    student_id=student, class_id=class_a.id, indicator_id=oldest.indicator_id,
                    task_id=oldest.task_id, score_status=ScoreStatus.SCORED, level_value=corrected,
                    demonstrated_at=oldest.demonstrated_at, recorded_at=datetime.now(UTC), kind=oldest.kind,
                    source=EvidenceSource.LTI, supersedes_id=oldest.id, comment="Re-scored after norming",
                )
            )  # fmt: skip
            return World(reg_a.id, reg_b.id, class_a.id, class_b.id, teacher_a, teacher_of(class_b.id),
                         student, classmate, outsider, oldest.level_value, corrected)  # fmt: skip
    finally:
        engine.dispose()


def token(app: Flask, person_id: int, role: AppRole, class_id: int | None, registration_id: int) -> str:
    with app.app_context():
        return issue_session_token(
            LaunchSession(
                person_id=person_id, registration_id=registration_id, deployment_id="1",
                lti_context_id=None, class_id=class_id, roles=frozenset({role}),
                message_type="LtiResourceLinkRequest", resource_link_id="rl-1",
            )
        )  # fmt: skip


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def get(client: FlaskClient, url: str, mb_token: str) -> tuple[int, str]:
    response = client.get(url, headers={"Authorization": f"Bearer {mb_token}"})
    return response.status_code, response.get_data(as_text=True)


def test_learner_sees_own_indicators_levels_evidence_and_why(
    app: Flask, client: FlaskClient, world: World
) -> None:
    learner = token(app, world.student, AppRole.STUDENT, world.class_a, world.registration_a)
    status, page = get(client, "/student/progress", learner)
    assert status == 200, page
    assert "My progress in" in page
    # Level names and I-can meanings beside every number.
    assert "Developing" in page
    assert "I can do the simpler parts on my own." in page
    assert re.search(r'<span class="level-value">\d(\.\d+)?</span> <span class="level-label">\w+', page)
    assert page.count('<article class="card indicator"') >= 1
    # The evidence trail of each indicator is ordered by demonstrated date.
    for table in re.findall(r'<table class="evidence">(.*?)</table>', page, re.S):
        dates = re.findall(r'<th scope="row">(\d{4}-\d\d-\d\d)</th>', table)
        assert dates == sorted(dates)
    # The superseded score is shown as corrected.
    assert 'class="superseded"' in page
    assert "Corrected" in page
    assert "Re-scored after norming" in page
    # Chart with its accessible name, description and text table.
    assert 'role="img"' in page
    assert "<title id=" in page
    assert "<desc id=" in page
    assert "Chart as a table" in page
    # The explanation is the core's, verbatim, with the evidence values.
    explanations = [
        html.unescape(text) for text in re.findall(r'<pre class="explanation">(.*?)</pre>', page, re.S)
    ]
    engine = make_engine(app_state(app).settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            school_class = session.get(SchoolClass, world.class_a)
            assert school_class is not None
            policy_row = policy_row_for_class(session, school_class)
            assert policy_row is not None
            policy = policy_from_row(policy_row)
            course = session.get(Course, school_class.course_id)
            assert course is not None
            grades = grade_class(session, school_class, policy).grades[world.student]
            expected = [
                render_explanation(grade, course_title=course.title, policy=policy) for grade in grades
            ]
    finally:
        engine.dispose()
    assert explanations == expected
    assert any("Evidence used, oldest first" in text for text in explanations)
    assert f"{world.corrected_value:.2f} on" in explanations[-1]
    assert "Why " in page
    assert "Habits of work" in page


def test_learner_without_class_gets_list_of_own_classes(
    app: Flask, client: FlaskClient, world: World
) -> None:
    learner = token(app, world.student, AppRole.STUDENT, None, world.registration_a)
    status, page = get(client, "/student/progress", learner)
    assert status == 200
    assert f"/student/classes/{world.class_a}/progress" in page
    status, _ = get(client, f"/student/classes/{world.class_a}/progress", learner)
    assert status == 200


def test_learner_cannot_reach_another_students_data(app: Flask, client: FlaskClient, world: World) -> None:
    learner = token(app, world.student, AppRole.STUDENT, world.class_a, world.registration_a)
    # No learner route takes a person id; the teacher route refuses learners.
    assert not [
        rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/student") and "person" in rule.rule
    ]
    status, _ = get(client, f"/teacher/classes/{world.class_a}/students/{world.classmate}", learner)
    assert status == 403
    # A class the learner is not enrolled in.
    status, _ = get(client, f"/student/classes/{world.class_b}/progress", learner)
    assert status in (403, 404)
    # Another platform's user sees nothing of this platform's class.
    other = token(app, world.student, AppRole.STUDENT, world.class_a, world.registration_b)
    status, _ = get(client, "/student/progress", other)
    assert status == 403


def test_teacher_of_class_sees_any_student(app: Flask, client: FlaskClient, world: World) -> None:
    teacher = token(app, world.teacher_a, AppRole.TEACHER, world.class_a, world.registration_a)
    for person_id in (world.student, world.classmate):
        status, page = get(client, f"/teacher/classes/{world.class_a}/students/{person_id}", teacher)
        assert status == 200, page
        assert "progress in" in page
        assert 'role="img"' in page


def test_teacher_access_is_limited_to_their_class_and_platform(
    app: Flask, client: FlaskClient, world: World
) -> None:
    teacher_a = token(app, world.teacher_a, AppRole.TEACHER, world.class_a, world.registration_a)
    status, _ = get(client, f"/teacher/classes/{world.class_b}/students/{world.student}", teacher_a)
    assert status == 403
    # A teacher launched from class B who does not teach class A.
    teacher_b = token(app, world.teacher_b, AppRole.TEACHER, world.class_a, world.registration_a)
    status, _ = get(client, f"/teacher/classes/{world.class_a}/students/{world.student}", teacher_b)
    assert status == 403
    status, _ = get(client, f"/teacher/classes/{world.class_a}/students/{world.outsider}", teacher_a)
    assert status in (403, 404)
    other_platform = token(app, world.teacher_a, AppRole.TEACHER, world.class_a, world.registration_b)
    status, _ = get(client, f"/teacher/classes/{world.class_a}/students/{world.student}", other_platform)
    assert status == 403
    status, _ = client.get(f"/teacher/classes/{world.class_a}/students/{world.student}").status_code, ""
    assert status == 401
