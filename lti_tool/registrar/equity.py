"""The school equity report: proficiency per indicator and class, over time, and by demographic subgroup.

For every class of a school and every indicator it is assessed on, the report counts students at each
proficiency level (plus "no evidence yet") at each grading period that has ended and at the report date,
with the mean proficiency and its change; then the same split by the OneRoster demographics subgroups
(sex; race and ethnicity) when the SIS sync brought demographics in.

Privacy (suppression rule, applied per class and dimension):
- The unit is the group: every cell of a group (all students, or one subgroup) with fewer than
  `min_group_size` students (default 10) is suppressed and shown as "fewer than N".
- Complementary suppression: the subgroups of a dimension partition the class (students without data form
  "Not reported"), so a lone suppressed subgroup could be recovered as "all students minus the others".
  Whenever anything is suppressed, further subgroups (smallest first) are suppressed until at least two
  are and the suppressed students together number at least `min_group_size`, so subtraction yields only
  a group of at least that size, never a small one.
- Group sizes count enrolled students, which are the same for every indicator and period of a class, so
  one suppression decision covers all of them, and comparing periods or indicators reveals nothing more.
- No totals are shown across classes, so class rows cannot be subtracted from a school total either.
- Within a group large enough to show, the level counts are shown as they are (a group of 12 may show
  a level held by 1 student); the group, not the level cell, is what the minimum protects.

`build_equity_report` (lti_tool.registrar.equity_core) is pure; `school_equity_report` gathers its rows.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.grading import school_class_periods
from lti_tool.models import (
    AcademicSession,
    ClassIndicator,
    CompetencyItem,
    Course,
    Demographic,
    Enrollment,
    EnrollmentRole,
    Org,
    SchoolClass,
    utcnow,
)
from lti_tool.registrar.equity_core import (
    ALL_STUDENTS,
    AS_OF_KEY,
    DEFAULT_MIN_GROUP_SIZE,
    DIMENSION_TITLES,
    HISPANIC,
    NO_EVIDENCE,
    NOT_REPORTED,
    RACE_FLAGS,
    SEX_LABELS,
    SUBGROUP_DIMENSIONS,
    TWO_OR_MORE,
    ClassProficiency,
    Dimension,
    Distribution,
    EquityReport,
    GroupRow,
    IndicatorRef,
    IndicatorRow,
    Snapshot,
    build_equity_report,
    subgroup_of,
    suppressed_groups,
)
from lti_tool.registrar.evidence_stream import stream_evidence
from lti_tool.registrar.scope import class_policies, end_of_day
from mappings import GradingPeriod, grade_periods

__all__ = [
    "ALL_STUDENTS",
    "AS_OF_KEY",
    "DEFAULT_MIN_GROUP_SIZE",
    "DIMENSION_TITLES",
    "HISPANIC",
    "NOT_REPORTED",
    "NO_EVIDENCE",
    "RACE_FLAGS",
    "SEX_LABELS",
    "SUBGROUP_DIMENSIONS",
    "TWO_OR_MORE",
    "ClassProficiency",
    "Dimension",
    "Distribution",
    "EquityReport",
    "GroupRow",
    "IndicatorRef",
    "IndicatorRow",
    "Snapshot",
    "build_equity_report",
    "school_equity_report",
    "subgroup_of",
    "suppressed_groups",
]


def school_equity_report(
    session: Session, school: Org, *, as_of: date | None = None, min_group_size: int = DEFAULT_MIN_GROUP_SIZE
) -> EquityReport:
    """The equity report of every class of `school` as of `as_of` (default today), from current evidence."""
    as_of = as_of or utcnow().date()
    class_rows = session.execute(
        select(SchoolClass.id, SchoolClass.title, SchoolClass.policy_id, Course.code)
        .join(Course, Course.id == SchoolClass.course_id)
        .where(SchoolClass.org_id == school.id)
        .order_by(SchoolClass.id)
    ).all()
    policies = class_policies(session, school, [(row[0], row[2]) for row in class_rows])
    class_ids = select(SchoolClass.id).where(SchoolClass.org_id == school.id)
    students: dict[int, list[int]] = {}
    for class_id, person_id in session.execute(
        select(Enrollment.class_id, Enrollment.person_id)
        .where(Enrollment.class_id.in_(class_ids))
        .where(Enrollment.role == EnrollmentRole.STUDENT, Enrollment.is_active.is_(True))
        .order_by(Enrollment.class_id, Enrollment.person_id)
    ):
        students.setdefault(class_id, []).append(person_id)
    indicators: dict[int, list[IndicatorRef]] = {}
    for class_id, code, statement, case_identifier in session.execute(
        select(ClassIndicator.class_id, CompetencyItem.code, CompetencyItem.statement, CompetencyItem.case_identifier)
        .join(CompetencyItem, CompetencyItem.id == ClassIndicator.indicator_id)
        .where(ClassIndicator.class_id.in_(class_ids))
        .order_by(ClassIndicator.class_id, CompetencyItem.sequence, CompetencyItem.code)
    ):  # fmt: skip
        indicators.setdefault(class_id, []).append(IndicatorRef(code, statement, case_identifier))
    titles = _period_titles(session)
    periods = school_class_periods(session, [row[0] for row in class_rows])

    snapshots: dict[int, list[GradingPeriod]] = {}
    for class_id, *_ in class_rows:
        ended: dict[date, GradingPeriod] = {}
        for period in periods.get(class_id, ()):
            if period.end < as_of:
                ended.setdefault(period.end, period)
        start = min((period.start for period in periods.get(class_id, ())), default=as_of)
        snapshots[class_id] = [*ended.values(), GradingPeriod(AS_OF_KEY, min(start, as_of), as_of)]

    values: dict[int, dict[tuple[int, int, str], Decimal]] = {row[0]: {} for row in class_rows}
    enrolled = {class_id: set(members) for class_id, members in students.items()}
    codes = {row[0]: row[3] for row in class_rows}
    policy_of = {
        row[0]: policies[row[2] if row[2] is not None else school.default_policy_id] for row in class_rows
    }
    for found in stream_evidence(
        session, [row[0] for row in class_rows], before=end_of_day(as_of), course_codes=codes
    ):
        if found.student_id not in enrolled.get(found.class_id, ()):
            continue
        grades = grade_periods(policy_of[found.class_id], found.evidence, snapshots[found.class_id],
                               student_id=str(found.student_id), course_id=codes[found.class_id])  # fmt: skip
        target = values[found.class_id]
        for index, grade in enumerate(grades):
            for result in grade.indicators:
                if result.proficiency is not None:
                    target[(found.student_id, index, result.indicator_id)] = result.proficiency

    inputs = []
    for class_id, title, _, course_code in class_rows:
        policy = policy_of[class_id]
        known = list(indicators.get(class_id, ()))
        listed = {ref.code for ref in known}
        # Evidence on an indicator the class no longer lists still shows, so nothing silently disappears.
        extra = sorted({code for (_, _, code) in values[class_id] if code not in listed})
        known += [IndicatorRef(code, "", None) for code in extra]
        inputs.append(
            ClassProficiency(
                class_id=class_id, title=title, course_code=course_code,
                levels=tuple((level.value, level.label) for level in policy.scale.levels),
                scale_minimum=policy.scale.minimum, indicators=tuple(known),
                snapshots=tuple(
                    Snapshot(p.period_id, titles.get(p.period_id, p.period_id) if p.period_id != AS_OF_KEY
                             else f"As of {as_of.isoformat()}", p.end)
                    for p in snapshots[class_id]
                ),
                student_ids=tuple(students.get(class_id, ())), values=values[class_id],
            )
        )  # fmt: skip
    demographics = {
        person_id: data
        for person_id, data in session.execute(
            select(Demographic.person_id, Demographic.data).where(
                Demographic.person_id.in_(
                    select(Enrollment.person_id).where(
                        Enrollment.class_id.in_(class_ids), Enrollment.role == EnrollmentRole.STUDENT
                    )
                )
            )
        )
        if data
    }
    return build_equity_report(
        inputs, demographics, school_id=school.id, school_name=school.name, as_of=as_of,
        min_group_size=min_group_size,
    )  # fmt: skip


def _period_titles(session: Session) -> dict[str, str]:
    """period id as lti_tool.grading names it (sourcedId, else row id) -> title."""
    return {
        sourced_id or str(session_id): title
        for session_id, sourced_id, title in session.execute(
            select(AcademicSession.id, AcademicSession.sourced_id, AcademicSession.title)
        )
    }
