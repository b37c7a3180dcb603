"""Generate a small, realistic demo district, deterministically from a seed.

The district is plain data (frozen dataclasses): one high school, a school year split into
semesters and quarters, 8 courses with credits, levels and NCAA flags, a CASE-style competency
framework, classes with teachers, 120 students and their evidence histories. The histories
deliberately include improvers, decliners, steady, mastering and sparse students, because those
are the cases where averaging and mastery grading disagree.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

# A fixed namespace so CASE identifiers are stable UUIDs across runs (uuid5 of the code).
CASE_NAMESPACE = uuid.UUID("6f1c1a4e-54b7-4b8e-9a59-3f0d2f6b9c11")

FIRST_NAMES = (
    "Ava", "Liam", "Maya", "Noah", "Zoe", "Ethan", "Isla", "Mateo", "Nora", "Elijah", "Amara", "Kai",
    "Layla", "Omar", "Priya", "Lucas", "Sofia", "Jamal", "Hana", "Diego", "Grace", "Yusuf", "Chloe",
    "Wei", "Aaliyah", "Finn", "Leila", "Santiago", "Mei", "Caleb",
)  # fmt: skip
LAST_NAMES = (
    "Nguyen", "Garcia", "Okafor", "Smith", "Haddad", "Kowalski", "Patel", "Johnson", "Silva", "Kim",
    "Begay", "Murphy", "Tanaka", "Hernandez", "Osei", "Larsen", "Cohen", "Rossi", "Mwangi", "Baker",
)  # fmt: skip


class Profile(StrEnum):
    """How a demo student's evidence moves over the year."""

    IMPROVER = "improver"
    DECLINER = "decliner"
    STEADY = "steady"
    MASTERING = "mastering"
    SPARSE = "sparse"


@dataclass(frozen=True, slots=True)
class DemoSession:
    """A school year, semester, quarter or final grading period."""

    sourced_id: str
    title: str
    type: str  # school_year | semester | grading_period
    start: date
    end: date
    parent: str | None
    is_credit_bearing: bool = False


@dataclass(frozen=True, slots=True)
class DemoCourse:
    """A course with what GPA and NCAA calculations need."""

    code: str
    title: str
    subject: str
    credits: Decimal
    level: str
    is_ncaa_core: bool
    ncaa_area: str | None
    period_ids: tuple[str, ...]  # grading periods in order; the last is credit-bearing


@dataclass(frozen=True, slots=True)
class DemoItem:
    """One node of the CASE-style competency framework."""

    code: str
    parent_code: str | None
    kind: str  # graduation_competency | content_competency | performance_indicator
    statement: str
    case_identifier: str


@dataclass(frozen=True, slots=True)
class DemoPerson:
    """A student or teacher."""

    sourced_id: str
    given_name: str
    family_name: str
    email: str
    role: str  # student | teacher
    profile: Profile | None = None


@dataclass(frozen=True, slots=True)
class DemoClass:
    """A section of a course."""

    sourced_id: str
    course_code: str
    title: str
    teacher_id: str
    student_ids: tuple[str, ...]
    indicator_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DemoTask:
    """A demonstration opportunity."""

    task_id: str
    class_id: str
    title: str
    assigned_on: date
    kind: str  # formative | summative
    indicator_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DemoEvidence:
    """One scored demonstration."""

    student_id: str
    class_id: str
    course_code: str
    indicator_code: str
    task_id: str
    score: Decimal
    demonstrated_on: date
    kind: str
    assessor_id: str


@dataclass(frozen=True, slots=True)
class DemoDistrict:
    """Everything in the demo district."""

    district_name: str
    school_name: str
    school_id: str
    sessions: tuple[DemoSession, ...]
    courses: tuple[DemoCourse, ...]
    framework_title: str
    framework_identifier: str
    items: tuple[DemoItem, ...]
    teachers: tuple[DemoPerson, ...]
    students: tuple[DemoPerson, ...]
    classes: tuple[DemoClass, ...]
    tasks: tuple[DemoTask, ...]
    evidence: tuple[DemoEvidence, ...]


SCHOOL_YEAR = DemoSession("SY2026", "2026-27", "school_year", date(2026, 8, 24), date(2027, 6, 11), None)
SESSIONS = (
    SCHOOL_YEAR,
    DemoSession("S1", "Semester 1", "semester", date(2026, 8, 24), date(2027, 1, 15), "SY2026"),
    DemoSession("S2", "Semester 2", "semester", date(2027, 1, 19), date(2027, 6, 11), "SY2026", True),
    DemoSession("Q1", "Quarter 1", "grading_period", date(2026, 8, 24), date(2026, 10, 30), "S1"),
    DemoSession("Q2", "Quarter 2", "grading_period", date(2026, 11, 2), date(2027, 1, 15), "S1"),
    DemoSession("Q3", "Quarter 3", "grading_period", date(2027, 1, 19), date(2027, 3, 26), "S2"),
    DemoSession("Q4", "Quarter 4", "grading_period", date(2027, 3, 29), date(2027, 6, 11), "S2"),
    DemoSession("Y1", "Final (year)", "grading_period", date(2026, 8, 24), date(2027, 6, 11), "SY2026", True),
)
YEAR_PERIODS = ("Q1", "Q2", "Q3", "Q4", "Y1")
SPRING_PERIODS = ("Q3", "Q4", "S2")

COURSES = (
    DemoCourse("ENG10", "English 10", "english", Decimal("1.0"), "standard", True, "english", YEAR_PERIODS),
    DemoCourse("APLANG", "AP English Language", "english", Decimal("1.0"), "ap", True, "english", YEAR_PERIODS),
    DemoCourse("ALG2", "Algebra II", "math", Decimal("1.0"), "standard", True, "math", YEAR_PERIODS),
    DemoCourse("PRECALCH", "Honors Precalculus", "math", Decimal("1.0"), "honors", True, "math", YEAR_PERIODS),
    DemoCourse("BIO", "Biology", "science", Decimal("1.0"), "standard", True, "science", YEAR_PERIODS),
    DemoCourse("APUSH", "AP U.S. History", "social_science", Decimal("1.0"), "ap", True, "social_science",
               YEAR_PERIODS),
    DemoCourse("GOV", "U.S. Government", "social_science", Decimal("0.5"), "standard", True, "social_science",
               SPRING_PERIODS),
    DemoCourse("ART", "Studio Art", "arts", Decimal("1.0"), "standard", False, None, YEAR_PERIODS),
)  # fmt: skip

GRADUATION_COMPETENCIES = (
    ("GC.1", "Communicate ideas clearly and effectively for a range of audiences and purposes."),
    ("GC.2", "Use evidence and logic to construct and critique arguments."),
    ("GC.3", "Investigate questions and solve problems with appropriate tools and strategies."),
    ("GC.4", "Create original work and reflect on its quality."),
)
# subject -> (content competency code, statement, graduation competency, indicators [(code, statement)])
CONTENT = {
    "english": (
        "ELA.1",
        "Read, analyse and write about complex texts.",
        "GC.1",
        (
            ("ELA.1.1", "I can cite strong textual evidence to support an analysis."),
            ("ELA.1.2", "I can determine a central idea and trace its development."),
            ("ELA.1.3", "I can write an argument with a precise claim and counterclaims."),
            ("ELA.1.4", "I can use precise language and a formal style appropriate to the task."),
            ("ELA.1.5", "I can present findings so listeners can follow the reasoning."),
        ),
    ),
    "math": (
        "MTH.1",
        "Reason abstractly and model the world with functions.",
        "GC.3",
        (
            ("MTH.1.1", "I can solve equations and inequalities and justify each step."),
            ("MTH.1.2", "I can interpret functions in context using graphs, tables and symbols."),
            ("MTH.1.3", "I can build a function that models a relationship between two quantities."),
            ("MTH.1.4", "I can construct a viable argument and critique the reasoning of others."),
            ("MTH.1.5", "I can choose and use appropriate tools strategically."),
        ),
    ),
    "science": (
        "SCI.1",
        "Investigate living systems through models and evidence.",
        "GC.3",
        (
            ("SCI.1.1", "I can develop and use a model to explain a system."),
            ("SCI.1.2", "I can plan and carry out an investigation."),
            ("SCI.1.3", "I can analyse and interpret data to find patterns."),
            ("SCI.1.4", "I can construct an explanation from evidence."),
            ("SCI.1.5", "I can engage in argument from evidence."),
        ),
    ),
    "social_science": (
        "SOC.1",
        "Explain change over time and take informed civic action.",
        "GC.2",
        (
            ("SOC.1.1", "I can evaluate sources and use evidence to support claims."),
            ("SOC.1.2", "I can explain causes and effects of historical events."),
            ("SOC.1.3", "I can compare perspectives on a civic issue."),
            ("SOC.1.4", "I can communicate conclusions about a public question."),
        ),
    ),
    "arts": (
        "ART.1",
        "Create, present and respond to works of art.",
        "GC.4",
        (
            ("ART.1.1", "I can generate and develop artistic ideas."),
            ("ART.1.2", "I can refine my work through critique and revision."),
            ("ART.1.3", "I can present work and explain my artistic choices."),
        ),
    ),
}
TASK_TITLES = {
    "english": ("Close reading", "Argument essay", "Socratic seminar", "Literary analysis", "Research brief"),
    "math": ("Modeling task", "Problem set", "Function portfolio", "Exit check", "Performance task"),
    "science": (
        "Lab investigation",
        "Model building",
        "Data analysis",
        "Claim-evidence-reasoning",
        "Field study",
    ),
    "social_science": ("Document analysis", "DBQ essay", "Civic debate", "Source evaluation", "Policy brief"),
    "arts": ("Sketchbook review", "Studio piece", "Critique", "Exhibition prep", "Artist statement"),
}


def case_identifier(code: str) -> str:
    """A stable CASE-style UUID for a framework item code."""
    return str(uuid.uuid5(CASE_NAMESPACE, code))


def build_framework() -> tuple[DemoItem, ...]:
    """The district framework: graduation competencies -> content competencies -> indicators."""
    items = [DemoItem(code, None, "graduation_competency", text, case_identifier(code))
             for code, text in GRADUATION_COMPETENCIES]  # fmt: skip
    for cc_code, cc_text, gc_code, indicators in CONTENT.values():
        items.append(DemoItem(cc_code, gc_code, "content_competency", cc_text, case_identifier(cc_code)))
        items.extend(
            DemoItem(code, cc_code, "performance_indicator", text, case_identifier(code))
            for code, text in indicators
        )
    return tuple(items)


def _trajectory(profile: Profile, rng: random.Random) -> tuple[float, float]:
    """Start and end level (1-4 scale) for a student profile."""
    if profile is Profile.IMPROVER:
        return rng.uniform(1.0, 1.8), rng.uniform(3.3, 4.0)
    if profile is Profile.DECLINER:
        return rng.uniform(3.3, 4.0), rng.uniform(1.0, 2.0)
    if profile is Profile.MASTERING:
        return rng.uniform(3.5, 4.0), rng.uniform(3.6, 4.0)
    return (level := rng.uniform(2.3, 3.3)), level + rng.uniform(-0.3, 0.3)


def _score(level: float, rng: random.Random) -> Decimal:
    """A rubric level from 1 to 4, in whole levels with an occasional half."""
    noisy = level + rng.gauss(0, 0.35)
    step = 0.5 if rng.random() < 0.15 else 1.0
    snapped = round(noisy / step) * step
    return Decimal(str(min(4.0, max(1.0, snapped))))


def _school_days(start: date, end: date, count: int, rng: random.Random) -> list[date]:
    """`count` weekdays spread across [start, end], sorted."""
    span = (end - start).days
    days = []
    for index in range(count):
        offset = int(span * (index + rng.uniform(0.15, 0.85)) / count)
        day = start + timedelta(days=offset)
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        days.append(max(day, start))
    return sorted(days)


def generate_district(seed: int = 2026, student_count: int = 120) -> DemoDistrict:
    """Build the demo district; the same seed always gives the same district."""
    rng = random.Random(seed)
    items = build_framework()
    profiles = [Profile.IMPROVER, Profile.DECLINER, Profile.STEADY, Profile.STEADY, Profile.MASTERING,
                Profile.IMPROVER, Profile.STEADY, Profile.SPARSE]  # fmt: skip
    students = []
    for index in range(student_count):
        given = FIRST_NAMES[index % len(FIRST_NAMES)]
        family = LAST_NAMES[(index * 7 + index // len(FIRST_NAMES)) % len(LAST_NAMES)]
        sourced_id = f"STU{index + 1:04d}"
        students.append(
            DemoPerson(sourced_id, given, family, f"{given}.{family}.{index + 1}@students.riverbend.example".lower(),
                       "student", profiles[index % len(profiles)])
        )  # fmt: skip
    teachers = tuple(
        DemoPerson(f"TCH{index + 1:03d}", given, family, f"{given}.{family}@riverbend.example".lower(), "teacher")
        for index, (given, family) in enumerate(
            [("Dana", "Whitfield"), ("Marcus", "Bell"), ("Rosa", "Delgado"), ("Helen", "Park"),
             ("Tom", "Okonkwo"), ("Ines", "Moreau"), ("Sam", "Reyes"), ("Priya", "Shah")]
        )
    )  # fmt: skip
    sessions = {session.sourced_id: session for session in SESSIONS}
    indicators_by_subject = {subject: tuple(code for code, _ in spec[3]) for subject, spec in CONTENT.items()}
    # Course load: one English, one math, Biology, APUSH, Government (spring) and Art.
    classes: list[DemoClass] = []
    tasks: list[DemoTask] = []
    evidence: list[DemoEvidence] = []
    rosters: dict[str, list[str]] = {course.code: [] for course in COURSES}
    for index, student in enumerate(students):
        rosters["APLANG" if index % 3 == 0 else "ENG10"].append(student.sourced_id)
        rosters["PRECALCH" if index % 4 == 0 else "ALG2"].append(student.sourced_id)
        for code in ("BIO", "APUSH", "GOV", "ART"):
            rosters[code].append(student.sourced_id)
    profile_of = {student.sourced_id: student.profile or Profile.STEADY for student in students}
    for course_index, course in enumerate(COURSES):
        roster = rosters[course.code]
        sections = max(1, round(len(roster) / 32))
        codes = indicators_by_subject[course.subject]
        first, last = sessions[course.period_ids[0]], sessions[course.period_ids[-1]]
        for section in range(sections):
            class_id = f"{course.code}-{section + 1}"
            members = tuple(roster[section::sections])
            teacher = teachers[course_index % len(teachers)]
            classes.append(DemoClass(class_id, course.code, f"{course.title} ({section + 1})", teacher.sourced_id,
                                     members, codes))  # fmt: skip
            task_count = 14 if course.credits >= 1 else 8
            for task_index, day in enumerate(_school_days(first.start, last.end, task_count, rng)):
                aligned = tuple(sorted(rng.sample(codes, k=min(len(codes), rng.choice((1, 2, 2, 3))))))
                kind = "formative" if task_index % 4 == 1 else "summative"
                titles = TASK_TITLES[course.subject]
                title = f"{titles[task_index % len(titles)]} {task_index // len(titles) + 1}"
                tasks.append(
                    DemoTask(f"{class_id}-T{task_index + 1:02d}", class_id, title, day, kind, aligned)
                )
        course_tasks = [task for task in tasks if task.class_id.startswith(course.code + "-")]
        year_span = (last.end - first.start).days or 1
        for demo_class in (c for c in classes if c.course_code == course.code):
            for student_id in demo_class.student_ids:
                profile = profile_of[student_id]
                student_rng = random.Random(f"{seed}:{student_id}:{course.code}")
                start_level, end_level = _trajectory(profile, student_rng)
                for task in (t for t in course_tasks if t.class_id == demo_class.sourced_id):
                    if profile is Profile.SPARSE and student_rng.random() < 0.8:
                        continue  # sparse students miss most demonstrations
                    if student_rng.random() < 0.05:
                        continue  # absent: not yet demonstrated, never a zero
                    progress = (task.assigned_on - first.start).days / year_span
                    level = start_level + (end_level - start_level) * progress
                    shown_on = task.assigned_on + timedelta(days=student_rng.choice((0, 0, 1, 2)))
                    for code in task.indicator_codes:
                        evidence.append(
                            DemoEvidence(student_id, demo_class.sourced_id, course.code, code, task.task_id,
                                         _score(level, student_rng), shown_on, task.kind, demo_class.teacher_id)
                        )  # fmt: skip
    return DemoDistrict(
        district_name="Riverbend Unified School District",
        school_name="Riverbend High School",
        school_id="RHS",
        sessions=SESSIONS,
        courses=COURSES,
        framework_title="Riverbend Graduation Competencies",
        framework_identifier=case_identifier("FRAMEWORK"),
        items=items,
        teachers=teachers,
        students=tuple(students),
        classes=tuple(classes),
        tasks=tuple(tasks),
        evidence=tuple(evidence),
    )
