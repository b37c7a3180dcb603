"""One scenario against recorded responses (replayed with `responses`) and against the fake, so the fake cannot drift."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest
import responses

from connectors.oneroster import (
    ROSTERING_PATH_V1P2,
    OAuth2ClientCredentials,
    OneRosterClient,
    OneRosterEndpoint,
    OneRosterVersion,
    RetryPolicy,
    Transport,
    new_session,
    parse_status_info,
)
from tests.support.oneroster_district import seed_district
from tests.support.oneroster_fake import FakeOneRoster, FakeServer, Quirks

SCOPE = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly"
RECORDED_BASE = "https://sis.example/district-x/api"
REF = {"href": "https://sis.example/orgs/org-school", "sourcedId": "org-school", "type": "org"}


def _user(sid: str, role: str) -> dict[str, object]:
    return {
        "sourcedId": sid,
        "status": "active",
        "dateLastModified": "2026-01-10T08:00:00.000Z",
        "enabledUser": "true",
        "givenName": sid,
        "familyName": "Doe",
        "roles": [{"roleType": "primary", "role": role, "org": REF}],
    }


def build_client(base_url: str, client_id: str, secret: str, sleeps: list[float]) -> OneRosterClient:
    auth = OAuth2ClientCredentials(f"{base_url}/token", client_id, secret, (SCOPE,))
    transport = Transport(
        new_session(), auth, timeout=2.0, retry=RetryPolicy(), sleep=sleeps.append, rng=random.Random(3)
    )
    return OneRosterClient(
        transport, OneRosterEndpoint(OneRosterVersion.V1P2, base_url + ROSTERING_PATH_V1P2, page_size=2)
    )


def scenario(client: OneRosterClient, sleeps: list[float]) -> None:
    """Teachers first, then every user across pages, surviving one 429."""
    assert [u.sourced_id for u in client.fetch_teachers()] == ["t-1"]
    users = list(client.fetch_users())
    assert [u.sourced_id for u in users][:3] == ["t-1", "s-01", "s-02"]
    assert users[1].roles[0].role == "student"
    assert 1.0 in sleeps


@pytest.fixture
def recorded() -> Iterator[Callable[[list[float]], OneRosterClient]]:
    api = RECORDED_BASE + ROSTERING_PATH_V1P2
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(
            f"{RECORDED_BASE}/token", json={"access_token": "tok", "token_type": "bearer", "expires_in": 3600}
        )
        mock.get(f"{api}/teachers", json={"users": [_user("t-1", "teacher")]}, headers={"X-Total-Count": "1"})
        mock.get(
            f"{api}/users",
            status=429,
            headers={"Retry-After": "1"},
            json={"imsx_codeMajor": "failure", "imsx_severity": "error", "imsx_description": "busy"},
        )
        mock.get(
            f"{api}/users",
            json={"users": [_user("t-1", "teacher"), _user("s-01", "student")]},
            headers={"X-Total-Count": "3", "Link": f'<{api}/users?limit=2&offset=2>; rel="next"'},
            match=[responses.matchers.query_param_matcher({"limit": "2", "offset": "0"})],
        )
        mock.get(
            f"{api}/users",
            json={"users": [_user("s-02", "student")]},
            headers={"X-Total-Count": "3"},
            match=[responses.matchers.query_param_matcher({"limit": "2", "offset": "2"})],
        )
        yield lambda sleeps: build_client(RECORDED_BASE, "id", "secret", sleeps)


def test_scenario_against_recorded_responses(recorded: Callable[[list[float]], OneRosterClient]) -> None:
    sleeps: list[float] = []
    scenario(recorded(sleeps), sleeps)


def test_scenario_against_the_fake() -> None:
    sleeps: list[float] = []
    fake = FakeOneRoster(quirks=Quirks(retry_after="1"))
    seed_district(fake, student_count=2)
    with FakeServer(fake) as server:
        client = build_client(server.base_url, fake.client_id, fake.client_secret, sleeps)
        assert [u.sourced_id for u in client.fetch_teachers()] == ["t-1"]
        fake.quirks.rate_limit_first = len(fake.calls) + 1
        scenario(client, sleeps)


@pytest.mark.parametrize(
    ("body", "summary"),
    [
        (
            b'{"imsx_codeMajor":"failure","imsx_severity":"error","imsx_description":"bad",'
            b'"imsx_CodeMinor":{"imsx_codeMinorField":[{"imsx_codeMinorFieldName":"T","imsx_codeMinorFieldValue":"invalid_filter_field"}]}}',
            "failure/invalid_filter_field: bad",
        ),
        (b'{"imsx_StatusInfo":{"imsx_codeMajor":"failure","imsx_severity":"error"}}', "failure"),
        (
            b'{"statusInfoSet":[{"imsx_codeMajor":"failure","imsx_codeMinor":"unknownobject"}]}',
            "failure/unknownobject",
        ),
        (b'{"error":"invalid_token","error_description":"expired"}', "invalid_token: expired"),
        (b'{"error":{"code":"E1","message":"nope"}}', "E1: nope"),
        (b"<html>502 Bad Gateway</html>", ""),
        (b"plain words", "plain words"),
        (b"[1,2]", ""),
        (b"\xff\xfe", "\ufffd\ufffd"),
    ],
)
def test_error_bodies_are_parsed_defensively(body: bytes, summary: str) -> None:
    assert parse_status_info(body).summary() == summary
