"""OneRosterGradebookClient against the fake OneRoster server on loopback: 1.1 and 1.2, every quirk, every profile."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

import pytest
import requests

from connectors.errors import ConnectorAuthError, ConnectorResponseError
from connectors.oneroster import OAuth1Signature, OneRosterVersion, SignatureMethod
from connectors.oneroster.gradebook import (
    LETTER_SEPARATOR,
    GradeSink,
    GradingWindowClosedError,
    OneRosterGradebookClient,
    WriteOutcome,
    put_body,
)
from connectors.oneroster.profiles import load_profile
from connectors.oneroster_csv import ServiceUrls, line_item_payload
from tests.support.oneroster_district import seed_district
from tests.support.oneroster_fake import SCOPE_V1P2, FakeOneRoster, FakeServer, Quirks
from tests.support.oneroster_gradebook import PERIOD, PeriodGrades, gradebook_client, period_grades

QUIRKS = {
    "none": Quirks(),
    "rate_limited": Quirks(rate_limit_first=2, retry_after="3"),
    "random_500s": Quirks(error_rate=0.3, seed=3),
    "slow": Quirks(slow_first=1, slow_seconds=0.6),
    "dropped_mid_body": Quirks(drop_on_call=3),
    "lax_bodies": Quirks(lax_bodies=True),
    "token_cookie": Quirks(token_cookie=True),
    "clamped_without_headers": Quirks(max_limit=1, no_paging_headers=True),
}


def make_fake(quirks: Quirks | None = None, **kwargs: object) -> FakeOneRoster:
    fake = FakeOneRoster(quirks=quirks or Quirks(), **kwargs)  # type: ignore[arg-type]
    seed_district(fake, student_count=3)
    return fake


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(make_fake()) as running:
        yield running


def push(sink: GradeSink, grades: PeriodGrades) -> list[WriteOutcome]:
    """What the outbox worker does for one class: category and scale, then the line item, then results."""
    outcomes = [sink.put_category(grades.category), sink.put_score_scale(grades.score_scale)]
    outcomes.append(sink.put_line_item(grades.line_item))
    outcomes.extend(sink.put_result(result) for result in grades.results)
    return outcomes


@pytest.mark.parametrize("version", list(OneRosterVersion))
@pytest.mark.parametrize("quirk", list(QUIRKS))
def test_push_reaches_exactly_the_expected_state(quirk: str, version: OneRosterVersion) -> None:
    sleeps: list[float] = []
    grades = period_grades()
    profile = load_profile("generic-1.2" if version is OneRosterVersion.V1P2 else "aeries")
    with FakeServer(make_fake(QUIRKS[quirk])) as server:
        client = gradebook_client(server, profile, sleeps=sleeps, timeout=0.3 if quirk == "slow" else 2.0)
        push(client, grades)
        again = push(client, grades)
        remote = [client.get_result(r.sourced_id) for r in grades.results]
        fake = server.fake
        stored = fake.stored("results", version.value)
        line_items = fake.stored("lineItems", version.value)
    assert set(stored) == {r.sourced_id for r in grades.results}
    assert set(line_items) == {grades.line_item.sourced_id}
    for result, held in zip(grades.results, remote, strict=True):
        assert held is not None
        assert held.score == result.score
        assert held.letter == result.text_score
        assert held.student_sourced_id == result.student_sourced_id
        assert held.line_item_sourced_id == grades.line_item.sourced_id
    sent = [o for o in again if o.skipped is None]
    assert all(o.status in (200, 201) for o in sent)
    assert all(o.created is False for o in sent) or quirk == "slow"
    assert all(fake.put_counts[r.sourced_id] >= 2 for r in grades.results)
    if quirk == "rate_limited":
        assert sleeps[:2] == [3.0, 3.0]
    if quirk in {"rate_limited", "random_500s", "slow", "dropped_mid_body"}:
        assert sleeps, "the quirk never made the client retry"


def test_first_put_creates_and_a_resend_updates(server: FakeServer) -> None:
    grades = period_grades()
    client = gradebook_client(server, load_profile("generic-1.2"))
    first = push(client, grades)
    second = push(client, grades)
    assert [o.status for o in first] == [201] * len(first)
    assert all(o.created for o in first)
    assert [o.status for o in second] == [200] * len(second)
    assert first[2].url == f"{server.gradebook_url()}/lineItems/{grades.line_item.sourced_id}"
    assert all(count == 2 for count in server.fake.put_counts.values())


def test_v1p2_result_carries_text_score_and_objectives(server: FakeServer) -> None:
    grades = period_grades()
    push(gradebook_client(server, load_profile("generic-1.2")), grades)
    result = server.fake.stored("results")[grades.results[0].sourced_id]
    assert result["textScore"] == "B"
    assert result["comment"] == "Solid work"
    assert result["learningObjectiveSet"][0]["source"] == "case"
    scale = server.fake.stored("scoreScales")[grades.score_scale.sourced_id]
    assert [v["itemValueRHS"] for v in scale["scoreScaleValue"]] == ["A", "B", "C", "D"]


def test_powerschool_letter_and_scoretype_travel_in_metadata(server: FakeServer) -> None:
    profile = load_profile("powerschool")
    grades = period_grades(title="Honors Precalculus (3) - Quarter 1 - Period grade for the term")
    client = gradebook_client(server, profile)
    outcomes = push(
        client, replace(grades, category=replace(grades.category, title="Term Grade for the marking period"))
    )
    line_item = server.fake.stored("lineItems", "1.1")[grades.line_item.sourced_id]
    assert line_item["metadata"] == {"scoreType": "GRADESCALE"}
    assert len(line_item["title"]) <= 50
    assert line_item["gradingPeriod"]["sourcedId"] == PERIOD
    category = next(iter(server.fake.stored("categories", "1.1").values()))
    assert len(category["title"]) <= 30
    result = server.fake.stored("results", "1.1")[grades.results[0].sourced_id]
    assert result["metadata"] == {"gradeScaleValue": "B"}
    assert "textScore" not in result
    assert outcomes[1].skipped == "OneRoster 1.1 has no score scales"
    remote = client.get_result(grades.results[0].sourced_id)
    assert remote is not None
    assert remote.letter == "B"


@pytest.mark.parametrize("name", ["aeries", "classlink", "skyward", "synergy", "generic-1.1"])
def test_v1p1_profiles_put_the_letter_in_the_comment(name: str) -> None:
    profile = load_profile(name)
    with FakeServer(
        make_fake(oauth1_method=(profile.oauth1_signature or SignatureMethod.HMAC_SHA256).value)
    ) as server:
        client = gradebook_client(server, profile, version=OneRosterVersion.V1P1)
        grades = period_grades()
        push(client, grades)
        stored = server.fake.stored("results", "1.1")
        remote = client.get_result(grades.results[1].sourced_id)
    assert stored[grades.results[1].sourced_id]["comment"] == f"C{LETTER_SEPARATOR}Solid work"
    assert remote is not None
    assert remote.letter == "C"


def test_oauth1_signed_puts_verify(server: FakeServer) -> None:
    fake = server.fake
    signer = OAuth1Signature(fake.client_id, fake.client_secret, SignatureMethod.HMAC_SHA256)
    client = gradebook_client(server, load_profile("generic-1.1"), authenticator=signer)
    assert push(client, period_grades())[2].status == 201
    wrong = OAuth1Signature(fake.client_id, "wrong", SignatureMethod.HMAC_SHA256)
    with pytest.raises(ConnectorAuthError):
        gradebook_client(server, load_profile("generic-1.1"), authenticator=wrong).put_line_item(
            period_grades().line_item
        )


def test_closed_grading_window_is_said_plainly() -> None:
    sleeps: list[float] = []
    with FakeServer(make_fake()) as server:
        client = gradebook_client(server, load_profile("infinite-campus"), sleeps=sleeps)
        grades = period_grades()
        push(client, grades)
        server.fake.quirks.grading_window_closed.add(PERIOD)
        with pytest.raises(GradingWindowClosedError) as caught:
            client.put_result(replace(grades.results[0], score=Decimal("4"), text_score="A"))
        with pytest.raises(GradingWindowClosedError):
            client.put_line_item(grades.line_item)
        generic = gradebook_client(server, load_profile("generic-1.2"))
        with pytest.raises(ConnectorResponseError) as plain:
            generic.put_result(grades.results[0])
        held = client.get_result(grades.results[0].sourced_id)
    message = str(caught.value)
    assert "grading window for grading period term-1 is closed" in message
    assert "Infinite Campus" in message
    assert caught.value.status == 400
    assert not isinstance(plain.value, GradingWindowClosedError)
    assert sleeps == []  # a closed window is not retried
    assert held is not None
    assert held.letter == "B"  # the refused write changed nothing


def test_writes_need_the_createput_scope(server: FakeServer) -> None:
    read_only = (f"{SCOPE_V1P2}roster-core.readonly", f"{SCOPE_V1P2}gradebook.readonly")
    client = gradebook_client(server, load_profile("generic-1.2"), scopes=read_only)
    with pytest.raises(ConnectorAuthError) as caught:
        client.put_line_item(period_grades().line_item)
    assert caught.value.status == 403
    assert "gradebook.createput" in str(caught.value)
    assert client.get_result("nothing-here") is None


def test_get_result_is_none_when_the_sis_has_none(server: FakeServer) -> None:
    assert gradebook_client(server, load_profile("generic-1.2")).get_result("no-such-result") is None


def test_gradebook_collections_page_like_rostering(server: FakeServer) -> None:
    grades = period_grades(students=5)
    push(gradebook_client(server, load_profile("generic-1.2")), grades)
    token = requests.post(
        server.token_url,
        data={"grant_type": "client_credentials", "scope": f"{SCOPE_V1P2}gradebook.readonly"},
        auth=(server.fake.client_id, server.fake.client_secret),
        timeout=5,
    ).json()["access_token"]
    page = requests.get(
        f"{server.gradebook_url()}/results?limit=2&offset=2",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert page.status_code == 200
    assert page.headers["X-Total-Count"] == "5"
    assert len(page.json()["results"]) == 2
    assert 'rel="next"' in page.headers["Link"]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda body: body["lineItem"].pop("school"), "school"),
        (lambda body: body["lineItem"].pop("title"), "title"),
        (lambda body: body["lineItem"].update(sourcedId="other"), "sourcedId"),
        (lambda body: body["lineItem"].update(status="inactive"), "status"),
        (lambda body: body["lineItem"].update(dateLastModified="2026-01-01T00:00:00"), "dateLastModified"),
        (lambda body: body["lineItem"].update({"class": "class-1"}), "class"),
    ],
)
def test_bad_bodies_are_refused_naming_the_field(server: FakeServer, mutate: object, field: str) -> None:
    grades = period_grades()
    client = gradebook_client(server, load_profile("generic-1.2"))
    body = line_item_payload(grades.line_item, client.urls)
    mutate(body)  # type: ignore[operator]
    token = requests.post(
        server.token_url,
        data={"grant_type": "client_credentials", "scope": f"{SCOPE_V1P2}gradebook.createput"},
        auth=(server.fake.client_id, server.fake.client_secret),
        timeout=5,
    ).json()["access_token"]
    answer = requests.put(
        f"{server.gradebook_url()}/lineItems/{grades.line_item.sourced_id}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert answer.status_code == 400
    said = answer.json()
    assert said["imsx_codeMajor"] == "failure"
    assert said["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == "invaliddata"
    assert field in said["imsx_description"]
    assert server.fake.stored("lineItems") == {}


def test_lax_servers_accept_lax_bodies() -> None:
    with FakeServer(make_fake(Quirks(lax_bodies=True))) as server:
        client = gradebook_client(server, load_profile("generic-1.2"))
        outcome = client.put_line_item(period_grades().line_item)
    assert outcome.status == 201


def test_unknown_line_item_of_a_result_is_refused(server: FakeServer) -> None:
    client = gradebook_client(server, load_profile("generic-1.2"))
    with pytest.raises(ConnectorResponseError) as caught:
        client.put_result(period_grades().results[0])
    assert caught.value.status == 400
    assert "lineItem" in str(caught.value)


def test_client_refuses_a_version_the_profile_lacks(server: FakeServer) -> None:
    with pytest.raises(ValueError, match=r"offers OneRoster 1\.1, not 1\.2"):
        gradebook_client(server, load_profile("aeries"), version=OneRosterVersion.V1P2)


def test_client_is_a_grade_sink(server: FakeServer) -> None:
    sink: GradeSink = gradebook_client(server, load_profile("generic-1.2"))
    assert isinstance(sink, OneRosterGradebookClient)


def test_put_body_never_doubles_a_letter_already_in_the_comment() -> None:
    result = period_grades().results[0]
    urls = ServiceUrls(rostering="https://sis.example/r", gradebook="https://sis.example/g")
    aeries = load_profile("aeries")
    for comment, expected in (("B", "B"), (None, "B"), ("B | Solid", "B | Solid"), ("Solid", "B | Solid")):
        body = put_body(
            replace(result, comment=comment), urls=urls, profile=aeries, version=OneRosterVersion.V1P1
        )
        assert body["result"]["comment"] == expected
    with pytest.raises(ValueError, match="no score scales"):
        put_body(period_grades().score_scale, urls=urls, profile=aeries, version=OneRosterVersion.V1P1)
