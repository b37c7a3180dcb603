"""Registrar pages for an Administrator launch: check, post with confirmation, amend with a reason, equity."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, make_url, select

from lti_tool.db import make_engine
from lti_tool.lti.roles import AppRole
from lti_tool.models import Demographic, Enrollment, EnrollmentRole, PostedGrade, SchoolClass
from lti_tool.web.auth import LaunchSession, issue_session_token
from lti_tool.web.session import app_state
from tests.integration.launch_harness import build_app
from tests.integration.registrar_support import Demo, add_sis_connection, load_demo


@pytest.fixture(scope="module")
def module_database_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of this module's own (the app commits)."""
    sa_url = make_url(database_url)
    if sa_url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('registrar') / 'registrar.db'}"
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
    for built in build_app(module_database_url, tmp_path_factory.mktemp("app")):
        with app_state(built).session_factory.begin() as session:
            demo = load_demo(session)
            add_sis_connection(session, demo)
            # Demographics for every student of ALG2-1 but a few: subgroups, some of them small.
            school_class = session.scalar(select(SchoolClass).where(SchoolClass.sourced_id == "ALG2-1"))
            assert school_class is not None
            students = session.scalars(
                select(Enrollment.person_id).where(
                    Enrollment.class_id == school_class.id, Enrollment.role == EnrollmentRole.STUDENT
                )
            ).all()
            for index, person_id in enumerate(students[:-2]):
                session.add(Demographic(person_id=person_id, data={
                    "sex": "female" if index % 2 else "male",
                    "hispanicOrLatinoEthnicity": "true" if index % 5 == 0 else "false",
                    "white": "true",
                }))  # fmt: skip
        yield built


@pytest.fixture(scope="module")
def demo_ids(app: Flask) -> dict[str, int]:
    with app_state(app).session_factory() as session:
        demo: Demo = load_demo(session)  # already loaded: returns the rows
        return {"school": demo.school.id, "q1": demo.periods["Q1"].id, "q2": demo.periods["Q2"].id}


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def token(app: Flask, role: AppRole, person_id: int = 1) -> str:
    with app.app_context():
        return issue_session_token(
            LaunchSession(
                person_id=person_id, registration_id=1, deployment_id="d", lti_context_id=None, class_id=None,
                roles=frozenset({role}), message_type="LtiResourceLinkRequest", resource_link_id=None,
            )
        )  # fmt: skip


def page(client: FlaskClient, url: str, staff: str) -> str:
    response = client.get(f"{url}{'&' if '?' in url else '?'}mb_session={staff}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return html.unescape(response.get_data(as_text=True))


def test_check_post_and_amend_as_a_registrar(
    app: Flask, client: FlaskClient, demo_ids: dict[str, int]
) -> None:
    staff = token(app, AppRole.STAFF, person_id=7)
    school, q1 = demo_ids["school"], demo_ids["q1"]
    home = page(client, "/staff", staff)
    assert "/staff/registrar" in home

    index = page(client, "/staff/registrar", staff)
    assert "Riverbend High School" in index
    assert "Quarter 1" in index
    assert "Check before posting" in index

    check_url = f"/staff/registrar/schools/{school}/periods/{q1}"
    check = page(client, check_url, staff)
    assert "Ready to post." in check
    assert "Post Quarter 1 for Riverbend High School" in check
    assert "insufficient evidence" in check

    # Without the confirmation box nothing is posted.
    unconfirmed = client.post(f"{check_url}/post", data={"mb_session": staff})
    assert unconfirmed.status_code == 422
    assert "Tick the confirmation box" in unconfirmed.get_data(as_text=True)
    with app_state(app).session_factory() as session:
        assert session.scalar(select(func.count()).select_from(PostedGrade)) == 0

    posted = client.post(f"{check_url}/post", data={"mb_session": staff, "confirm": "yes"})
    assert posted.status_code == 303
    grades_url = posted.headers["Location"]
    assert f"/schools/{school}/periods/{q1}/grades" in grades_url
    listing = html.unescape(client.get(grades_url).get_data(as_text=True))
    assert "Posted. The grades are locked" in listing
    assert "Algebra II (1)" in listing

    again = client.post(f"{check_url}/post", data={"mb_session": staff, "confirm": "yes"})
    assert again.status_code == 409
    assert "already posted Quarter 1" in html.unescape(again.get_data(as_text=True))
    blocked = page(client, check_url, staff)
    assert "Blocked:" in blocked
    assert "Post Quarter 1 for" not in blocked

    with app_state(app).session_factory() as session:
        row = session.scalar(select(PostedGrade).where(PostedGrade.letter == "B").order_by(PostedGrade.id))
        assert row is not None
        row_id, class_id = row.id, row.class_id
    class_page = page(
        client, f"/staff/registrar/schools/{school}/periods/{q1}/grades?class_id={class_id}", staff
    )
    assert f"/staff/registrar/grades/{row_id}" in class_page

    grade_page = page(client, f"/staff/registrar/grades/{row_id}", staff)
    assert "How the posted grade was computed" in grade_page
    assert "Policy: four-point-plus-minus" in grade_page

    no_reason = client.post(f"/staff/registrar/grades/{row_id}/amend",
                            data={"mb_session": staff, "letter": "A", "reason": " "})  # fmt: skip
    assert no_reason.status_code == 422
    assert "an amendment needs a reason" in no_reason.get_data(as_text=True)
    bad_value = client.post(f"/staff/registrar/grades/{row_id}/amend",
                            data={"mb_session": staff, "course_value": "lots", "reason": "x"})  # fmt: skip
    assert bad_value.status_code == 422
    assert "is not a number" in html.unescape(bad_value.get_data(as_text=True))

    amended = client.post(f"/staff/registrar/grades/{row_id}/amend",
                          data={"mb_session": staff, "letter": "A-", "reason": "Re-scored portfolio"})  # fmt: skip
    assert amended.status_code == 303
    after = html.unescape(client.get(amended.headers["Location"]).get_data(as_text=True))
    assert "Amended. The new grade is locked" in after
    assert "Amendment (current)" in after
    assert "Re-scored portfolio" in after
    assert "lti:person:7" in after
    listing = page(
        client, f"/staff/registrar/schools/{school}/periods/{q1}/grades?class_id={class_id}", staff
    )
    assert "(amended from B)" in listing


def test_equity_report_suppresses_small_groups(
    app: Flask, client: FlaskClient, demo_ids: dict[str, int]
) -> None:
    staff = token(app, AppRole.STAFF)
    report = page(client, f"/staff/registrar/schools/{demo_ids['school']}/equity?as_of=2026-12-01", staff)
    assert "Equity report: Riverbend High School" in report
    assert "fewer than 10" in report
    assert "Not reported" in report
    assert "Hispanic or Latino" in report
    cells = re.findall(r"<td>fewer than 10</td>", report)
    assert cells
    bigger = page(client, f"/staff/registrar/schools/{demo_ids['school']}/equity?min_group_size=30", staff)
    assert "fewer than 30" in bigger
    assert client.get(f"/staff/registrar/schools/{demo_ids['school']}/equity",
                      query_string={"mb_session": staff, "as_of": "2026-13-40"}).status_code == 400  # fmt: skip
    assert client.get(f"/staff/registrar/schools/{demo_ids['school']}/equity",
                      query_string={"mb_session": staff, "min_group_size": "0"}).status_code == 400  # fmt: skip


@pytest.mark.parametrize("role", [AppRole.TEACHER, AppRole.STUDENT])
def test_teachers_and_students_are_refused(
    app: Flask, client: FlaskClient, demo_ids: dict[str, int], role: AppRole
) -> None:
    other = token(app, role)
    school, q2 = demo_ids["school"], demo_ids["q2"]
    with app_state(app).session_factory() as session:
        any_grade = session.scalar(select(PostedGrade.id).order_by(PostedGrade.id)) or 1
    for url in ("/staff/registrar", f"/staff/registrar/schools/{school}/periods/{q2}",
                f"/staff/registrar/schools/{school}/periods/{q2}/grades", f"/staff/registrar/grades/{any_grade}",
                f"/staff/registrar/schools/{school}/equity"):  # fmt: skip
        assert client.get(url, query_string={"mb_session": other}).status_code == 403, url
    refused = client.post(f"/staff/registrar/schools/{school}/periods/{q2}/post",
                          data={"mb_session": other, "confirm": "yes"})  # fmt: skip
    assert refused.status_code == 403
    assert client.post(f"/staff/registrar/grades/{any_grade}/amend",
                       data={"mb_session": other, "letter": "A", "reason": "x"}).status_code == 403  # fmt: skip
    assert client.get("/staff/registrar").status_code == 401
    with app_state(app).session_factory() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(PostedGrade).where(PostedGrade.academic_session_id == q2)
            )
            == 0
        )


def test_unknown_ids_are_404(app: Flask, client: FlaskClient, demo_ids: dict[str, int]) -> None:
    staff = token(app, AppRole.STAFF)
    school = demo_ids["school"]
    for url in (f"/staff/registrar/schools/{school}/periods/999999", "/staff/registrar/schools/999999/equity",
                "/staff/registrar/grades/999999",
                f"/staff/registrar/schools/{school}/periods/{demo_ids['q1']}/grades?class_id=999999"):  # fmt: skip
        separator = "&" if "?" in url else "?"
        assert client.get(f"{url}{separator}mb_session={staff}").status_code == 404, url


def test_the_demo_lms_lists_the_registrar_as_staff() -> None:
    from dataclasses import replace

    from lti_tool.demo.platform import demo_config
    from lti_tool.demo.platform.app import create_platform_app
    from lti_tool.demo.platform.config import ROLE_ADMINISTRATOR, DemoUser

    registrar = DemoUser("lms-registrar", "Robin", "Registrar", "r@example.edu", (ROLE_ADMINISTRATOR,))
    assert registrar.is_administrator
    assert not registrar.is_instructor
    assert not registrar.is_learner
    config = demo_config("http://127.0.0.1:5001", "https://mb.example.org", student_count=2)
    config = replace(config, users=(*config.users, registrar))
    home = create_platform_app(config).test_client().get("/").get_data(as_text=True)
    assert '<h2 id="h-3">Staff</h2>' in home
    assert 'aria-label="Launch the tool as Robin Registrar"' in home
    assert "<td>Administrator</td>" in home
