"""OneRosterClient against the fake OneRoster server on loopback, under every quirk."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from connectors.errors import ConnectorAuthError, ConnectorResponseError, ConnectorUnavailableError
from connectors.http import environment_has_http_settings
from connectors.oneroster import (
    ROSTERING_PATH_V1P1,
    ROSTERING_PATH_V1P2,
    Authenticator,
    OAuth1Signature,
    OAuth2ClientCredentials,
    OneRosterClient,
    OneRosterEndpoint,
    OneRosterVersion,
    Query,
    RetryPolicy,
    SignatureMethod,
    Status,
    TokenEndpointAuthMethod,
    Transport,
    modified_since,
    new_session,
    where,
)
from tests.support.oneroster_district import seed_district
from tests.support.oneroster_fake import FakeOneRoster, FakeServer, Quirks

STUDENTS = 23
ALL_USERS = {"t-1"} | {f"s-{i:02d}" for i in range(1, STUDENTS + 1)}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make_fake(quirks: Quirks | None = None, **kwargs: object) -> FakeOneRoster:
    fake = FakeOneRoster(quirks=quirks or Quirks(), **kwargs)  # type: ignore[arg-type]
    seed_district(fake, student_count=STUDENTS)
    return fake


@pytest.fixture
def sleeps() -> list[float]:
    return []


def oauth2(server: FakeServer, **kwargs: object) -> OAuth2ClientCredentials:
    return OAuth2ClientCredentials(
        token_url=f"{server.base_url}/token",
        client_id=server.fake.client_id,
        client_secret=server.fake.client_secret,
        scopes=server.fake.scopes,
        **kwargs,  # type: ignore[arg-type]
    )


def make_client(
    server: FakeServer,
    sleeps: list[float],
    *,
    version: OneRosterVersion = OneRosterVersion.V1P2,
    authenticator: Authenticator | None = None,
    page_size: int = 10,
    timeout: float = 2.0,
) -> OneRosterClient:
    path = ROSTERING_PATH_V1P2 if version is OneRosterVersion.V1P2 else ROSTERING_PATH_V1P1
    transport = Transport(
        session=new_session(),
        authenticator=authenticator or oauth2(server),
        timeout=timeout,
        retry=RetryPolicy(max_retries=6),
        sleep=sleeps.append,
        rng=random.Random(1),
    )
    return OneRosterClient(transport, OneRosterEndpoint(version, server.base_url + path, page_size=page_size))


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(make_fake()) as running:
        yield running


QUIRKS = {
    "none": Quirks(),
    "no_paging_headers": Quirks(no_paging_headers=True),
    "clamped_limit": Quirks(max_limit=4),
    "clamped_without_headers": Quirks(max_limit=4, no_paging_headers=True),
    "rate_limited": Quirks(rate_limit_first=2, retry_after="3"),
    "random_500s": Quirks(error_rate=0.3, seed=3),
    "slow": Quirks(slow_first=1, slow_seconds=0.6),
    "dropped_mid_page": Quirks(drop_on_call=2),
    "lax_bodies": Quirks(lax_bodies=True),
    "token_cookie": Quirks(token_cookie=True),
}


@pytest.mark.parametrize("version", list(OneRosterVersion))
@pytest.mark.parametrize("quirk", list(QUIRKS))
def test_full_pull_reaches_exactly_the_roster(
    quirk: str, version: OneRosterVersion, sleeps: list[float]
) -> None:
    with FakeServer(make_fake(QUIRKS[quirk])) as server:
        client = make_client(server, sleeps, version=version, timeout=0.3 if quirk == "slow" else 2.0)
        users = list(client.fetch_users())
        enrollments = list(client.fetch_enrollments())
    assert sorted(u.sourced_id for u in users) == sorted(ALL_USERS)
    assert len(enrollments) == STUDENTS + 2
    teacher = next(u for u in users if u.sourced_id == "t-1")
    assert teacher.roles[0].role == "teacher"
    assert teacher.roles[0].org_sourced_id == "org-school"
    assert teacher.is_enabled is True
    assert all(e.is_primary is True for e in enrollments)
    if quirk == "rate_limited":
        assert sleeps[:2] == [3.0, 3.0]
    if quirk in {"rate_limited", "random_500s", "slow", "dropped_mid_page"}:
        assert sleeps, "the quirk never made the client retry"


def test_classes_orgs_sessions_courses_demographics(server: FakeServer, sleeps: list[float]) -> None:
    client = make_client(server, sleeps)
    classes = {c.sourced_id: c for c in client.fetch_classes()}
    assert classes["class-1"].term_sourced_ids == ("term-1",)
    assert classes["class-2"].course_sourced_id == "course-alg"
    assert [o.sourced_id for o in client.fetch_schools()] == ["org-school"]
    assert [t.title for t in client.fetch_terms()] == ["Fall"]
    assert [c.course_code for c in client.fetch_courses()] == ["ALG1"]
    demographics = list(client.fetch_demographics())
    assert len(demographics) == STUDENTS + 1
    assert demographics[0].birth_date is not None
    assert [u.sourced_id for u in client.fetch_teachers()] == ["t-1"]
    assert client.get_class("class-1").title == "Algebra I - P1"
    assert client.get_user("s-01").family_name == "O'Brien"


def test_filters_fields_and_sort_reach_the_server(server: FakeServer, sleeps: list[float]) -> None:
    client = make_client(server, sleeps)
    query = Query(filter=where("role", "=", "teacher").or_(where("sourcedId", "=", "enr-s-01-class-2").first))
    assert {e.sourced_id for e in client.fetch_enrollments(query)} == {
        "enr-t-1-class-1",
        "enr-t-1-class-2",
        "enr-s-01-class-2",
    }
    students = list(
        client.fetch_users(Query(filter=where("familyName", "~", "Doe"), sort="sourcedId", order_by="desc"))
    )
    assert students[0].sourced_id == f"s-{STUDENTS:02d}"
    assert len(students) == STUDENTS - 1


def test_delta_pull_sees_soft_deletes(sleeps: list[float]) -> None:
    with FakeServer(make_fake()) as server:
        server.fake.delete("users", "s-05")
        client = make_client(server, sleeps)
        changed = list(client.fetch_users(Query(filter=modified_since(datetime(2026, 1, 15, tzinfo=UTC)))))
    assert [(u.sourced_id, u.status) for u in changed] == [("s-05", Status.TO_BE_DELETED)]


def test_hard_deletes_vanish_from_full_pulls(sleeps: list[float]) -> None:
    with FakeServer(make_fake(Quirks(hard_deletes=True))) as server:
        server.fake.delete("users", "s-05")
        client = make_client(server, sleeps)
        delta = list(client.fetch_users(Query(filter=modified_since(datetime(2026, 1, 15, tzinfo=UTC)))))
        full = {u.sourced_id for u in client.fetch_users()}
    assert delta == []
    assert full == ALL_USERS - {"s-05"}


@pytest.mark.parametrize("method", list(SignatureMethod))
def test_v1p1_with_oauth1_signatures(method: SignatureMethod, sleeps: list[float]) -> None:
    with FakeServer(make_fake(oauth1_method=method.value)) as server:
        signer = OAuth1Signature(server.fake.client_id, server.fake.client_secret, signature_method=method)
        client = make_client(server, sleeps, version=OneRosterVersion.V1P1, authenticator=signer)
        # A filter with spaces, quotes and reserved characters: the signed query must match what is sent.
        query = Query(
            filter=where("familyName", "=", "O'Brien".replace("'", "")).or_(
                where("username", "=", "s-02").first
            )
        )
        users = {u.sourced_id for u in client.fetch_users(query)}
        everyone = {u.sourced_id for u in client.fetch_users()}
    assert users == {"s-02"}
    assert everyone == ALL_USERS


def test_wrong_oauth1_method_is_an_auth_error(sleeps: list[float]) -> None:
    with FakeServer(make_fake(oauth1_method="HMAC-SHA256")) as server:
        signer = OAuth1Signature(server.fake.client_id, server.fake.client_secret, SignatureMethod.HMAC_SHA1)
        client = make_client(server, sleeps, version=OneRosterVersion.V1P1, authenticator=signer)
        with pytest.raises(ConnectorAuthError) as caught:
            list(client.fetch_users())
    assert caught.value.status == 401
    assert "unauthorisedrequest" in str(caught.value)


@pytest.mark.parametrize("auth_method", list(TokenEndpointAuthMethod))
def test_token_is_cached_and_renewed_before_expiry(
    auth_method: TokenEndpointAuthMethod, sleeps: list[float]
) -> None:
    clock = Clock()
    with FakeServer(make_fake(token_lifetime=600)) as server:
        client = make_client(
            server, sleeps, authenticator=oauth2(server, auth_method=auth_method, clock=clock)
        )
        list(client.fetch_users())
        assert server.fake.tokens_issued == 1
        clock.now += 600 - 61
        list(client.fetch_orgs())
        assert server.fake.tokens_issued == 1
        clock.now += 2
        list(client.fetch_orgs())
        assert server.fake.tokens_issued == 2
        server.fake.revoke_tokens()
        list(client.fetch_orgs())
        assert server.fake.tokens_issued == 3


def test_threads_sharing_a_token_fetch_it_once(server: FakeServer, sleeps: list[float]) -> None:
    authenticator = oauth2(server)
    client = make_client(server, sleeps, authenticator=authenticator)
    start = threading.Barrier(8)

    def fetch() -> int:
        start.wait()
        return len(list(client.fetch_orgs()))

    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = list(pool.map(lambda _: fetch(), range(8)))
    assert len(set(counts)) == 1
    assert server.fake.tokens_issued == 1


def test_sessions_trust_the_environment_only_when_it_has_http_settings() -> None:
    assert not environment_has_http_settings({"PATH": "/usr/bin", "HOME": "/root"})
    assert environment_has_http_settings({"HTTPS_PROXY": "http://proxy:3128"})
    assert environment_has_http_settings({"no_proxy": "localhost"})
    assert environment_has_http_settings({"REQUESTS_CA_BUNDLE": "/etc/ssl/district.pem"})
    session = new_session(pool_size=16)
    assert session.get_adapter("https://sis.example.org")._pool_maxsize == 16  # type: ignore[attr-defined]
    session.close()


def test_bad_client_secret_is_an_auth_error(server: FakeServer, sleeps: list[float]) -> None:
    bad = OAuth2ClientCredentials(
        f"{server.base_url}/token", server.fake.client_id, "wrong", server.fake.scopes
    )
    with pytest.raises(ConnectorAuthError):
        list(make_client(server, sleeps, authenticator=bad).fetch_users())


def test_retries_are_bounded(sleeps: list[float]) -> None:
    with (
        FakeServer(make_fake(Quirks(error_rate=1.0))) as server,
        pytest.raises(ConnectorUnavailableError) as caught,
    ):
        list(make_client(server, sleeps).fetch_users())
    assert caught.value.status == 500
    assert len(sleeps) == 6
    assert all(0 < s <= 60 for s in sleeps)


def test_unknown_filter_field_is_a_response_error(server: FakeServer, sleeps: list[float]) -> None:
    with pytest.raises(ConnectorResponseError) as caught:
        list(make_client(server, sleeps).fetch_users(Query(filter=where("nosuch", "=", "x"))))
    assert caught.value.status == 400
    assert "invalid_filter_field" in str(caught.value)


def test_filters_allow_two_predicates_only() -> None:
    two = where("role", "=", "student").and_(where("status", "=", "active").first)
    assert two.render() == "role='student' AND status='active'"
    with pytest.raises(ValueError, match="at most two"):
        two.or_(where("x", "=", "y").first)
    with pytest.raises(ValueError, match="single quote"):
        where("familyName", "=", "O'Brien")
