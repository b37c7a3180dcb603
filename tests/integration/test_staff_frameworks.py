"""The staff frameworks page: list, upload (CASE JSON and CSV), errors shown with item and field, access."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from lti_tool.lti.roles import AppRole
from lti_tool.models import CompetencyItem, Framework
from lti_tool.web.auth import LaunchSession, issue_session_token
from lti_tool.web.session import app_state
from tests.integration.launch_harness import build_app
from tests.unit.connectors.test_case_parse import CSV, SAMPLES

PAGE = "/staff/frameworks"


@pytest.fixture
def app(empty_database_url: str, tmp_path: Path) -> Iterator[Flask]:
    yield from build_app(empty_database_url, tmp_path)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def token_for(app: Flask, role: AppRole) -> str:
    with app.test_request_context():
        return issue_session_token(
            LaunchSession(
                person_id=1,
                registration_id=1,
                deployment_id="dep-1",
                lti_context_id=None,
                class_id=None,
                roles=frozenset({role}),
                message_type="LtiResourceLinkRequest",
                resource_link_id=None,
            )
        )


def item_count(app: Flask) -> int:
    with app_state(app).session_factory() as session:
        return session.scalar(select(func.count()).select_from(CompetencyItem)) or 0


def upload(client: FlaskClient, token: str, name: str, content: bytes) -> tuple[int, str]:
    response = client.post(
        PAGE,
        data={"mb_session": token, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )
    return response.status_code, response.get_data(as_text=True)


def test_staff_uploads_a_case_package_then_sees_it_listed(app: Flask, client: FlaskClient) -> None:
    token = token_for(app, AppRole.STAFF)

    empty = client.get(PAGE, query_string={"mb_session": token})
    assert empty.status_code == 200
    assert "No frameworks yet." in empty.get_data(as_text=True)
    assert f'name="mb_session" value="{token}"' in empty.get_data(as_text=True)

    status, page = upload(
        client, token, "SmartLevel.json", (SAMPLES / "SmartLevelFramework.json").read_bytes()
    )
    assert status == 200
    assert "Imported SmartLevel Test" in page
    assert "15 created" in page
    assert item_count(app) == 14

    status, page = upload(client, token, "Utf8.json", (SAMPLES / "Utf8TestFramework.json").read_bytes())
    assert status == 200
    assert "UTF8 𝑑 Test" in page

    listing = client.get(PAGE, query_string={"mb_session": token}).get_data(as_text=True)
    assert '<td class="item-count">14</td>' in listing


def test_staff_uploads_a_csv_twice_without_duplicates(app: Flask, client: FlaskClient) -> None:
    token = token_for(app, AppRole.STAFF)

    upload(client, token, "Riverbend Math.csv", CSV.encode())
    status, page = upload(client, token, "Riverbend Math.csv", CSV.encode())

    assert status == 200
    assert "0 created" in page
    assert "0 updated" in page
    with app_state(app).session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Framework)) == 1
    assert item_count(app) == 5


def test_broken_upload_shows_the_item_and_field_and_imports_nothing(app: Flask, client: FlaskClient) -> None:
    token = token_for(app, AppRole.STAFF)

    status, page = upload(client, token, "broken.csv", (CSV + "X,,skill,Bad kind\n").encode())

    assert status == 422
    assert "The file was not imported" in page
    assert "line 7 (X): kind: &#39;skill&#39; is not one of" in page
    assert item_count(app) == 0


def test_upload_without_a_file(app: Flask, client: FlaskClient) -> None:
    response = client.post(PAGE, data={"mb_session": token_for(app, AppRole.STAFF)})

    assert response.status_code == 422
    assert "Choose a .json or .csv file" in response.get_data(as_text=True)


def test_learner_is_refused(app: Flask, client: FlaskClient) -> None:
    token = token_for(app, AppRole.STUDENT)

    assert client.get(PAGE, query_string={"mb_session": token}).status_code == 403
    status, _ = upload(client, token, "SmartLevel.json", (SAMPLES / "SmartLevelFramework.json").read_bytes())
    assert status == 403
    assert item_count(app) == 0


def test_no_token_is_unauthorized(client: FlaskClient) -> None:
    assert client.get(PAGE).status_code == 401
    response = client.post(
        PAGE,
        data={"file": (io.BytesIO(CSV.encode()), "x.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 401
