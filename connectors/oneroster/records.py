"""Typed OneRoster records: the 1.1 and 1.2 rostering shapes mapped to one set of frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class OneRosterVersion(StrEnum):
    """The OneRoster binding a district's SIS speaks."""

    V1P1 = "1.1"
    V1P2 = "1.2"


class Status(StrEnum):
    """Record status (OneRoster 1.2 §4.13.8 `StatusEnum`; 1.1 servers may still send `inactive`)."""

    ACTIVE = "active"
    TO_BE_DELETED = "tobedeleted"
    INACTIVE = "inactive"


@dataclass(frozen=True, slots=True)
class Org:
    """A school, district or other organisation (`orgs`)."""

    sourced_id: str
    status: Status
    date_last_modified: datetime
    name: str
    type: str
    identifier: str | None = None
    parent_sourced_id: str | None = None


@dataclass(frozen=True, slots=True)
class AcademicSession:
    """A school year, term, semester or grading period (`academicSessions`)."""

    sourced_id: str
    status: Status
    date_last_modified: datetime
    title: str
    type: str
    start_date: date
    end_date: date
    school_year: str | None = None
    parent_sourced_id: str | None = None


@dataclass(frozen=True, slots=True)
class Course:
    """A course: the template of which classes are sections (`courses`)."""

    sourced_id: str
    status: Status
    date_last_modified: datetime
    title: str
    course_code: str | None = None
    org_sourced_id: str | None = None
    school_year_sourced_id: str | None = None


@dataclass(frozen=True, slots=True)
class Class:
    """A class (section) taught in a school during one or more terms (`classes`)."""

    sourced_id: str
    status: Status
    date_last_modified: datetime
    title: str
    course_sourced_id: str
    school_sourced_id: str
    term_sourced_ids: tuple[str, ...] = ()
    class_code: str | None = None
    class_type: str | None = None


@dataclass(frozen=True, slots=True)
class UserRole:
    """One role a user holds in one org; 1.1 users get one per org with `role_type` None."""

    role: str
    org_sourced_id: str
    role_type: str | None = None


@dataclass(frozen=True, slots=True)
class UserId:
    """An identifier of the user in another system (`userIds`)."""

    type: str
    identifier: str


@dataclass(frozen=True, slots=True)
class User:
    """A student, teacher, guardian or administrator (`users`)."""

    sourced_id: str
    status: Status
    date_last_modified: datetime
    given_name: str
    family_name: str
    is_enabled: bool
    roles: tuple[UserRole, ...]
    username: str | None = None
    email: str | None = None
    identifier: str | None = None
    user_ids: tuple[UserId, ...] = ()
    grades: tuple[str, ...] = ()

    @property
    def role_names(self) -> frozenset[str]:
        """Every role the user holds in any org."""
        return frozenset(role.role for role in self.roles)


@dataclass(frozen=True, slots=True)
class Enrollment:
    """A user's enrollment in a class with a role (`enrollments`)."""

    sourced_id: str
    status: Status
    date_last_modified: datetime
    user_sourced_id: str
    class_sourced_id: str
    school_sourced_id: str
    role: str
    is_primary: bool | None = None
    begin_date: date | None = None
    end_date: date | None = None


@dataclass(frozen=True, slots=True)
class Demographics:
    """A user's demographics; `sourced_id` equals the user's (`demographics`)."""

    sourced_id: str
    status: Status
    date_last_modified: datetime
    birth_date: date | None = None
    sex: str | None = None


Record = Org | AcademicSession | Course | Class | User | Enrollment | Demographics
