"""Every OneRoster 1.2 gradebook body we build validates against the official OpenAPI request-body schema."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import jsonschema
import pytest

from connectors.oneroster import OneRosterVersion
from connectors.oneroster.profiles import load_profile
from connectors.oneroster_csv import (
    ObjectiveScore,
    PeriodLineItem,
    PeriodResult,
    ServiceUrls,
    category_payload,
    line_item_payload,
    line_item_sourced_id,
    result_payload,
    result_sourced_id,
    score_scale_payload,
)
from tests.support.oneroster_district import seed_district
from tests.support.oneroster_fake import FakeOneRoster, FakeServer
from tests.support.oneroster_gradebook import gradebook_client, period_grades
from tests.support.oneroster_spec import gradebook_spec, request_validator

URLS = ServiceUrls(
    rostering="https://sis.example.org/ims/oneroster/rostering/v1p2/",
    gradebook="https://sis.example.org/ims/oneroster/gradebook/v1p2",
)
OBJECTIVES = ("9f1c5a1e-2b7d-4a6e-8f3c-1d2e3f4a5b6c", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
MODIFIED = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    try:
        return gradebook_spec()
    except FileNotFoundError as exc:
        pytest.fail(str(exc))


def assert_valid(validator: jsonschema.Draft4Validator, payload: object) -> None:
    errors = sorted(validator.iter_errors(payload), key=lambda error: list(error.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def line_items() -> Iterator[PeriodLineItem]:
    base = PeriodLineItem(
        class_sourced_id="k1",
        school_sourced_id="s1",
        category_sourced_id="cat-period",
        grading_period_sourced_id="t1",
        title="Term 1 grade",
        assign_date=datetime(2025, 8, 15, tzinfo=UTC),
        due_date=datetime(2025, 10, 31, 23, 59, tzinfo=UTC),
        date_last_modified=MODIFIED,
    )
    yield base
    yield replace(
        base,
        description="Mastery of the term's targets",
        result_value_min=Decimal("0"),
        result_value_max=Decimal("4"),
        score_scale_sourced_id="ss-1",
        learning_objective_ids=OBJECTIVES,
    )


def results() -> Iterator[PeriodResult]:
    base = PeriodResult(
        class_sourced_id="k1",
        grading_period_sourced_id="t1",
        student_sourced_id="u1",
        score_status="not submitted",
        score_date=date(2025, 10, 31),
        date_last_modified=MODIFIED,
    )
    yield base
    yield PeriodResult(
        class_sourced_id="k1",
        grading_period_sourced_id="t1",
        student_sourced_id="u2",
        score_status="fully graded",
        score_date=date(2025, 10, 31),
        date_last_modified=MODIFIED,
        score=Decimal("3.25"),
        text_score="Meets",
        comment="Solid work on linear equations.",
        score_scale_sourced_id="ss-1",
        objective_scores=(
            ObjectiveScore(OBJECTIVES[0], score=Decimal("3")),
            ObjectiveScore(OBJECTIVES[1], text_score="Approaching"),
            ObjectiveScore("11111111-2222-4333-8444-555555555555"),
        ),
    )


@pytest.mark.parametrize("item", list(line_items()), ids=["minimal", "full"])
def test_line_item_payload_matches_put_line_item_schema(spec: dict[str, Any], item: PeriodLineItem) -> None:
    assert_valid(request_validator(spec, "/lineItems/{sourcedId}"), line_item_payload(item, URLS))


@pytest.mark.parametrize("result", list(results()), ids=["minimal", "full"])
def test_result_payload_matches_put_result_schema(spec: dict[str, Any], result: PeriodResult) -> None:
    assert_valid(request_validator(spec, "/results/{sourcedId}"), result_payload(result, URLS))


def test_the_schema_check_catches_a_bad_payload(spec: dict[str, Any]) -> None:
    payload: Any = result_payload(next(results()), URLS)
    payload["result"]["late"] = "false"
    assert_valid(request_validator(spec, "/results/{sourcedId}"), payload)  # the enum fix makes this legal
    payload["result"]["scoreStatus"] = "graded"
    with pytest.raises(AssertionError, match="scoreStatus"):
        assert_valid(request_validator(spec, "/results/{sourcedId}"), payload)


def test_sourced_ids_are_deterministic_and_distinct() -> None:
    result = next(results())
    payload = result_payload(result, URLS)["result"]

    assert payload["sourcedId"] == result_sourced_id("k1", "t1", "u1") == result.sourced_id
    assert payload["lineItem"]["sourcedId"] == line_item_sourced_id("k1", "t1")
    assert line_item_payload(next(line_items()), URLS)["lineItem"]["sourcedId"] == line_item_sourced_id(
        "k1", "t1"
    )
    assert result_sourced_id("k1", "t1", "u1") != result_sourced_id("k1", "t2", "u1")
    assert result_sourced_id("k|1", "t", "u") != result_sourced_id("k", "1|t", "u")
    assert len(result_sourced_id("k1", "t1", "u1")) == 36


def test_refs_point_into_the_right_service() -> None:
    full = list(line_items())[1]
    body = line_item_payload(full, URLS)["lineItem"]

    assert body["class"] == {
        "href": "https://sis.example.org/ims/oneroster/rostering/v1p2/classes/k1",
        "sourcedId": "k1",
        "type": "class",
    }
    assert (
        body["category"]["href"]
        == "https://sis.example.org/ims/oneroster/gradebook/v1p2/categories/cat-period"
    )
    assert body["learningObjectiveSet"] == [{"source": "case", "learningObjectiveIds": sorted(OBJECTIVES)}]
    assert body["dateLastModified"] == "2026-01-15T09:30:00.000Z"
    assert body["resultValueMax"] == 4.0


def test_result_objective_scores_use_the_case_source() -> None:
    body = result_payload(list(results())[1], URLS)["result"]
    (objective_set,) = body["learningObjectiveSet"]
    assert objective_set["source"] == "case"
    assert [entry["learningObjectiveId"] for entry in objective_set["learningObjectiveResults"]] == sorted(
        [*OBJECTIVES, "11111111-2222-4333-8444-555555555555"]
    )
    assert body["score"] == 3.25


def test_naive_datetimes_are_refused() -> None:
    item = replace(next(line_items()), date_last_modified=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="time zone"):
        line_item_payload(item, URLS)


def test_category_and_score_scale_payloads_match_their_put_schemas(spec: dict[str, Any]) -> None:
    grades = period_grades()
    category = category_payload(replace(grades.category, weight=Decimal("0.25")), metadata={"termId": "3200"})
    assert_valid(request_validator(spec, "/categories/{sourcedId}"), category)
    assert_valid(
        request_validator(spec, "/scoreScales/{sourcedId}"), score_scale_payload(grades.score_scale, URLS)
    )
    bare = replace(grades.score_scale, course_sourced_id=None)
    assert_valid(request_validator(spec, "/scoreScales/{sourcedId}"), score_scale_payload(bare, URLS))
    with pytest.raises(ValueError, match="no values"):
        score_scale_payload(replace(grades.score_scale, values=()), URLS)


def test_vendor_metadata_keeps_bodies_valid(spec: dict[str, Any]) -> None:
    item = line_item_payload(next(line_items()), URLS, metadata={"scoreType": "GRADESCALE"})
    assert_valid(request_validator(spec, "/lineItems/{sourcedId}"), item)
    result = result_payload(list(results())[1], URLS, metadata={"gradeScaleValue": "B"})
    assert_valid(request_validator(spec, "/results/{sourcedId}"), result)


@pytest.mark.parametrize("profile_name", ["generic-1.2", "infinite-campus", "powerschool", "classlink"])
def test_every_body_the_client_sends_validates(spec: dict[str, Any], profile_name: str) -> None:
    """Push through the real client to the fake, then validate what arrived, as sent, per PUT path."""
    fake = FakeOneRoster()
    seed_district(fake, student_count=2)
    grades = period_grades(title="A very long section title that some vendors must clip to fit")
    with FakeServer(fake) as server:
        client = gradebook_client(server, load_profile(profile_name), version=OneRosterVersion.V1P2)
        client.put_category(grades.category)
        client.put_score_scale(grades.score_scale)
        client.put_line_item(grades.line_item)
        for result in grades.results:
            client.put_result(result)
    for collection, key, path in (
        ("categories", "category", "/categories/{sourcedId}"),
        ("scoreScales", "scoreScale", "/scoreScales/{sourcedId}"),
        ("lineItems", "lineItem", "/lineItems/{sourcedId}"),
        ("results", "result", "/results/{sourcedId}"),
    ):
        stored = fake.stored(collection)
        assert stored, f"nothing arrived in {collection}"
        for body in stored.values():
            assert_valid(request_validator(spec, path), {key: body})
