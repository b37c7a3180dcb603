"""The facts a grade push needs, loaded in a few queries for many posted grades at once.

Classes, courses, periods, schools and districts, the SIS connection serving each class, students' SIS
sourcedIds (PersonIdentifier source=sis, system=<connection name>), policies, indicators' CASE ids and,
when a posted grade carries no per-indicator proficiencies, those proficiencies from current evidence
at the end of the grading period. Reads only; never commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from connectors.oneroster.profiles import VendorProfile, load_profile
from lti_tool.grading import class_evidence
from lti_tool.models import (
    AcademicSession,
    ClassIndicator,
    CompetencyItem,
    Course,
    Enrollment,
    EnrollmentRole,
    Evidence,
    GradingPolicy,
    IdentifierSource,
    Org,
    PersonIdentifier,
    PostedGrade,
    SchoolClass,
    SisConnection,
)
from lti_tool.policies import policy_from_row
from mappings import GradingPeriod, Policy, grade_periods

# IN lists are chunked: SQLite allows 32,766 bound parameters per statement, PostgreSQL 65,535.
CHUNK: Final = 5_000


def _chunks(values: Iterable[int]) -> Iterable[list[int]]:
    items = sorted(set(values))
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def as_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


class PushFacts:
    """Everything the bodies need, loaded in a few queries for all the posted grades at once."""

    def __init__(self, session: Session, grades: Sequence[PostedGrade]) -> None:
        self.session = session
        class_ids = {g.class_id for g in grades}
        self.classes = self._by_id(SchoolClass, class_ids)
        self.courses = self._by_id(Course, {c.course_id for c in self.classes.values()})
        self.periods = self._by_id(AcademicSession, {g.academic_session_id for g in grades})
        org_ids = {c.org_id for c in self.classes.values()}
        self.orgs = self._by_id(Org, org_ids)
        self.orgs.update(self._by_id(Org, {o.parent_id for o in self.orgs.values() if o.parent_id}))
        self.policy_rows = self._by_id(GradingPolicy, {g.policy_id for g in grades})
        self.connections = list(
            session.scalars(
                select(SisConnection).where(SisConnection.is_enabled.is_(True)).order_by(SisConnection.id)
            )
        )
        names = [c.name for c in self.connections]
        self.sis_ids: dict[tuple[str, int], str] = {}
        for chunk in _chunks(g.student_id for g in grades):
            self._load_identifiers(names, chunk)
        self._policies: dict[int, Policy] = {}
        self._indicators: dict[int, dict[str, str]] = {}
        self._objectives: dict[int, tuple[str, ...]] = {}
        self._evidence_scores: dict[tuple[int, int], dict[int, dict[str, Decimal]]] = {}
        self._teachers: dict[tuple[int, str], str] = {}
        self._teacher_systems: set[str] = set()
        self._profiles: dict[str, VendorProfile] = {}

    def _by_id(self, model: Any, ids: Iterable[int]) -> dict[int, Any]:
        found: dict[int, Any] = {}
        for chunk in _chunks(ids):
            for row in self.session.scalars(select(model).where(model.id.in_(chunk))):
                found[row.id] = row
        return found

    def _load_identifiers(self, systems: Sequence[str], person_ids: Sequence[int]) -> None:
        if not systems:
            return
        rows = self.session.execute(
            select(PersonIdentifier.system, PersonIdentifier.person_id, PersonIdentifier.value).where(
                PersonIdentifier.source == IdentifierSource.SIS,
                PersonIdentifier.system.in_(systems),
                PersonIdentifier.person_id.in_(person_ids),
            )
        )
        for system, person_id, value in rows:
            self.sis_ids[(system, person_id)] = value

    def profile(self, connection: SisConnection) -> VendorProfile:
        if connection.profile not in self._profiles:
            self._profiles[connection.profile] = load_profile(connection.profile)
        return self._profiles[connection.profile]

    def policy(self, policy_id: int) -> Policy:
        if policy_id not in self._policies:
            self._policies[policy_id] = policy_from_row(self.policy_rows[policy_id])
        return self._policies[policy_id]

    def connection_for(self, school_class: SchoolClass) -> tuple[SisConnection | None, str]:
        """The class's school's connection, else its district's, else the only enabled one."""
        school = self.orgs.get(school_class.org_id)
        for org_id in (school_class.org_id, school.parent_id if school else None):
            if org_id is None:
                continue
            matches = [c for c in self.connections if c.org_id == org_id]
            if len(matches) == 1:
                return matches[0], ""
            if len(matches) > 1:
                names = ", ".join(sorted(c.name for c in matches))
                return None, f"several SIS connections ({names}) serve org {org_id}; give each school one"
        if len(self.connections) == 1:
            return self.connections[0], ""
        if not self.connections:
            return None, "no SIS connection is enabled"
        return None, (
            f"no SIS connection is assigned to the class's school or district (org {school_class.org_id})"
            f" and {len(self.connections)} are enabled"
        )

    def indicator_case_ids(self, class_id: int) -> dict[str, str]:
        """Indicator code -> CASE identifier, for the indicators of the class and those it has evidence on."""
        if not self._indicators:
            self._load_indicators()
        return self._indicators.get(class_id, {})

    def class_objective_ids(self, class_id: int) -> tuple[str, ...]:
        """CASE identifiers of the indicators the class is assessed on (ClassIndicator)."""
        if not self._indicators:
            self._load_indicators()
        return self._objectives.get(class_id, ())

    def _load_indicators(self) -> None:
        """Both maps above for every class at once: per-class queries cost 1-2 ms each, and a school's
        posting covers thousands of classes."""
        self._indicators = {class_id: {} for class_id in self.classes}
        assessed: dict[int, set[str]] = {class_id: set() for class_id in self.classes}
        for chunk in _chunks(self.classes):
            linked = select(ClassIndicator.class_id, ClassIndicator.indicator_id).where(
                ClassIndicator.class_id.in_(chunk)
            )
            evidenced = (
                select(Evidence.class_id, Evidence.indicator_id)
                .where(Evidence.class_id.in_(chunk))
                .distinct()
            )
            ids = union(linked, evidenced).subquery()
            rows = self.session.execute(
                select(ids.c[0], CompetencyItem.code, CompetencyItem.case_identifier)
                .join(CompetencyItem, CompetencyItem.id == ids.c[1])
                .where(CompetencyItem.case_identifier.is_not(None))
            )
            for class_id, code, case_id in rows:
                if case_id:
                    self._indicators[class_id][code] = case_id
            rows = self.session.execute(
                select(ClassIndicator.class_id, CompetencyItem.case_identifier)
                .join(ClassIndicator, ClassIndicator.indicator_id == CompetencyItem.id)
                .where(ClassIndicator.class_id.in_(chunk), CompetencyItem.case_identifier.is_not(None))
            )
            for class_id, case_id in rows:
                if case_id:
                    assessed[class_id].add(case_id)
        self._objectives = {class_id: tuple(sorted(values)) for class_id, values in assessed.items()}

    def evidence_scores(self, grade: PostedGrade) -> dict[str, IndicatorScore]:
        """Indicator code -> proficiency at the period's end, from current evidence (no provenance)."""
        key = (grade.class_id, grade.academic_session_id)
        if key not in self._evidence_scores:
            school_class = self.classes[grade.class_id]
            course = self.courses[school_class.course_id]
            period = self.periods[grade.academic_session_id]
            grading_period = GradingPeriod(
                period_id=period.sourced_id or str(period.id),
                start=period.start_date,
                end=period.end_date,
                is_credit_bearing=period.is_credit_bearing,
            )
            policy = self.policy(grade.policy_id)
            scores: dict[int, dict[str, Decimal]] = {}
            for person_id, evidence in class_evidence(self.session, school_class, course.code).items():
                (course_grade,) = grade_periods(
                    policy, evidence, [grading_period], student_id=str(person_id), course_id=course.code
                )
                scores[person_id] = {
                    r.indicator_id: r.proficiency
                    for r in course_grade.indicators
                    if r.proficiency is not None
                }
            self._evidence_scores[key] = scores
        return {
            code: IndicatorScore(value)
            for code, value in self._evidence_scores[key].get(grade.student_id, {}).items()
        }

    def teacher_sis_id(self, class_id: int, system: str) -> str | None:
        """The SIS sourcedId of the class's first active teacher (lowest person id) that has one."""
        if system not in self._teacher_systems:
            # Every class's teachers at once (see `_load_indicators` on per-class queries).
            self._teacher_systems.add(system)
            for chunk in _chunks(self.classes):
                rows = self.session.execute(
                    select(Enrollment.class_id, PersonIdentifier.value)
                    .join(Enrollment, Enrollment.person_id == PersonIdentifier.person_id)
                    .where(
                        Enrollment.class_id.in_(chunk),
                        Enrollment.role == EnrollmentRole.TEACHER,
                        Enrollment.is_active.is_(True),
                        PersonIdentifier.source == IdentifierSource.SIS,
                        PersonIdentifier.system == system,
                    )
                    .order_by(Enrollment.class_id, Enrollment.person_id, PersonIdentifier.id)
                )
                for found_class, value in rows:
                    self._teachers.setdefault((found_class, system), value)
        return self._teachers.get((class_id, system))


@dataclass(frozen=True, slots=True)
class IndicatorScore:
    """A student's proficiency on one indicator (by code) and the indicator's CASE id when recorded."""

    proficiency: Decimal
    case_identifier: str | None = None


def provenance_scores(provenance: Mapping[str, Any]) -> dict[str, IndicatorScore] | None:
    """Indicator code -> proficiency recorded with a posted grade, or None if the provenance has none.

    Reads `provenance["indicators"]` as lti_tool.registrar.posting writes it: a list of objects with the
    indicator's `code`, its `case_identifier` and `proficiency` (a decimal string, null when unscored).
    """
    entries = provenance.get("indicators") if isinstance(provenance, Mapping) else None
    if not isinstance(entries, list):
        return None
    scores: dict[str, IndicatorScore] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        code = entry.get("code") or entry.get("indicator_id")
        value = as_decimal(entry.get("proficiency"))
        case_id = entry.get("case_identifier")
        if isinstance(code, str) and value is not None:
            scores[code] = IndicatorScore(value, case_id if isinstance(case_id, str) and case_id else None)
    return scores
