"""LTI Dynamic Registration end to end: the tool app against a fake platform served on loopback."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
import responses
from click.testing import CliRunner
from flask import Flask, Response, jsonify, request
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.serving import make_server

from lti_tool.app import create_app
from lti_tool.cli import main
from lti_tool.db import upgrade_database
from lti_tool.models import LtiRegistration, RegistrationSource, RegistrationStatus
from lti_tool.registrations import approve_platform
from lti_tool.settings import Settings
from lti_tool.web.session import app_state

PUBLIC_BASE_URL = "https://mb.example.org"
TOKEN = "registration-token-from-the-platform"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
WAITING = "Registered, waiting for approval by your mastery-bridge administrator (registration #{id})"


@dataclass
class FakePlatform:
    """A platform's side of LTI-DR: its OpenID configuration and registration endpoint, recording requests.

    `product` is "moodle" (answers with a deployment_id, deep linking in ContentArea) or "canvas" (no
    deployment_id, authorization_server set). Tests change the configuration through `overrides`/`removed`.
    """

    base_url: str = ""
    product: str = "moodle"
    registration_token: str | None = TOKEN
    client_id: str = "client-abc"
    deployment_id: str | None = "7"
    registration_status: int = 200
    registration_error: dict[str, str] | None = None
    config_content_type: str = "application/json"
    overrides: dict[str, Any] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    config_requests: list[dict[str, str]] = field(default_factory=list)
    registrations: list[dict[str, Any]] = field(default_factory=list)
    registration_headers: list[dict[str, str]] = field(default_factory=list)

    @property
    def openid_configuration_url(self) -> str:
        return f"{self.base_url}/openid-configuration?kind={self.product}"

    def openid_configuration(self) -> dict[str, Any]:
        base = self.base_url
        lti: dict[str, Any] = {
            "product_family_code": self.product,
            "version": "4.3" if self.product == "moodle" else "cloud",
            "messages_supported": [
                {"type": "LtiResourceLinkRequest"},
                {
                    "type": "LtiDeepLinkingRequest",
                    "placements": ["ContentArea"]
                    if self.product == "moodle"
                    else ["assignment_selection", "link_selection"],
                },
            ],
        }
        if self.product == "canvas":
            lti["https://canvas.instructure.com/lti/account_name"] = "Test District"
        document: dict[str, Any] = {
            "issuer": base,
            "authorization_endpoint": f"{base}/auth",
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/certs",
            "registration_endpoint": f"{base}/register",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "scopes_supported": [
                "openid",
                AGS + "lineitem",
                AGS + "lineitem.readonly",
                AGS + "result.readonly",
                AGS + "score",
                NRPS,
            ],
            "response_types_supported": ["id_token"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["iss", "sub", "name", "email"],
            PLATFORM_CONFIGURATION: lti,
        }
        if self.product == "canvas":
            document["authorization_server"] = "canvas.example.test"
        document.update(self.overrides)
        for name in self.removed:
            document.pop(name, None)
        return document

    def _is_authorized(self) -> bool:
        if self.registration_token is None:
            return True
        return request.headers.get("Authorization") == f"Bearer {self.registration_token}"

    def wsgi_app(self) -> Flask:
        app = Flask("fake_platform")

        @app.get("/openid-configuration")
        def openid_configuration() -> Response | tuple[Response, int]:
            self.config_requests.append(dict(request.headers))
            if not self._is_authorized():
                return jsonify({"error": "invalid_token"}), 401
            response = jsonify(self.openid_configuration())
            response.headers["Content-Type"] = self.config_content_type
            return response

        @app.post("/register")
        def register() -> Response | tuple[Response, int]:
            self.registration_headers.append(dict(request.headers))
            if not self._is_authorized():
                return jsonify({"error": "invalid_token"}), 401
            body = request.get_json(force=True)
            self.registrations.append(body)
            if self.registration_status >= 300:
                return jsonify(self.registration_error or {}), self.registration_status
            answer = dict(body, client_id=self.client_id)
            if self.deployment_id is not None:
                answer[TOOL_CONFIGURATION] = dict(body[TOOL_CONFIGURATION], deployment_id=self.deployment_id)
            return jsonify(answer), 200

        return app


@pytest.fixture
def platform() -> Iterator[FakePlatform]:
    fake = FakePlatform()
    server = make_server("127.0.0.1", 0, fake.wsgi_app(), threaded=True)
    fake.base_url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def app(empty_database_url: str, tmp_path: Path) -> Iterator[Flask]:
    upgrade_database(empty_database_url)
    app = create_app(
        Settings(
            database_url=empty_database_url,
            data_dir=tmp_path,
            public_base_url=PUBLIC_BASE_URL,
            secret_key="test-secret-key",
            log_level="INFO",
            is_debug=False,
        )
    )
    # Testing mode is what lets the tool talk plain http to the fake platform on 127.0.0.1.
    app.testing = True
    yield app
    app_state(app).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def register(client: FlaskClient, platform: FakePlatform, *, token: str | None = TOKEN) -> Any:
    query = {"openid_configuration": platform.openid_configuration_url}
    if token is not None:
        query["registration_token"] = token
    return client.get(f"/lti/register?{urlencode(query)}", headers={"Accept": "text/html"})


def stored(app: Flask) -> list[LtiRegistration]:
    with app_state(app).session_factory() as session:
        return list(
            session.scalars(
                select(LtiRegistration)
                .options(selectinload(LtiRegistration.deployments))
                .order_by(LtiRegistration.id)
            )
        )


def test_moodle_round_trip_stores_a_pending_registration_with_its_deployment(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    response = register(client, platform)

    assert response.status_code == 200, response.get_data(as_text=True)
    (registration,) = stored(app)
    assert registration.status == RegistrationStatus.PENDING
    assert registration.source == RegistrationSource.DYNAMIC
    assert registration.approved_at is None
    assert (registration.issuer, registration.client_id) == (platform.base_url, "client-abc")
    assert [d.deployment_id for d in registration.deployments] == ["7"]
    assert registration.auth_login_url == f"{platform.base_url}/auth"
    assert registration.auth_token_url == f"{platform.base_url}/token"
    assert registration.key_set_url == f"{platform.base_url}/certs"
    assert registration.auth_audience is None
    assert registration.platform_config == platform.openid_configuration()
    assert TOKEN not in str(registration.platform_config)
    page = response.get_data(as_text=True)
    assert WAITING.format(id=registration.id) in page
    assert "did not send a deployment ID" not in page


def test_the_page_closes_the_platform_window_with_a_nonce_script_and_can_be_framed(
    client: FlaskClient, platform: FakePlatform
) -> None:
    response = register(client, platform)

    page = response.get_data(as_text=True)
    policy = response.headers["Content-Security-Policy"]
    (nonce,) = re.findall(r"'nonce-([^']+)'", policy)
    assert f'<script nonce="{nonce}">' in page
    assert '(window.opener || window.parent).postMessage({subject: "org.imsglobal.lti.close"}, "*")' in page
    assert "frame-ancestors *" in policy
    assert "'unsafe-inline'" not in policy
    assert response.headers["Cache-Control"] == "no-store"
    assert register(client, platform).headers["Content-Security-Policy"] != policy


def test_canvas_round_trip_stores_the_registration_without_a_deployment(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    platform.product = "canvas"
    platform.deployment_id = None
    platform.client_id = "10000000000042"

    response = register(client, platform)

    assert response.status_code == 200
    (registration,) = stored(app)
    assert registration.status == RegistrationStatus.PENDING
    assert registration.client_id == "10000000000042"
    assert registration.deployments == []
    assert registration.auth_audience == "canvas.example.test"
    assert registration.name == "canvas Test District"
    page = response.get_data(as_text=True)
    assert WAITING.format(id=registration.id) in page
    assert "did not send a deployment ID" in page
    (posted,) = platform.registrations
    tool = posted[TOOL_CONFIGURATION]
    assert tool["https://canvas.instructure.com/lti/privacy_level"] == "public"
    placements = {m["type"]: m["placements"] for m in tool["messages"]}
    assert placements == {
        "LtiResourceLinkRequest": ["https://canvas.instructure.com/lti/course_navigation"],
        "LtiDeepLinkingRequest": [
            "https://canvas.instructure.com/lti/assignment_selection",
            "https://canvas.instructure.com/lti/link_selection",
        ],
    }


def test_the_posted_tool_configuration(client: FlaskClient, platform: FakePlatform) -> None:
    register(client, platform)

    (posted,) = platform.registrations
    assert posted["application_type"] == "web"
    assert posted["response_types"] == ["id_token"]
    assert sorted(posted["grant_types"]) == ["client_credentials", "implicit"]
    assert posted["initiate_login_uri"] == f"{PUBLIC_BASE_URL}/lti/login"
    assert posted["redirect_uris"] == [f"{PUBLIC_BASE_URL}/lti/launch"]
    assert posted["jwks_uri"] == f"{PUBLIC_BASE_URL}/lti/jwks"
    assert posted["client_name"] == "mastery-bridge"
    assert posted["token_endpoint_auth_method"] == "private_key_jwt"
    assert posted["scope"].split(" ") == [
        AGS + "lineitem",
        AGS + "lineitem.readonly",
        AGS + "result.readonly",
        AGS + "score",
        NRPS,
    ]
    tool = posted[TOOL_CONFIGURATION]
    assert tool["domain"] == "mb.example.org"
    assert tool["target_link_uri"] == f"{PUBLIC_BASE_URL}/lti/launch"
    assert tool["claims"] == ["iss", "sub", "name", "given_name", "family_name", "email"]
    assert tool["description"]
    assert "https://canvas.instructure.com/lti/privacy_level" not in tool
    messages = {m["type"]: m for m in tool["messages"]}
    assert set(messages) == {"LtiResourceLinkRequest", "LtiDeepLinkingRequest"}
    assert messages["LtiDeepLinkingRequest"]["placements"] == ["ContentArea"]
    assert "placements" not in messages["LtiResourceLinkRequest"]
    for message in messages.values():
        assert message["target_link_uri"] == f"{PUBLIC_BASE_URL}/lti/launch"
    (headers,) = platform.registration_headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("mastery-bridge/")
    (config_headers,) = platform.config_requests
    assert config_headers["Authorization"] == f"Bearer {TOKEN}"
    assert config_headers["User-Agent"].startswith("mastery-bridge/")


def test_scopes_are_only_those_the_platform_supports(client: FlaskClient, platform: FakePlatform) -> None:
    platform.overrides["scopes_supported"] = [AGS + "score", AGS + "lineitem", "https://example.test/other"]

    register(client, platform)

    (posted,) = platform.registrations
    assert posted["scope"] == f"{AGS}lineitem {AGS}score"


def test_without_a_registration_token_no_authorization_header_is_sent(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    platform.registration_token = None

    response = register(client, platform, token=None)

    assert response.status_code == 200
    assert "Authorization" not in platform.registration_headers[0]
    assert len(stored(app)) == 1


@pytest.mark.parametrize("content_type", ["text/html", "application/json; charset=utf-8", "text/plain"])
def test_the_configuration_is_read_whatever_its_content_type(
    app: Flask, client: FlaskClient, platform: FakePlatform, content_type: str
) -> None:
    platform.config_content_type = content_type

    assert register(client, platform).status_code == 200
    assert len(stored(app)) == 1


def test_issuer_on_another_host_is_400_and_nothing_is_stored(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    platform.overrides["issuer"] = "https://moodle.example.edu"

    response = register(client, platform)

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "issuer" in page
    assert "does not match the scheme and host" in page
    assert platform.registrations == []
    assert stored(app) == []


def test_missing_registration_endpoint_is_400_naming_it(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    platform.removed.add("registration_endpoint")

    response = register(client, platform, token=TOKEN)

    assert response.status_code == 400
    assert "registration_endpoint is missing" in response.get_data(as_text=True)
    assert stored(app) == []


def test_missing_lti_platform_configuration_is_400_naming_it(
    client: FlaskClient, platform: FakePlatform
) -> None:
    platform.removed.add(PLATFORM_CONFIGURATION)

    response = client.get(
        f"/lti/register?{urlencode({'openid_configuration': platform.openid_configuration_url, 'registration_token': TOKEN})}",
        headers={"Accept": "application/json"},
    )

    assert response.status_code == 400
    assert PLATFORM_CONFIGURATION in response.get_json()["error"]["message"]


@pytest.mark.parametrize(
    ("status", "error", "shown"),
    [
        (400, {"error": "invalid_client_metadata", "error_description": "unknown scope"}, "unknown scope"),
        (401, None, "HTTP 401"),
        (500, None, "HTTP 500"),
    ],
)
def test_platform_refusing_the_registration_is_502_and_nothing_is_stored(
    app: Flask,
    client: FlaskClient,
    platform: FakePlatform,
    status: int,
    error: dict[str, str] | None,
    shown: str,
) -> None:
    platform.registration_status = status
    platform.registration_error = error

    response = register(client, platform)

    assert response.status_code == 502
    page = response.get_data(as_text=True)
    assert "the platform refused the registration" in page
    assert shown in page
    assert TOKEN not in page
    assert stored(app) == []


def test_wrong_registration_token_is_a_502_naming_the_configuration(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    response = register(client, platform, token="not-the-token")

    assert response.status_code == 502
    assert "OpenID configuration" in response.get_data(as_text=True)
    assert "HTTP 401" in response.get_data(as_text=True)
    assert stored(app) == []


def test_openid_configuration_not_found_is_502(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    response = client.get(
        "/lti/register?"
        + urlencode({"openid_configuration": f"{platform.base_url}/nowhere", "registration_token": TOKEN})
    )

    assert response.status_code == 502
    assert "HTTP 404" in response.get_data(as_text=True)
    assert stored(app) == []


@responses.activate
def test_unreachable_openid_configuration_is_502(app: Flask, client: FlaskClient) -> None:
    url = "https://moodle.example.edu/mod/lti/openid-configuration.php"
    responses.get(url, body=requests.ConnectionError("connection refused"))

    response = client.get(
        "/lti/register?" + urlencode({"openid_configuration": url, "registration_token": TOKEN})
    )

    assert response.status_code == 502
    page = response.get_data(as_text=True)
    assert "could not fetch the platform OpenID configuration" in page
    assert "ConnectionError" in page
    assert stored(app) == []


@pytest.mark.parametrize(
    "query",
    [{}, {"registration_token": TOKEN}, {"openid_configuration": "", "registration_token": TOKEN}],
)
def test_missing_openid_configuration_parameter_is_400(
    app: Flask, client: FlaskClient, query: dict[str, str]
) -> None:
    response = client.get(f"/lti/register?{urlencode(query)}")

    assert response.status_code == 400
    assert "openid_configuration query parameter is missing" in response.get_data(as_text=True)
    assert stored(app) == []


def test_plain_http_is_refused_outside_debug_and_testing(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    app.testing = False

    response = register(client, platform)

    assert response.status_code == 400
    assert "openid_configuration must use https" in response.get_data(as_text=True)
    assert platform.config_requests == []


def test_registering_again_updates_the_registration_in_place(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    register(client, platform)
    (first,) = stored(app)
    platform.overrides["token_endpoint"] = f"{platform.base_url}/token-v2"
    platform.deployment_id = "8"

    response = register(client, platform)

    assert response.status_code == 200
    (second,) = stored(app)
    assert second.id == first.id
    assert second.auth_token_url == f"{platform.base_url}/token-v2"
    assert second.platform_config["token_endpoint"] == f"{platform.base_url}/token-v2"
    assert sorted(d.deployment_id for d in second.deployments) == ["7", "8"]
    assert WAITING.format(id=first.id) in response.get_data(as_text=True)


def test_approve_platform_activates_a_dynamic_registration(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    register(client, platform)
    (registration,) = stored(app)

    with app_state(app).session_factory() as session:
        approve_platform(session, registration.id)
        session.commit()

    (approved,) = stored(app)
    assert approved.status == RegistrationStatus.ACTIVE
    assert approved.approved_at is not None


def test_cli_platforms_approve_activates_a_dynamic_registration(
    app: Flask, client: FlaskClient, platform: FakePlatform, empty_database_url: str
) -> None:
    register(client, platform)
    (registration,) = stored(app)

    result = CliRunner().invoke(
        main,
        ["platforms", "approve", str(registration.id)],
        env={
            "DATABASE_URL": empty_database_url,
            "MB_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "MB_SECRET_KEY": "test-secret-key",
            "MB_LOG_LEVEL": "WARNING",
        },
        catch_exceptions=False,
    )

    assert result.exit_code == 0, result.output
    assert f"platform {registration.id} is now active" in result.stderr
    (approved,) = stored(app)
    assert approved.status == RegistrationStatus.ACTIVE


def test_an_approved_registration_whose_endpoints_move_goes_back_to_pending(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    register(client, platform)
    (registration,) = stored(app)
    with app_state(app).session_factory() as session:
        approve_platform(session, registration.id)
        session.commit()
    register(client, platform)
    assert stored(app)[0].status == RegistrationStatus.ACTIVE

    platform.overrides["jwks_uri"] = f"{platform.base_url}/certs-v2"
    register(client, platform)

    (moved,) = stored(app)
    assert moved.status == RegistrationStatus.PENDING
    assert moved.approved_at is None
