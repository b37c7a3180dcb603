"""The demo LMS end to end on loopback: launch with real signatures, NRPS paging, AGS at volume."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet, RSAKey
from joserfc.jwt import JWTClaimsRegistry

from connectors.errors import ConnectorResponseError
from connectors.lms import AgsClient, NrpsClient, PlatformCredentials, Score, Transport, new_session
from lti_tool.demo.platform import DemoContext, PlatformConfig, PlatformServer, build_demo_roster

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
TOOL = "http://tool.invalid"
WHEN = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def tool_key() -> RSAKey:
    return RSAKey.generate_key(2048, auto_kid=True)


@pytest.fixture
def server(tool_key: RSAKey) -> Iterator[PlatformServer]:
    def config(base: str) -> PlatformConfig:
        return PlatformConfig(
            issuer=base,
            client_id="demo-client",
            deployment_id="dep-1",
            tool_login_url=f"{TOOL}/lti/login",
            tool_redirect_urls=(f"{TOOL}/lti/launch",),
            tool_jwks={"keys": [tool_key.as_dict(private=False)]},
            context=DemoContext(id="course-9", label="HIST-9", title="History 9"),
            users=build_demo_roster(student_count=300),
        )

    with PlatformServer(config) as running:
        yield running


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def form_fields(page: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of an auto-submitting form."""
    action = re.search(r'<form id="auto" method="post" action="([^"]+)"', page)
    assert action is not None
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    return html.unescape(action.group(1)), {k: html.unescape(v) for k, v in fields.items()}


def login(
    http: requests.Session, server: PlatformServer, user_id: str, message_type: str = "LtiResourceLinkRequest"
) -> dict[str, str]:
    """Play the tool's part up to the login initiation; return its parameters."""
    response = http.get(
        server.config.url("/platform/initiate"),
        params={"user_id": user_id, "message_type": message_type},
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{TOOL}/lti/login"
    return {name: values[0] for name, values in parse_qs(location.query).items()}


def authorize(
    http: requests.Session, server: PlatformServer, initiation: dict[str, str], **changes: str
) -> requests.Response:
    params = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": initiation["client_id"],
        "redirect_uri": f"{TOOL}/lti/launch",
        "login_hint": initiation["login_hint"],
        "lti_message_hint": initiation["lti_message_hint"],
        "nonce": "n-123",
        "state": "s-456",
        **changes,
    }
    return http.post(server.config.url("/platform/authorize"), data=params, timeout=5)


def platform_keys(http: requests.Session, server: PlatformServer) -> KeySet:
    response = http.get(server.config.url("/platform/jwks"), timeout=5)
    assert response.headers["Cache-Control"] == "public, max-age=300"
    return KeySet.import_key_set(response.json())


def verify(token: str, keys: KeySet, server: PlatformServer) -> dict[str, Any]:
    decoded = jwt.decode(token, keys, algorithms=["RS256"])
    JWTClaimsRegistry(
        iss={"essential": True, "value": server.config.issuer},
        aud={"essential": True, "value": "demo-client"},
        nonce={"essential": True, "value": "n-123"},
        exp={"essential": True},
        iat={"essential": True},
    ).validate(decoded.claims)
    assert decoded.header["kid"] == server.platform.key_id
    return decoded.claims


def test_resource_link_launch_signs_every_lti_claim(http: requests.Session, server: PlatformServer) -> None:
    initiation = login(http, server, "demo-student-0007")
    assert initiation["iss"] == server.config.issuer
    assert initiation["target_link_uri"] == f"{TOOL}/lti/launch"
    assert initiation["lti_deployment_id"] == "dep-1"
    assert initiation["lti_storage_target"] == "_parent"

    response = authorize(http, server, initiation)
    assert response.status_code == 200
    action, fields = form_fields(response.text)
    assert action == f"{TOOL}/lti/launch"
    assert fields["state"] == "s-456"
    claims = verify(fields["id_token"], platform_keys(http, server), server)

    assert claims["sub"] == "demo-student-0007"
    assert claims["azp"] == "demo-client"
    assert claims["exp"] - claims["iat"] == 300
    assert claims[LTI + "message_type"] == "LtiResourceLinkRequest"
    assert claims[LTI + "version"] == "1.3.0"
    assert claims[LTI + "deployment_id"] == "dep-1"
    assert claims[LTI + "resource_link"]["id"] == "demo-resource-link-1"
    assert claims[LTI + "roles"][0] == "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
    assert claims[LTI + "context"]["id"] == "course-9"
    assert claims[LTI + "lis"]["person_sourcedid"] == "stu-0007"
    nrps = claims["https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"]
    assert nrps["service_versions"] == ["2.0"]
    assert nrps["context_memberships_url"].endswith("/contexts/course-9/memberships")
    ags = claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"]
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in ags["scope"]


def test_post_login_initiation_and_deep_link_round_trip(
    http: requests.Session, server: PlatformServer, tool_key: RSAKey
) -> None:
    page = http.get(
        server.config.url("/platform/initiate"),
        params={"user_id": "demo-teacher-001", "message_type": "LtiDeepLinkingRequest", "method": "POST"},
        timeout=5,
    )
    action, initiation = form_fields(page.text)
    assert action == f"{TOOL}/lti/login"
    claims = verify(
        form_fields(authorize(http, server, initiation).text)[1]["id_token"],
        platform_keys(http, server),
        server,
    )
    settings = claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"]
    assert claims[LTI + "message_type"] == "LtiDeepLinkingRequest"
    assert settings["accept_types"] == ["ltiResourceLink"]

    now = int(time.time())
    reply = jwt.encode(
        {"alg": "RS256", "kid": tool_key.kid},
        {
            "iss": "demo-client",
            "aud": server.config.issuer,
            "iat": now,
            "exp": now + 300,
            "nonce": "dl-1",
            LTI + "message_type": "LtiDeepLinkingResponse",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": "dep-1",
            "https://purl.imsglobal.org/spec/lti-dl/claim/data": settings["data"],
            "https://purl.imsglobal.org/spec/lti-dl/claim/content_items": [
                {
                    "type": "ltiResourceLink",
                    "title": "Unit 3 check",
                    "lineItem": {"scoreMaximum": 4, "label": "Unit 3"},
                }
            ],
        },
        tool_key,
    )
    done = http.post(settings["deep_link_return_url"], data={"JWT": reply}, timeout=5)
    assert done.status_code == 200
    assert "Unit 3 check" in done.text
    assert [item.label for item in server.platform.store.line_items.values()] == ["Unit 3"]

    forged = http.post(settings["deep_link_return_url"], data={"JWT": reply[:-4] + "AAAA"}, timeout=5)
    assert forged.status_code == 400


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "login"},
        {"response_mode": "query"},
        {"redirect_uri": "https://evil.invalid/"},
        {"lti_message_hint": "x"},
        {"login_hint": "demo-student-0002"},
        {"client_id": "other"},
    ],
)
def test_authorize_refuses_bad_requests(
    http: requests.Session, server: PlatformServer, change: dict[str, str]
) -> None:
    initiation = login(http, server, "demo-student-0001")
    response = authorize(http, server, initiation, **change)
    assert response.status_code == 400
    assert "id_token" not in response.text


def test_sign_id_token_crafts_good_and_bad_tokens(http: requests.Session, server: PlatformServer) -> None:
    keys = platform_keys(http, server)
    good = server.platform.sign_id_token({"nonce": "n-123"}, omit=["email"])
    assert "email" not in verify(good, keys, server)
    bad = server.platform.sign_id_token({"nonce": "n-123"}, key=RSAKey.generate_key(2048))
    with pytest.raises(BadSignatureError):
        jwt.decode(bad, keys, algorithms=["RS256"])


def test_home_and_launch_pages(http: requests.Session, server: PlatformServer) -> None:
    home = http.get(server.config.url("/"), timeout=5).text
    assert 'aria-label="Launch the tool as Student S0300"' in home
    launch = http.get(server.config.url("/platform/launch/demo-student-0001"), timeout=5).text
    assert 'name="lti_tool_frame"' in launch
    assert "lti.capabilities" in launch
    assert "lti.put_data" in launch


# Services through connectors.lms -----------------------------------------------------------------------


@pytest.fixture
def transport() -> Iterator[Transport]:
    session = new_session()
    yield Transport(session=session, timeout=10.0)
    session.close()


def credentials(server: PlatformServer, tool_key: RSAKey) -> PlatformCredentials:
    return PlatformCredentials(
        issuer=server.config.issuer,
        client_id="demo-client",
        token_url=server.config.token_url,
        private_key_pem=tool_key.as_pem(private=True),
        key_id=tool_key.kid or "",
    )


def test_nrps_300_members_in_pages(server: PlatformServer, tool_key: RSAKey, transport: Transport) -> None:
    client = NrpsClient(credentials(server, tool_key), transport=transport)
    started = time.perf_counter()
    members = client.fetch_members(server.config.url("/platform/api/contexts/course-9/memberships"))
    elapsed = time.perf_counter() - started

    assert len(members) == 302  # 2 teachers + 300 students, 100 a page
    assert sum("http://purl.imsglobal.org/vocab/lis/v2/membership#Learner" in m.roles for m in members) == 300
    assert elapsed < 5


def test_1000_scores_cost_exactly_one_token_request(
    server: PlatformServer, tool_key: RSAKey, transport: Transport
) -> None:
    with server.platform.store.lock:
        item = server.platform.add_line_item_locked(label="Unit 1", score_maximum=Decimal(4))
    item_url = server.config.url(f"/platform/api/contexts/course-9/lineitems/{item.number}")
    client = AgsClient(credentials(server, tool_key), transport=transport)
    started = time.perf_counter()
    for n in range(1000):
        user_id = f"demo-student-{n % 300 + 1:04d}"
        client.post_score(item_url, Score(user_id, Decimal(4), WHEN + timedelta(seconds=n), Decimal(n % 5)))
    elapsed = time.perf_counter() - started

    assert server.platform.token_requests == 1
    assert len(server.platform.received_scores()) == 1000
    assert elapsed < 30


def test_stale_score_is_409_and_teacher_score_is_422(
    server: PlatformServer, tool_key: RSAKey, transport: Transport
) -> None:
    with server.platform.store.lock:
        item = server.platform.add_line_item_locked(label="Unit 2", score_maximum=Decimal(4))
    item_url = server.config.url(f"/platform/api/contexts/course-9/lineitems/{item.number}")
    first = AgsClient(credentials(server, tool_key), transport=transport)
    second = AgsClient(
        credentials(server, tool_key), transport=transport
    )  # another process: no shared memory
    first.post_score(item_url, Score("demo-student-0001", Decimal(4), WHEN, Decimal(3)))

    with pytest.raises(ConnectorResponseError) as stale:
        second.post_score(
            item_url, Score("demo-student-0001", Decimal(4), WHEN - timedelta(days=1), Decimal(2))
        )
    with pytest.raises(ConnectorResponseError) as teacher:
        first.post_score(item_url, Score("demo-teacher-001", Decimal(4), WHEN, Decimal(2)))
    assert stale.value.status == 409
    assert teacher.value.status == 422
