"""Every 1.2 payload the fake serves validates against the official OneRoster 1.2 OpenAPI schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft4Validator

from tests.support.oneroster_district import seed_district
from tests.support.oneroster_fake import V1P2, FakeOneRoster, FakeServer, Quirks

yaml = pytest.importorskip("yaml")

SPEC = Path("/work/shared/specs/oneroster-1.2/rostersservice_openapi3_v1p0.yaml")
SETS = {
    "orgs": "OrgSetDType",
    "academicSessions": "AcademicSessionSetDType",
    "courses": "CourseSetDType",
    "classes": "ClassSetDType",
    "users": "UserSetDType",
    "enrollments": "EnrollmentSetDType",
    "demographics": "DemographicsSetDType",
}


def _fix_flag_enums(node: Any) -> Any:
    """The YAML declares string flags as `enum: [true, false]`; YAML loads those as booleans (see README)."""
    if isinstance(node, dict):
        if node.get("type") == "string" and isinstance(node.get("enum"), list):
            node["enum"] = [("true" if v else "false") if isinstance(v, bool) else v for v in node["enum"]]
        return {k: _fix_flag_enums(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_fix_flag_enums(v) for v in node]
    return node


@pytest.fixture(scope="module")
def components() -> dict[str, Any]:
    if not SPEC.exists():
        pytest.skip(f"{SPEC} not present")
    return _fix_flag_enums(yaml.safe_load(SPEC.read_text()))["components"]


def validator(components: dict[str, Any], name: str) -> Draft4Validator:
    return Draft4Validator({"$ref": f"#/components/schemas/{name}", "components": components})


@pytest.mark.parametrize("collection", list(SETS))
def test_fake_collections_validate(collection: str, components: dict[str, Any]) -> None:
    fake = FakeOneRoster(quirks=Quirks())
    seed_district(fake, student_count=5)
    fake.delete("users", "s-02")
    with FakeServer(fake) as server:
        token = requests.post(
            f"{server.base_url}/token",
            data={"grant_type": "client_credentials", "scope": fake.scopes[0]},
            auth=(fake.client_id, fake.client_secret),
            timeout=5,
        ).json()["access_token"]
        body = requests.get(
            f"{server.base_url}{V1P2}/{collection}?limit=100",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        ).json()
        error = requests.get(
            f"{server.base_url}{V1P2}/users?filter=nosuch%3D%27x%27",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
    assert body[collection]
    errors = sorted(validator(components, SETS[collection]).iter_errors(body), key=str)
    assert not errors, errors[0].message
    assert error.status_code == 400
    assert not list(validator(components, "imsx_StatusInfoDType").iter_errors(error.json()))


def test_flag_fix_matters(components: dict[str, Any]) -> None:
    """A wrong flag value still fails, so the enum fix did not switch validation off."""
    enrollment = {
        "sourcedId": "e",
        "status": "active",
        "dateLastModified": "2026-01-01T00:00:00Z",
        "role": "student",
        "primary": "maybe",
        "user": {"href": "https://x/u", "sourcedId": "u", "type": "user"},
        "class": {"href": "https://x/c", "sourcedId": "c", "type": "class"},
        "school": {"href": "https://x/s", "sourcedId": "s", "type": "org"},
    }
    assert list(validator(components, "EnrollmentDType").iter_errors(enrollment))
    assert not list(validator(components, "EnrollmentDType").iter_errors({**enrollment, "primary": "false"}))
