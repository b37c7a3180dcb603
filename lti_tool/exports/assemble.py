"""Build an `ExportDataset` for a school and a grading period from the database, in a few set-based queries.

Grades are the current posted grades (`current_posted_grades_query`: the end of each amendment chain) of
the school's classes in every period ending on or before the exported one; an amendment is flagged with its
reason. Per-indicator levels come from the posting's provenance (lti_tool.registrar.posting writes them);
a grade posted without them gets its levels from current evidence as of the period end. Students' SIS
numbers are their PersonIdentifier(source=sis) values: a synced connection's first (by name), else the
LMS-reported `lis` one. Chart series and habits are read only for the exports that show them.

The large reads take plain columns through the session's connection: no ORM objects, no per-row type
conversion, provenance as the JSON text of the two entries used, and every repeated value (an indicator
level, a posting instant) built once and shared. At 5,000 students (benchmarks/registrar.py) reading
posted grades, evidence and habits took 7.0 s of CPU before and 1.0 s after.

Nothing here commits; it only reads.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Select, String, Text, cast, select, type_coerce
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
from lti_tool.exports.evidence import (
    IndicatorTrail,
    RunningMemo,
    chart_series,
    latest_habits,
    levels_from_trails,
    stream_trails,
)
from lti_tool.gc_pause import collector_paused
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
    course_rows = {
        course.id: course
        for course in session.scalars(
            select(Course).where(
                Course.id.in_(select(SchoolClass.course_id).where(SchoolClass.org_id == school.id))
            )
        )
    }
    classes: dict[int, ExportClass] = {}
    courses: dict[str, ExportCourse] = {}
    for class_id, sourced_id, title, section_code, course_id in session.execute(
        select(
            SchoolClass.id,
            SchoolClass.sourced_id,
            SchoolClass.title,
            SchoolClass.section_code,
            SchoolClass.course_id,
        )
        .where(SchoolClass.org_id == school.id)
        .order_by(SchoolClass.id)
    ):
        course = course_rows[course_id]
        term = terms.get(class_id)
        classes[class_id] = ExportClass(
            key=_class_key(class_id, sourced_id),
            course_code=course.code,
            title=title,
            sourced_id=sourced_id,
            section_code=section_code,
            term_key=term.key if term else None,
        )
        if course.code not in courses:
            courses[course.code] = ExportCourse(core_course(course), course.sourced_id)
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


class _Provenance:
    """Per-indicator levels from posting provenance JSON, with each distinct level built once.

    At 5,000 students 30,000 grades carry 120,000 indicator entries but only about 1,100 distinct
    (code, proficiency, CASE identifier) triples; sharing the immutable records saves their Decimal
    parsing and keeps the dataset small for the garbage collector.
    """

    def __init__(self, facts: dict[str, tuple[str, str | None]]) -> None:
        self._facts = facts
        self._levels: dict[tuple[str, object, object], IndicatorLevel] = {}

    def levels(self, document: str | None) -> tuple[IndicatorLevel, ...] | None:
        """The levels of an `indicators` provenance entry (JSON text), by code; None when there are none."""
        entries = json.loads(document) if document is not None else None
        if not isinstance(entries, list):
            return None  # posted without per-indicator provenance: levels come from evidence instead
        levels = []
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("code"), str):
                return None
            code = entry["code"]
            raw = entry.get("proficiency")
            given_case = entry.get("case_identifier")
            level = self._levels.get((code, raw, given_case))
            if level is None:
                statement, case_identifier = self._facts.get(code, ("", None))
                level = self._levels[(code, raw, given_case)] = IndicatorLevel(
                    code, Decimal(raw) if raw is not None else None, statement, given_case or case_identifier
                )
            levels.append(level)
        levels.sort(key=_level_code)
        return tuple(levels)


def _level_code(level: IndicatorLevel) -> str:
    return level.code


def _percent_of(document: str | None) -> Decimal | None:
    """The `percent` provenance entry (JSON text): a string is the percentage; anything else is none."""
    if document is None or document == "null":  # the usual case, without a JSON parse
        return None
    value = json.loads(document)
    return Decimal(value) if isinstance(value, str) else None


def _utc(moment: datetime, seen: dict[datetime, datetime]) -> datetime:
    """`moment` as models.base.UtcDateTime returns it (aware UTC; naive values are UTC), converted once."""
    converted = seen.get(moment)
    if converted is None:
        converted = seen[moment] = (
            moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        )
    return converted


def _grade_rows(session: Session, school: Org, in_scope: list[int]) -> Sequence[tuple[Any, ...]]:
    """The current posted grades of the school in the periods `in_scope`, as plain columns.

    Provenance is read as the JSON text of its two entries the export uses, never the whole document;
    status and instants come raw (converted once per distinct value by the caller).
    """
    query = (
        current_posted_grades_query()
        .with_only_columns(
            PostedGrade.student_id, PostedGrade.class_id, PostedGrade.academic_session_id, PostedGrade.policy_id,
            type_coerce(PostedGrade.status, String()), PostedGrade.letter, PostedGrade.course_value,
            PostedGrade.grade_points, type_coerce(PostedGrade.posted_at, DateTime(timezone=True)),
            type_coerce(PostedGrade.computed_at, DateTime(timezone=True)), PostedGrade.evidence_count,
            PostedGrade.amendment_of_id, PostedGrade.amendment_reason,
            cast(PostedGrade.provenance["indicators"], Text), cast(PostedGrade.provenance["percent"], Text),
            maintain_column_froms=True,
        )
        .where(PostedGrade.class_id.in_(_school_class_ids(school)), PostedGrade.academic_session_id.in_(in_scope))
    )  # fmt: skip
    # Buffered, not a server-side cursor: PostgreSQL plans a DECLAREd cursor for its first rows, and that
    # plan read 30,000 posted grades 10x slower (22 s vs 2 s) in benchmarks/registrar.py.
    return session.connection().execute(query).all()


def build_dataset(
    session: Session,
    school: Org,
    period: AcademicSession,
    *,
    kinds: Iterable[str] = (),
    progress: Callable[[str], None] | None = None,
) -> ExportDataset:
    """The dataset every export of `kinds` renders from (charts and habits only when one of them needs it)."""
    with collector_paused():
        return _build_dataset(session, school, period, set(kinds), progress or (lambda _: None))


def _build_dataset(
    session: Session, school: Org, period: AcademicSession, wanted: set[str], say: Callable[[str], None]
) -> ExportDataset:
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
    session.flush()  # the reads below go through the session's connection, past autoflush
    raw = _grade_rows(session, school, in_scope)
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
    in_period: set[tuple[int, int]] = set()
    provenance = _Provenance(facts)
    instants: dict[datetime, datetime] = {}
    for (student_id, class_id, session_id, policy_id, status, letter, value, points, posted_at, computed_at,
         evidence_count, amends, reason, indicator_json, percent_json) in raw:  # fmt: skip
        grade_policy = policies.get(policy_id)
        if grade_policy is None:
            row = session.get(GradingPolicy, policy_id)
            grade_policy = policies[policy_id] = policy_from_row(row) if row is not None else policy
        levels = provenance.levels(indicator_json)
        percent = _percent_of(percent_json)
        if percent is None and value is not None and grade_policy.percent is not None:
            percent = grade_policy.percent.to_percent(value)
        if session_id == period.id:
            in_period.add((student_id, class_id))
            if levels is None:
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
                posted_at=_utc(posted_at or computed_at, instants),
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
    if wanted & NEEDS_EVIDENCE or lacking:
        say("reading evidence")
        core_period = GradingPeriod(
            sessions[period.id].key, period.start_date, period.end_date, period.is_credit_bearing
        )
        fallback: dict[tuple[int, int], dict[str, Decimal | None]] = {}
        trails_of: dict[tuple[int, int], list[IndicatorTrail]] = defaultdict(list)
        needs_charts = bool(wanted & NEEDS_EVIDENCE)
        running: RunningMemo = {}
        for trail in stream_trails(session, _school_class_ids(school), period.end_date):
            pair = (trail.student_id, trail.class_id)
            if pair not in in_period:
                continue
            if pair in lacking:
                trails_of[pair].append(trail)
            if needs_charts:
                charts.append(chart_series(trail, policy, student_key=students[trail.student_id].key,
                                           class_key=classes[trail.class_id].key,
                                           indicator_code=indicator_codes.get(trail.indicator_id, str(trail.indicator_id)),
                                           memo=running))  # fmt: skip
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
