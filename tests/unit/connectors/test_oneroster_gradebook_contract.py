"""One gradebook scenario against recorded responses (replayed with `responses`) and against the fake.

Both must give the same outcomes, so the fake cannot drift from what a real server answers; every 1.2
body the client sends on either side validates against the official gradebook OpenAPI.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import pytest
import responses

from connectors.oneroster import (
    GRADEBOOK_PATH_V1P2,
    ROSTERING_PATH_V1P2,
    OAuth2ClientCredentials,
    OneRosterEndpoint,
    OneRosterVersion,
    RetryPolicy,
    Transport,
    new_session,
)
from connectors.oneroster.gradebook import GradingWindowClosedError, OneRosterGradebookClient, put_body
from connectors.oneroster.profiles import load_profile
from tests.support.oneroster_district import seed_district
from tests.support.oneroster_fake import FakeOneRoster, FakeServer
from tests.support.oneroster_gradebook import PERIOD, period_grades
from tests.support.oneroster_spec import body_errors

RECORDED_BASE = "https://sis.example/district-x/api"
PROFILE = load_profile("infinite-campus")
GRADES = period_grades(students=1)
RESULT = GRADES.results[0]
PATHS = {
    "categories": "/categories/{sourcedId}",
    "scoreScales": "/scoreScales/{sourcedId}",
    "lineItems": "/lineItems/{sourcedId}",
    "results": "/results/{sourcedId}",
}


@dataclass
class Setup:
    """A client bound to one side, the retry delays it slept, and how to close the grading window there."""

    client: OneRosterGradebookClient
    sleeps: list[float]
    close_window: Callable[[], None]
    throttle_next: Callable[[], None]  # the next API call answers 429 with Retry-After: 1
    sent: Callable[[], list[tuple[str, dict[str, Any]]]]  # (PUT path template, body) of every PUT sent


def build_client(base_url: str, client_id: str, secret: str, sleeps: list[float]) -> OneRosterGradebookClient:
    auth = OAuth2ClientCredentials(
        f"{base_url}/token", client_id, secret, PROFILE.scopes(OneRosterVersion.V1P2, gradebook=True)
    )
    transport = Transport(
        new_session(), auth, timeout=2.0, retry=RetryPolicy(), sleep=sleeps.append, rng=random.Random(3)
    )
    endpoint = OneRosterEndpoint(
        OneRosterVersion.V1P2, base_url + ROSTERING_PATH_V1P2, gradebook_url=base_url + GRADEBOOK_PATH_V1P2
    )
    return OneRosterGradebookClient(transport, endpoint, PROFILE)


def scenario(setup: Setup) -> None:
    """Create, survive a 429, update, read back, miss, and meet a closed grading window."""
    client = setup.client
    assert client.put_category(GRADES.category).status == 201
    assert client.put_line_item(GRADES.line_item).created is True
    setup.throttle_next()
    created = client.put_result(RESULT)
    assert (created.created, created.status) == (True, 201)
    assert setup.sleeps == [1.0]  # the 429's Retry-After was honoured
    updated = client.put_result(RESULT)
    assert (updated.created, updated.status) == (False, 200)
    held = client.get_result(RESULT.sourced_id)
    assert held is not None
    assert (held.score, held.letter, held.score_status) == (Decimal("3"), "B", "fully graded")
    assert held.line_item_sourced_id == GRADES.line_item.sourced_id
    assert client.get_result("not-a-result") is None
    setup.close_window()
    with pytest.raises(GradingWindowClosedError) as caught:
        client.put_result(replace(RESULT, score=Decimal("4"), text_score="A"))
    assert "grading window for grading period term-1 is closed" in str(caught.value)
    assert setup.sleeps == [1.0]
    sent = setup.sent()
    assert {path for path, _ in sent} == {PATHS["categories"], PATHS["lineItems"], PATHS["results"]}
    for path, body in sent:
        assert not body_errors(path, body), (path, body_errors(path, body))


def _imsx(code_minor: str, description: str) -> dict[str, Any]:
    return {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [
                {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": code_minor}
            ]
        },
    }


@pytest.fixture
def recorded() -> Iterator[Setup]:
    api = RECORDED_BASE + GRADEBOOK_PATH_V1P2
    sleeps: list[float] = []
    client = build_client(RECORDED_BASE, "id", "secret", sleeps)
    body = put_body(RESULT, urls=client.urls, profile=PROFILE, version=OneRosterVersion.V1P2)
    result_url = f"{api}/results/{RESULT.sourced_id}"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(
            f"{RECORDED_BASE}/token", json={"access_token": "t", "token_type": "bearer", "expires_in": 3600}
        )
        mock.put(f"{api}/categories/{GRADES.category.sourced_id}", status=201, json={"category": {}})
        mock.put(f"{api}/lineItems/{GRADES.line_item.sourced_id}", status=201, json={"lineItem": {}})
        mock.put(result_url, status=429, headers={"Retry-After": "1"}, json=_imsx("server_busy", "slow down"))
        mock.put(result_url, status=201, json=body)
        mock.put(result_url, status=200, json=body)
        mock.get(result_url, json=body)
        mock.get(
            f"{api}/results/not-a-result", status=404, json=_imsx("unknownobject", "no results not-a-result")
        )
        mock.put(
            result_url,
            status=400,
            json=_imsx(
                "invaliddata",
                f"The grading window is closed for academic session {PERIOD}; "
                "grades cannot be posted until it is reopened",
            ),
        )

        def sent() -> list[tuple[str, dict[str, Any]]]:
            found = []
            for call in mock.calls:
                if call.request.method == "PUT":
                    collection = call.request.url.removeprefix(api + "/").split("/")[0]
                    found.append((PATHS[collection], json.loads(call.request.body or b"{}")))
            return found

        yield Setup(client, sleeps, close_window=lambda: None, throttle_next=lambda: None, sent=sent)


def test_scenario_against_recorded_responses(recorded: Setup) -> None:
    scenario(recorded)


def test_scenario_against_the_fake() -> None:
    fake = FakeOneRoster()
    seed_district(fake, student_count=1)
    with FakeServer(fake) as server:
        sleeps: list[float] = []
        client = build_client(server.base_url, fake.client_id, fake.client_secret, sleeps)
        fake.quirks.retry_after = "1"

        def throttle_next() -> None:
            fake.quirks.rate_limit_first = len(fake.calls) + 1

        def sent() -> list[tuple[str, dict[str, Any]]]:
            return [
                (PATHS[collection], {key: body})
                for collection, key in (
                    ("categories", "category"),
                    ("lineItems", "lineItem"),
                    ("results", "result"),
                )
                for body in fake.stored(collection).values()
            ]

        scenario(
            Setup(client, sleeps, lambda: fake.quirks.grading_window_closed.add(PERIOD), throttle_next, sent)
        )
    assert fake.put_counts[RESULT.sourced_id] == 2  # the 429 and the refused write stored nothing
    assert fake.stored("results")[RESULT.sourced_id]["textScore"] == "B"
