"""Identity matching: LMS people and contexts (from LTI) linked to SIS users and classes (from the pull).

lis sourcedids first, then email or username (case-insensitive), else a review; merges keep append-only
evidence where it is and move everything else; reviews are resolved (merge or dismiss) with an audit trail.
The last tests run real LTI launches from the demo platform and a real pull from the fake SIS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.oneroster import OneRosterVersion
from lti_tool.demo.platform import PlatformServer
from lti_tool.models import (
    AssessmentKind,
    AuditLog,
    ClassSession,
    CompetencyItem,
    CompetencyKind,
    Course,
    Enrollment,
    EnrollmentRole,
    Evidence,
    EvidenceSource,
    Framework,
    FrameworkSource,
    IdentifierSource,
    IdentityKind,
    IdentityReview,
    LtiContext,
    LtiRegistration,
    Org,
    OrgType,
    Person,
    PersonIdentifier,
    RegistrationSource,
    RegistrationStatus,
    SchoolClass,
    ScoreStatus,
    SisConnection,
    SyncRun,
    SyncStatus,
    Task,
)
from lti_tool.sis.identity import (
    IdentityError,
    match_classes,
    match_people,
    open_reviews,
    resolve_review,
)
from lti_tool.sis.roster_pull import sync_roster
from lti_tool.web.session import app_state
from tests.integration.launch_harness import LTI, STUDENT, Harness, build_app, start_platform
from tests.support.oneroster_fake import FakeOneRoster, FakeServer
from tests.support.sis_roster import (
    add_connection,
    database_state,
    expected_state,
    record,
    roster_client,
    running_fake,
)

ISSUER = "https://lms.example"
OTHER_ISSUER = "https://other-lms.example"
T1 = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)


@dataclass
class Lms:
    """The LMS side of a school, as launches and NRPS sync leave it: people, contexts, classes, evidence."""

    session: Session
    registrations: dict[str, LtiRegistration]
    indicator_id: int

    def person(
        self, sub: str, *, email: str | None = None, lis: str | None = None, issuer: str = ISSUER
    ) -> Person:
        person = Person(given_name="Lms", family_name=f"Account {sub}", email=email)
        person.identifiers.append(PersonIdentifier(source=IdentifierSource.LTI, system=issuer, value=sub))
        if lis is not None:
            person.identifiers.append(PersonIdentifier(source=IdentifierSource.SIS, system="lis", value=lis))
        self.session.add(person)
        self.session.flush()
        return person

    def context(self, context_id: str, *, section: str | None = None, with_class: bool = True) -> LtiContext:
        registration = self.registrations[ISSUER]
        class_id = None
        if with_class:
            org = self.session.scalar(
                select(Org).where(Org.sourced_id == f"lti-registration-{registration.id}")
            )
            if org is None:
                org = Org(sourced_id=f"lti-registration-{registration.id}", name="LMS", type=OrgType.SCHOOL)
                self.session.add(org)
                self.session.flush()
            course = Course(org_id=org.id, code=context_id, title=context_id, credits=Decimal("0"))
            self.session.add(course)
            self.session.flush()
            school_class = SchoolClass(course_id=course.id, org_id=org.id, title=f"LMS {context_id}")
            self.session.add(school_class)
            self.session.flush()
            class_id = school_class.id
        context = LtiContext(
            registration_id=registration.id,
            context_id=context_id,
            class_id=class_id,
            course_section_sourcedid=section,
        )
        self.session.add(context)
        self.session.flush()
        return context

    def evidence(self, student: Person, class_id: int, *, assessor: Person | None = None) -> Evidence:
        evidence = Evidence(
            student_id=student.id,
            class_id=class_id,
            indicator_id=self.indicator_id,
            score_status=ScoreStatus.SCORED,
            level_value=Decimal("3.00"),
            demonstrated_at=T1,
            kind=AssessmentKind.SUMMATIVE,
            source=EvidenceSource.LTI,
            assessor_id=assessor.id if assessor else None,
        )
        self.session.add(evidence)
        self.session.flush()
        return evidence

    def enroll(
        self, person: Person, class_id: int, role: EnrollmentRole = EnrollmentRole.STUDENT
    ) -> Enrollment:
        enrollment = Enrollment(class_id=class_id, person_id=person.id, role=role, is_active=True)
        self.session.add(enrollment)
        self.session.flush()
        return enrollment


@pytest.fixture
def lms(db_session: Session) -> Lms:
    registrations = {}
    for issuer in (ISSUER, OTHER_ISSUER):
        registration = LtiRegistration(
            issuer=issuer,
            client_id="tool",
            name=issuer,
            auth_login_url=f"{issuer}/auth",
            auth_token_url=f"{issuer}/token",
            key_set_url=f"{issuer}/jwks",
            status=RegistrationStatus.ACTIVE,
            source=RegistrationSource.CLI,
        )
        db_session.add(registration)
        registrations[issuer] = registration
    framework = Framework(title="Math", source=FrameworkSource.MANUAL)
    db_session.add(framework)
    db_session.flush()
    indicator = CompetencyItem(
        framework_id=framework.id,
        kind=CompetencyKind.PERFORMANCE_INDICATOR,
        code="M.1",
        statement="Solve linear equations",
    )
    db_session.add(indicator)
    db_session.flush()
    return Lms(db_session, registrations, indicator.id)


@pytest.fixture
def sis(db_session: Session) -> Iterator[tuple[FakeServer, SisConnection]]:
    """The calendar district, pulled (without matching) into the database."""
    with running_fake() as server:
        fake = server.fake
        record(fake, "users", "s-03")["username"] = "Ada.S3@District.Example"
        record(fake, "users", "s-04")["email"] = "family@example.edu"
        record(fake, "users", "s-05")["email"] = "Family@Example.edu"
        for twin in ("s-11", "s-12"):  # a data error: two users with one username
            record(fake, "users", twin)["username"] = "twin@district.example"
        connection = add_connection(db_session)
        run = sync_roster(
            db_session,
            connection,
            roster_client(server, OneRosterVersion.V1P2),
            full=True,
            now=T1,
            match_identities=False,
        )
        assert run.status is SyncStatus.SUCCEEDED, run.errors
        yield server, connection


def sis_person(session: Session, connection: SisConnection, sourced_id: str) -> Person:
    return session.scalars(
        select(Person)
        .join(PersonIdentifier)
        .where(
            PersonIdentifier.source == IdentifierSource.SIS,
            PersonIdentifier.system == connection.name,
            PersonIdentifier.value == sourced_id,
        )
    ).one()


def sis_class(session: Session, sourced_id: str) -> SchoolClass:
    return session.scalars(select(SchoolClass).where(SchoolClass.sourced_id == sourced_id)).one()


def identifiers(session: Session, person_id: int) -> set[tuple[str, str, str]]:
    return {
        (row.source.value, row.system, row.value)
        for row in session.scalars(select(PersonIdentifier).where(PersonIdentifier.person_id == person_id))
    }


def audit(session: Session, action: str) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def assert_no_personal_data(fake: FakeOneRoster, value: Any) -> None:
    text = json.dumps(value, default=str)
    for user in fake.data["users"]:
        for field in ("givenName", "familyName", "email"):
            assert str(user[field]) not in text, field


def test_the_lis_sourcedid_merges_the_people_and_the_evidence_stays_put(
    db_session: Session, lms: Lms, sis: tuple[FakeServer, SisConnection]
) -> None:
    server, connection = sis
    context = lms.context("ctx-1")
    assert context.class_id is not None
    student = lms.person("lms-1", lis="s-01", email="someone@lms.example")
    lms.enroll(student, context.class_id)
    evidence = lms.evidence(student, context.class_id)
    sis_row = sis_person(db_session, connection, "s-01")
    sis_id, lms_id = sis_row.id, student.id

    report = match_people(db_session, connection)

    assert (report.newly_matched, report.matched, report.unmatched, report.reviews_opened) == (1, 1, 0, 0)
    merged = sis_person(db_session, connection, "s-01")
    assert merged.id == lms_id  # the person evidence points at survives
    assert db_session.get(Person, sis_id) is None
    assert identifiers(db_session, lms_id) == {
        ("lti", ISSUER, "lms-1"), ("sis", "lis", "s-01"), ("sis", connection.name, "s-01"),
        ("sis", connection.name + "#username", "s-01"),
    }  # fmt: skip
    assert (merged.given_name, merged.family_name, merged.email) == (
        "Student1",
        "O'Brien",
        "s-01@example.edu",
    )
    db_session.refresh(evidence)
    assert evidence.student_id == lms_id
    classes = {row.school_class.sourced_id for row in db_session.scalars(
        select(Enrollment).where(Enrollment.person_id == lms_id))}  # fmt: skip
    assert classes == {"class-2", None}  # the SIS enrollment moved over; the LMS one stays
    (entry,) = audit(db_session, "identity.merge_person")
    assert entry.entity_id == str(lms_id)
    assert entry.detail["evidence"] == "lis"
    assert entry.detail["merged_person_id"] == sis_id
    assert_no_personal_data(server.fake, entry.detail)
    # A pull after the merge finds its people where it left them.
    again = sync_roster(
        db_session,
        connection,
        roster_client(server, OneRosterVersion.V1P2),
        full=True,
        now=datetime(2026, 1, 16, tzinfo=UTC),
        match_identities=False,
    )
    assert again.counts["users"]["unchanged"] == len(server.fake.data["users"])
    assert database_state(db_session, connection) == expected_state(server.fake)


def test_an_email_matches_case_insensitively_and_the_lms_rows_move_to_the_sis_person(
    db_session: Session, lms: Lms, sis: tuple[FakeServer, SisConnection]
) -> None:
    _, connection = sis
    context = lms.context("ctx-1")
    assert context.class_id is not None
    teacher = lms.person("lms-t", email="T-1@Example.EDU")
    lms.enroll(teacher, context.class_id, EnrollmentRole.TEACHER)
    task = Task(
        class_id=context.class_id,
        title="Unit 1",
        kind=AssessmentKind.SUMMATIVE,
        created_by_id=teacher.id,
        assigned_on=date(2025, 9, 1),
    )
    db_session.add(task)
    db_session.flush()
    sis_id, lms_id = sis_person(db_session, connection, "t-1").id, teacher.id

    report = match_people(db_session, connection)

    assert report.newly_matched == 1
    assert db_session.get(Person, lms_id) is None  # no evidence: the SIS row survives
    assert ("lti", ISSUER, "lms-t") in identifiers(db_session, sis_id)
    db_session.refresh(task)
    assert task.created_by_id == sis_id
    (entry,) = audit(db_session, "identity.merge_person")
    assert entry.detail["evidence"] == "email"


def test_a_sis_username_matches_the_lms_email(
    db_session: Session, lms: Lms, sis: tuple[FakeServer, SisConnection]
) -> None:
    _, connection = sis
    account = lms.person("lms-3", email="ada.s3@district.example")
    account_id = account.id
    report = match_people(db_session, connection)
    assert report.newly_matched == 1
    assert ("lti", ISSUER, "lms-3") in identifiers(db_session, sis_person(db_session, connection, "s-03").id)
    assert db_session.get(Person, account_id) is None


def test_two_candidates_open_one_review_and_never_a_guess(
    db_session: Session, lms: Lms, sis: tuple[FakeServer, SisConnection]
) -> None:
    server, connection = sis
    account = lms.person("lms-sib", email="FAMILY@example.edu")  # siblings share a family email in the SIS

    report = match_people(db_session, connection)

    assert (report.newly_matched, report.unmatched, report.reviews_opened, report.reviews_open) == (
        0,
        1,
        1,
        1,
    )
    (review,) = open_reviews(db_session, connection)
    assert (review.kind, review.source, review.system, review.external_value) == (
        IdentityKind.PERSON,
        IdentifierSource.LTI,
        ISSUER,
        "lms-sib",
    )
    assert review.candidate_person_id is None
    assert review.reason == "its email matches several SIS users: 's-04', 's-05'"
    assert_no_personal_data(server.fake, review.reason)
    assert identifiers(db_session, account.id) == {("lti", ISSUER, "lms-sib")}  # untouched
    again = match_people(db_session, connection)
    assert (again.reviews_opened, again.reviews_open) == (0, 1)


def test_a_username_two_sis_users_share_is_never_matched_on(
    db_session: Session, lms: Lms, sis: tuple[FakeServer, SisConnection]
) -> None:
    server, connection = sis
    (run,) = db_session.scalars(select(SyncRun)).all()
    assert {
        "collection": "users",
        "sourced_id": "s-12",
        "message": "username is shared with another SIS user; it is not used for identity matching",
    } in run.warnings
    assert_no_personal_data(server.fake, run.warnings)
    lms.person("lms-twin", email="Twin@District.example")

    assert match_people(db_session, connection).newly_matched == 0
    (review,) = open_reviews(db_session, connection)
    assert review.reason == "its email is a username several SIS users share"


def test_evidence_that_disagrees_is_a_review_with_the_lis_candidate(
    db_session: Session, lms: Lms, sis: tuple[FakeServer, SisConnection]
) -> None:
    _, connection = sis
    lms.person("lms-6", lis="s-06", email="s-07@example.edu")
    match_people(db_session, connection)
    (review,) = open_reviews(db_session, connection)
    assert review.candidate_person_id == sis_person(db_session, connection, "s-06").id
    assert (
        review.reason
        == "its lis person_sourcedid names SIS user 's-06' but its email matches SIS user 's-07'"
    )


def test_a_review_is_resolved_by_merging_with_the_chosen_person_and_audited(
    db_session: Session, lms: Lms, sis: tuple[FakeServer, SisConnection]
) -> None:
    server, connection = sis
    account_id = lms.person("lms-x", email="nobody@lms.example").id
    match_people(db_session, connection)
    (review,) = open_reviews(db_session, connection)
    assert review.reason == "no SIS user has its lis person_sourcedid, username or email"
    target = sis_person(db_session, connection, "s-08").id

    resolved = resolve_review(db_session, review.id, person_id=target, actor="it-admin@district")

    assert resolved.resolved_by == "it-admin@district"
    assert resolved.resolved_person_id == target
    assert ("lti", ISSUER, "lms-x") in identifiers(db_session, target)
    assert db_session.get(Person, account_id) is None
    (entry,) = audit(db_session, "identity.resolve_review")
    assert entry.detail == {"kind": "person", "person_id": target, "dismissed": False}
    (merge,) = audit(db_session, "identity.merge_person")
    assert merge.actor == "it-admin@district"
    assert merge.detail["evidence"] == "review"
    assert_no_personal_data(server.fake, [entry.detail, merge.detail])
    assert open_reviews(db_session, connection) == []
    with pytest.raises(IdentityError, match="already resolved"):
        resolve_review(db_session, review.id, person_id=target, actor="it-admin@district")
    with pytest.raises(IdentityError, match="no identity review 999999"):
        resolve_review(db_session, 999_999, actor="it-admin@district")


def test_a_dismissed_review_is_not_opened_again(
    db_session: Session, lms: Lms, sis: tuple[FakeServer, SisConnection]
) -> None:
    _, connection = sis
    lms.person("lms-guest", email="guest@lms.example")
    match_people(db_session, connection)
    (review,) = open_reviews(db_session, connection)
    with pytest.raises(IdentityError, match="about a person"):
        resolve_review(db_session, review.id, class_id=1, actor="it")
    resolve_review(db_session, review.id, actor="it")
    assert match_people(db_session, connection).reviews_opened == 0
    assert open_reviews(db_session, connection) == []
    assert len(db_session.scalars(select(IdentityReview)).all()) == 1


def test_a_sis_user_already_linked_on_the_same_platform_is_a_review(
    db_session: Session, lms: Lms, sis: tuple[FakeServer, SisConnection]
) -> None:
    _, connection = sis
    lms.person("lms-9", lis="s-09")
    assert match_people(db_session, connection).newly_matched == 1
    lms.person("lms-9-again", email="s-09@example.edu")
    match_people(db_session, connection)
    (review,) = open_reviews(db_session, connection)
    assert review.reason == "SIS user 's-09' is already linked to another account of the same platform"
    # The same student's account on another platform is a second way in, not a conflict.
    lms.person("other-9", email="S-09@example.edu", issuer=OTHER_ISSUER)
    assert match_people(db_session, connection).newly_matched == 1


def test_two_people_who_both_hold_evidence_cannot_be_merged(
    db_session: Session, lms: Lms, sis: tuple[FakeServer, SisConnection]
) -> None:
    _, connection = sis
    context = lms.context("ctx-1")
    assert context.class_id is not None
    first = lms.person("lms-10", lis="s-10")
    lms.evidence(first, context.class_id)
    assert match_people(db_session, connection).newly_matched == 1
    second = lms.person("other-10", email="s-10@example.edu", issuer=OTHER_ISSUER)
    lms.evidence(second, context.class_id)

    assert match_people(db_session, connection).newly_matched == 0
    (review,) = open_reviews(db_session, connection)
    assert "both have recorded evidence, which is append-only" in review.reason
    with pytest.raises(IdentityError, match="append-only"):
        resolve_review(db_session, review.id, person_id=first.id, actor="it")
    assert open_reviews(db_session, connection) == [review]


def test_the_course_section_sourcedid_links_the_context_and_merges_the_lms_class(
    db_session: Session, lms: Lms, sis: tuple[FakeServer, SisConnection]
) -> None:
    server, connection = sis
    context = lms.context("ctx-alg-1", section="class-1")
    lms_class_id = context.class_id
    assert lms_class_id is not None
    student = lms.person("lms-2", lis="s-02")
    lms.enroll(student, lms_class_id)
    evidence = lms.evidence(student, lms_class_id)
    task = Task(class_id=lms_class_id, title="Quiz", kind=AssessmentKind.FORMATIVE)
    db_session.add(task)
    db_session.flush()
    match_people(db_session, connection)
    sis_class_id = sis_class(db_session, "class-1").id

    report = match_classes(db_session, connection)

    assert (report.newly_matched, report.matched, report.unmatched) == (1, 1, 0)
    db_session.refresh(context)
    merged = sis_class(db_session, "class-1")
    assert context.class_id == merged.id == lms_class_id  # the class with evidence survives...
    assert db_session.get(SchoolClass, sis_class_id) is None
    assert merged.course.sourced_id == "course-alg"  # ...and takes the SIS identity
    assert (merged.title, merged.section_code) == ("Algebra I - P1", "ALG1-1")
    terms = set(
        db_session.scalars(select(ClassSession.academic_session_id).where(ClassSession.class_id == merged.id))
    )
    assert len(terms) == 3
    db_session.refresh(evidence)
    db_session.refresh(task)
    assert (evidence.class_id, task.class_id) == (merged.id, merged.id)
    enrolled = db_session.scalars(select(Enrollment).where(Enrollment.class_id == merged.id)).all()
    assert len({e.person_id for e in enrolled}) == len(enrolled)  # the student's LMS and SIS rows became one
    assert all(e.sourced_id for e in enrolled)
    (entry,) = audit(db_session, "identity.merge_class")
    assert entry.detail["evidence"] == "course_section_sourcedid"
    again = sync_roster(
        db_session,
        connection,
        roster_client(server, OneRosterVersion.V1P2),
        full=True,
        now=datetime(2026, 1, 16, tzinfo=UTC),
        match_identities=False,
    )
    assert again.counts["classes"]["unchanged"] == 2
    assert again.counts["enrollments"]["unchanged"] == len(server.fake.data["enrollments"])
    assert database_state(db_session, connection) == expected_state(server.fake)


def test_a_context_without_a_section_is_reviewed_and_resolved_to_a_class(
    db_session: Session, lms: Lms, sis: tuple[FakeServer, SisConnection]
) -> None:
    _, connection = sis
    context = lms.context("ctx-geo")
    bare = lms.context("ctx-new", section="class-2", with_class=False)

    report = match_classes(db_session, connection)

    assert (report.newly_matched, report.unmatched, report.reviews_opened) == (1, 1, 1)
    db_session.refresh(bare)
    assert bare.class_id == sis_class(db_session, "class-2").id  # no LMS class yet: simply linked
    (review,) = open_reviews(db_session, connection)
    assert (review.kind, review.lti_context_id) == (IdentityKind.CLASS, context.id)
    assert review.reason == "the LMS sent no lis course_section_sourcedid for this context"
    with pytest.raises(IdentityError, match="about a class"):
        resolve_review(db_session, review.id, person_id=1, actor="it")
    resolve_review(db_session, review.id, class_id=sis_class(db_session, "class-1").id, actor="it")
    db_session.refresh(context)
    assert context.class_id == sis_class(db_session, "class-1").id


def test_a_pull_with_matching_reports_the_identity_counts(db_session: Session, lms: Lms) -> None:
    lms.person("lms-1", lis="s-01")
    lms.person("lms-guest", email="guest@lms.example")
    lms.context("ctx-alg-2", section="class-2")
    with running_fake() as server:
        connection = add_connection(db_session)
        run = sync_roster(
            db_session, connection, roster_client(server, OneRosterVersion.V1P2), full=True, now=T1
        )
    identity = run.counts["identity"]
    assert identity["people"]["newly_matched"] == 1
    assert identity["people"]["unmatched"] == 1
    assert identity["people"]["reviews_open"] == 1
    assert identity["classes"] == {"matched": 1, "unmatched": 0, "newly_matched": 1, "reviews_opened": 0,
                                   "reviews_open": 0, "sis_unlinked": 1}  # fmt: skip


# -- real launches from the demo platform, a real pull from the fake SIS ------------------------------------


def lms_district(fake: FakeOneRoster) -> None:
    """A district whose sourcedIds are the demo platform's lis values (students stu-0001.., context demo-course-1)."""
    base = {"status": "active", "dateLastModified": "2026-01-10T08:00:00.000Z"}

    def ref(kind: str, sourced_id: str) -> dict[str, str]:
        return {"href": f"https://sis.example/{kind}/{sourced_id}", "sourcedId": sourced_id, "type": kind}

    fake.add("orgs", {**base, "sourcedId": "dist", "name": "District", "type": "district"})
    fake.add(
        "orgs",
        {**base, "sourcedId": "school", "name": "School", "type": "school", "parent": ref("org", "dist")},
    )
    fake.add(
        "academicSessions",
        {
            **base,
            "sourcedId": "q1",
            "title": "Q1",
            "type": "gradingPeriod",
            "startDate": "2025-08-20",
            "endDate": "2025-10-31",
            "schoolYear": "2026",
        },
    )
    fake.add(
        "courses",
        {
            **base,
            "sourcedId": "math7",
            "title": "Math 7",
            "courseCode": "MATH-7",
            "org": ref("org", "school"),
        },
    )
    for section in ("demo-course-1", "sec-2"):
        fake.add(
            "classes",
            {
                **base,
                "sourcedId": section,
                "title": f"Math 7 {section}",
                "classCode": section,
                "course": ref("course", "math7"),
                "school": ref("org", "school"),
                "terms": [ref("academicSession", "q1")],
            },
        )
    people = [("teacher", "tch-001", "teacher001@example.edu")] + [
        ("student", f"stu-{n:04d}", f"student{n:04d}@example.edu") for n in (1, 2, 3)
    ]
    for role, sourced_id, email in people:
        fake.add(
            "users",
            {
                **base,
                "sourcedId": sourced_id,
                "enabledUser": "true",
                "givenName": "Sis",
                "familyName": sourced_id.upper(),
                "username": sourced_id,
                "email": email,
                "roles": [{"roleType": "primary", "role": role, "org": ref("org", "school")}],
            },
        )
        fake.add(
            "enrollments",
            {
                **base,
                "sourcedId": f"enr-{sourced_id}",
                "role": role,
                "user": ref("user", sourced_id),
                "class": ref("class", "demo-course-1"),
                "school": ref("org", "school"),
            },
        )


@pytest.fixture(scope="module")
def platform() -> Iterator[PlatformServer]:
    running = start_platform()
    yield running
    running.stop()


@pytest.fixture
def app(empty_database_url: str, tmp_path: Path) -> Iterator[Flask]:
    yield from build_app(empty_database_url, tmp_path)


@pytest.fixture
def harness(app: Flask, platform: PlatformServer) -> Iterator[Harness]:
    running = Harness(app, platform)
    running.register()
    yield running
    running.close()


def test_launches_keep_the_lis_ids_and_the_next_pull_matches_the_launching_people(harness: Harness) -> None:
    first = harness.launch(harness.authorize(harness.initiate(STUDENT)))
    assert first.status_code == 303
    factory = app_state(harness.app).session_factory
    with factory() as session:
        context = session.scalars(select(LtiContext)).one()
        assert context.course_section_sourcedid == "demo-course-1"
        (lis,) = session.scalars(select(PersonIdentifier).where(PersonIdentifier.system == "lis")).all()
        assert lis.value == "stu-0001"
        launched_person = lis.person_id
        lms_class = context.class_id

    fake = FakeOneRoster()
    lms_district(fake)
    with FakeServer(fake) as server, factory() as session:
        connection = add_connection(session, name="district")
        run = sync_roster(
            session, connection, roster_client(server, OneRosterVersion.V1P2), full=True, now=T1
        )
        session.commit()
    assert run.counts["identity"]["people"]["newly_matched"] == 1
    assert run.counts["identity"]["classes"]["newly_matched"] == 1

    second = harness.launch(harness.authorize(harness.initiate(STUDENT)))
    assert second.status_code == 303
    with factory() as session:
        context = session.scalars(select(LtiContext)).one()
        school_class = session.get(SchoolClass, context.class_id)
        assert school_class is not None
        assert school_class.sourced_id == "demo-course-1"
        assert context.class_id != lms_class  # no evidence yet: the SIS class survived the merge
        student = session.scalars(
            select(Person)
            .join(PersonIdentifier)
            .where(PersonIdentifier.system == "district", PersonIdentifier.value == "stu-0001")
        ).one()
        assert ("lti", harness.server.config.issuer, STUDENT) in identifiers(session, student.id)
        assert session.get(Person, launched_person) is None  # no evidence yet: the SIS person survived
        enrolled = session.scalars(select(Enrollment).where(Enrollment.person_id == student.id)).all()
        assert [(e.sourced_id, e.is_active) for e in enrolled] == [("enr-stu-0001", True)]

    # A context's first launch lands straight in the SIS class its course_section_sourcedid names.
    login = harness.login()
    claims = {
        LTI + "context": {"id": "demo-course-2", "label": "MATH-7B", "title": "Math 7 B"},
        LTI + "lis": {"person_sourcedid": "stu-0001", "course_section_sourcedid": "sec-2"},
    }
    third = harness.launch({"id_token": harness.sign(login, claims), "state": login.state})
    assert third.status_code == 303, third.get_data(as_text=True)
    with factory() as session:
        new_context = session.scalars(
            select(LtiContext).where(LtiContext.context_id == "demo-course-2")
        ).one()
        assert (
            new_context.class_id
            == session.scalars(select(SchoolClass.id).where(SchoolClass.sourced_id == "sec-2")).one()
        )
