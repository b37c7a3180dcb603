"""Configuration of the demo LMS: who it is, which tool it launches, and the course and people in it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

ROLE_LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
ROLE_INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
ROLE_STUDENT = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student"
ROLE_FACULTY = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty"
#: An institution role with no course role: the tool opens its staff pages (registrar, SIS) for it.
ROLE_ADMINISTRATOR = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"
CONTEXT_TYPE_COURSE_OFFERING = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"


@dataclass(frozen=True, slots=True)
class DemoUser:
    """One person in the demo course; `roles` are full LIS role URIs (LTI 1.3 Core §A.2)."""

    user_id: str
    given_name: str
    family_name: str
    email: str
    roles: tuple[str, ...]
    lis_person_sourcedid: str | None = None

    @property
    def name(self) -> str:
        """Full display name."""
        return f"{self.given_name} {self.family_name}"

    @property
    def is_learner(self) -> bool:
        """True when the user holds the context Learner role."""
        return ROLE_LEARNER in self.roles

    @property
    def is_instructor(self) -> bool:
        """True when the user holds the context Instructor role."""
        return ROLE_INSTRUCTOR in self.roles

    @property
    def is_administrator(self) -> bool:
        """True for staff without a course role (a registrar): the course page lists them as staff."""
        return ROLE_ADMINISTRATOR in self.roles and not (self.is_learner or self.is_instructor)


@dataclass(frozen=True, slots=True)
class DemoContext:
    """The course the demo tool is placed in."""

    id: str
    label: str
    title: str
    course_section_sourcedid: str | None = None
    resource_link_id: str = "demo-resource-link-1"
    resource_link_title: str = "Mastery progress"


@dataclass(frozen=True, slots=True)
class PlatformConfig:
    """Everything the demo platform needs; `issuer` is its own base URL, e.g. `http://127.0.0.1:5001`."""

    issuer: str
    client_id: str
    deployment_id: str
    tool_login_url: str
    tool_redirect_urls: tuple[str, ...]
    context: DemoContext
    users: tuple[DemoUser, ...]
    tool_launch_url: str | None = None
    tool_deep_link_url: str | None = None
    tool_jwks_url: str | None = None
    tool_jwks: Mapping[str, Any] | None = None
    private_key_pem: bytes | None = field(default=None, repr=False)
    login_initiation_method: Literal["GET", "POST"] = "GET"
    nrps_page_size: int = 100
    token_lifetime_seconds: int = 3600
    jwks_max_age_seconds: int = 300
    line_item_query: str | None = None
    allow_score_above_maximum: bool = False

    def __post_init__(self) -> None:
        if not self.tool_redirect_urls:
            raise ValueError("PlatformConfig.tool_redirect_urls is empty; register at least one redirect URL")
        if self.tool_jwks_url is None and self.tool_jwks is None:
            raise ValueError(
                "PlatformConfig needs tool_jwks_url or tool_jwks to verify the tool's signatures"
            )

    def url(self, path: str) -> str:
        """An absolute URL on this platform."""
        return self.issuer.rstrip("/") + path

    @property
    def token_url(self) -> str:
        """The OAuth 2 token endpoint; also the `aud` client assertions must carry."""
        return self.url("/platform/token")

    @property
    def launch_url(self) -> str:
        """The tool's resource-link `target_link_uri`."""
        return self.tool_launch_url or self.tool_redirect_urls[0]

    @property
    def deep_link_url(self) -> str:
        """The tool's deep-linking `target_link_uri`."""
        return self.tool_deep_link_url or self.launch_url

    @property
    def tool_origin(self) -> str:
        """The tool's web origin, the only origin allowed to use platform storage."""
        parts = urlsplit(self.tool_login_url)
        return f"{parts.scheme}://{parts.netloc}"

    def find_user(self, user_id: str) -> DemoUser | None:
        """The roster entry for `user_id`, or None."""
        return next((user for user in self.users if user.user_id == user_id), None)


def build_demo_roster(student_count: int = 24, teacher_count: int = 2) -> tuple[DemoUser, ...]:
    """A made-up roster (no real people): teachers first, then students with zero-padded ids."""
    teachers = tuple(
        DemoUser(
            user_id=f"demo-teacher-{n:03d}",
            given_name="Teacher",
            family_name=f"T{n:03d}",
            email=f"teacher{n:03d}@example.edu",
            roles=(ROLE_INSTRUCTOR, ROLE_FACULTY),
            lis_person_sourcedid=f"tch-{n:03d}",
        )
        for n in range(1, teacher_count + 1)
    )
    students = tuple(
        DemoUser(
            user_id=f"demo-student-{n:04d}",
            given_name="Student",
            family_name=f"S{n:04d}",
            email=f"student{n:04d}@example.edu",
            roles=(ROLE_LEARNER, ROLE_STUDENT),
            lis_person_sourcedid=f"stu-{n:04d}",
        )
        for n in range(1, student_count + 1)
    )
    return teachers + students
