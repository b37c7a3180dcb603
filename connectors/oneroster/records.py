"""Typed OneRoster records: the 1.1 and 1.2 rostering shapes, REST or CSV, mapped to one set of frozen dataclasses.

The REST client (`connectors.oneroster.parse`) and the CSV reader (`connectors.oneroster_csv.read`) both
yield these, so the pull code has one input type. Fields only one binding carries default to empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class OneRosterVersion(StrEnum):
    """The OneRoster binding a district's SIS speaks."""

    V1P1 = "1.1"
    V1P2 = "1.2"
    # The CSV binding's spelling of the same versions (aliases: `V1_1 is V1P1`).
    V1_1 = "1.1"
    V1_2 = "1.2"


class Status(StrEnum):
    """Record status (OneRoster 1.2 §4.13.8 `StatusEnum`; 1.1 servers may still send `inactive`).

    The CSV reader reads `inactive` as `tobedeleted`, as the 1.1 and 1.2 CSV bindings say to; a blank
    status in a bulk file reads as `active`.
    """

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
    grades: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    subject_codes: tuple[str, ...] = ()


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
    location: str | None = None
    grades: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    subject_codes: tuple[str, ...] = ()
    periods: tuple[str, ...] = ()


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
    """A student, teacher, guardian or administrator (`users`).

    1.1 gives one `role` held in every org of `orgs`; it arrives here as one `UserRole` per org. The
    preferred names, `user_master_identifier`, `primary_org_sourced_id` and `pronouns` are 1.2 only.
    """

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
    middle_name: str | None = None
    sms: str | None = None
    phone: str | None = None
    agent_sourced_ids: tuple[str, ...] = ()
    user_master_identifier: str | None = None
    preferred_given_name: str | None = None
    preferred_middle_name: str | None = None
    preferred_family_name: str | None = None
    primary_org_sourced_id: str | None = None
    pronouns: str | None = None

    @property
    def role_names(self) -> frozenset[str]:
        """Every role the user holds in any org."""
        return frozenset(role.role for role in self.roles)

    @property
    def org_sourced_ids(self) -> tuple[str, ...]:
        """Every org the user holds a role in, in order, without repeats."""
        return tuple(dict.fromkeys(role.org_sourced_id for role in self.roles))


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
    american_indian_or_alaska_native: bool | None = None
    asian: bool | None = None
    black_or_african_american: bool | None = None
    native_hawaiian_or_other_pacific_islander: bool | None = None
    white: bool | None = None
    demographic_race_two_or_more_races: bool | None = None
    hispanic_or_latino_ethnicity: bool | None = None
    country_of_birth_code: str | None = None
    state_of_birth_abbreviation: str | None = None
    city_of_birth: str | None = None
    public_school_residence_status: str | None = None


Record = Org | AcademicSession | Course | Class | User | Enrollment | Demographics
