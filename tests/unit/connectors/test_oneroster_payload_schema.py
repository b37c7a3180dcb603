"""Every OneRoster 1.2 gradebook body we build validates against the official OpenAPI request-body schema."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from connectors.oneroster_csv import (
    ObjectiveScore,
    PeriodLineItem,
    PeriodResult,
    ServiceUrls,
    line_item_payload,
    line_item_sourced_id,
    result_payload,
    result_sourced_id,
)

SPEC = (
    Path(__file__).resolve().parents[3].parent
    / "shared/specs/oneroster-1.2/gradebookservice_openapi3_v1p0.yaml"
)
URLS = ServiceUrls(
    rostering="https://sis.example.org/ims/oneroster/rostering/v1p2/",
    gradebook="https://sis.example.org/ims/oneroster/gradebook/v1p2",
)
OBJECTIVES = ("9f1c5a1e-2b7d-4a6e-8f3c-1d2e3f4a5b6c", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
MODIFIED = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


def _fix_boolean_enums(node: Any) -> Any:
    """The YAML declares string flags as `enum: [true, false]` unquoted; they are the strings "true"/"false"."""
    if isinstance(node, dict):
        fixed = {key: _fix_boolean_enums(value) for key, value in node.items()}
        if isinstance(fixed.get("enum"), list):
            fixed["enum"] = [
                ("true" if member else "false") if isinstance(member, bool) else member
                for member in fixed["enum"]
            ]
        return fixed
    if isinstance(node, list):
        return [_fix_boolean_enums(item) for item in node]
    return node


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC.exists():
        pytest.fail(f"OneRoster gradebook OpenAPI not found at {SPEC}")
    loaded: dict[str, Any] = _fix_boolean_enums(yaml.safe_load(SPEC.read_text(encoding="utf-8")))
    return loaded


def request_validator(spec: dict[str, Any], path: str) -> jsonschema.Draft4Validator:
    """A Draft 4 validator for the JSON body of PUT `path`, with `#/components/...` refs resolved in `spec`."""
    schema = spec["paths"][path]["put"]["requestBody"]["content"]["application/json"]["schema"]
    document = {**schema, "components": spec["components"]}
    return jsonschema.Draft4Validator(document)


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
