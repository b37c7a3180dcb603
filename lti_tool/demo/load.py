"""Load the generated demo district into the database (once; a second load changes nothing).

The district's people carry SIS ids under the demo SIS connection's name (`demo`), the system a sync
from that connection files them under, so `mastery-bridge sis sync demo` updates these rows instead of
adding a second copy. `register_demo_sis` adds that connection (pointing at the fake SIS `make demo` runs).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from lti_tool.demo.district import DemoDistrict
from lti_tool.models import (
    AcademicSession,
    AssessmentKind,
    ClassIndicator,
    ClassSession,
    CompetencyItem,
    CompetencyKind,
    Course,
    CourseLevel,
    Enrollment,
    EnrollmentRole,
    Evidence,
    EvidenceSource,
    Framework,
    FrameworkSource,
    Habit,
    HabitScore,
    IdentifierSource,
    NcaaArea,
    Org,
    OrgType,
    Person,
    PersonIdentifier,
    ProficiencyLevel,
    ProficiencyScale,
    SchoolClass,
    ScoreStatus,
    SessionType,
    SisConnection,
    Task,
    TaskIndicator,
)
from lti_tool.policies import DEFAULT_POLICY_NAME, shipped_policy_document, store_policy
from lti_tool.settings import Settings

DEMO_SIS_CONNECTION = "demo"
DEMO_SIS_HOST = "127.0.0.1"
DEMO_SIS_PORT = 5002
DEMO_SIS_PROFILE = "generic-1.2"
DISTRICT_SOURCED_ID = "RUSD"
# PersonIdentifier.system of SIS ids is the connection's name (lti_tool.sis.upsert files them so).
SIS_SYSTEM = DEMO_SIS_CONNECTION
# What databases loaded before the demo had an SIS connection used; `register_demo_sis` renames it.
_OLD_SIS_SYSTEM = "demo-sis"
DEFAULT_LEVELS = (
    (Decimal(1), "Emerging", "Beginning to show the skill with support.", "I can do parts of this with help."),
    (Decimal(2), "Developing", "Shows the simpler parts of the skill on my own.", "I can do the simpler parts on my own."),
    (Decimal(3), "Proficient", "Shows the full skill independently.", "I can do this on my own, accurately."),
    (Decimal(4), "Exemplary", "Applies the skill in new, complex situations.", "I can use this in new and complex situations."),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class LoadSummary:
    """What a demo load created."""

    school_id: int
    students: int
    classes: int
    evidence: int
    was_loaded_before: bool


def _at_school(day: object) -> datetime:
    """Demonstrations happen at 10:00 UTC on their day (the demo has no clock times)."""
    return datetime.combine(day, time(10, 0), tzinfo=UTC)  # type: ignore[arg-type]


def load_district(session: Session, district: DemoDistrict) -> LoadSummary:
    """Insert the district; if its school is already present, return a summary and change nothing."""
    existing = session.scalar(select(Org).where(Org.sourced_id == district.school_id))
    if existing is not None:
        return LoadSummary(existing.id, 0, 0, 0, was_loaded_before=True)
    district_org = Org(sourced_id=DISTRICT_SOURCED_ID, name=district.district_name, type=OrgType.DISTRICT)
    session.add(district_org)
    session.flush()
    school = Org(sourced_id=district.school_id, name=district.school_name, type=OrgType.SCHOOL,
                 parent_id=district_org.id)  # fmt: skip
    session.add(school)
    session.flush()
    policy = store_policy(
        session, shipped_policy_document(DEFAULT_POLICY_NAME), org_id=school.id, source=DEFAULT_POLICY_NAME
    )
    scale = ProficiencyScale(org_id=school.id, name="Riverbend 1-4", is_default=True)
    scale.levels = [
        ProficiencyLevel(value=value, label=label, descriptor=descriptor, i_can=i_can, is_mastery=value >= 3,
                         sequence=index)
        for index, (value, label, descriptor, i_can) in enumerate(DEFAULT_LEVELS)
    ]  # fmt: skip
    session.add(scale)
    session.flush()
    school.default_policy_id = policy.id
    school.default_scale_id = scale.id

    sessions: dict[str, AcademicSession] = {}
    for item in district.sessions:
        session_row = AcademicSession(
            sourced_id=item.sourced_id, org_id=school.id, title=item.title, type=SessionType(item.type),
            parent_id=sessions[item.parent].id if item.parent else None, start_date=item.start,
            end_date=item.end, is_credit_bearing=item.is_credit_bearing,
        )  # fmt: skip
        session.add(session_row)
        session.flush()
        sessions[item.sourced_id] = session_row

    framework = Framework(title=district.framework_title, case_identifier=district.framework_identifier,
                          source=FrameworkSource.CASE, version="2026", org_id=school.id)  # fmt: skip
    session.add(framework)
    session.flush()
    items: dict[str, CompetencyItem] = {}
    for index, node in enumerate(district.items):
        item_row = CompetencyItem(
            framework_id=framework.id, parent_id=items[node.parent_code].id if node.parent_code else None,
            kind=CompetencyKind(node.kind), code=node.code, statement=node.statement,
            case_identifier=node.case_identifier, sequence=index,
        )  # fmt: skip
        session.add(item_row)
        session.flush()
        items[node.code] = item_row

    courses: dict[str, tuple[Course, tuple[str, ...]]] = {}
    for course in district.courses:
        course_row_ = Course(
            org_id=school.id, code=course.code, title=course.title, credits=course.credits, subject=course.subject,
            level=CourseLevel(course.level), is_ncaa_core=course.is_ncaa_core,
            ncaa_area=NcaaArea(course.ncaa_area) if course.ncaa_area else None, sourced_id=f"CRS-{course.code}",
        )  # fmt: skip
        session.add(course_row_)
        courses[course.code] = (course_row_, course.period_ids)
    session.flush()

    people: dict[str, Person] = {}
    for person in (*district.teachers, *district.students):
        person_row = Person(given_name=person.given_name, family_name=person.family_name, email=person.email)
        person_row.identifiers = [
            PersonIdentifier(source=IdentifierSource.SIS, system=SIS_SYSTEM, value=person.sourced_id),
            PersonIdentifier(source=IdentifierSource.EMAIL, system="", value=person.email),
        ]
        session.add(person_row)
        people[person.sourced_id] = person_row
    session.flush()

    classes: dict[str, SchoolClass] = {}
    for demo_class in district.classes:
        course_row, period_ids = courses[demo_class.course_code]
        class_row = SchoolClass(course_id=course_row.id, org_id=school.id, title=demo_class.title,
                          section_code=demo_class.sourced_id.rsplit("-", 1)[-1], sourced_id=demo_class.sourced_id)  # fmt: skip
        session.add(class_row)
        session.flush()
        classes[demo_class.sourced_id] = class_row
        linked = {"SY2026", *period_ids}
        session.add_all(
            ClassSession(class_id=class_row.id, academic_session_id=sessions[sid].id)
            for sid in sorted(linked)
        )
        session.add_all(
            ClassIndicator(class_id=class_row.id, indicator_id=items[code].id)
            for code in demo_class.indicator_codes
        )
        session.add(Enrollment(class_id=class_row.id, person_id=people[demo_class.teacher_id].id, role=EnrollmentRole.TEACHER,
                               sourced_id=f"ENR-{demo_class.sourced_id}-{demo_class.teacher_id}"))  # fmt: skip
        session.add_all(
            Enrollment(class_id=class_row.id, person_id=people[sid].id, role=EnrollmentRole.STUDENT,
                       sourced_id=f"ENR-{demo_class.sourced_id}-{sid}")
            for sid in demo_class.student_ids
        )  # fmt: skip
    session.flush()

    tasks: dict[str, Task] = {}
    for task in district.tasks:
        task_row = Task(class_id=classes[task.class_id].id, title=task.title, assigned_on=task.assigned_on,
                   kind=AssessmentKind(task.kind))  # fmt: skip
        session.add(task_row)
        tasks[task.task_id] = task_row
    session.flush()
    session.execute(
        insert(TaskIndicator),
        [{"task_id": tasks[t.task_id].id, "indicator_id": items[code].id} for t in district.tasks for code in t.indicator_codes],
    )  # fmt: skip
    session.execute(
        insert(Evidence),
        [
            {
                "student_id": people[e.student_id].id, "class_id": classes[e.class_id].id,
                "indicator_id": items[e.indicator_code].id, "task_id": tasks[e.task_id].id,
                "score_status": ScoreStatus.SCORED, "level_value": e.score,
                "demonstrated_at": _at_school(e.demonstrated_on), "recorded_at": _at_school(e.demonstrated_on),
                "assessor_id": people[e.assessor_id].id, "kind": AssessmentKind(e.kind), "source": EvidenceSource.DEMO,
            }
            for e in district.evidence
        ],
    )  # fmt: skip
    session.execute(insert(HabitScore), list(_demo_habits(district, people, classes)))
    return LoadSummary(school.id, len(district.students), len(classes), len(district.evidence), False)


def demo_sis_base_url(host: str = DEMO_SIS_HOST, port: int = DEMO_SIS_PORT) -> str:
    """Where the demo SIS answers: its origin plus the fake's vendor prefix."""
    from lti_tool.demo.sis import PREFIX

    return f"http://{host}:{port}{PREFIX}"


def register_demo_sis(
    session: Session, *, secret_key: Settings | str, base_url: str | None = None
) -> tuple[SisConnection, bool]:
    """Add the `demo` SIS connection (OneRoster 1.2, OAuth 2) for the demo SIS; (connection, was_created).

    Idempotent: an existing `demo` connection is left as it is. SIS ids filed under the old system name
    are moved to the connection's, so a sync updates them.
    """
    from lti_tool.demo.sis import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
    from lti_tool.sis.connection import create_connection

    session.execute(
        update(PersonIdentifier)
        .where(PersonIdentifier.source == IdentifierSource.SIS, PersonIdentifier.system == _OLD_SIS_SYSTEM)
        .values(system=SIS_SYSTEM)
    )
    existing = session.scalar(select(SisConnection).where(SisConnection.name == DEMO_SIS_CONNECTION))
    if existing is not None:
        return existing, False
    url = base_url or demo_sis_base_url()
    district = session.scalar(select(Org.sourced_id).where(Org.sourced_id == DISTRICT_SOURCED_ID))
    connection = create_connection(
        session,
        name=DEMO_SIS_CONNECTION,
        profile=DEMO_SIS_PROFILE,
        base_url=url,
        version="1.2",
        auth="oauth2",
        client_id=DEMO_CLIENT_ID,
        secret=DEMO_CLIENT_SECRET,
        secret_key=secret_key,
        settings={"token_url": f"{url}/token"},
        org=district,
        actor="demo",
    )
    return connection, True


HABIT_DAYS = (date(2026, 9, 18), date(2026, 10, 23), date(2026, 11, 20), date(2027, 2, 12), date(2027, 4, 30))


def _demo_habits(
    district: DemoDistrict, people: dict[str, Person], classes: dict[str, SchoolClass]
) -> Iterator[dict[str, object]]:
    """A few habits-of-work observations per student and class (1-4), reported beside the grade."""
    for demo_class in district.classes:
        rng = random.Random(f"habits:{demo_class.sourced_id}")  # noqa: S311 - reproducible demo data
        teacher = people[demo_class.teacher_id].id
        for student_id in demo_class.student_ids:
            base = rng.choice((2, 3, 3, 4))
            for day in HABIT_DAYS:
                for habit in (Habit.PREPAREDNESS, Habit.ENGAGEMENT, Habit.COLLABORATION):
                    value = min(4, max(1, base + rng.choice((-1, 0, 0, 0, 1))))
                    yield {
                        "student_id": people[student_id].id, "class_id": classes[demo_class.sourced_id].id,
                        "habit": habit, "value": Decimal(value), "observed_on": day,
                        "recorded_by_id": teacher, "recorded_at": _at_school(day),
                    }  # fmt: skip
