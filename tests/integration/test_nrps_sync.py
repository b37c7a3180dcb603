"""NRPS roster sync against the loopback demo platform: real tokens signed with the tool's stored key."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from connectors.errors import ConnectorResponseError
from connectors.lms import (
    FakeMembershipSource,
    Member,
    PlatformCredentials,
    TokenClient,
    Transport,
    new_session,
)
from lti_tool.demo.platform import DemoContext, PlatformConfig, PlatformServer, build_demo_roster
from lti_tool.keys import current_signing_key, published_jwks
from lti_tool.lti.roster_sync import (
    LIS_SYSTEM,
    RosterSyncError,
    forget_roster_syncs,
    sync_roster,
    sync_roster_if_stale,
)
from lti_tool.lti.services import credentials_for, nrps_client
from lti_tool.models import (
    Course,
    Enrollment,
    EnrollmentRole,
    IdentifierSource,
    LtiContext,
    LtiRegistration,
    Org,
    OrgType,
    Person,
    PersonIdentifier,
    RegistrationSource,
    RegistrationStatus,
    SchoolClass,
)

SECRET_KEY = "test-secret-key"
NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
TOOL = "http://tool.invalid"
CONTEXT_ID = "course-9"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


@dataclass
class LoopbackLms:
    """The demo platform on loopback plus the tool's rows for it: registration, class and context."""

    server: PlatformServer
    registration: LtiRegistration
    school_class: SchoolClass
    lti_context: LtiContext
    credentials: PlatformCredentials

    @property
    def memberships_url(self) -> str:
        return self.server.config.url(f"/platform/api/contexts/{CONTEXT_ID}/memberships")

    @property
    def line_items_url(self) -> str:
        return self.server.config.url(f"/platform/api/contexts/{CONTEXT_ID}/lineitems")

    def fresh_tokens(self) -> TokenClient:
        """A token client of its own, so a test can count the token requests it causes."""
        return TokenClient(Transport(session=new_session()))


@contextmanager
def loopback_lms(session: Session, *, student_count: int, now: datetime = NOW) -> Iterator[LoopbackLms]:
    """Start the demo platform trusting the tool's published JWKS and register it in the tool's database."""
    current_signing_key(session, SECRET_KEY, now=now)  # creates the tool's key when there is none
    jwks = published_jwks(session, now=now)

    def config(base: str) -> PlatformConfig:
        return PlatformConfig(
            issuer=base,
            client_id="demo-client",
            deployment_id="dep-1",
            tool_login_url=f"{TOOL}/lti/login",
            tool_redirect_urls=(f"{TOOL}/lti/launch",),
            tool_jwks=jwks,
            context=DemoContext(id=CONTEXT_ID, label="HIST-9", title="History 9"),
            users=build_demo_roster(student_count=student_count),
        )

    with PlatformServer(config) as server:
        registration = LtiRegistration(
            issuer=server.config.issuer,
            client_id="demo-client",
            name="Demo LMS",
            auth_login_url=server.config.url("/platform/authorize"),
            auth_token_url=server.config.token_url,
            key_set_url=server.config.url("/platform/jwks"),
            status=RegistrationStatus.ACTIVE,
            source=RegistrationSource.CLI,
        )
        org = Org(name="Demo School", type=OrgType.SCHOOL)
        session.add_all([registration, org])
        session.flush()
        course = Course(org_id=org.id, code="HIST-9", title="History 9", credits=Decimal(1))
        session.add(course)
        session.flush()
        school_class = SchoolClass(course_id=course.id, org_id=org.id, title="History 9")
        session.add(school_class)
        session.flush()
        lti_context = LtiContext(
            registration_id=registration.id,
            context_id=CONTEXT_ID,
            class_id=school_class.id,
            title="History 9",
        )
        session.add(lti_context)
        session.flush()
        credentials = credentials_for(session, registration, SECRET_KEY, now=now)
        yield LoopbackLms(server, registration, school_class, lti_context, credentials)


@contextmanager
def count_statements(session: Session) -> Iterator[list[str]]:
    """Collect the SQL statements run on the session's connection."""
    statements: list[str] = []
    engine = session.get_bind()

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture(autouse=True)
def _forget_syncs() -> Iterator[None]:
    forget_roster_syncs()
    yield
    forget_roster_syncs()


def active_enrollments(session: Session, class_id: int) -> dict[str, EnrollmentRole]:
    rows = session.execute(
        select(PersonIdentifier.value, Enrollment.role)
        .join(Enrollment, Enrollment.person_id == PersonIdentifier.person_id)
        .where(
            Enrollment.class_id == class_id,
            Enrollment.is_active.is_(True),
            PersonIdentifier.source == IdentifierSource.LTI,
        )
    )
    return {value: role for value, role in rows}


def test_sync_of_300_members_then_one_removed(db_session: Session) -> None:
    with loopback_lms(db_session, student_count=300) as lms:
        client = nrps_client(lms.credentials, tokens=lms.fresh_tokens())
        with count_statements(db_session) as statements:
            started = time.perf_counter()
            first = sync_roster(db_session, lms.lti_context, lms.memberships_url, source=client, now=NOW)
            elapsed = time.perf_counter() - started
        print(f"NRPS sync of 302 members: {elapsed * 1000:.0f} ms, {len(statements)} SQL statements")

        assert (first.members, first.created, first.updated, first.deactivated, first.unchanged) == (
            302,
            302,
            0,
            0,
            0,
        )
        # Not N+1: a constant handful of queries whatever the class size. (Inserts are batched on
        # PostgreSQL; SQLite has no ordered multi-row RETURNING, so SQLAlchemy inserts row by row there.)
        assert sum(statement.lstrip().upper().startswith("SELECT") for statement in statements) < 10
        enrolled = active_enrollments(db_session, lms.school_class.id)
        assert len(enrolled) == 302
        assert enrolled["demo-teacher-001"] is EnrollmentRole.TEACHER
        assert enrolled["demo-student-0001"] is EnrollmentRole.STUDENT
        assert sum(role is EnrollmentRole.STUDENT for role in enrolled.values()) == 300

        person = db_session.scalars(
            select(Person)
            .join(PersonIdentifier)
            .where(
                PersonIdentifier.source == IdentifierSource.LTI,
                PersonIdentifier.system == lms.registration.issuer,
                PersonIdentifier.value == "demo-student-0007",
            )
        ).one()
        assert (person.given_name, person.family_name, person.email) == (
            "Student",
            "S0007",
            "student0007@example.edu",
        )
        sourced = db_session.scalars(
            select(PersonIdentifier).where(
                PersonIdentifier.source == IdentifierSource.SIS, PersonIdentifier.person_id == person.id
            )
        ).one()
        assert (sourced.system, sourced.value) == (LIS_SYSTEM, "stu-0007")

        again = sync_roster(db_session, lms.lti_context, lms.memberships_url, source=client, now=NOW)
        assert (again.created, again.updated, again.deactivated, again.unchanged) == (0, 0, 0, 302)

        platform = lms.server.platform
        platform.config = dataclasses.replace(
            platform.config, users=tuple(u for u in platform.config.users if u.user_id != "demo-student-0150")
        )
        removed = sync_roster(db_session, lms.lti_context, lms.memberships_url, source=client, now=NOW)
        assert (removed.members, removed.deactivated, removed.unchanged) == (301, 1, 301)
        enrolled = active_enrollments(db_session, lms.school_class.id)
        assert len(enrolled) == 301
        assert "demo-student-0150" not in enrolled
        # Never deleted: the person and the (inactive) enrollment are still there.
        assert db_session.scalar(select(func.count()).select_from(Enrollment)) == 302
        assert (
            db_session.scalar(
                select(func.count()).where(
                    PersonIdentifier.source == IdentifierSource.LTI,
                    PersonIdentifier.value == "demo-student-0150",
                )
            )
            == 1
        )


def test_roles_status_and_optional_fields(db_session: Session) -> None:
    with loopback_lms(db_session, student_count=1) as lms:
        url = lms.memberships_url
        members = [
            Member("u-teacher", roles=("Instructor",), status="Active", given_name="Ada", family_name="L"),
            Member("u-ta", roles=("TeachingAssistant",)),
            Member("u-dev", roles=("ContentDeveloper",)),
            Member("u-learner", roles=("Learner",), name="Only Display", lis_person_sourcedid="sis-9"),
            Member("u-gone", roles=(LEARNER,), status="Inactive"),
            Member(
                "u-admin", roles=("http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",)
            ),
        ]
        source = FakeMembershipSource({url: members})
        result = sync_roster(db_session, lms.lti_context, url, source=source, now=NOW)
        assert (result.members, result.created, result.deactivated) == (6, 6, 0)
        assert active_enrollments(db_session, lms.school_class.id) == {
            "u-teacher": EnrollmentRole.TEACHER,
            "u-ta": EnrollmentRole.TEACHING_ASSISTANT,
            "u-dev": EnrollmentRole.CONTENT_DEVELOPER,
            "u-learner": EnrollmentRole.STUDENT,
        }
        learner = db_session.scalars(
            select(Person).join(PersonIdentifier).where(PersonIdentifier.value == "u-learner")
        ).one()
        assert learner.given_name == "Only Display"

        # The learner becomes a teacher, loses their display name claim (kept), and u-gone comes back.
        source.members_by_url[url] = [
            Member("u-teacher", roles=(INSTRUCTOR,), given_name="Ada", family_name="L"),
            Member("u-learner", roles=(INSTRUCTOR,), lis_person_sourcedid="sis-9"),
            Member("u-gone", roles=(LEARNER,), status="Active", email="gone@example.edu"),
        ]
        result = sync_roster(db_session, lms.lti_context, url, source=source, now=NOW)
        # u-ta and u-dev are absent, u-learner's student enrollment gives way to a teacher one.
        assert (result.created, result.updated, result.deactivated, result.unchanged) == (2, 0, 3, 1)
        assert active_enrollments(db_session, lms.school_class.id) == {
            "u-teacher": EnrollmentRole.TEACHER,
            "u-learner": EnrollmentRole.TEACHER,
            "u-gone": EnrollmentRole.STUDENT,
        }
        db_session.refresh(learner)
        assert learner.given_name == "Only Display"


def test_debounce_skips_recent_syncs(db_session: Session) -> None:
    with loopback_lms(db_session, student_count=3) as lms:
        client = nrps_client(lms.credentials, tokens=lms.fresh_tokens())
        url = lms.memberships_url
        first = sync_roster_if_stale(db_session, lms.lti_context, url, source=client, now=NOW)
        assert first is not None
        assert first.created == 5
        soon = sync_roster_if_stale(
            db_session, lms.lti_context, url, source=client, now=NOW + timedelta(minutes=9)
        )
        assert soon is None
        later = sync_roster_if_stale(
            db_session, lms.lti_context, url, source=client, now=NOW + timedelta(minutes=10)
        )
        assert later is not None
        assert later.unchanged == 5
        forced = sync_roster_if_stale(
            db_session,
            lms.lti_context,
            url,
            source=client,
            now=NOW + timedelta(minutes=11),
            min_interval=timedelta(0),
        )
        assert forced is not None


def test_failed_sync_does_not_hold_the_debounce_slot(db_session: Session) -> None:
    with loopback_lms(db_session, student_count=1) as lms:
        empty = FakeMembershipSource()
        with pytest.raises(ConnectorResponseError, match="unknown memberships URL"):
            sync_roster_if_stale(db_session, lms.lti_context, lms.memberships_url, source=empty, now=NOW)
        source = FakeMembershipSource({lms.memberships_url: [Member("u-1", roles=(LEARNER,))]})
        result = sync_roster_if_stale(
            db_session, lms.lti_context, lms.memberships_url, source=source, now=NOW
        )
        assert result is not None


def test_context_without_class_is_refused(db_session: Session) -> None:
    with loopback_lms(db_session, student_count=1) as lms:
        orphan = LtiContext(registration_id=lms.registration.id, context_id="no-class")
        db_session.add(orphan)
        db_session.flush()
        with pytest.raises(RosterSyncError, match="not linked to a class"):
            sync_roster(db_session, orphan, lms.memberships_url, source=FakeMembershipSource(), now=NOW)
