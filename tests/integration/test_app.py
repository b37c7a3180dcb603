"""The Flask app on a real migrated database: JWKS, Canvas configuration, health, error pages, ProxyFix."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from joserfc.jwk import RSAKey

from lti_tool.app import create_app
from lti_tool.db import upgrade_database
from lti_tool.errors import LaunchError
from lti_tool.settings import Settings
from lti_tool.web.session import app_state

PUBLIC_BASE_URL = "https://mb.example.org"


def _reject_launch() -> str:
    raise LaunchError("nonce already used", status=403)


def _crash() -> str:
    raise RuntimeError("internal detail that must not reach the page")


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
    app.add_url_rule("/test/external-url", "external_url", lambda: url_for("lti.jwks", _external=True))
    app.add_url_rule("/test/launch-error", "launch_error", _reject_launch)
    app.add_url_rule("/test/crash", "crash", _crash)
    yield app
    app_state(app).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.mark.parametrize("path", ["/lti/jwks", "/.well-known/jwks.json"])
def test_jwks_publishes_rs256_signing_keys_with_a_cache_header(client: FlaskClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=300"
    body = response.get_json()
    (jwk,) = body["keys"]
    assert set(jwk) == {"kty", "n", "e", "kid", "alg", "use"}
    assert (jwk["kty"], jwk["alg"], jwk["use"]) == ("RSA", "RS256", "sig")
    assert RSAKey.import_key(jwk).thumbprint() == jwk["kid"]


def test_both_jwks_urls_serve_the_same_committed_key(client: FlaskClient) -> None:
    first = client.get("/lti/jwks").get_json()
    second = client.get("/.well-known/jwks.json").get_json()

    assert first == second


def test_canvas_configuration(client: FlaskClient) -> None:
    response = client.get("/lti/config/canvas.json")

    assert response.status_code == 200
    config = response.get_json()
    assert config["title"] == "mastery-bridge"
    assert config["oidc_initiation_url"] == f"{PUBLIC_BASE_URL}/lti/login"
    assert config["target_link_uri"] == f"{PUBLIC_BASE_URL}/lti/launch"
    assert config["public_jwk_url"] == f"{PUBLIC_BASE_URL}/lti/jwks"
    assert set(config["scopes"]) == {
        "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
        "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
        "https://purl.imsglobal.org/spec/lti-ags/scope/score",
        "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
    }
    (extension,) = config["extensions"]
    assert extension["platform"] == "canvas.instructure.com"
    assert extension["privacy_level"] == "public"
    assert extension["domain"] == "mb.example.org"
    placements = {p["placement"]: p for p in extension["settings"]["placements"]}
    assert set(placements) == {
        "course_navigation",
        "assignment_selection",
        "link_selection",
        "account_navigation",
    }
    assert placements["course_navigation"]["message_type"] == "LtiResourceLinkRequest"
    assert placements["course_navigation"]["visibility"] == "members"
    assert placements["assignment_selection"]["message_type"] == "LtiDeepLinkingRequest"
    assert placements["link_selection"]["message_type"] == "LtiDeepLinkingRequest"
    assert placements["account_navigation"]["visibility"] == "admins"
    for placement in placements.values():
        assert placement["target_link_uri"].startswith(f"{PUBLIC_BASE_URL}/lti/")


def test_healthz_checks_the_database(client: FlaskClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_unknown_page_renders_the_error_page(client: FlaskClient) -> None:
    response = client.get("/no-such-page", headers={"Accept": "text/html"})

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<h1>Not Found</h1>" in page
    assert "Traceback" not in page
    assert "/static/style.css" in page


def test_unknown_page_answers_json_when_asked(client: FlaskClient) -> None:
    response = client.get("/no-such-page", headers={"Accept": "application/json"})

    assert response.status_code == 404
    assert response.get_json()["error"]["status"] == 404


def test_stylesheet_is_served_locally(client: FlaskClient) -> None:
    response = client.get("/static/style.css")

    assert response.status_code == 200
    response.close()


def test_proxy_fix_honours_forwarded_proto_and_host(client: FlaskClient) -> None:
    direct = client.get("/test/external-url")
    proxied = client.get(
        "/test/external-url",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "mb.example.org"},
    )

    assert direct.get_data(as_text=True) == "http://localhost/lti/jwks"
    assert proxied.get_data(as_text=True) == "https://mb.example.org/lti/jwks"


def test_launch_error_is_a_4xx_page_and_a_log_line(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="mastery_bridge.web"):
        response = client.get("/test/launch-error?login_hint=student-42")

    assert response.status_code == 403
    assert "nonce already used" in response.get_data(as_text=True)
    (record,) = caplog.records
    assert "launch rejected: nonce already used" in record.getMessage()
    assert "student-42" not in record.getMessage()


def test_unexpected_error_is_a_500_page_without_internals(client: FlaskClient) -> None:
    response = client.get("/test/crash")

    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Something went wrong" in page
    assert "internal detail" not in page
