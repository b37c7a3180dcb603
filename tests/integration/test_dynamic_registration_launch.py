"""Dynamic registration end to end: register with the demo LMS, wait for approval, then the first launch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from lti_tool.demo.platform.registration import REGISTRATION_TOKEN
from lti_tool.demo.platform.serve import PlatformServer, demo_config
from lti_tool.models import LtiRegistration, RegistrationSource, RegistrationStatus
from lti_tool.registrations import approve_platform
from lti_tool.web.session import app_state
from tests.integration.launch_harness import TOOL, Harness, build_app

TEACHER = "demo-teacher-001"


@pytest.fixture
def app(empty_database_url: str, tmp_path: Path) -> Iterator[Flask]:
    for app in build_app(empty_database_url, tmp_path):
        app.testing = True  # lets /lti/register fetch the loopback (plain http) demo LMS
        yield app


def test_register_then_approve_then_first_launch(app: Flask) -> None:
    with PlatformServer(lambda base: demo_config(base, TOOL, student_count=2)) as server:
        harness = Harness(app, server)
        try:
            answer = harness.client.get(
                "/lti/register",
                query_string={
                    "openid_configuration": server.config.url("/platform/.well-known/openid-configuration"),
                    "registration_token": REGISTRATION_TOKEN,
                },
            )
            assert answer.status_code == 200, answer.get_data(as_text=True)
            assert "org.imsglobal.lti.close" in answer.get_data(as_text=True)
            (posted,) = server.platform.registrations
            assert posted["redirect_uris"] == [f"{TOOL}/lti/launch"]
            assert posted["jwks_uri"] == f"{TOOL}/lti/jwks"

            with app_state(app).session_factory() as session:
                registration = session.scalars(select(LtiRegistration)).one()
                assert registration.status is RegistrationStatus.PENDING
                assert registration.source is RegistrationSource.DYNAMIC
                assert registration.client_id == server.config.client_id
                assert [d.deployment_id for d in registration.deployments] == [server.config.deployment_id]
                registration_id = registration.id

            # Pending: the platform's login initiation is refused, nothing recorded.
            refused = harness.client.get(
                f"{TOOL}/lti/login",
                query_string={
                    "iss": server.config.issuer,
                    "login_hint": TEACHER,
                    "target_link_uri": f"{TOOL}/lti/launch",
                    "client_id": server.config.client_id,
                    "lti_deployment_id": server.config.deployment_id,
                },
            )
            assert 400 <= refused.status_code < 500

            with app_state(app).session_factory() as session:
                approve_platform(session, registration_id)
                session.commit()

            launched = harness.launch(harness.authorize(harness.initiate(TEACHER)))
            assert launched.status_code == 303
            page = harness.follow(launched)
            assert page.status_code == 200
            assert "mastery grid" in page.get_data(as_text=True)
        finally:
            harness.close()


def test_wrong_registration_token_stores_nothing(app: Flask) -> None:
    with PlatformServer(lambda base: demo_config(base, TOOL, student_count=2)) as server:
        answer = app.test_client().get(
            "/lti/register",
            query_string={
                "openid_configuration": server.config.url("/platform/.well-known/openid-configuration"),
                "registration_token": "not-the-token",
            },
        )
        assert 400 <= answer.status_code < 600
        assert answer.status_code != 500
        with app_state(app).session_factory() as session:
            assert session.scalars(select(LtiRegistration)).all() == []
