"""Build an `ExportDataset` for a school and a grading period from the database, in a few set-based queries.

Grades are the current posted grades (`current_posted_grades_query`: the end of each amendment chain) of
the school's classes in every period ending on or before the exported one; an amendment is flagged with its
reason. Per-indicator levels come from the posting's provenance (lti_tool.registrar.posting writes them);
a grade posted without them gets its levels from current evidence as of the period end. Students' SIS
numbers are their PersonIdentifier(source=sis) values: a synced connection's first (by name), else the
LMS-reported `lis` one. Chart series and habits are read only for the exports that show them.

Nothing here commits; it only reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from connectors.exports import (
    ExportClass,
    ExportCourse,
    ExportDataset,
    ExportGrade,
    ExportSchool,
    ExportSession,
    ExportStudent,
    IndicatorLevel,
    IndicatorSource,
    ScaleLevel,
    SessionKind,
)
from lti_tool.exports.evidence import chart_series, latest_habits, levels_from_trails, stream_trails
from lti_tool.grading import core_course
from lti_tool.lti.roster_sync import LIS_SYSTEM
from lti_tool.models import (
    AcademicSession,
    ClassIndicator,
    ClassSession,
    CompetencyItem,
    Course,
    GradingPolicy,
    IdentifierSource,
    Org,
    Person,
    PersonIdentifier,
    PostedGrade,
    PostedGradeStatus,
    ProficiencyScale,
    SchoolClass,
    current_posted_grades_query,
)
from lti_tool.policies import DEFAULT_POLICY_NAME, policy_from_row
from mappings import GradeStatus, GradingPeriod, Policy, load_shipped_policy

#: Exports that draw evidence charts and habits of work (the others never read evidence unless a grade
#: lacks its indicator levels).
NEEDS_EVIDENCE = frozenset({"report-card-pdf"})
_STANDARD_LEVELS = (
    ScaleLevel(Decimal(1), "Emerging"),
    ScaleLevel(Decimal(2), "Developing"),
    ScaleLevel(Decimal(3), "Proficient"),
    ScaleLevel(Decimal(4), "Exemplary"),
)
_STATUS = {PostedGradeStatus.GRADED: GradeStatus.GRADED,
           PostedGradeStatus.INSUFFICIENT_EVIDENCE: GradeStatus.INSUFFICIENT_EVIDENCE}  # fmt: skip


def session_key(row: AcademicSession) -> str:
    """The key of a calendar session in exports: its sourcedId, else its row id."""
    return row.sourced_id or f"session-{row.id}"


def _class_key(class_id: int, sourced_id: str | None) -> str:
    return sourced_id or f"class-{class_id}"


def _school_levels(session: Session, school: Org, policy: Policy) -> tuple[ScaleLevel, ...]:
    scale = session.get(ProficiencyScale, school.default_scale_id) if school.default_scale_id else None
    if scale is None:
        scale = session.scalar(
            select(ProficiencyScale)
            .where(ProficiencyScale.is_default.is_(True))
            .order_by(ProficiencyScale.id)
        )
    if scale is not None and scale.levels:
        return tuple(
            ScaleLevel(level.value, level.label)
            for level in sorted(scale.levels, key=lambda level: level.value)
        )
    if policy.scale.levels:
        return tuple(ScaleLevel(level.value, level.label) for level in policy.scale.levels)
    return _STANDARD_LEVELS


def _school_policy(session: Session, school: Org) -> tuple[Policy, bool]:
    row = session.get(GradingPolicy, school.default_policy_id) if school.default_policy_id else None
    if row is not None:
        return policy_from_row(row), True
    return load_shipped_policy(DEFAULT_POLICY_NAME), False


def _sessions(session: Session, school: Org) -> dict[int, ExportSession]:
    owners = [school.id] if school.parent_id is None else [school.id, school.parent_id]
    rows = session.scalars(select(AcademicSession).where(AcademicSession.org_id.in_(owners))).all()
    keys = {row.id: session_key(row) for row in rows}
    return {
        row.id: ExportSession(
            key=keys[row.id],
            title=row.title,
            kind=SessionKind(row.type.value),
            start=row.start_date,
            end=row.end_date,
            parent_key=keys.get(row.parent_id) if row.parent_id is not None else None,
            is_credit_bearing=row.is_credit_bearing,
            sourced_id=row.sourced_id,
        )
        for row in rows
    }


def _school_class_ids(school: Org) -> Select[int]:
    return select(SchoolClass.id).where(SchoolClass.org_id == school.id)


def _classes(
    session: Session, school: Org, sessions: dict[int, ExportSession]
) -> tuple[dict[int, ExportClass], dict[str, ExportCourse]]:
    terms: dict[int, ExportSession] = {}
    for class_id, session_id in session.execute(
        select(ClassSession.class_id, ClassSession.academic_session_id)
        .join(AcademicSession, AcademicSession.id == ClassSession.academic_session_id)
        .where(
            ClassSession.class_id.in_(_school_class_ids(school)), AcademicSession.is_credit_bearing.is_(True)
        )
    ):
        candidate = sessions.get(session_id)
        held = terms.get(class_id)
        if candidate is not None and (held is None or (candidate.end, candidate.key) > (held.end, held.key)):
            terms[class_id] = candidate
    classes: dict[int, ExportClass] = {}
    courses: dict[str, ExportCourse] = {}
    for school_class, course in session.execute(
        select(SchoolClass, Course)
        .join(Course, Course.id == SchoolClass.course_id)
        .where(SchoolClass.org_id == school.id)
    ):
        term = terms.get(school_class.id)
        classes[school_class.id] = ExportClass(
            key=_class_key(school_class.id, school_class.sourced_id),
            course_code=course.code,
            title=school_class.title,
            sourced_id=school_class.sourced_id,
            section_code=school_class.section_code,
            term_key=term.key if term else None,
        )
        courses.setdefault(course.code, ExportCourse(core_course(course), course.sourced_id))
    return classes, courses


def _students(session: Session, student_ids: Select[int]) -> dict[int, ExportStudent]:
    sis: dict[int, dict[str, str]] = defaultdict(dict)
    for person_id, system, value in session.execute(
        select(PersonIdentifier.person_id, PersonIdentifier.system, PersonIdentifier.value).where(
            PersonIdentifier.source == IdentifierSource.SIS, PersonIdentifier.person_id.in_(student_ids)
        )
    ):
        sis[person_id][system] = value
    students = {}
    for person_id, given, family in session.execute(
        select(Person.id, Person.given_name, Person.family_name).where(Person.id.in_(student_ids))
    ):
        known = sis.get(person_id, {})
        synced = [known[name] for name in sorted(known) if name != LIS_SYSTEM]
        number = synced[0] if synced else known.get(LIS_SYSTEM)
        students[person_id] = ExportStudent(f"person-{person_id}", given, family, number)
    return students


def _indicator_facts(
    session: Session, school: Org
) -> tuple[dict[str, tuple[str, str | None]], dict[int, str]]:
    """indicator code -> (statement, CASE identifier), and indicator id -> code, for the school's classes."""
    facts: dict[str, tuple[str, str | None]] = {}
    codes: dict[int, str] = {}
    for item_id, code, statement, case_identifier in session.execute(
        select(
            CompetencyItem.id, CompetencyItem.code, CompetencyItem.statement, CompetencyItem.case_identifier
        )
        .where(
            CompetencyItem.id.in_(
                select(ClassIndicator.indicator_id).where(
                    ClassIndicator.class_id.in_(_school_class_ids(school))
                )
            )
        )
        .order_by(CompetencyItem.id)
    ):
        facts.setdefault(code, (statement, case_identifier))
        codes[item_id] = code
    return facts, codes


def _provenance_levels(
    entries: Any, facts: dict[str, tuple[str, str | None]]
) -> tuple[IndicatorLevel, ...] | None:
    if not isinstance(entries, list):
        return None  # posted without per-indicator provenance: levels come from evidence instead
    levels = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("code"), str):
            return None
        code = entry["code"]
        raw = entry.get("proficiency")
        statement, case_identifier = facts.get(code, ("", None))
        levels.append(IndicatorLevel(code, Decimal(raw) if raw is not None else None, statement,
                                     entry.get("case_identifier") or case_identifier))  # fmt: skip
    return tuple(sorted(levels, key=lambda level: level.code))


def build_dataset(
    session: Session,
    school: Org,
    period: AcademicSession,
    *,
    kinds: Iterable[str] = (),
    progress: Callable[[str], None] | None = None,
) -> ExportDataset:
    """The dataset every export of `kinds` renders from (charts and habits only when one of them needs it)."""
    say = progress or (lambda _: None)
    wanted = set(kinds)
    policy, is_chosen = _school_policy(session, school)
    parent = session.get(Org, school.parent_id) if school.parent_id is not None else None
    export_school = ExportSchool(
        key=school.sourced_id or f"org-{school.id}",
        name=school.name,
        sourced_id=school.sourced_id,
        policy=policy,
        is_policy_chosen=is_chosen,
        levels=_school_levels(session, school, policy),
        district_name=parent.name if parent is not None else None,
    )
    sessions = _sessions(session, school)
    if period.id not in sessions:
        sessions[period.id] = _sessions_of(period)
    classes, courses = _classes(session, school, sessions)
    facts, indicator_codes = _indicator_facts(session, school)
    policies: dict[int, Policy] = {}
    in_scope = [session_id for session_id, item in sessions.items() if item.end <= period.end_date]

    say("reading posted grades")
    query = (
        current_posted_grades_query()
        .with_only_columns(
            PostedGrade.student_id, PostedGrade.class_id, PostedGrade.academic_session_id, PostedGrade.policy_id,
            PostedGrade.status, PostedGrade.letter, PostedGrade.course_value, PostedGrade.grade_points,
            PostedGrade.posted_at, PostedGrade.computed_at, PostedGrade.evidence_count,
            PostedGrade.amendment_of_id, PostedGrade.amendment_reason,
            PostedGrade.provenance["indicators"], PostedGrade.provenance["percent"],
            maintain_column_froms=True,
        )
        .where(PostedGrade.class_id.in_(_school_class_ids(school)), PostedGrade.academic_session_id.in_(in_scope))
    )  # fmt: skip
    # Buffered, not a server-side cursor: PostgreSQL plans a DECLAREd cursor for its first rows, and that
    # plan read 30,000 posted grades 10x slower (22 s vs 2 s) in benchmarks/registrar.py.
    raw: list[tuple[Any, ...]] = [tuple(row) for row in session.execute(query)]
    student_ids = (
        select(PostedGrade.student_id)
        .where(
            PostedGrade.class_id.in_(_school_class_ids(school)), PostedGrade.academic_session_id.in_(in_scope)
        )
        .distinct()
    )
    students = _students(session, student_ids)

    grades: list[ExportGrade] = []
    lacking: set[tuple[int, int]] = set()
    for (student_id, class_id, session_id, policy_id, status, letter, value, points, posted_at, computed_at,
         evidence_count, amends, reason, indicator_json, percent_json) in raw:  # fmt: skip
        grade_policy = policies.get(policy_id)
        if grade_policy is None:
            row = session.get(GradingPolicy, policy_id)
            grade_policy = policies[policy_id] = policy_from_row(row) if row is not None else policy
        levels = _provenance_levels(indicator_json, facts)
        percent = Decimal(percent_json) if isinstance(percent_json, str) else None
        if percent is None and value is not None and grade_policy.percent is not None:
            percent = grade_policy.percent.to_percent(value)
        if levels is None and session_id == period.id:
            lacking.add((student_id, class_id))
        grades.append(
            ExportGrade(
                student_key=students[student_id].key,
                class_key=classes[class_id].key,
                period_key=sessions[session_id].key,
                status=_STATUS[status],
                letter=letter or "",
                course_value=value,
                grade_points=points,
                posted_at=posted_at or computed_at,
                percent=percent,
                evidence_count=evidence_count,
                is_amendment=amends is not None,
                amendment_reason=reason,
                indicators=levels or (),
                indicator_source=IndicatorSource.PROVENANCE
                if levels is not None
                else IndicatorSource.EVIDENCE,
                policy_name=grade_policy.name,
                policy_version=grade_policy.version,
            )
        )

    charts = []
    habits = []
    students_by_key = {student.key: person_id for person_id, student in students.items()}
    classes_by_key = {item.key: class_id for class_id, item in classes.items()}
    in_period = {
        (students_by_key[g.student_key], classes_by_key[g.class_key])
        for g in grades
        if g.period_key == sessions[period.id].key
    }
    if wanted & NEEDS_EVIDENCE or lacking:
        say("reading evidence")
        core_period = GradingPeriod(
            sessions[period.id].key, period.start_date, period.end_date, period.is_credit_bearing
        )
        fallback: dict[tuple[int, int], dict[str, Decimal | None]] = {}
        trails_of: dict[tuple[int, int], list[Any]] = defaultdict(list)
        for trail in stream_trails(session, _school_class_ids(school), period.end_date):
            pair = (trail.student_id, trail.class_id)
            if pair not in in_period:
                continue
            if pair in lacking:
                trails_of[pair].append(trail)
            if wanted & NEEDS_EVIDENCE and trail.points:
                charts.append(chart_series(trail, policy, student_key=students[trail.student_id].key,
                                           class_key=classes[trail.class_id].key,
                                           indicator_code=indicator_codes.get(trail.indicator_id, str(trail.indicator_id))))  # fmt: skip
        for pair, trails in trails_of.items():
            fallback[pair] = levels_from_trails(trails, policy, core_period, indicator_codes)
        if lacking:
            grades = [
                _with_fallback(g, fallback, students_by_key, classes_by_key, facts, sessions[period.id].key)
                for g in grades
            ]
    if wanted & NEEDS_EVIDENCE:
        say("reading habits of work")
        habits = latest_habits(
            session, _school_class_ids(school), period.end_date,
            student_keys={pid: s.key for pid, s in students.items()},
            class_keys={cid: c.key for cid, c in classes.items()},
        )  # fmt: skip
    return ExportDataset(
        school=export_school,
        period=sessions[period.id],
        sessions={item.key: item for item in sessions.values()},
        students={item.key: item for item in students.values()},
        courses=courses,
        classes={item.key: item for item in classes.values()},
        grades=tuple(grades),
        habits=tuple(habits),
        charts=tuple(charts),
    )


def _with_fallback(
    grade: ExportGrade,
    fallback: dict[tuple[int, int], dict[str, Decimal | None]],
    students_by_key: dict[str, int],
    classes_by_key: dict[str, int],
    facts: dict[str, tuple[str, str | None]],
    period_key: str,
) -> ExportGrade:
    if grade.indicator_source is not IndicatorSource.EVIDENCE or grade.period_key != period_key:
        return grade
    levels = fallback.get((students_by_key[grade.student_key], classes_by_key[grade.class_key]), {})
    indicators = tuple(
        IndicatorLevel(code, level, facts.get(code, ("", None))[0], facts.get(code, ("", None))[1])
        for code, level in sorted(levels.items())
    )
    return replace(grade, indicators=indicators)


def _sessions_of(period: AcademicSession) -> ExportSession:
    return ExportSession(session_key(period), period.title, SessionKind(period.type.value), period.start_date,
                         period.end_date, None, period.is_credit_bearing, period.sourced_id)  # fmt: skip
