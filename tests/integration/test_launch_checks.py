"""One test per launch check: every reject is a 4xx naming its reason and stores nothing; every accept lands.

Tokens are really signed by the loopback demo platform and the tool fetches its JWKS over HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from joserfc import jwt
from joserfc.jwk import RSAKey

from lti_tool.demo.platform import PlatformServer
from lti_tool.lti.platform_keys import PlatformKeyCache
from lti_tool.models import LtiDeployment, RegistrationStatus
from lti_tool.registrations import add_platform
from lti_tool.web.launch import platform_keys
from lti_tool.web.session import app_state
from tests.integration.launch_harness import (
    DEEP_LINKING,
    LTI,
    STUDENT,
    TEACHER,
    TOOL,
    Harness,
    Login,
    build_app,
    start_platform,
)

DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
OTHER_KEY = RSAKey.generate_key(2048, auto_kid=True)


class CountingSession(requests.Session):
    """A requests session that counts GETs (the tool's JWKS fetches)."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    def get(self, url: str | bytes, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.gets += 1
        return super().get(url, **kwargs)


@pytest.fixture(scope="module")
def server() -> Iterator[PlatformServer]:
    running = start_platform()
    yield running
    running.stop()


@pytest.fixture
def app(empty_database_url: str, tmp_path: Path) -> Iterator[Flask]:
    yield from build_app(empty_database_url, tmp_path)


@pytest.fixture
def jwks_http(app: Flask) -> CountingSession:
    http = CountingSession()
    app.extensions["mastery_bridge.platform_keys"] = PlatformKeyCache(http)
    assert isinstance(platform_keys(app), PlatformKeyCache)
    return http


@pytest.fixture
def harness(app: Flask, server: PlatformServer, jwks_http: CountingSession) -> Iterator[Harness]:
    running = Harness(app, server)
    running.registration_id = running.register()
    yield running
    running.close()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def payload_of(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


def resign(token: str, header: dict[str, Any], key: RSAKey) -> str:
    return jwt.encode(header, payload_of(token), key)


def unsigned(token: str, header: dict[str, Any], signature: Callable[[bytes], bytes]) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{token.split('.')[1]}".encode()
    return f"{signing_input.decode()}.{b64(signature(signing_input))}"


@dataclass(frozen=True)
class Case:
    """A launch built from a fresh login; `fields` returns the form the browser posts."""

    reason: str
    fields: Callable[[Harness, Login], dict[str, str]]
    status: int = 400


def token_case(
    reason: str,
    claims: dict[str, Any] | Callable[[], dict[str, Any]] | None = None,
    status: int = 400,
    **options: Any,
) -> Case:
    """A case whose id_token has `claims` overridden (a callable is evaluated at launch time, for clocks)."""

    def fields(harness: Harness, login: Login) -> dict[str, str]:
        values = claims() if callable(claims) else claims
        return {"id_token": harness.sign(login, values, **options), "state": login.state}

    return Case(reason, fields, status)


def now() -> int:
    return int(time.time())


def _bad_header(
    header: Callable[[Harness], dict[str, Any]], key: RSAKey | None = None
) -> Callable[[Harness, Login], dict[str, str]]:
    def fields(harness: Harness, login: Login) -> dict[str, str]:
        token = harness.sign(login)
        return {
            "id_token": resign(token, header(harness), key or harness.server.platform.key),
            "state": login.state,
        }

    return fields


def _alg_none(harness: Harness, login: Login) -> dict[str, str]:
    token = harness.sign(login)
    header = {"alg": "none", "kid": harness.server.platform.key_id}
    return {"id_token": unsigned(token, header, lambda _: b""), "state": login.state}


def _alg_hs256(harness: Harness, login: Login) -> dict[str, str]:
    # The classic confusion attack: HMAC keyed with the platform's public key.
    token = harness.sign(login)
    secret = harness.server.platform.key.as_bytes(private=False)
    header = {"alg": "HS256", "kid": harness.server.platform.key_id}
    return {
        "id_token": unsigned(token, header, lambda data: hmac.new(secret, data, hashlib.sha256).digest()),
        "state": login.state,
    }


def _no_state(harness: Harness, login: Login) -> dict[str, str]:
    return {"id_token": harness.sign(login)}


def _other_state(harness: Harness, login: Login) -> dict[str, str]:
    return {"id_token": harness.sign(login), "state": "another-" + login.state}


def _platform_error(harness: Harness, login: Login) -> dict[str, str]:
    return {"error": "login_required", "error_description": "Please log in", "state": login.state}


def _foreign_nonce(harness: Harness, login: Login) -> dict[str, str]:
    return {"id_token": harness.sign(login, nonce="a-nonce-we-never-issued"), "state": login.state}


REJECTS: dict[str, Case] = {
    "bad_signature": Case(
        "signature invalid",
        _bad_header(lambda h: {"alg": "RS256", "kid": h.server.platform.key_id}, OTHER_KEY),
    ),
    "missing_kid": Case("no kid", _bad_header(lambda h: {"alg": "RS256"})),
    "unknown_kid": Case("unknown kid", _bad_header(lambda h: {"alg": "RS256", "kid": "no-such-kid"})),
    "alg_none": Case("alg 'none' is not allowed", _alg_none),
    "alg_hs256": Case("alg 'HS256' is not allowed", _alg_hs256),
    "wrong_iss": token_case("is not the registered issuer", {"iss": "https://evil.example"}),
    "aud_without_client_id": token_case("aud does not contain our client_id", {"aud": "someone-else"}),
    "several_aud_no_azp": token_case(
        "azp is missing", {"aud": ["mastery-bridge-demo", "someone-else"]}, omit=("azp",)
    ),
    "azp_not_ours": token_case("azp 'someone-else'", {"azp": "someone-else"}),
    "exp_missing": token_case("exp is missing", omit=("exp",)),
    "exp_past": token_case("expired", lambda: {"exp": now() - 5, "iat": now() - 60}),
    "iat_missing": token_case("iat is missing", omit=("iat",)),
    "iat_future": token_case("in the future", lambda: {"iat": now() + 120}),
    "iat_too_old": token_case("older than 10 minutes", lambda: {"iat": now() - 700}),
    "nonce_missing": token_case("nonce claim missing", omit=("nonce",)),
    "nonce_not_issued": Case("nonce was not issued", _foreign_nonce),
    "state_missing": Case("state missing", _no_state),
    "state_mismatched": Case("state mismatched", _other_state),
    "deployment_missing": token_case("deployment_id claim missing", omit=(LTI + "deployment_id",)),
    "deployment_unknown": token_case("is unknown", {LTI + "deployment_id": "dep-nope"}),
    "message_type_missing": token_case("message_type claim missing", omit=(LTI + "message_type",)),
    "message_type_unknown": token_case(
        "is not supported", {LTI + "message_type": "LtiSubmissionReviewRequest"}
    ),
    "version_not_130": token_case("is not 1.3.0", {LTI + "version": "1.1"}),
    "roles_missing": token_case("roles claim missing", omit=(LTI + "roles",)),
    "resource_link_id_missing": token_case(
        "Missing Resource Link Id", {LTI + "resource_link": {"title": "no id"}}
    ),
    "sub_missing": token_case("Must have a user (sub)", omit=("sub",)),
    "target_link_uri_missing": token_case("target_link_uri claim missing", omit=(LTI + "target_link_uri",)),
    "target_link_uri_different": token_case(
        "differs from the one of the login", {LTI + "target_link_uri": f"{TOOL}/lti/launch?other=1"}
    ),
    "deep_linking_settings_missing": token_case(
        "Missing Deep Linking Settings", user_id=TEACHER, message_type=DEEP_LINKING, omit=(DL_SETTINGS,)
    ),
    "deep_link_return_url_missing": token_case(
        "deep_link_return_url missing",
        {
            DL_SETTINGS: {
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe"],
            }
        },
        user_id=TEACHER,
        message_type=DEEP_LINKING,
    ),
    "platform_error_response": Case("platform returned error 'login_required'", _platform_error, status=403),
}


@pytest.mark.parametrize("case", list(REJECTS.values()), ids=list(REJECTS))
def test_launch_is_rejected(harness: Harness, case: Case, caplog: pytest.LogCaptureFixture) -> None:
    login = harness.login()
    before = harness.counts()

    response = harness.launch(case.fields(harness, login))

    assert response.status_code == case.status
    assert case.reason in html.unescape(response.get_data(as_text=True))
    assert any(case.reason in record.getMessage() for record in caplog.records)
    assert harness.counts() == before
    assert not harness.nonce_used(login.nonce)


def test_unknown_kid_is_looked_up_once_more_before_rejecting(
    harness: Harness, jwks_http: CountingSession
) -> None:
    assert harness.launch(harness.authorize(harness.initiate(STUDENT))).status_code == 303
    assert jwks_http.gets == 1
    login = harness.login()

    response = harness.launch(_bad_header(lambda h: {"alg": "RS256", "kid": "rotated-away"})(harness, login))

    assert response.status_code == 400
    assert jwks_http.gets == 2


def test_jwks_is_cached_by_max_age(harness: Harness, jwks_http: CountingSession) -> None:
    for user in (STUDENT, TEACHER, STUDENT):
        assert harness.launch(harness.authorize(harness.initiate(user))).status_code == 303
    assert jwks_http.gets == 1


def test_platform_key_rotation_is_picked_up_by_one_refetch(
    harness: Harness, jwks_http: CountingSession
) -> None:
    platform = harness.server.platform
    assert harness.launch(harness.authorize(harness.initiate(STUDENT))).status_code == 303
    original = platform.key
    platform.key = RSAKey.generate_key(2048, auto_kid=True)
    try:
        response = harness.launch(harness.authorize(harness.initiate(TEACHER)))
    finally:
        platform.key = original
    assert response.status_code == 303
    assert jwks_http.gets == 2


def test_jwks_fetch_failure_is_a_503_not_a_500(app: Flask, server: PlatformServer) -> None:
    harness = Harness(app, server)
    with app_state(app).session_factory() as session:
        add_platform(
            session,
            issuer=server.config.issuer,
            client_id=server.config.client_id,
            deployment_id=server.config.deployment_id,
            auth_login_url=server.config.url("/platform/authorize"),
            auth_token_url=server.config.token_url,
            key_set_url="http://127.0.0.1:9/jwks",  # discard port: connection refused
        )
        session.commit()
    login = harness.login()
    before = harness.counts()

    response = harness.launch({"id_token": harness.sign(login), "state": login.state})

    assert response.status_code == 503
    assert "platform JWKS" in response.get_data(as_text=True)
    assert harness.counts() == before


def restore_cookie(harness: Harness, cookie: str) -> None:
    """Put back a state cookie the tool deleted after the first launch (an attacker who captured it)."""
    name, _, value = cookie.partition("=")
    harness.client.set_cookie(name, value, domain="mb.example.org", path="/lti/")


def test_nonce_already_used_is_rejected(harness: Harness) -> None:
    login = harness.initiate(STUDENT)
    fields = harness.authorize(login)
    cookie = login.response.headers["Set-Cookie"].split(";", 1)[0]
    assert harness.launch(fields).status_code == 303
    before = harness.counts()

    restore_cookie(harness, cookie)
    again = harness.launch({**fields, "id_token": harness.sign(login, {"jti": "fresh"}, user_id=STUDENT)})

    assert again.status_code == 400
    assert "nonce already used" in again.get_data(as_text=True), again.get_data(as_text=True)
    assert harness.counts() == before


def test_replayed_id_token_is_rejected(harness: Harness) -> None:
    login = harness.initiate(STUDENT)
    fields = harness.authorize(login)
    cookie = login.response.headers["Set-Cookie"].split(";", 1)[0]
    assert harness.launch(fields).status_code == 303
    before = harness.counts()

    restore_cookie(harness, cookie)
    replay = harness.launch(fields)

    assert replay.status_code == 400
    assert "id_token replayed" in replay.get_data(as_text=True)
    assert harness.counts() == before


def test_inactive_deployment_is_rejected(harness: Harness) -> None:
    with app_state(harness.app).session_factory() as session:
        for deployment in session.query(LtiDeployment):
            deployment.is_active = False
        session.commit()
    login = harness.login()
    before = harness.counts()

    response = harness.launch({"id_token": harness.sign(login), "state": login.state})

    assert response.status_code == 403
    assert "is not active" in response.get_data(as_text=True)
    assert harness.counts() == before
    assert not harness.nonce_used(login.nonce)


@pytest.mark.parametrize("status", [RegistrationStatus.PENDING, RegistrationStatus.DISABLED])
def test_inactive_registration_is_rejected_at_login_and_launch(
    harness: Harness, status: RegistrationStatus
) -> None:
    login = harness.login()
    fields = {"id_token": harness.sign(login), "state": login.state}
    assert harness.registration_id is not None
    harness.set_status(harness.registration_id, status)
    before = harness.counts()

    launch = harness.launch(fields)
    second_login = harness.client.get(
        f"{TOOL}/lti/login",
        query_string={
            "iss": harness.server.config.issuer,
            "login_hint": STUDENT,
            "target_link_uri": f"{TOOL}/lti/launch",
        },
    )

    assert launch.status_code == 403
    assert status.value in launch.get_data(as_text=True)
    assert second_login.status_code == 403
    assert harness.counts() == before
    assert not harness.nonce_used(login.nonce)


def test_login_refuses_a_target_link_uri_of_another_site(harness: Harness) -> None:
    response = harness.client.get(
        f"{TOOL}/lti/login",
        query_string={
            "iss": harness.server.config.issuer,
            "login_hint": STUDENT,
            "target_link_uri": "https://evil.example/phish",
        },
    )
    assert response.status_code == 400


@pytest.mark.parametrize("missing", ["iss", "login_hint", "target_link_uri"])
def test_login_requires_its_parameters(harness: Harness, missing: str) -> None:
    query = {
        "iss": harness.server.config.issuer,
        "login_hint": STUDENT,
        "target_link_uri": f"{TOOL}/lti/launch",
    }
    del query[missing]
    assert harness.client.post(f"{TOOL}/lti/login", data=query).status_code == 400


# Accepts ---------------------------------------------------------------------------------------------------

PERSONAL = ("name", "given_name", "family_name", "email")
ACCEPTS: dict[str, tuple[dict[str, Any], tuple[str, ...], str]] = {
    "aud_list_ours_not_first_with_azp": (
        {"aud": ["someone-else", "mastery-bridge-demo"], "azp": "mastery-bridge-demo"},
        (),
        "/student/progress",
    ),
    "roles_empty": ({LTI + "roles": []}, (), "/home"),
    "short_role_learner": ({LTI + "roles": ["Learner"]}, (), "/student/progress"),
    "short_role_instructor": ({LTI + "roles": ["Instructor"]}, (), "/teacher/classes/"),
    "unknown_role_uris": (
        {LTI + "roles": ["http://example.com/roles#Wizard", "urn:example:role:Gardener"]},
        (),
        "/home",
    ),
    "canvas_admin_who_is_a_learner": (
        {
            LTI + "roles": [
                "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
                "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",
            ]
        },
        (),
        "/student/progress",
    ),
    "institution_admin_without_context_role": (
        {LTI + "roles": ["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"]},
        (LTI + "context",),
        "/staff",
    ),
    "only_email": ({}, ("name", "given_name", "family_name"), "/student/progress"),
    "only_names": ({}, ("email",), "/student/progress"),
    "no_personal_data": ({}, PERSONAL, "/student/progress"),
    "no_context_claim": ({}, (LTI + "context",), "/student/progress"),
}


@pytest.mark.parametrize(("claims", "omit", "landing"), list(ACCEPTS.values()), ids=list(ACCEPTS))
def test_launch_is_accepted(
    harness: Harness, claims: dict[str, Any], omit: tuple[str, ...], landing: str
) -> None:
    login = harness.login()
    before = harness.counts()

    response = harness.launch({"id_token": harness.sign(login, claims, omit=omit), "state": login.state})

    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"].startswith(landing)
    assert harness.follow(response).status_code == 200
    after = harness.counts()
    assert after["persons"] == before["persons"] + 1
    # The LTI sub, and the lis person_sourcedid the demo platform sends.
    assert after["person_identifiers"] == before["person_identifiers"] + 2
    assert after["lti_token_replays"] == before["lti_token_replays"] + 1
    assert harness.nonce_used(login.nonce)
    context_expected = LTI + "context" not in omit
    assert after["lti_contexts"] == before["lti_contexts"] + int(context_expected)


def test_a_second_launch_updates_the_same_person_and_class(harness: Harness) -> None:
    first = harness.login()
    assert (
        harness.launch({"id_token": harness.sign(first, omit=PERSONAL), "state": first.state}).status_code
        == 303
    )
    second = harness.login()
    assert harness.launch({"id_token": harness.sign(second), "state": second.state}).status_code == 303

    assert harness.counts() == {
        "persons": 1,
        "person_identifiers": 2,  # the LTI sub and the lis person_sourcedid
        "enrollments": 1,
        "lti_contexts": 1,
        "lti_token_replays": 2,
    }
