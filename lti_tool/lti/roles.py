"""Map LTI role URIs (LTI 1.3 Core §5.3.7, Appendix A.2) to the tool's page roles and an enrollment role."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from lti_tool.models.enums import EnrollmentRole

LIS_V2 = "http://purl.imsglobal.org/vocab/lis/v2/"
_CONTEXT_PREFIX = LIS_V2 + "membership"
_INSTITUTION_PREFIX = LIS_V2 + "institution/person#"
_SYSTEM_PREFIX = LIS_V2 + "system/person#"
# LTI 1.1 / LIS v1 URNs, still sent by some platforms alongside the v2 URIs.
_V1_CONTEXT_PREFIX = "urn:lti:role:ims/lis/"
_V1_INSTITUTION_PREFIX = "urn:lti:instrole:ims/lis/"
_V1_SYSTEM_PREFIX = "urn:lti:sysrole:ims/lis/"


class AppRole(StrEnum):
    """Which pages of the tool a launch may open."""

    TEACHER = "teacher"
    STUDENT = "student"
    STAFF = "staff"


# Context roles (A.2.3) and their sub-roles (A.2.3.1), by principal role name.
_CONTEXT_ROLE_ENROLLMENT = {
    "Instructor": EnrollmentRole.TEACHER,
    "TeachingAssistant": EnrollmentRole.TEACHING_ASSISTANT,
    "ContentDeveloper": EnrollmentRole.CONTENT_DEVELOPER,
    "Learner": EnrollmentRole.STUDENT,
}
# Strongest first: a person who is both Instructor and Learner in a course gets the teacher enrollment.
_ENROLLMENT_PRECEDENCE = (
    EnrollmentRole.TEACHER,
    EnrollmentRole.TEACHING_ASSISTANT,
    EnrollmentRole.CONTENT_DEVELOPER,
    EnrollmentRole.STUDENT,
)
_STAFF_INSTITUTION_ROLES = frozenset({"Administrator"})
_STAFF_SYSTEM_ROLES = frozenset({"Administrator", "SysAdmin"})


@dataclass(frozen=True, slots=True)
class RoleDecision:
    """The page roles of a launch and the enrollment to record in its class (None: record none)."""

    app_roles: frozenset[AppRole]
    enrollment_role: EnrollmentRole | None


@dataclass(frozen=True, slots=True)
class _ParsedRole:
    kind: str  # "context", "institution", "system" or "unknown"
    name: str


def _parse_role(role: str) -> _ParsedRole:
    if role.startswith(_CONTEXT_PREFIX):
        # membership#Instructor, or a sub-role membership/Instructor#TeachingAssistant (principal first).
        rest = role[len(_CONTEXT_PREFIX) :]
        if rest.startswith("#"):
            return _ParsedRole("context", rest[1:])
        if rest.startswith("/"):
            return _ParsedRole("context", rest[1:].split("#", 1)[0])
        return _ParsedRole("unknown", role)
    if role.startswith(_INSTITUTION_PREFIX):
        return _ParsedRole("institution", role[len(_INSTITUTION_PREFIX) :])
    if role.startswith(_SYSTEM_PREFIX):
        return _ParsedRole("system", role[len(_SYSTEM_PREFIX) :])
    if role.startswith(_V1_CONTEXT_PREFIX):
        return _ParsedRole("context", role[len(_V1_CONTEXT_PREFIX) :].split("/", 1)[0])
    if role.startswith(_V1_INSTITUTION_PREFIX):
        return _ParsedRole("institution", role[len(_V1_INSTITUTION_PREFIX) :])
    if role.startswith(_V1_SYSTEM_PREFIX):
        return _ParsedRole("system", role[len(_V1_SYSTEM_PREFIX) :])
    if ":" not in role and "/" not in role:
        # LTI 1.3 Core §A.2.3: a simple name ("Learner") is a deprecated short form of a context role.
        return _ParsedRole("context", role)
    return _ParsedRole("unknown", role)


def decide_roles(roles: Iterable[str]) -> RoleDecision:
    """Decide page roles from the `roles` claim, context (membership) roles first.

    Canvas sends institution roles (Administrator, Faculty) with every launch, even when the person is a
    Learner in this course, so institution and system roles count only when no known context role is present.
    Unknown role URIs are ignored; an empty list gives no page role at all.
    """
    parsed = [_parse_role(role) for role in roles if isinstance(role, str)]
    enrollments = {
        _CONTEXT_ROLE_ENROLLMENT[role.name]
        for role in parsed
        if role.kind == "context" and role.name in _CONTEXT_ROLE_ENROLLMENT
    }
    if enrollments:
        enrollment_role = next(choice for choice in _ENROLLMENT_PRECEDENCE if choice in enrollments)
        app_roles: set[AppRole] = set()
        if enrollments - {EnrollmentRole.STUDENT}:
            app_roles.add(AppRole.TEACHER)
        if EnrollmentRole.STUDENT in enrollments:
            app_roles.add(AppRole.STUDENT)
        return RoleDecision(frozenset(app_roles), enrollment_role)
    is_staff = any(
        (role.kind == "institution" and role.name in _STAFF_INSTITUTION_ROLES)
        or (role.kind == "system" and role.name in _STAFF_SYSTEM_ROLES)
        for role in parsed
    )
    return RoleDecision(frozenset({AppRole.STAFF}) if is_staff else frozenset(), None)
