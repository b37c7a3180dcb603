"""Full LTI 1.3 launches from the loopback demo platform: cookie and Platform Storage paths, landing pages,
the session token, and platform quirks (Canvas, Moodle)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from lti_tool.demo.platform import PlatformServer
from tests.integration.launch_harness import (
    DEEP_LINKING,
    LTI,
    STUDENT,
    TEACHER,
    TOOL,
    Harness,
    build_app,
    start_platform,
)


@pytest.fixture(scope="module")
def server() -> Iterator[PlatformServer]:
    running = start_platform()
    yield running
    running.stop()


@pytest.fixture
def app(empty_database_url: str, tmp_path: Path) -> Iterator[Flask]:
    yield from build_app(empty_database_url, tmp_path)


@pytest.fixture
def harness(app: Flask, server: PlatformServer) -> Iterator[Harness]:
    running = Harness(app, server)
    running.register()
    yield running
    running.close()


def session_token(location: str) -> str:
    return parse_qs(urlsplit(location).query)["mb_session"][0]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_teacher_launch_with_cookie_lands_on_the_class_page(harness: Harness, method: str) -> None:
    login = harness.initiate(TEACHER, method=method)
    cookie = login.response.headers["Set-Cookie"]
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/lti/"):
        assert attribute in cookie

    launched = harness.launch(harness.authorize(login))

    assert launched.status_code == 303
    assert urlsplit(launched.headers["Location"]).path.startswith("/teacher/classes/")
    page = harness.follow(launched)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Grade 7 Mathematics: mastery grid" in body
    assert "0 students ·" in body
    assert page.headers["Content-Security-Policy"] == "frame-ancestors *"
    assert "X-Frame-Options" not in page.headers
    assert harness.nonce_used(login.nonce)


def test_student_launch_lands_on_progress_and_counts_in_the_class(harness: Harness) -> None:
    student = harness.launch(harness.authorize(harness.initiate(STUDENT)))
    assert urlsplit(student.headers["Location"]).path == "/student/progress"
    progress = harness.follow(student)
    assert progress.status_code == 200
    assert "My progress" in progress.get_data(as_text=True)

    teacher = harness.follow(harness.launch(harness.authorize(harness.initiate(TEACHER))))
    assert "1 student ·" in teacher.get_data(as_text=True)
    assert "Student S0001" in teacher.get_data(as_text=True)
    assert harness.counts() == {
        "persons": 2,
        "person_identifiers": 4,  # per person: the LTI sub and the lis person_sourcedid
        "enrollments": 2,
        "lti_contexts": 1,
        "lti_token_replays": 2,
    }


@pytest.mark.parametrize("user_id", [TEACHER, STUDENT])
def test_launch_through_platform_storage_without_cookies(harness: Harness, user_id: str) -> None:
    login = harness.initiate(user_id)
    harness.store_in_platform(login)
    fields = harness.authorize(login)

    launched = harness.launch_via_storage(fields)

    assert launched.status_code == 303
    expected = "/teacher/classes/" if user_id == TEACHER else "/student/progress"
    assert urlsplit(launched.headers["Location"]).path.startswith(expected)
    assert harness.follow(launched).status_code == 200
    assert harness.nonce_used(login.nonce)


def test_platform_storage_value_is_one_time_like_the_cookie(harness: Harness) -> None:
    login = harness.initiate(STUDENT)
    harness.store_in_platform(login)
    fields = harness.authorize(login)
    assert harness.launch_via_storage(fields).status_code == 303

    fresh = harness.sign(login, {"jti": "second"})  # a new token for the same (consumed) nonce and state
    again = harness.launch_via_storage({**fields, "id_token": fresh})

    assert again.status_code == 400
    assert "nonce already used" in again.get_data(as_text=True)


def test_platform_storage_missing_value_is_rejected(harness: Harness) -> None:
    before = harness.counts()
    login = harness.initiate(STUDENT)  # nothing put in platform storage, no cookie at launch
    launched = harness.launch_via_storage(harness.authorize(login))

    assert launched.status_code == 400
    assert "state mismatched" in launched.get_data(as_text=True)
    assert harness.counts() == before
    assert not harness.nonce_used(login.nonce)


def test_forged_platform_storage_value_is_rejected(harness: Harness) -> None:
    login = harness.initiate(STUDENT)
    harness.store_in_platform(login)
    key, value = next(iter(harness.platform_storage.items()))
    harness.platform_storage[key] = URLSafeTimedSerializer("wrong-secret", salt="mb-lti-state").dumps({})

    launched = harness.launch_via_storage(harness.authorize(login))

    assert value
    assert launched.status_code == 400
    assert "state signature invalid" in launched.get_data(as_text=True)


def test_login_page_uses_the_local_storage_script(harness: Harness) -> None:
    login = harness.initiate(STUDENT)
    page = login.response.get_data(as_text=True)

    assert "/static/js/lti-storage.js" in page
    assert "<script>" not in page  # no inline script: everything is in the static file
    script = harness.client.get(f"{TOOL}/static/js/lti-storage.js")
    assert script.status_code == 200
    body = script.get_data(as_text=True)
    script.close()
    for word in ("lti.capabilities", "lti.put_data", "lti.get_data", "message_id", "event.origin"):
        assert word in body


def test_deep_linking_launch_shows_the_return_url(harness: Harness) -> None:
    launched = harness.launch(harness.authorize(harness.initiate(TEACHER, DEEP_LINKING)))

    assert urlsplit(launched.headers["Location"]).path == "/lti/deep-link"
    page = harness.follow(launched).get_data(as_text=True)
    assert "Choose a task" in page
    assert harness.server.config.url("/platform/deep_link_return") in page


def test_deep_linking_by_a_learner_is_forbidden(harness: Harness) -> None:
    before = harness.counts()
    login = harness.login()
    token = harness.sign(login, {LTI + "target_link_uri": f"{TOOL}/lti/launch"}, message_type=DEEP_LINKING)

    response = harness.launch({"id_token": token, "state": login.state})

    assert response.status_code == 403
    assert harness.counts() == before


# Session token ---------------------------------------------------------------------------------------------


def test_session_token_works_from_query_form_and_bearer_header(harness: Harness) -> None:
    launched = harness.launch(harness.authorize(harness.initiate(STUDENT)))
    token = session_token(launched.headers["Location"])
    client = harness.app.test_client()

    assert client.get("/student/progress", query_string={"mb_session": token}).status_code == 200
    assert client.get("/student/progress", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/home", query_string={"mb_session": token}).status_code == 200


@pytest.mark.parametrize("token", [None, "", "forged.token.value", "FORGED"])
def test_missing_or_forged_session_token_is_401(harness: Harness, token: str | None) -> None:
    query = {} if token is None else {"mb_session": token}
    assert harness.app.test_client().get("/student/progress", query_string=query).status_code == 401


def test_session_token_signed_with_another_key_is_401(harness: Harness) -> None:
    forged = URLSafeTimedSerializer("attacker-key", salt="mb-session").dumps(
        {"person_id": 1, "roles": ["teacher", "staff"]}
    )
    response = harness.app.test_client().get("/staff", query_string={"mb_session": forged})
    assert response.status_code == 401


class _ThreeHoursAgo(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 3 * 3600


def test_expired_session_token_is_401(harness: Harness) -> None:
    launched = harness.launch(harness.authorize(harness.initiate(STUDENT)))
    payload = URLSafeTimedSerializer("test-secret-key", salt="mb-session").loads(
        session_token(launched.headers["Location"])
    )
    expired = URLSafeTimedSerializer("test-secret-key", salt="mb-session", signer=_ThreeHoursAgo).dumps(
        payload
    )

    response = harness.app.test_client().get("/student/progress", query_string={"mb_session": expired})

    assert response.status_code == 401


def test_learner_on_teacher_and_staff_pages_is_403(harness: Harness) -> None:
    launched = harness.launch(harness.authorize(harness.initiate(STUDENT)))
    token = session_token(launched.headers["Location"])
    client = harness.app.test_client()

    teacher = harness.follow(harness.launch(harness.authorize(harness.initiate(TEACHER))))
    assert teacher.status_code == 200
    class_path = re.search(r"/teacher/classes/\d+", teacher.request.path)
    assert class_path is not None

    assert client.get(class_path.group(0), query_string={"mb_session": token}).status_code == 403
    assert client.get("/staff", query_string={"mb_session": token}).status_code == 403
    assert client.get("/lti/deep-link", query_string={"mb_session": token}).status_code == 403


# Platform quirks -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("issuer", ["https://canvas.instructure.com", "https://sso.canvaslms.com"])
def test_canvas_issuers_are_accepted_when_registered(harness: Harness, issuer: str) -> None:
    harness.register(issuer=issuer, client_id="10000000000042", deployment_id="42:abc123")
    login = harness.login(
        iss=issuer,
        client_id="10000000000042",
        lti_deployment_id="42:abc123",
        lti_storage_target="post_message_forwarding",
    )
    token = harness.sign(
        login,
        {"iss": issuer, "aud": "10000000000042", "azp": "10000000000042", LTI + "deployment_id": "42:abc123"},
    )

    response = harness.launch({"id_token": token, "state": login.state})

    assert login.state.endswith(".post_message_forwarding")
    assert response.status_code == 303


def test_canvas_issuer_not_registered_is_rejected_at_login(harness: Harness) -> None:
    response = harness.client.get(
        f"{TOOL}/lti/login",
        query_string={
            "iss": "https://sso.canvaslms.com",
            "login_hint": "x",
            "target_link_uri": f"{TOOL}/lti/launch",
            "client_id": "10000000000042",
        },
    )
    assert response.status_code == 400


def test_moodle_numeric_deployment_id(harness: Harness) -> None:
    harness.register(deployment_id="7")
    login = harness.login(lti_deployment_id="7")
    token = harness.sign(login, {LTI + "deployment_id": "7"})

    assert harness.launch({"id_token": token, "state": login.state}).status_code == 303


def test_schoology_style_launch_needs_nothing_special(harness: Harness) -> None:
    # Schoology sends the standard claims; a plain resource-link launch with a context is enough.
    login = harness.login()
    token = harness.sign(login, {LTI + "context": {"id": "schoology-section-991", "title": "Biology"}})

    response = harness.launch({"id_token": token, "state": login.state})

    assert response.status_code == 303
    assert "Class Biology" not in harness.follow(response).get_data(as_text=True)  # a learner: progress page
