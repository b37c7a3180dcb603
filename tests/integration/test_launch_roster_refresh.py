"""A teacher launch refreshes the class roster through NRPS (debounced); a failing platform never breaks it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select

from lti_tool.demo.platform.serve import PlatformServer, demo_config
from lti_tool.keys import current_signing_key, published_jwks
from lti_tool.models import Enrollment, EnrollmentRole, LtiContext, utcnow
from lti_tool.web.session import app_state
from tests.integration.launch_harness import TOOL, Harness, build_app, query_of

TEACHER = "demo-teacher-001"


@pytest.fixture
def app(empty_database_url: str, tmp_path: Path) -> Iterator[Flask]:
    yield from build_app(empty_database_url, tmp_path)


def _tool_jwks(app: Flask) -> dict[str, object]:
    with app_state(app).session_factory() as session:
        current_signing_key(session, app_state(app).settings.secret_key, now=utcnow())
        session.commit()
        return dict(published_jwks(session, now=utcnow()))


def test_teacher_launch_syncs_the_roster_once(app: Flask) -> None:
    jwks = _tool_jwks(app)

    def config(base):
        return replace(demo_config(base, TOOL, student_count=5), tool_jwks=jwks, tool_jwks_url=None)

    with PlatformServer(config) as server:
        harness = Harness(app, server)
        try:
            harness.register()
            page = harness.follow(harness.launch(harness.authorize(harness.initiate(TEACHER))))
            assert "5 students" in page.get_data(as_text=True)
            with app_state(app).session_factory() as session:
                context = session.scalars(select(LtiContext)).one()
                first_sync = context.last_roster_sync_at
                assert first_sync is not None
                assert context.memberships_url is not None
                students = session.scalars(
                    select(Enrollment).where(Enrollment.role == EnrollmentRole.STUDENT, Enrollment.is_active)
                ).all()
                assert len(students) == 5
            harness.follow(harness.launch(harness.authorize(harness.initiate(TEACHER))))
            with app_state(app).session_factory() as session:
                assert session.scalars(select(LtiContext)).one().last_roster_sync_at == first_sync
        finally:
            harness.close()


def test_teacher_launch_survives_a_platform_that_refuses_the_token(app: Flask) -> None:
    # The platform trusts an unrelated key set, so our client assertion is refused: the launch still lands.
    def config(base):
        return replace(demo_config(base, TOOL, student_count=5), tool_jwks={"keys": []}, tool_jwks_url=None)

    with PlatformServer(config) as server:
        harness = Harness(app, server)
        try:
            harness.register()
            launched = harness.launch(harness.authorize(harness.initiate(TEACHER)))
            assert launched.status_code == 303
            page = harness.follow(launched)
            assert page.status_code == 200
            with app_state(app).session_factory() as session:
                assert session.scalars(select(LtiContext)).one().last_roster_sync_at is None
        finally:
            harness.close()


def test_teacher_can_refresh_the_roster_on_demand(app: Flask) -> None:
    jwks = _tool_jwks(app)

    def config(base: str):  # type: ignore[no-untyped-def]
        return replace(demo_config(base, TOOL, student_count=4), tool_jwks=jwks, tool_jwks_url=None)

    with PlatformServer(config) as server:
        harness = Harness(app, server)
        try:
            harness.register()
            launched = harness.launch(harness.authorize(harness.initiate(TEACHER)))
            page = harness.follow(launched)
            body = page.get_data(as_text=True)
            assert "Refresh roster from the LMS" in body
            assert "has not chosen a grading policy" in body
            token = query_of(launched.headers["Location"])["mb_session"]
            class_id = int(urlsplit(launched.headers["Location"]).path.rsplit("/", 1)[1])
            synced = harness.client.post(
                f"/teacher/classes/{class_id}/roster/sync", data={"mb_session": token}
            )
            assert synced.status_code == 303
            again = harness.follow(synced).get_data(as_text=True)
            assert "Roster refreshed from the LMS: 0 new" in again
            # A learner cannot trigger it.
            student = harness.launch(harness.authorize(harness.initiate("demo-student-0001")))
            student_token = query_of(student.headers["Location"])["mb_session"]
            refused = harness.client.post(
                f"/teacher/classes/{class_id}/roster/sync", data={"mb_session": student_token}
            )
            assert refused.status_code == 403
        finally:
            harness.close()
