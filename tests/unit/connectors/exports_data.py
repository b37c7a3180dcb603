"""The small fixed dataset every export golden file is rendered from, and the golden-file comparison.

Four students (one not yet matched to the SIS, one with a non-ASCII name), three courses (English 10, AP U.S.
History, Studio Art: an AP course and a non-core course with half a credit), Q1..Q4 plus the final (Y1), one
amendment and one insufficient-evidence grade. Regenerate the golden files after an intended change with
`MB_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/connectors/test_exports_golden.py` and review the diff.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from connectors.exports import (
    ChartSeries,
    ExportClass,
    ExportCourse,
    ExportDataset,
    ExportGrade,
    ExportSchool,
    ExportSession,
    ExportStudent,
    HabitLevel,
    IndicatorLevel,
    ScaleLevel,
    SessionKind,
)
from mappings import Course, CourseLevel, GradeStatus, NcaaArea, Policy, load_shipped_policy

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "exports"
UPDATE_GOLDEN = os.environ.get("MB_UPDATE_GOLDEN") == "1"
POLICY = load_shipped_policy("four-point-plus-minus")
LEVELS = (ScaleLevel(Decimal(1), "Emerging"), ScaleLevel(Decimal(2), "Developing"),
          ScaleLevel(Decimal(3), "Proficient"), ScaleLevel(Decimal(4), "Exemplary"))  # fmt: skip

YEAR = ExportSession("SY2026", "2026-27", SessionKind.SCHOOL_YEAR, date(2026, 8, 24), date(2027, 6, 11),
                     sourced_id="SY2026")  # fmt: skip
SESSIONS = (
    YEAR,
    ExportSession("S1", "Semester 1", SessionKind.SEMESTER, date(2026, 8, 24), date(2027, 1, 15), "SY2026", sourced_id="S1"),
    ExportSession("S2", "Semester 2", SessionKind.SEMESTER, date(2027, 1, 19), date(2027, 6, 11), "SY2026", sourced_id="S2"),
    ExportSession("Q1", "Quarter 1", SessionKind.GRADING_PERIOD, date(2026, 8, 24), date(2026, 10, 30), "S1", sourced_id="Q1"),
    ExportSession("Q2", "Quarter 2", SessionKind.GRADING_PERIOD, date(2026, 11, 2), date(2027, 1, 15), "S1", sourced_id="Q2"),
    ExportSession("Q3", "Quarter 3", SessionKind.GRADING_PERIOD, date(2027, 1, 19), date(2027, 3, 26), "S2", sourced_id="Q3"),
    ExportSession("Q4", "Quarter 4", SessionKind.GRADING_PERIOD, date(2027, 3, 29), date(2027, 6, 11), "S2", sourced_id="Q4"),
    ExportSession("Y1", "Final (year)", SessionKind.GRADING_PERIOD, date(2026, 8, 24), date(2027, 6, 11), "SY2026",
                  is_credit_bearing=True, sourced_id="Y1"),
)  # fmt: skip
PERIODS = ("Q1", "Q2", "Q3", "Q4", "Y1")
POSTED = {
    "Q1": datetime(2026, 11, 2, 15, 0, tzinfo=UTC),
    "Q2": datetime(2027, 1, 20, 15, 0, tzinfo=UTC),
    "Q3": datetime(2027, 3, 30, 15, 0, tzinfo=UTC),
    "Q4": datetime(2027, 6, 14, 15, 0, tzinfo=UTC),
    "Y1": datetime(2027, 6, 14, 15, 0, tzinfo=UTC),
}
AMENDED_AT = datetime(2027, 6, 21, 9, 30, tzinfo=UTC)

COURSES = (
    ExportCourse(Course("ENG10", "English 10", Decimal("1.0"), CourseLevel.STANDARD, True, NcaaArea.ENGLISH), "CRS-ENG10"),
    ExportCourse(Course("APUSH", "AP U.S. History", Decimal("1.0"), CourseLevel.AP, True, NcaaArea.SOCIAL_SCIENCE), "CRS-APUSH"),
    ExportCourse(Course("ART", "Studio Art", Decimal("0.5"), CourseLevel.STANDARD, False, None), "CRS-ART"),
)  # fmt: skip
CLASSES = (
    ExportClass("ENG10-1", "ENG10", "English 10 (1)", "ENG10-1", "1", "SY2026"),
    ExportClass("APUSH-1", "APUSH", "AP U.S. History (1)", "APUSH-1", "1", "SY2026"),
    ExportClass("ART-1", "ART", "Studio Art (1)", "ART-1", "1", "SY2026"),
)
INDICATORS = {
    "ENG10": (("ELA.1.1", "I can cite strong textual evidence to support an analysis."),
              ("ELA.1.3", "I can write an argument with a precise claim and counterclaims.")),
    "APUSH": (("SOC.1.1", "I can evaluate sources and use evidence to support claims."),
              ("SOC.1.2", "I can explain causes and effects of historical events.")),
    "ART": (("ART.1.1", "I can create original work and reflect on its quality."),),
}  # fmt: skip
STUDENTS = (
    ExportStudent("p1", "Ava", "Nguyen", "STU0001", "10"),
    ExportStudent("p2", "Liam", "Garcia", "STU0002", "10"),
    ExportStudent("p3", "Zoë", "Müller", "STU0003", "11"),
    ExportStudent("p4", "Noah", "Smith", None, None),
)
# Course value at Q1 per student and course, and the change per quarter (an improver, a decliner, ...).
START = {"p1": Decimal("2.60"), "p2": Decimal("1.90"), "p3": Decimal("3.30"), "p4": Decimal("2.20")}
TREND = {"p1": Decimal("0.25"), "p2": Decimal("0.20"), "p3": Decimal("-0.10"), "p4": Decimal("0.05")}
COURSE_SHIFT = {"ENG10": Decimal("0"), "APUSH": Decimal("0.15"), "ART": Decimal("-0.30")}


def _value(student: str, course: str, step: int) -> Decimal:
    value = START[student] + COURSE_SHIFT[course] + TREND[student] * step
    return min(max(value, Decimal("0.50")), Decimal("4.00"))


def _grade(policy: Policy, student: str, school_class: ExportClass, period: str) -> ExportGrade:
    step = min(PERIODS.index(period), 3)
    course = school_class.course_code
    indicators = tuple(
        IndicatorLevel(code, _value(student, course, step) + Decimal("0.10") * (index * 2 - 1), statement,
                       f"case-{code.lower()}")
        for index, (code, statement) in enumerate(INDICATORS[course])
    )  # fmt: skip
    if student == "p2" and course == "ART" and period == "Q1":
        return ExportGrade(student, school_class.key, period, GradeStatus.INSUFFICIENT_EVIDENCE,
                           policy.evidence.insufficient_code, None, None, POSTED[period], evidence_count=0,
                           indicators=tuple(replace(i, level=None) for i in indicators),
                           policy_name=policy.name, policy_version=policy.version)  # fmt: skip
    value = _value(student, course, step)
    row = policy.row_for(value)
    grade = ExportGrade(student, school_class.key, period, GradeStatus.GRADED, row.letter, value, row.points,
                        POSTED[period], evidence_count=3 + step * 2, indicators=indicators,
                        policy_name=policy.name, policy_version=policy.version)  # fmt: skip
    if student == "p1" and course == "APUSH" and period == "Y1":
        amended = policy.letters[policy.letter_rank(row.letter) - 1]
        grade = replace(grade, letter=amended.letter, grade_points=amended.points, posted_at=AMENDED_AT,
                        is_amendment=True,
                        amendment_reason="Late summative task scored after the posting deadline (see audit log).")  # fmt: skip
    return grade


def _chart(student: str, school_class: ExportClass, code: str, offset: int) -> ChartSeries:
    method = POLICY.method
    days = [date(2026, 9, 10) + timedelta(days=30 * i + 3 * offset) for i in range(9)]
    scores = [min(Decimal(4), max(Decimal(1), _value(student, school_class.course_code, min(i // 2, 3)).quantize(Decimal(1))))
              for i in range(9)]  # fmt: skip
    running = tuple(method(scores[: i + 1]) for i in range(len(scores)))
    return ChartSeries(student, school_class.key, code, tuple(zip(days, scores, strict=True)), running)


def build_dataset(period: str = "Y1", *, policy: Policy = POLICY) -> ExportDataset:
    """The golden dataset as of `period` (grades of later periods are left out)."""
    sessions = {s.key: s for s in SESSIONS}
    last = PERIODS.index(period)
    grades = tuple(
        _grade(policy, student.key, school_class, p)
        for student in STUDENTS
        for school_class in CLASSES
        for p in PERIODS[: last + 1]
    )
    habits = tuple(
        HabitLevel(student.key, school_class.key, habit, Decimal(2 + (index + len(student.key) + n) % 3),
                   date(2026, 10, 23) if period == "Q1" else date(2027, 4, 30), 3 + n)
        for index, student in enumerate(STUDENTS)
        for n, school_class in enumerate(CLASSES)
        for habit in ("engagement", "preparedness")
    )  # fmt: skip
    charts = tuple(
        _chart(student.key, school_class, code, offset)
        for student in STUDENTS
        for school_class in CLASSES
        for offset, (code, _) in enumerate(INDICATORS[school_class.course_code])
    )
    period_end = sessions[period].end
    charts = tuple(replace(c, points=tuple(p for p in c.points if p[0] <= period_end),
                           proficiency=tuple(v for p, v in zip(c.points, c.proficiency, strict=True) if p[0] <= period_end))
                   for c in charts)  # fmt: skip
    school = ExportSchool(
        "SCH-1", "Riverbend High School", "SCH-1", policy, True, LEVELS, "Riverbend Unified"
    )
    return ExportDataset(
        school=school,
        period=sessions[period],
        sessions=sessions,
        students={s.key: s for s in STUDENTS},
        courses={c.code: c for c in COURSES},
        classes={c.key: c for c in CLASSES},
        grades=grades,
        habits=habits,
        charts=charts,
    )


def check_golden(kind: str, name: str, data: bytes) -> None:
    """Compare `data` with tests/golden/exports/<kind>/<name> byte for byte (or rewrite it when updating)."""
    path = GOLDEN / kind / name
    if UPDATE_GOLDEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return
    assert path.exists(), f"no golden file {path}; run with MB_UPDATE_GOLDEN=1 to create it"
    expected = path.read_bytes()
    assert data == expected, (
        f"{kind}/{name} differs from its golden file ({len(data)} vs {len(expected)} bytes); if the change is "
        "intended, regenerate with MB_UPDATE_GOLDEN=1 and review the diff"
    )
