"""The demo SIS: the fake seeded from the demo district, pulled through the real client, valid 1.2 shapes."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft4Validator

from connectors.oneroster import (
    ROSTERING_PATH_V1P2,
    OAuth2ClientCredentials,
    OneRosterClient,
    OneRosterEndpoint,
    OneRosterVersion,
    RetryPolicy,
    Transport,
    new_session,
)
from connectors.oneroster.profiles import load_profile
from lti_tool.demo.district import generate_district
from lti_tool.demo.sis import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, demo_fake, serve
from lti_tool.demo.sis.seed import DISTRICT_SOURCED_ID
from tests.support.oneroster_gradebook import gradebook_client, period_grades
from tests.support.oneroster_spec import fix_boolean_enums

ROSTER_SPEC = (
    Path(__file__).resolve().parents[3].parent
    / "shared/specs/oneroster-1.2/rostersservice_openapi3_v1p0.yaml"
)
SETS = {
    "orgs": "OrgDType",
    "academicSessions": "AcademicSessionDType",
    "courses": "CourseDType",
    "classes": "ClassDType",
    "users": "UserDType",
    "enrollments": "EnrollmentDType",
    "demographics": "DemographicsDType",
}


@pytest.fixture(scope="module")
def components() -> dict[str, Any]:
    loaded: dict[str, Any] = fix_boolean_enums(yaml.safe_load(ROSTER_SPEC.read_text(encoding="utf-8")))
    return loaded["components"]


def test_seeded_records_validate_against_the_rostering_schemas(components: dict[str, Any]) -> None:
    fake = demo_fake()
    for collection, schema in SETS.items():
        validator = Draft4Validator({"$ref": f"#/components/schemas/{schema}", "components": components})
        records = fake.data[collection]
        assert records, collection
        for record in records:
            errors = list(validator.iter_errors(record))
            assert not errors, f"{collection} {record['sourcedId']}: {errors[0].message}"


def test_the_demo_sis_serves_the_demo_district_through_the_real_client() -> None:
    district = generate_district()
    with serve(demo_fake()) as server:
        profile = load_profile("generic-1.2")
        auth = OAuth2ClientCredentials(
            server.token_url, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, profile.scopes(demographics=True)
        )
        transport = Transport(new_session(), auth, retry=RetryPolicy(max_retries=1), rng=random.Random(1))
        client = OneRosterClient(
            transport,
            OneRosterEndpoint(OneRosterVersion.V1P2, server.rostering_url(), page_size=profile.max_page_size),
        )
        orgs = {o.sourced_id: o for o in client.fetch_orgs()}
        users = list(client.fetch_users())
        classes = list(client.fetch_classes())
        enrollments = list(client.fetch_enrollments())
        demographics = list(client.fetch_demographics())
        sessions = {s.sourced_id: s for s in client.fetch_academic_sessions()}
        assert server.base_url.endswith("/district-x/api")
        assert server.rostering_url() == server.base_url + ROSTERING_PATH_V1P2
    assert orgs[district.school_id].parent_sourced_id == DISTRICT_SOURCED_ID
    assert len(users) == len(district.students) + len(district.teachers)
    assert {c.sourced_id for c in classes} == {c.sourced_id for c in district.classes}
    assert len(enrollments) == sum(1 + len(c.student_ids) for c in district.classes)
    assert len(demographics) == len(district.students)
    assert sessions["Q1"].type == "gradingPeriod"
    assert sessions["Q1"].parent_sourced_id == "S1"
    assert sessions["SY2026"].school_year == "2027"
    algebra = next(c for c in classes if c.sourced_id == "ALG2-1")
    assert algebra.course_sourced_id == "CRS-ALG2"
    assert "Q1" in algebra.term_sourced_ids
    student = next(u for u in users if u.sourced_id == "STU0001")
    assert student.email == district.students[0].email
    assert student.roles[0].org_sourced_id == district.school_id


def test_the_demo_sis_takes_grades() -> None:
    with serve(demo_fake()) as server:
        client = gradebook_client(server, load_profile("generic-1.2"))
        grades = period_grades()
        assert client.put_line_item(grades.line_item).status == 201
        assert client.put_result(grades.results[0]).status == 201
        assert server.fake.put_counts[grades.results[0].sourced_id] == 1
