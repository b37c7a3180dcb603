"""The staff SIS pages: add, test, sync now, runs, outbox, identity reviews; only for a staff launch."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool.crypto import decrypt_secret
from lti_tool.demo.platform import PlatformServer
from lti_tool.demo.sis import FakeOneRoster, RunningServer, serve
from lti_tool.lti.roles import AppRole
from lti_tool.models import SisConnection
from lti_tool.sis.connection import create_connection
from lti_tool.web.auth import LaunchSession, issue_session_token
from lti_tool.web.session import app_state
from tests.integration.launch_harness import LTI, TOOL, Harness, build_app, start_platform
from tests.support.oneroster_district import seed_district

PAGE = "/staff/sis"
SECRET = "s3cret&key=+/"
ADMINISTRATOR = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"


@pytest.fixture(scope="module")
def platform() -> Iterator[PlatformServer]:
    running = start_platform()
    yield running
    running.stop()


@pytest.fixture
def app(empty_database_url: str, tmp_path: Path) -> Iterator[Flask]:
    yield from build_app(empty_database_url, tmp_path)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def harness(app: Flask, platform: PlatformServer) -> Iterator[Harness]:
    running = Harness(app, platform)
    running.registration_id = running.register()
    yield running
    running.close()


@pytest.fixture
def fake() -> FakeOneRoster:
    fake = FakeOneRoster()
    seed_district(fake)
    return fake


@pytest.fixture
def sis(fake: FakeOneRoster) -> Iterator[RunningServer]:
    with serve(fake) as running:
        yield running


def launch_token(harness: Harness, roles: list[str], *, omit: tuple[str, ...] = ()) -> str:
    """A real LTI launch with `roles`; the session token the tool's landing URL carries."""
    login = harness.login()
    token = harness.sign(login, {LTI + "roles": roles}, omit=omit)
    response = harness.launch({"id_token": token, "state": login.state})
    assert response.status_code == 303, response.get_data(as_text=True)
    return parse_qs(urlsplit(response.headers["Location"]).query)["mb_session"][0]


def token_for(app: Flask, role: AppRole) -> str:
    with app.test_request_context():
        return issue_session_token(
            LaunchSession(
                person_id=1, registration_id=1, deployment_id="dep-1", lti_context_id=None, class_id=None,
                roles=frozenset({role}), message_type="LtiResourceLinkRequest", resource_link_id=None,
            )
        )  # fmt: skip


def add_form(sis: RunningServer, **changes: str) -> dict[str, str]:
    form = {
        "name": "district", "profile": "generic-1.2", "base_url": sis.base_url, "version": "1.2",
        "auth": "oauth2", "client_id": "district-client", "secret": SECRET, "token_url": sis.token_url,
        "token_auth_method": "", "scopes": "", "org": "",
    }  # fmt: skip
    form.update(changes)
    return form


def connection_id(app: Flask, name: str = "district") -> int:
    with app_state(app).session_factory() as session:
        found = session.scalar(select(SisConnection.id).where(SisConnection.name == name))
        assert found is not None
        return found


def add_connection(app: Flask, sis: RunningServer, *, secret: str = SECRET) -> int:
    with app_state(app).session_factory() as session:
        connection = create_connection(
            session, name="district", profile="generic-1.2", base_url=sis.base_url, version="1.2", auth="oauth2",
            client_id="district-client", secret=secret, secret_key=app_state(app).settings,
            settings={"token_url": sis.token_url},
        )  # fmt: skip
        session.commit()
        return connection.id


def test_an_administrator_launch_reaches_the_page_from_the_staff_home(harness: Harness) -> None:
    token = launch_token(harness, [ADMINISTRATOR], omit=(LTI + "context",))
    client = harness.app.test_client()

    home = client.get("/staff", query_string={"mb_session": token}, base_url=TOOL)
    assert home.status_code == 200
    link = re.search(r'href="([^"]*/staff/sis\?mb_session=[^"]+)"', home.get_data(as_text=True))
    assert link, "the staff home does not link the SIS page"

    page = client.get(link.group(1).replace("&amp;", "&"), base_url=TOOL)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert '<h1 id="sis-title">SIS connections</h1>' in text
    assert "No SIS connections yet." in text
    assert f'name="mb_session" value="{token}"' in text


@pytest.mark.parametrize("roles", [[INSTRUCTOR], [LEARNER]], ids=["teacher", "student"])
def test_teachers_and_students_are_refused(harness: Harness, sis: RunningServer, roles: list[str]) -> None:
    token = launch_token(harness, roles)
    client = harness.app.test_client()
    cid = add_connection(harness.app, sis)

    assert client.get(PAGE, query_string={"mb_session": token}).status_code == 403
    assert client.get(f"{PAGE}/{cid}", query_string={"mb_session": token}).status_code == 403
    for path in (PAGE, f"{PAGE}/{cid}/test", f"{PAGE}/{cid}/sync", f"{PAGE}/{cid}/reviews/1"):
        response = client.post(path, data={**add_form(sis, name="other"), "mb_session": token})
        assert response.status_code == 403, path
    with app_state(harness.app).session_factory() as session:
        assert session.scalars(select(SisConnection.name)).all() == ["district"]


def test_no_token_is_unauthorized(client: FlaskClient) -> None:
    assert client.get(PAGE).status_code == 401
    assert client.post(PAGE, data={"name": "x"}).status_code == 401


def test_staff_adds_a_connection_and_the_secret_is_stored_encrypted(
    app: Flask, client: FlaskClient, sis: RunningServer
) -> None:
    token = token_for(app, AppRole.STAFF)

    response = client.post(PAGE, data={**add_form(sis), "mb_session": token})

    assert response.status_code == 200, response.get_data(as_text=True)
    page = response.get_data(as_text=True)
    assert "Added connection <strong>district</strong>" in page
    assert SECRET not in page
    assert "s3cret" not in page
    assert re.search(r'<th scope="row"><a href="/staff/sis/\d+\?mb_session=[^"]+">district</a></th>', page)
    with app_state(app).session_factory() as session:
        connection = session.scalars(select(SisConnection)).one()
        assert decrypt_secret(app_state(app).settings, connection.secret_encrypted) == SECRET.encode()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"base_url": "http://sis.example.edu/api"}, "base_url", "uses plain http"),
        ({"token_url": ""}, "token_url", "token_url is required with auth oauth2"),
        ({"name": "lis"}, "name", "is reserved"),
        ({"secret": ""}, "secret", "the client secret is empty"),
        ({"auth": "oauth1"}, "auth", "auth oauth1 is not allowed with version 1.2"),
    ],
)
def test_bad_form_input_is_shown_again_with_the_field(
    app: Flask, client: FlaskClient, sis: RunningServer, changes: dict[str, str], field: str, message: str
) -> None:
    response = client.post(
        PAGE, data={**add_form(sis, **changes), "mb_session": token_for(app, AppRole.STAFF)}
    )

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "The connection was not added" in page
    assert f'<a href="#field-{field}">' in page
    assert message in page
    assert re.search(rf'id="field-{field}"[^>]*aria-invalid="true"', page)
    with app_state(app).session_factory() as session:
        assert session.scalars(select(SisConnection)).all() == []


def test_test_connection_shows_a_verdict_per_check(
    app: Flask, client: FlaskClient, sis: RunningServer
) -> None:
    cid = add_connection(app, sis)
    token = token_for(app, AppRole.STAFF)

    response = client.post(f"{PAGE}/{cid}/test", data={"mb_session": token})

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'Test result: <span class="verdict verdict-pass">pass</span>' in page
    for title in (
        "Host name resolves",
        "Authentication",
        "Scopes granted",
        "Sample page of users",
        "Clocks agree",
    ):
        assert re.search(
            rf'<th scope="row">{title}</th><td><span class="verdict verdict-(pass|skip)">', page
        ), title


def test_a_wrong_secret_fails_the_auth_check(app: Flask, client: FlaskClient, sis: RunningServer) -> None:
    cid = add_connection(app, sis, secret="Wr0ng-S3cret-x9")

    response = client.post(f"{PAGE}/{cid}/test", data={"mb_session": token_for(app, AppRole.STAFF)})

    page = response.get_data(as_text=True)
    assert 'Test result: <span class="verdict verdict-fail">fail</span>' in page
    assert re.search(r'<th scope="row">Authentication</th><td><span class="verdict verdict-fail">fail</span></td>'
                     r"<td>the token endpoint [^<]* refused client &#39;district-client&#39;", page)  # fmt: skip
    assert "Wr0ng-S3cret-x9" not in page


def test_unknown_connection_is_404(app: Flask, client: FlaskClient) -> None:
    token = token_for(app, AppRole.STAFF)

    assert client.get(f"{PAGE}/999", query_string={"mb_session": token}).status_code == 404
    assert client.post(f"{PAGE}/999/test", data={"mb_session": token}).status_code == 404


def test_sync_now_then_resolve_a_review_by_sourced_id(harness: Harness, sis: RunningServer) -> None:
    """A real teacher launch makes an LMS person the SIS cannot match; staff resolve it on the page."""
    from lti_tool.models import IdentityReview, Person, PersonIdentifier

    launch_token(harness, [INSTRUCTOR])
    cid = add_connection(harness.app, sis)
    token = token_for(harness.app, AppRole.STAFF)
    client = harness.app.test_client()

    synced = client.post(f"{PAGE}/{cid}/sync", data={"mb_session": token})

    assert synced.status_code == 200, synced.get_data(as_text=True)
    page = synced.get_data(as_text=True)
    assert re.search(r"Sync run \d+: full, <span class=\"run-status run-succeeded\">succeeded</span>", page)
    assert '<tr><th scope="row">users</th><td class="num">24</td>' in page
    with app_state(harness.app).session_factory() as session:
        review = session.scalars(select(IdentityReview).where(IdentityReview.resolved_at.is_(None))).first()
        assert review is not None, "the unmatched teacher opened no review"
        review_id = review.id
        lms_person_id = session.scalar(
            select(PersonIdentifier.person_id).where(
                PersonIdentifier.source == review.source, PersonIdentifier.value == review.external_value
            )
        )
    assert f'id="review-{review_id}-title"' in page

    missing = client.post(
        f"{PAGE}/{cid}/reviews/{review_id}", data={"mb_session": token, "sourced_id": "nobody"}
    )
    assert missing.status_code == 422
    assert f"Review {review_id}: pick a candidate or type the person" in missing.get_data(as_text=True)

    resolved = client.post(
        f"{PAGE}/{cid}/reviews/{review_id}",
        data={"mb_session": token, "sourced_id": "t-1", "action": "resolve"},
    )

    assert resolved.status_code == 200, resolved.get_data(as_text=True)
    assert f"Review {review_id} resolved." in resolved.get_data(as_text=True)
    with app_state(harness.app).session_factory() as session:
        review = session.get(IdentityReview, review_id)
        assert review is not None
        assert review.resolved_at is not None
        assert review.resolved_by == "lti:person:1"
        teacher = session.scalar(
            select(PersonIdentifier.person_id).where(
                PersonIdentifier.system == "district", PersonIdentifier.value == "t-1"
            )
        )
        assert teacher is not None
        # The LMS account and the SIS teacher are one person now.
        assert session.get(Person, lms_person_id) is None or lms_person_id == teacher


def test_a_failed_sync_is_shown_and_recorded(app: Flask, client: FlaskClient, sis: RunningServer) -> None:
    from lti_tool.models import SyncRun, SyncStatus

    cid = add_connection(app, sis, secret="Wr0ng-S3cret-x9")

    response = client.post(f"{PAGE}/{cid}/sync", data={"mb_session": token_for(app, AppRole.STAFF)})

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "The sync failed and nothing was imported" in page
    assert "Wr0ng-S3cret-x9" not in page
    with app_state(app).session_factory() as session:
        assert session.scalars(select(SyncRun.status)).all() == [SyncStatus.FAILED]
