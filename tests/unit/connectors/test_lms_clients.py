"""LTI Advantage clients against the demo platform on loopback; `responses` only for failures it cannot produce."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
import responses
from joserfc.jwk import RSAKey

from connectors.errors import ConnectorAuthError, ConnectorResponseError, ConnectorUnavailableError
from connectors.lms import (
    SCOPE_AGS_SCORE,
    SCOPE_NRPS_MEMBERSHIP,
    AgsClient,
    FakeGradeBook,
    LineItem,
    NrpsClient,
    PlatformCredentials,
    Score,
    TokenClient,
    Transport,
    canvas_submission_extension,
    service_url,
)
from lti_tool.demo.platform import PlatformServer
from tests.unit.connectors.conftest import RecordingSleep, credentials_for, make_platform_config

Clients = tuple[NrpsClient, AgsClient, TokenClient]
WHEN = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def record_requests(transport: Transport) -> list[requests.PreparedRequest]:
    """Every request the transport's session sends, via a response hook (no mocking)."""
    seen: list[requests.PreparedRequest] = []

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        seen.append(response.request)

    transport.session.hooks["response"].append(hook)
    return seen


def a_score(user_id: str = "demo-student-0001", given: str = "3", when: datetime = WHEN) -> Score:
    return Score(user_id=user_id, score_given=Decimal(given), score_maximum=Decimal(4), timestamp=when)


# Tokens ------------------------------------------------------------------------------------------------


def test_one_token_request_per_scope_set_for_many_calls(
    clients: Clients, platform_server: PlatformServer
) -> None:
    nrps, ags, tokens = clients
    item = ags.create_line_item(
        platform_server.config.url("/platform/api/contexts/course-1/lineitems"), LineItem("Quiz", Decimal(4))
    )
    assert item.id is not None
    for n in range(40):
        ags.post_score(item.id, a_score(when=WHEN + timedelta(seconds=n)))
    nrps.fetch_members(platform_server.config.url("/platform/api/contexts/course-1/memberships"))
    nrps.fetch_members(platform_server.config.url("/platform/api/contexts/course-1/memberships"))

    # lineitem scope, score scope, NRPS scope: one token each, however many calls.
    assert tokens.token_requests == 3
    assert platform_server.platform.token_requests == 3


def test_token_refreshed_after_expiry(
    platform_server: PlatformServer, tool_key: RSAKey, transport: Transport
) -> None:
    now = [1000.0]
    tokens = TokenClient(transport, clock=lambda: now[0])
    credentials = credentials_for(platform_server, tool_key)

    first = tokens.get_token(credentials, [SCOPE_AGS_SCORE])
    now[0] += 3600 - 61  # still inside expires_in minus the 60 s margin
    assert tokens.get_token(credentials, [SCOPE_AGS_SCORE]) == first
    now[0] += 2
    second = tokens.get_token(credentials, [SCOPE_AGS_SCORE])

    assert second != first
    assert tokens.token_requests == 2
    assert platform_server.platform.token_requests == 2


def test_untrusted_tool_key_is_an_auth_error(platform_server: PlatformServer, transport: Transport) -> None:
    stranger = RSAKey.generate_key(2048, auto_kid=True)
    credentials = credentials_for(platform_server, stranger)
    with NrpsClient(credentials, transport=transport) as nrps, pytest.raises(ConnectorAuthError) as caught:
        nrps.fetch_members(platform_server.config.url("/platform/api/contexts/course-1/memberships"))
    assert caught.value.status == 401
    assert caught.value.url == platform_server.config.token_url


def test_client_assertion_claims(tool_key: RSAKey, transport: Transport) -> None:
    from joserfc import jwt

    credentials = PlatformCredentials(
        issuer="https://lms.example",
        client_id="cid",
        token_url="https://lms.example/token",
        private_key_pem=tool_key.as_pem(private=True),
        key_id="k1",
        audience="https://auth.example",
    )
    tokens = TokenClient(transport)
    first = jwt.decode(tokens.build_client_assertion(credentials), tool_key)
    second = jwt.decode(tokens.build_client_assertion(credentials), tool_key)

    assert first.header["alg"] == "RS256"
    assert first.header["kid"] == "k1"
    assert first.claims["iss"] == first.claims["sub"] == "cid"
    assert first.claims["aud"] == "https://auth.example"
    assert 0 < first.claims["exp"] - first.claims["iat"] <= 300
    assert first.claims["jti"] != second.claims["jti"]


# NRPS --------------------------------------------------------------------------------------------------


def test_nrps_follows_next_links_with_accept_and_user_agent(
    clients: Clients, platform_server: PlatformServer
) -> None:
    nrps, _, _ = clients
    seen = record_requests(nrps.transport)

    membership = nrps.fetch_membership(
        platform_server.config.url("/platform/api/contexts/course-1/memberships")
    )

    assert len(membership.members) == 14  # 2 teachers + 12 students, 5 per page
    assert len({m.user_id for m in membership.members}) == 14
    assert membership.context.id == "course-1"
    pages = [r for r in seen if "/memberships" in (r.url or "")]
    assert len(pages) == 3
    for page in pages:
        assert page.headers["Accept"] == "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
        assert page.headers["User-Agent"].startswith("mastery-bridge/")
        assert page.headers["Authorization"].startswith("Bearer ")
    student = next(m for m in membership.members if m.user_id == "demo-student-0001")
    assert student.lis_person_sourcedid == "stu-0001"
    assert "demo-student" not in repr(student)


# AGS ---------------------------------------------------------------------------------------------------


def test_create_line_item_never_sends_an_id(clients: Clients, platform_server: PlatformServer) -> None:
    _, ags, _ = clients
    seen = record_requests(ags.transport)
    container = platform_server.config.url("/platform/api/contexts/course-1/lineitems")

    created = ags.create_line_item(container, LineItem("Unit 1", Decimal("4.5"), id="ignored", tag="unit-1"))

    post = next(r for r in seen if r.method == "POST" and r.url == container)
    body = json.loads(post.body or b"{}")
    assert "id" not in body
    assert body == {"label": "Unit 1", "scoreMaximum": 4.5, "tag": "unit-1"}
    assert post.headers["Content-Type"] == "application/vnd.ims.lis.v2.lineitem+json"
    assert created.id is not None
    assert created.id.startswith(container + "/")
    assert created.score_maximum == Decimal("4.5")
    assert ags.list_line_items(container, tag="unit-1") == [created]
    assert ags.get_line_item(created.id) == created


def test_score_post_keeps_moodle_type_id_query(tool_key: RSAKey, transport: Transport) -> None:
    def config(base: str) -> Any:
        return make_platform_config(base, tool_key, line_item_query="type_id=7")

    with (
        PlatformServer(config) as server,
        AgsClient(credentials_for(server, tool_key), transport=transport) as ags,
    ):
        seen = record_requests(transport)
        item = ags.create_line_item(
            server.config.url("/platform/api/contexts/course-1/lineitems"), LineItem("Q", Decimal(4))
        )
        assert item.id is not None
        assert item.id.endswith("/lineitems/1?type_id=7")

        ags.post_score(item.id, a_score())
        results = ags.list_results(item.id)

    score_post = next(r for r in seen if r.method == "POST" and "/scores" in (r.url or ""))
    assert score_post.url == server.config.url("/platform/api/contexts/course-1/lineitems/1/scores?type_id=7")
    assert score_post.headers["Content-Type"] == "application/vnd.ims.lis.v1.score+json"
    assert [(r.user_id, r.result_score) for r in results] == [("demo-student-0001", Decimal(3))]


def test_service_url_inserts_into_the_path() -> None:
    assert service_url(
        "https://m.example/mod/lti/services.php/2/lineitems/5/lineitem?type_id=1", "scores"
    ) == ("https://m.example/mod/lti/services.php/2/lineitems/5/lineitem/scores?type_id=1")
    assert service_url("https://c.example/api/lti/courses/1/line_items/9/", "results") == (
        "https://c.example/api/lti/courses/1/line_items/9/results"
    )


def test_equal_timestamps_are_bumped_by_one_millisecond(
    clients: Clients, platform_server: PlatformServer
) -> None:
    _, ags, _ = clients
    item = ags.create_line_item(
        platform_server.config.url("/platform/api/contexts/course-1/lineitems"), LineItem("Q", Decimal(4))
    )
    assert item.id is not None
    seen = record_requests(ags.transport)

    first = ags.post_score(item.id, a_score(given="2", when=WHEN.replace(microsecond=123_456)))
    second = ags.post_score(item.id, a_score(given="3", when=WHEN))  # older than the first

    assert second.timestamp == first.timestamp + timedelta(milliseconds=1)
    sent = [json.loads(r.body or b"{}")["timestamp"] for r in seen if "/scores" in (r.url or "")]
    assert sent == ["2025-03-01T09:30:00.123+00:00", "2025-03-01T09:30:00.124+00:00"]
    assert [s.score_given for s in platform_server.platform.received_scores()] == [Decimal(2), Decimal(3)]


def test_stale_timestamp_from_another_process_is_409(
    platform_server: PlatformServer, tool_key: RSAKey, transport: Transport
) -> None:
    credentials = credentials_for(platform_server, tool_key)
    container = platform_server.config.url("/platform/api/contexts/course-1/lineitems")
    with (
        AgsClient(credentials, transport=transport) as one,
        AgsClient(credentials, transport=transport) as two,
    ):
        item = one.create_line_item(container, LineItem("Q", Decimal(4)))
        assert item.id is not None
        one.post_score(item.id, a_score())
        with pytest.raises(ConnectorResponseError) as caught:
            two.post_score(item.id, a_score())
    assert caught.value.status == 409


def test_score_for_a_teacher_is_422(clients: Clients, platform_server: PlatformServer) -> None:
    _, ags, _ = clients
    item = ags.create_line_item(
        platform_server.config.url("/platform/api/contexts/course-1/lineitems"), LineItem("Q", Decimal(4))
    )
    assert item.id is not None
    with pytest.raises(ConnectorResponseError) as caught:
        ags.post_score(item.id, a_score(user_id="demo-teacher-001"))
    assert caught.value.status == 422


@pytest.mark.parametrize("kind", ["fake", "real"])
def test_grade_book_contract(kind: str, clients: Clients, platform_server: PlatformServer) -> None:
    """The fake and the real client agree on creation, filtering and timestamp bumping."""
    _, ags, _ = clients
    book: FakeGradeBook | AgsClient = FakeGradeBook() if kind == "fake" else ags
    container = platform_server.config.url("/platform/api/contexts/course-1/lineitems")

    created = book.create_line_item(container, LineItem("Unit", Decimal(4), resource_id="u1"))
    assert created.id is not None
    first = book.post_score(created.id, a_score())
    second = book.post_score(created.id, a_score())

    assert book.list_line_items(container, resource_id="u1") == [created]
    assert book.list_line_items(container, resource_id="other") == []
    assert second.timestamp - first.timestamp == timedelta(milliseconds=1)


# Failures the loopback platform cannot produce ------------------------------------------------------------

LMS = "https://lms.example"
MEMBERSHIPS = f"{LMS}/contexts/1/memberships"
PAGE = {"id": MEMBERSHIPS, "context": {"id": "1"}, "members": [{"user_id": "u1", "roles": []}]}


@pytest.fixture
def mocked(tool_key: RSAKey) -> Any:
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, f"{LMS}/token", json={"access_token": "t", "expires_in": 3600})
        yield mock


def offline_credentials(tool_key: RSAKey) -> PlatformCredentials:
    return PlatformCredentials(
        issuer=LMS,
        client_id="cid",
        token_url=f"{LMS}/token",
        private_key_pem=tool_key.as_pem(private=True),
        key_id="k",
    )


def test_429_retry_after_is_honoured(
    mocked: Any, tool_key: RSAKey, transport: Transport, sleep: RecordingSleep
) -> None:
    mocked.add(responses.GET, MEMBERSHIPS, status=429, headers={"Retry-After": "2"})
    mocked.add(responses.GET, MEMBERSHIPS, json=PAGE)
    members = NrpsClient(offline_credentials(tool_key), transport=transport).fetch_members(MEMBERSHIPS)
    assert [m.user_id for m in members] == ["u1"]
    assert sleep.delays == [2.0]


def test_5xx_on_get_is_retried_with_backoff(
    mocked: Any, tool_key: RSAKey, transport: Transport, sleep: RecordingSleep
) -> None:
    mocked.add(responses.GET, MEMBERSHIPS, status=503)
    mocked.add(responses.GET, MEMBERSHIPS, status=502)
    mocked.add(responses.GET, MEMBERSHIPS, json=PAGE)
    NrpsClient(offline_credentials(tool_key), transport=transport).fetch_members(MEMBERSHIPS)
    assert sleep.delays == [0.5, 1.0]


def test_5xx_retries_are_bounded(
    mocked: Any, tool_key: RSAKey, transport: Transport, sleep: RecordingSleep
) -> None:
    mocked.add(responses.GET, MEMBERSHIPS, status=500)
    with pytest.raises(ConnectorUnavailableError) as caught:
        NrpsClient(offline_credentials(tool_key), transport=transport).fetch_members(MEMBERSHIPS)
    assert caught.value.status == 500
    assert len(sleep.delays) == 3


def test_score_post_is_not_retried_on_5xx(
    mocked: Any, tool_key: RSAKey, transport: Transport, sleep: RecordingSleep
) -> None:
    scores = mocked.add(responses.POST, f"{LMS}/lineitems/1/scores", status=503)
    with pytest.raises(ConnectorUnavailableError):
        AgsClient(offline_credentials(tool_key), transport=transport).post_score(
            f"{LMS}/lineitems/1", a_score()
        )
    assert scores.call_count == 1
    assert sleep.delays == []


def test_401_refreshes_the_token_once_then_is_an_auth_error(
    mocked: Any, tool_key: RSAKey, transport: Transport
) -> None:
    api = mocked.add(responses.GET, MEMBERSHIPS, status=401)
    nrps = NrpsClient(offline_credentials(tool_key), transport=transport)
    with pytest.raises(ConnectorAuthError) as caught:
        nrps.fetch_members(MEMBERSHIPS)
    assert caught.value.status == 401
    assert caught.value.url == MEMBERSHIPS
    assert api.call_count == 2
    assert nrps.tokens.token_requests == 2


def test_malformed_json_is_a_response_error(mocked: Any, tool_key: RSAKey, transport: Transport) -> None:
    mocked.add(responses.GET, MEMBERSHIPS, body="<html>maintenance</html>", content_type="text/html")
    with pytest.raises(ConnectorResponseError) as caught:
        NrpsClient(offline_credentials(tool_key), transport=transport).fetch_members(MEMBERSHIPS)
    assert isinstance(caught.value.__cause__, ValueError)


def test_member_without_user_id_is_a_response_error(
    mocked: Any, tool_key: RSAKey, transport: Transport
) -> None:
    mocked.add(responses.GET, MEMBERSHIPS, json={**PAGE, "members": [{"roles": []}]})
    with pytest.raises(ConnectorResponseError, match="user_id"):
        NrpsClient(offline_credentials(tool_key), transport=transport).fetch_members(MEMBERSHIPS)


def test_scope_of_cached_tokens_is_per_scope_set(mocked: Any, tool_key: RSAKey, transport: Transport) -> None:
    tokens = TokenClient(transport)
    credentials = offline_credentials(tool_key)
    tokens.get_token(credentials, [SCOPE_NRPS_MEMBERSHIP])
    tokens.get_token(credentials, [SCOPE_NRPS_MEMBERSHIP])
    tokens.get_token(credentials, [SCOPE_AGS_SCORE])
    tokens.get_token(credentials, [SCOPE_AGS_SCORE, SCOPE_NRPS_MEMBERSHIP])
    assert tokens.token_requests == 3


def test_nrps_follows_a_next_link_in_the_body_when_there_is_no_header(
    mocked: Any, tool_key: RSAKey, transport: Transport
) -> None:
    # Some platforms (lti1p3platform among them) page in the body; stopping at page one would make a
    # roster sync deactivate everyone on the later pages.
    second = f"{MEMBERSHIPS}?page=2"
    mocked.add(
        responses.GET,
        MEMBERSHIPS,
        json={**PAGE, "next": second},
        match=[responses.matchers.query_param_matcher({})],
    )
    mocked.add(responses.GET, second, json={**PAGE, "members": [{"user_id": "u-2", "roles": []}]})
    members = NrpsClient(offline_credentials(tool_key), transport=transport).fetch_members(MEMBERSHIPS)
    assert [member.user_id for member in members][-1] == "u-2"
    assert len(members) == len(PAGE["members"]) + 1


def test_nrps_refuses_a_body_next_link_to_another_origin(
    mocked: Any, tool_key: RSAKey, transport: Transport
) -> None:
    mocked.add(responses.GET, MEMBERSHIPS, json={**PAGE, "next": "https://elsewhere.example/members?page=2"})
    with pytest.raises(ConnectorResponseError):
        NrpsClient(offline_credentials(tool_key), transport=transport).fetch_members(MEMBERSHIPS)


def test_canvas_scores_carry_the_submission_extension(
    mocked: Any, tool_key: RSAKey, transport: Transport
) -> None:
    scores = mocked.add(responses.POST, f"{LMS}/lineitems/1/scores", json={})
    extension = canvas_submission_extension("https://sso.canvaslms.com")
    assert extension is not None
    AgsClient(offline_credentials(tool_key), transport=transport).post_score(
        f"{LMS}/lineitems/1", replace(a_score(), extensions=extension)
    )
    body = json.loads(scores.calls[0].request.body)
    assert body["https://canvas.instructure.com/lti/submission"] == {"new_submission": False}
    assert body["scoreGiven"] == 3


def test_other_platforms_get_no_canvas_extension() -> None:
    assert canvas_submission_extension("https://moodle.example.edu") is None
