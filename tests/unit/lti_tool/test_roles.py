"""Role mapping: context roles first, short names, sub-roles, institution and system roles, unknowns."""

from __future__ import annotations

import pytest

from lti_tool.lti.platform_keys import DEFAULT_MAX_AGE_SECONDS, cache_lifetime
from lti_tool.lti.roles import AppRole, decide_roles
from lti_tool.models import EnrollmentRole

V2 = "http://purl.imsglobal.org/vocab/lis/v2/"
TEACHER = frozenset({AppRole.TEACHER})
STUDENT = frozenset({AppRole.STUDENT})
STAFF = frozenset({AppRole.STAFF})


@pytest.mark.parametrize(
    ("roles", "app_roles", "enrollment"),
    [
        ([V2 + "membership#Instructor"], TEACHER, EnrollmentRole.TEACHER),
        ([V2 + "membership/Instructor#TeachingAssistant"], TEACHER, EnrollmentRole.TEACHER),
        ([V2 + "membership#TeachingAssistant"], TEACHER, EnrollmentRole.TEACHING_ASSISTANT),
        ([V2 + "membership#ContentDeveloper"], TEACHER, EnrollmentRole.CONTENT_DEVELOPER),
        ([V2 + "membership#Learner"], STUDENT, EnrollmentRole.STUDENT),
        ([V2 + "membership/Learner#Learner"], STUDENT, EnrollmentRole.STUDENT),
        (["Learner"], STUDENT, EnrollmentRole.STUDENT),
        (["Instructor"], TEACHER, EnrollmentRole.TEACHER),
        (["urn:lti:role:ims/lis/Instructor"], TEACHER, EnrollmentRole.TEACHER),
        (
            [V2 + "institution/person#Administrator", V2 + "membership#Learner"],
            STUDENT,
            EnrollmentRole.STUDENT,
        ),
        ([V2 + "institution/person#Faculty", V2 + "membership#Learner"], STUDENT, EnrollmentRole.STUDENT),
        ([V2 + "institution/person#Administrator"], STAFF, None),
        ([V2 + "system/person#SysAdmin"], STAFF, None),
        ([V2 + "system/person#Administrator"], STAFF, None),
        ([V2 + "institution/person#Faculty"], frozenset(), None),
        ([V2 + "membership#Mentor"], frozenset(), None),
        (["http://example.com/roles#Wizard"], frozenset(), None),
        ([], frozenset(), None),
        (
            [V2 + "membership#Instructor", V2 + "membership#Learner"],
            frozenset({AppRole.TEACHER, AppRole.STUDENT}),
            EnrollmentRole.TEACHER,
        ),
    ],
)
def test_decide_roles(
    roles: list[str], app_roles: frozenset[AppRole], enrollment: EnrollmentRole | None
) -> None:
    decision = decide_roles(roles)

    assert decision.app_roles == app_roles
    assert decision.enrollment_role == enrollment


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, DEFAULT_MAX_AGE_SECONDS),
        ("public, max-age=60", 60),
        ("max-age=0", 0),
        ("no-store", 0),
        ("no-cache, max-age=600", 0),
        ("public, max-age=999999999", 24 * 3600),
        ("public", DEFAULT_MAX_AGE_SECONDS),
    ],
)
def test_jwks_cache_lifetime_follows_cache_control(header: str | None, seconds: int) -> None:
    assert cache_lifetime(header) == seconds
