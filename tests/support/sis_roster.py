"""Roster pull test helpers: a district with a calendar tree on the fake SIS, a client per OneRoster version,
the state the database must reach (derived from the fake's records, independently of the pull code) and the
state it holds."""

from __future__ import annotations

import csv
import io
import random
import zipfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from connectors.oneroster import (
    ROSTERING_PATH_V1P1,
    ROSTERING_PATH_V1P2,
    OAuth1Signature,
    OAuth2ClientCredentials,
    OneRosterClient,
    OneRosterEndpoint,
    OneRosterVersion,
    RetryPolicy,
    SignatureMethod,
    Transport,
    new_session,
)
from lti_tool.models import (
    AcademicSession,
    ClassSession,
    Course,
    Demographic,
    Enrollment,
    IdentifierSource,
    Org,
    Person,
    PersonIdentifier,
    SchoolClass,
    SisAuth,
    SisConnection,
)
from lti_tool.models import (
    OneRosterVersion as ModelVersion,
)
from tests.support.oneroster_district import seed_district
from tests.support.oneroster_fake import FakeOneRoster, FakeServer, Quirks

STUDENTS = 23
WHEN = "2026-01-10T08:00:00.000Z"
LATER = "2026-02-01T09:00:00.000Z"
SESSION_TYPES = {
    "schoolYear": "school_year",
    "semester": "semester",
    "term": "term",
    "gradingPeriod": "grading_period",
}
ROLES = {"student": "student", "teacher": "teacher", "aide": "teaching_assistant"}


def _ref(kind: str, sourced_id: str) -> dict[str, str]:
    return {"href": f"https://sis.example/{kind}/{sourced_id}", "sourcedId": sourced_id, "type": kind}


def seed_calendar_district(fake: FakeOneRoster, *, students: int = STUDENTS) -> None:
    """The small test district, plus a school year > semester > term > grading periods calendar."""
    seed_district(fake, student_count=students)
    base = {"status": "active", "dateLastModified": WHEN, "schoolYear": "2026"}
    fake.add(
        "academicSessions",
        {
            **base,
            "sourcedId": "year-2026",
            "title": "2025-26",
            "type": "schoolYear",
            "startDate": "2025-08-01",
            "endDate": "2026-06-30",
        },
    )
    fake.add(
        "academicSessions",
        {
            **base,
            "sourcedId": "sem-1",
            "title": "Semester 1",
            "type": "semester",
            "startDate": "2025-08-20",
            "endDate": "2026-01-20",
            "parent": _ref("academicSession", "year-2026"),
        },
    )
    for n, (start, end) in enumerate((("2025-08-20", "2025-10-31"), ("2025-11-01", "2026-01-20")), 1):
        fake.add(
            "academicSessions",
            {
                **base,
                "sourcedId": f"gp-{n}",
                "title": f"Q{n}",
                "type": "gradingPeriod",
                "startDate": start,
                "endDate": end,
                "parent": _ref("academicSession", "term-1"),
            },
        )
    term = record(fake, "academicSessions", "term-1")
    term["parent"] = _ref("academicSession", "sem-1")
    for class_record in fake.data["classes"]:
        class_record["terms"] = [
            *class_record["terms"],
            _ref("academicSession", "gp-1"),
            _ref("academicSession", "gp-2"),
        ]


def record(fake: FakeOneRoster, collection: str, sourced_id: str) -> dict[str, Any]:
    """The fake's stored record (1.2 shape) of that sourcedId."""
    return next(r for r in fake.data[collection] if r["sourcedId"] == sourced_id)


def touch(fake: FakeOneRoster, collection: str, sourced_id: str, **changes: Any) -> None:
    """Change a record in the SIS as a district would: new values and a later dateLastModified."""
    record(fake, collection, sourced_id).update(changes, dateLastModified=LATER)


@dataclass
class Sleeps:
    """The transport's sleep, recorded instead of slept (retries and Retry-After stay visible)."""

    calls: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def roster_client(
    server: FakeServer,
    version: OneRosterVersion,
    *,
    page_size: int = 10,
    timeout: float = 2.0,
    sleeps: Sleeps | None = None,
) -> OneRosterClient:
    """1.2 over OAuth 2 client credentials, 1.1 over OAuth 1.0a HMAC-SHA256, as districts configure them."""
    fake = server.fake
    authenticator: OAuth1Signature | OAuth2ClientCredentials
    if version is OneRosterVersion.V1P2:
        authenticator = OAuth2ClientCredentials(
            token_url=f"{server.base_url}/token",
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            scopes=fake.scopes,
        )
        path = ROSTERING_PATH_V1P2
    else:
        authenticator = OAuth1Signature(fake.client_id, fake.client_secret, SignatureMethod.HMAC_SHA256)
        path = ROSTERING_PATH_V1P1
    transport = Transport(
        session=new_session(),
        authenticator=authenticator,
        timeout=timeout,
        retry=RetryPolicy(max_retries=6),
        sleep=sleeps or Sleeps(),
        rng=random.Random(1),
    )
    return OneRosterClient(transport, OneRosterEndpoint(version, server.base_url + path, page_size=page_size))


@contextmanager
def running_fake(quirks: Quirks | None = None, *, students: int = STUDENTS) -> Iterator[FakeServer]:
    """The calendar district on a fake SIS on loopback."""
    fake = FakeOneRoster(quirks=quirks or Quirks())
    seed_calendar_district(fake, students=students)
    with FakeServer(fake) as server:
        yield server


def add_connection(session: Session, name: str = "district-x", version: str = "1.2") -> SisConnection:
    """An SIS connection row (the pull only needs its id, name and org)."""
    connection = SisConnection(
        name=name,
        profile="generic-1.2" if version == "1.2" else "generic-1.1",
        base_url="http://127.0.0.1/district-x/api",
        version=ModelVersion(version),
        auth=SisAuth.OAUTH2 if version == "1.2" else SisAuth.OAUTH1,
        client_id="district-client",
        secret_encrypted=b"unused in these tests",
        scopes="",
        settings={},
    )
    session.add(connection)
    session.flush()
    return connection


def _sid(value: Any) -> str | None:
    return value.get("sourcedId") if isinstance(value, dict) else None


def _kept_username(user: dict[str, Any], users: list[dict[str, Any]]) -> str | None:
    """A username, case-folded; one several users share stays with the first of them only."""
    name = (user.get("username") or "").casefold() or None
    first = next(u for u in users if (u.get("username") or "").casefold() == name) if name else None
    return name if first is user else None


def expected_state(
    fake: FakeOneRoster, *, deleted_inactive: Collection[tuple[str, str]] = ()
) -> dict[str, Any]:
    """What the database must hold after pulling the fake, read straight from the fake's 1.2 records.

    Every value tuple ends with `is_active`.

    `deleted_inactive` lists (collection, sourcedId) hard-deleted from the fake after an earlier pull: a
    full pull keeps those rows, inactive; records never pulled while active are absent.
    """
    data = fake.data

    def active(r: dict[str, Any]) -> bool:
        return r["status"] == "active"

    state: dict[str, Any] = {
        "orgs": {
            r["sourcedId"]: (r["name"], r["type"], _sid(r.get("parent")), active(r)) for r in data["orgs"]
        },
        "sessions": {
            r["sourcedId"]: (
                r["title"],
                SESSION_TYPES[r["type"]],
                r["startDate"],
                r["endDate"],
                _sid(r.get("parent")),
                active(r),
            )
            for r in data["academicSessions"]
        },
        "courses": {
            r["sourcedId"]: (r.get("courseCode"), r["title"], _sid(r.get("org")), active(r))
            for r in data["courses"]
        },
        "classes": {
            r["sourcedId"]: (
                _sid(r["course"]),
                _sid(r["school"]),
                r["title"],
                r.get("classCode"),
                tuple(sorted(_sid(t) or "" for t in r["terms"])),
                active(r),
            )
            for r in data["classes"]
        },
        "people": {
            r["sourcedId"]: (
                r["givenName"],
                r["familyName"],
                r.get("email"),
                _kept_username(r, data["users"]),
                active(r),
            )
            for r in data["users"]
        },
        "enrollments": {
            r["sourcedId"]: (
                _sid(r["class"]),
                _sid(r["user"]),
                ROLES[r["role"]],
                r.get("beginDate"),
                r.get("endDate"),
                active(r),
            )
            for r in data["enrollments"]
        },
    }
    for collection, sourced_id in deleted_inactive:
        state[collection][sourced_id] = (*state[collection][sourced_id][:-1], False)
    return state


def database_state(session: Session, connection: SisConnection) -> dict[str, Any]:
    """The same shape as `expected_state`, read from the database (rows of SIS origin only)."""
    parent_org = aliased(Org)
    orgs = {
        row.sourced_id: (row.name, row.type.value, row.parent_sid, row.is_active)
        for row in session.execute(
            select(
                Org.sourced_id, Org.name, Org.type, parent_org.sourced_id.label("parent_sid"), Org.is_active
            )
            .outerjoin(parent_org, parent_org.id == Org.parent_id)
            .where(Org.sis_connection_id == connection.id)
        )
    }
    parent_session = aliased(AcademicSession)
    sessions = {
        row.sourced_id: (
            row.title,
            row.type.value,
            row.start_date.isoformat(),
            row.end_date.isoformat(),
            row.parent_sid,
            row.is_active,
        )
        for row in session.execute(
            select(
                AcademicSession.sourced_id,
                AcademicSession.title,
                AcademicSession.type,
                AcademicSession.start_date,
                AcademicSession.end_date,
                parent_session.sourced_id.label("parent_sid"),
                AcademicSession.is_active,
            )
            .outerjoin(parent_session, parent_session.id == AcademicSession.parent_id)
            .where(AcademicSession.sourced_id.is_not(None))
        )
    }
    courses = {
        row.sourced_id: (row.code, row.title, row.org_sid, row.is_active)
        for row in session.execute(
            select(
                Course.sourced_id,
                Course.code,
                Course.title,
                Org.sourced_id.label("org_sid"),
                Course.is_active,
            )
            .join(Org, Org.id == Course.org_id)
            .where(Course.sourced_id.is_not(None))
        )
    }
    terms: dict[int, list[str]] = {}
    for class_id, sourced_id in session.execute(
        select(ClassSession.class_id, AcademicSession.sourced_id).join(
            AcademicSession, AcademicSession.id == ClassSession.academic_session_id
        )
    ):
        terms.setdefault(class_id, []).append(sourced_id or "")
    classes = {
        row.sourced_id: (
            row.course_sid,
            row.school_sid,
            row.title,
            row.section_code,
            tuple(sorted(terms.get(row.id, []))),
            row.is_active,
        )
        for row in session.execute(
            select(
                SchoolClass.id,
                SchoolClass.sourced_id,
                Course.sourced_id.label("course_sid"),
                Org.sourced_id.label("school_sid"),
                SchoolClass.title,
                SchoolClass.section_code,
                SchoolClass.is_active,
            )
            .join(Course, Course.id == SchoolClass.course_id)
            .join(Org, Org.id == SchoolClass.org_id)
            .where(SchoolClass.sourced_id.is_not(None))
        )
    }
    usernames = {
        person_id: value
        for person_id, value in session.execute(
            select(PersonIdentifier.person_id, PersonIdentifier.value).where(
                PersonIdentifier.source == IdentifierSource.SIS,
                PersonIdentifier.system == connection.name + "#username",
            )
        )
    }
    people = {
        row.value: (row.given_name, row.family_name, row.email, usernames.get(row.id), row.is_active)
        for row in session.execute(
            select(
                PersonIdentifier.value,
                Person.id,
                Person.given_name,
                Person.family_name,
                Person.email,
                Person.is_active,
            )
            .join(Person, Person.id == PersonIdentifier.person_id)
            .where(
                PersonIdentifier.source == IdentifierSource.SIS, PersonIdentifier.system == connection.name
            )
        )
    }
    person_sid = aliased(PersonIdentifier)
    enrollments = {
        row.sourced_id: (
            row.class_sid,
            row.user_sid,
            row.role.value,
            row.begin_date.isoformat() if row.begin_date else None,
            row.end_date.isoformat() if row.end_date else None,
            row.is_active,
        )
        for row in session.execute(
            select(
                Enrollment.sourced_id,
                SchoolClass.sourced_id.label("class_sid"),
                person_sid.value.label("user_sid"),
                Enrollment.role,
                Enrollment.is_active,
                Enrollment.begin_date,
                Enrollment.end_date,
            )
            .join(SchoolClass, SchoolClass.id == Enrollment.class_id)
            .join(
                person_sid,
                (person_sid.person_id == Enrollment.person_id)
                & (person_sid.source == IdentifierSource.SIS)
                & (person_sid.system == connection.name),
            )
            .where(Enrollment.sourced_id.is_not(None))
        )
    }
    return {
        "orgs": orgs,
        "sessions": sessions,
        "courses": courses,
        "classes": classes,
        "people": people,
        "enrollments": enrollments,
    }


def demographics_state(session: Session, connection: SisConnection) -> dict[str, dict[str, Any]]:
    """sourcedId -> stored demographic data."""
    return {
        value: data
        for value, data in session.execute(
            select(PersonIdentifier.value, Demographic.data)
            .join(Demographic, Demographic.person_id == PersonIdentifier.person_id)
            .where(
                PersonIdentifier.source == IdentifierSource.SIS, PersonIdentifier.system == connection.name
            )
        )
    }


_CSV_COLUMNS = {
    "orgs": ("sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId",
             lambda r: [r["name"], r["type"], r.get("identifier") or "", _sid(r.get("parent")) or ""]),
    "academicSessions": ("sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear",
                         lambda r: [r["title"], r["type"], r["startDate"], r["endDate"],
                                    _sid(r.get("parent")) or "", r.get("schoolYear") or ""]),
    "courses": ("sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes",
                lambda r: ["", r["title"], r.get("courseCode") or "", "", _sid(r.get("org")) or "", "", ""]),
    "classes": ("sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods",
                lambda r: [r["title"], "", _sid(r["course"]) or "", r.get("classCode") or "", r.get("classType") or "",
                           "", _sid(r["school"]) or "", ",".join(_sid(t) or "" for t in r["terms"]), "", "", ""]),
    "users": ("sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password",
              lambda r: [r["enabledUser"], ",".join(_sid(x["org"]) or "" for x in r["roles"]), r["roles"][0]["role"],
                         r.get("username") or "", "", r["givenName"], r["familyName"], "", "", r.get("email") or "",
                         "", "", "", "", ""]),
    "enrollments": ("sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate",
                    lambda r: [_sid(r["class"]) or "", _sid(r["school"]) or "", _sid(r["user"]) or "", r["role"],
                               r.get("primary") or "", r.get("beginDate") or "", r.get("endDate") or ""]),
}  # fmt: skip


def roster_zip(fake: FakeOneRoster) -> bytes:
    """The fake's district as a OneRoster 1.1 CSV bulk package (manifest.csv plus one file per collection)."""
    files: dict[str, str] = {}
    for collection, (header, cells) in _CSV_COLUMNS.items():
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(header.split(","))
        for item in fake.data.get(collection, []):
            writer.writerow([item["sourcedId"], item["status"], item["dateLastModified"], *cells(item)])
        files[f"{collection}.csv"] = out.getvalue()
    manifest = ["propertyName,value", "manifest.version,1.0", "oneroster.version,1.1"]
    manifest += [f"file.{name.removesuffix('.csv')},bulk" for name in sorted(files)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.csv", "\r\n".join(manifest) + "\r\n")
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()
