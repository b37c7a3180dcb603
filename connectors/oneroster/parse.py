"""JSON objects from OneRoster 1.1 and 1.2 servers turned into records, tolerant of common vendor laxness."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from connectors.errors import ConnectorResponseError
from connectors.oneroster.records import (
    AcademicSession,
    Class,
    Course,
    Demographics,
    Enrollment,
    Org,
    Status,
    User,
    UserId,
    UserRole,
)

SYSTEM = "oneroster"


class _Fields:
    """Typed access to one JSON object; every failure names the field, the record and the URL."""

    def __init__(self, data: Mapping[str, Any], *, kind: str, url: str) -> None:
        self.data = data
        self.kind = kind
        self.url = url

    def fail(self, key: str, problem: str) -> ConnectorResponseError:
        sourced_id = self.data.get("sourcedId")
        return ConnectorResponseError(
            f"{self.kind} {sourced_id!r}: field {key!r} {problem}", system=SYSTEM, url=self.url
        )

    def text(self, key: str) -> str:
        value = self.optional_text(key)
        if value is None:
            raise self.fail(key, "is missing")
        return value

    def optional_text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(key, f"is not a string: {value!r}")
        return str(value)

    def flag(self, key: str) -> bool | None:
        """A OneRoster boolean: the spec sends the strings "true"/"false"; lax servers send JSON booleans."""
        value = self.data.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise self.fail(key, f"is not a boolean: {value!r}")

    def timestamp(self, key: str) -> datetime:
        raw = self.text(key)
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError as exc:
            raise self.fail(key, f"is not an ISO 8601 date-time: {raw!r}") from exc
        # Lax servers omit the offset; OneRoster timestamps are UTC (1.2 §4.13.1).
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)

    def day(self, key: str) -> date | None:
        raw = self.optional_text(key)
        if raw is None:
            return None
        try:
            return date.fromisoformat(raw[:10])
        except ValueError as exc:
            raise self.fail(key, f"is not an ISO 8601 date: {raw!r}") from exc

    def required_day(self, key: str) -> date:
        value = self.day(key)
        if value is None:
            raise self.fail(key, "is missing")
        return value

    def status(self) -> Status:
        raw = self.text("status")
        try:
            return Status(raw.lower())
        except ValueError as exc:
            raise self.fail("status", f"is not a known status: {raw!r}") from exc

    def ref(self, key: str) -> str | None:
        """The `sourcedId` of a GUIDRef object (1.2, 1.1) or a bare string (seen in lax 1.1 servers)."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            return value or None
        if isinstance(value, Mapping):
            sourced_id = value.get("sourcedId")
            if isinstance(sourced_id, str) and sourced_id:
                return sourced_id
        raise self.fail(key, f"is not a reference: {value!r}")

    def required_ref(self, key: str) -> str:
        value = self.ref(key)
        if value is None:
            raise self.fail(key, "is missing")
        return value

    def items(self, key: str) -> list[Any]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(key, "is not an array")
        return value

    def refs(self, key: str) -> tuple[str, ...]:
        found: list[str] = []
        for item in self.items(key):
            ref = _Fields(
                {"ref": item, "sourcedId": self.data.get("sourcedId")}, kind=self.kind, url=self.url
            )
            found.append(ref.required_ref("ref"))
        return tuple(found)

    def texts(self, key: str) -> tuple[str, ...]:
        return tuple(str(item) for item in self.items(key) if isinstance(item, str | int))


def parse_org(data: Mapping[str, Any], *, url: str) -> Org:
    """An `OrgDType` (1.1 §4.12, 1.2 rostering §4.2.9)."""
    f = _Fields(data, kind="org", url=url)
    return Org(
        sourced_id=f.text("sourcedId"),
        status=f.status(),
        date_last_modified=f.timestamp("dateLastModified"),
        name=f.text("name"),
        type=f.text("type"),
        identifier=f.optional_text("identifier"),
        parent_sourced_id=f.ref("parent"),
    )


def parse_academic_session(data: Mapping[str, Any], *, url: str) -> AcademicSession:
    """An `AcademicSessionDType`."""
    f = _Fields(data, kind="academicSession", url=url)
    return AcademicSession(
        sourced_id=f.text("sourcedId"),
        status=f.status(),
        date_last_modified=f.timestamp("dateLastModified"),
        title=f.text("title"),
        type=f.text("type"),
        start_date=f.required_day("startDate"),
        end_date=f.required_day("endDate"),
        school_year=f.optional_text("schoolYear"),
        parent_sourced_id=f.ref("parent"),
    )


def parse_course(data: Mapping[str, Any], *, url: str) -> Course:
    """A `CourseDType`."""
    f = _Fields(data, kind="course", url=url)
    return Course(
        sourced_id=f.text("sourcedId"),
        status=f.status(),
        date_last_modified=f.timestamp("dateLastModified"),
        title=f.text("title"),
        course_code=f.optional_text("courseCode"),
        org_sourced_id=f.ref("org"),
        school_year_sourced_id=f.ref("schoolYear"),
        grades=f.texts("grades"),
        subjects=f.texts("subjects"),
        subject_codes=f.texts("subjectCodes"),
    )


def parse_class(data: Mapping[str, Any], *, url: str) -> Class:
    """A `ClassDType`."""
    f = _Fields(data, kind="class", url=url)
    return Class(
        sourced_id=f.text("sourcedId"),
        status=f.status(),
        date_last_modified=f.timestamp("dateLastModified"),
        title=f.text("title"),
        course_sourced_id=f.required_ref("course"),
        school_sourced_id=f.required_ref("school"),
        term_sourced_ids=f.refs("terms"),
        class_code=f.optional_text("classCode"),
        class_type=f.optional_text("classType"),
        location=f.optional_text("location"),
        grades=f.texts("grades"),
        subjects=f.texts("subjects"),
        subject_codes=f.texts("subjectCodes"),
        periods=f.texts("periods"),
    )


def _roles(f: _Fields) -> tuple[UserRole, ...]:
    """1.2 `roles` (RoleDType), or the 1.1 single `role` held in every org of `orgs`."""
    if "roles" in f.data:
        roles: list[UserRole] = []
        for item in f.items("roles"):
            if not isinstance(item, Mapping):
                raise f.fail("roles", "holds a non-object")
            rf = _Fields({**item, "sourcedId": f.data.get("sourcedId")}, kind=f.kind, url=f.url)
            roles.append(
                UserRole(
                    role=rf.text("role"),
                    org_sourced_id=rf.required_ref("org"),
                    role_type=rf.optional_text("roleType"),
                )
            )
        return tuple(roles)
    role = f.text("role")
    return tuple(UserRole(role=role, org_sourced_id=org) for org in f.refs("orgs"))


def _user_ids(f: _Fields) -> tuple[UserId, ...]:
    found: list[UserId] = []
    for item in f.items("userIds"):
        if isinstance(item, Mapping):
            idf = _Fields({**item, "sourcedId": f.data.get("sourcedId")}, kind=f.kind, url=f.url)
            found.append(UserId(type=idf.text("type"), identifier=idf.text("identifier")))
    return tuple(found)


def parse_user(data: Mapping[str, Any], *, url: str) -> User:
    """A `UserDType` of either version (1.1 `role` + `orgs`, 1.2 `roles`)."""
    f = _Fields(data, kind="user", url=url)
    is_enabled = f.flag("enabledUser")
    return User(
        sourced_id=f.text("sourcedId"),
        status=f.status(),
        date_last_modified=f.timestamp("dateLastModified"),
        given_name=f.text("givenName"),
        family_name=f.text("familyName"),
        # 1.1 made enabledUser optional; absent means enabled (1.1 §4.13).
        is_enabled=True if is_enabled is None else is_enabled,
        roles=_roles(f),
        username=f.optional_text("username"),
        email=f.optional_text("email"),
        identifier=f.optional_text("identifier"),
        user_ids=_user_ids(f),
        grades=f.texts("grades"),
        middle_name=f.optional_text("middleName"),
        sms=f.optional_text("sms"),
        phone=f.optional_text("phone"),
        agent_sourced_ids=f.refs("agents"),
        user_master_identifier=f.optional_text("userMasterIdentifier"),
        # 1.2 REST says preferredFirstName/preferredLastName where the CSV binding says Given/Family.
        preferred_given_name=f.optional_text("preferredFirstName"),
        preferred_middle_name=f.optional_text("preferredMiddleName"),
        preferred_family_name=f.optional_text("preferredLastName"),
        primary_org_sourced_id=f.ref("primaryOrg"),
        pronouns=f.optional_text("pronouns"),
    )


def parse_enrollment(data: Mapping[str, Any], *, url: str) -> Enrollment:
    """An `EnrollmentDType`."""
    f = _Fields(data, kind="enrollment", url=url)
    return Enrollment(
        sourced_id=f.text("sourcedId"),
        status=f.status(),
        date_last_modified=f.timestamp("dateLastModified"),
        user_sourced_id=f.required_ref("user"),
        class_sourced_id=f.required_ref("class"),
        school_sourced_id=f.required_ref("school"),
        role=f.text("role"),
        is_primary=f.flag("primary"),
        begin_date=f.day("beginDate"),
        end_date=f.day("endDate"),
    )


def parse_demographics(data: Mapping[str, Any], *, url: str) -> Demographics:
    """A `DemographicsDType`."""
    f = _Fields(data, kind="demographics", url=url)
    return Demographics(
        sourced_id=f.text("sourcedId"),
        status=f.status(),
        date_last_modified=f.timestamp("dateLastModified"),
        birth_date=f.day("birthDate"),
        sex=f.optional_text("sex"),
        american_indian_or_alaska_native=f.flag("americanIndianOrAlaskaNative"),
        asian=f.flag("asian"),
        black_or_african_american=f.flag("blackOrAfricanAmerican"),
        native_hawaiian_or_other_pacific_islander=f.flag("nativeHawaiianOrOtherPacificIslander"),
        white=f.flag("white"),
        demographic_race_two_or_more_races=f.flag("demographicRaceTwoOrMoreRaces"),
        hispanic_or_latino_ethnicity=f.flag("hispanicOrLatinoEthnicity"),
        country_of_birth_code=f.optional_text("countryOfBirthCode"),
        state_of_birth_abbreviation=f.optional_text("stateOfBirthAbbreviation"),
        city_of_birth=f.optional_text("cityOfBirth"),
        public_school_residence_status=f.optional_text("publicSchoolResidenceStatus"),
    )
