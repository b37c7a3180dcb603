"""Benchmark: post one grading period for 20,000 students x 6 classes, then write every export, on PostgreSQL.

Run by hand (it empties the database it is given):

    DATABASE_URL=postgresql+psycopg://root@127.0.0.1:5432/root .venv/bin/python benchmarks/registrar.py \
        [--students 20000] [--out /tmp/registrar-exports]

Setup (not timed against the target) bulk-loads one school with 6 courses (one AP, one honors, one non-core),
classes of 30, 4 indicators per course and 3 scored demonstrations per indicator in Q1, habits of work,
SIS ids and an SIS connection (so posting queues the SIS push, as at a synced school; `--no-sis` leaves
it out), with COPY. Timed: `lti_tool.registrar.posting.post_period` for Q1 (committed), then
`lti_tool.exports.export_all` for every kind (what `mastery-bridge export all` runs, rendering in
`--jobs` processes) and writing the files. Target: under 60 s in total. The floor
printed beside it is a bare SELECT of the rows the two steps must read (the evidence up to Q1's end, and the
posted grades), i.e. what no implementation can go under on this database.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, select, text

from lti_tool.db import make_engine, make_session_factory, upgrade_database
from lti_tool.exports import EXPORT_KINDS, default_jobs, export_all
from lti_tool.models import (
    AcademicSession,
    ClassIndicator,
    ClassSession,
    CompetencyItem,
    CompetencyKind,
    Course,
    CourseLevel,
    Framework,
    FrameworkSource,
    NcaaArea,
    Org,
    OrgType,
    SchoolClass,
    SessionType,
)
from lti_tool.policies import DEFAULT_POLICY_NAME, shipped_policy_document, store_policy
from lti_tool.registrar.posting import post_period
from lti_tool.settings import load_settings
from lti_tool.sis.connection import create_connection

TARGET_SECONDS = 60.0
SIS_NAME = "bench-sis"
SECTION = 30
INDICATORS = 4
SCORES = 3
COURSES = (
    ("ENG10", "English 10", "1.0", CourseLevel.STANDARD, True, NcaaArea.ENGLISH),
    ("ALG2", "Algebra II", "1.0", CourseLevel.STANDARD, True, NcaaArea.MATH),
    ("BIO", "Biology", "1.0", CourseLevel.STANDARD, True, NcaaArea.SCIENCE),
    ("APUSH", "AP U.S. History", "1.0", CourseLevel.AP, True, NcaaArea.SOCIAL_SCIENCE),
    ("CHEMH", "Honors Chemistry", "1.0", CourseLevel.HONORS, True, NcaaArea.SCIENCE),
    ("ART", "Studio Art", "0.5", CourseLevel.STANDARD, False, None),
)
SESSIONS = (
    ("Q1", "Quarter 1", date(2026, 8, 24), date(2026, 10, 30), False),
    ("Q2", "Quarter 2", date(2026, 11, 2), date(2027, 1, 15), False),
    ("Q3", "Quarter 3", date(2027, 1, 19), date(2027, 3, 26), False),
    ("Q4", "Quarter 4", date(2027, 3, 29), date(2027, 6, 11), False),
    ("Y1", "Final (year)", date(2026, 8, 24), date(2027, 6, 11), True),
)


def _empty(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    upgrade_database(url)


def _copy(raw: object, table: str, columns: str, rows: list[str]) -> None:
    cursor = raw.cursor()  # type: ignore[attr-defined]
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        buffer = io.StringIO()
        buffer.writelines(rows)
        copy.write(buffer.getvalue())


def setup(url: str, students: int, *, sis: bool) -> None:
    """Load the school (see the module docstring); prints how long it took."""
    started = time.perf_counter()
    _empty(url)
    engine = make_engine(url)
    rng = random.Random(2026)
    with make_session_factory(engine).begin() as session:
        district = Org(sourced_id="BENCH-D", name="Bench District", type=OrgType.DISTRICT)
        session.add(district)
        session.flush()
        school = Org(sourced_id="BENCH", name="Bench High School", type=OrgType.SCHOOL, parent_id=district.id)
        session.add(school)
        session.flush()
        policy = store_policy(
            session, shipped_policy_document(DEFAULT_POLICY_NAME), org_id=school.id, source="bench"
        )
        school.default_policy_id = policy.id
        if sis:
            # The school's SIS, so that posting queues the push as a synced school's does (never contacted).
            create_connection(session, name=SIS_NAME, profile="generic-1.2", base_url="https://sis.invalid/oneroster",
                              version="1.2", auth="oauth2", client_id="bench", secret="bench-secret",
                              secret_key=load_settings(), settings={"token_url": "https://sis.invalid/token"},
                              org=school.id)  # fmt: skip
        year = AcademicSession(sourced_id="SY2026", org_id=school.id, title="2026-27", type=SessionType.SCHOOL_YEAR,
                               start_date=date(2026, 8, 24), end_date=date(2027, 6, 11))  # fmt: skip
        session.add(year)
        session.flush()
        periods = []
        for sid, title, start, end, credit in SESSIONS:
            period = AcademicSession(sourced_id=sid, org_id=school.id, title=title, type=SessionType.GRADING_PERIOD,
                                     parent_id=year.id, start_date=start, end_date=end, is_credit_bearing=credit)  # fmt: skip
            session.add(period)
            periods.append(period)
        framework = Framework(title="Bench standards", source=FrameworkSource.MANUAL, org_id=school.id)
        session.add(framework)
        session.flush()
        indicator_ids: dict[str, list[int]] = {}
        course_ids: dict[str, int] = {}
        for code, title, credits, level, core, area in COURSES:
            course = Course(org_id=school.id, code=code, title=title, credits=Decimal(credits), level=level,
                            is_ncaa_core=core, ncaa_area=area, sourced_id=f"CRS-{code}")  # fmt: skip
            session.add(course)
            items = [
                CompetencyItem(
                    framework_id=framework.id,
                    kind=CompetencyKind.PERFORMANCE_INDICATOR,
                    code=f"{code}.{n}",
                    statement=f"I can do {title} skill {n}.",
                    sequence=n,
                    case_identifier=f"case-{code}-{n}",
                )
                for n in range(1, INDICATORS + 1)
            ]
            session.add_all(items)
            session.flush()
            course_ids[code] = course.id
            indicator_ids[code] = [item.id for item in items]
        sections = (students + SECTION - 1) // SECTION
        class_rows = [{"course_id": course_ids[code], "org_id": school.id, "title": f"{title} ({n + 1})",
                       "section_code": str(n + 1), "sourced_id": f"{code}-{n + 1}"}
                      for code, title, *_ in COURSES for n in range(sections)]  # fmt: skip
        session.execute(insert(SchoolClass), class_rows)
        classes = {sid: cid for cid, sid in session.execute(select(SchoolClass.id, SchoolClass.sourced_id))}
        session.execute(insert(ClassSession), [{"class_id": cid, "academic_session_id": s.id}
                                               for cid in classes.values() for s in (year, *periods)])  # fmt: skip
        session.execute(insert(ClassIndicator), [
            {"class_id": classes[f"{code}-{n + 1}"], "indicator_id": item}
            for code, *_ in COURSES for n in range(sections) for item in indicator_ids[code]
        ])  # fmt: skip
        raw = session.connection().connection.driver_connection
        now = datetime(2026, 8, 1, tzinfo=UTC).isoformat()
        _copy(raw, "persons", "id, given_name, family_name, created_at",
              [f"{i}\tGiven{i}\tFamily{i % 997}\t{now}\n" for i in range(1, students + 1)])  # fmt: skip
        session.execute(text("SELECT setval(pg_get_serial_sequence('persons', 'id'), :n)"), {"n": students})
        _copy(raw, "person_identifiers", "person_id, source, system, value",
              [f"{i}\tsis\t{SIS_NAME}\tS{i:06d}\n" for i in range(1, students + 1)])  # fmt: skip
        enrollments, evidence, habits = [], [], []
        q1_days = [date(2026, 9, 8) + timedelta(days=14 * k) for k in range(SCORES)]
        for i in range(1, students + 1):
            section = (i - 1) // SECTION + 1
            skill = rng.uniform(1.2, 3.8)
            for code, *_ in COURSES:
                class_id = classes[f"{code}-{section}"]
                enrollments.append(f"{class_id}\t{i}\tstudent\tt\tENR-{class_id}-{i}\n")
                for indicator in indicator_ids[code]:
                    for day in q1_days:
                        score = min(4, max(1, round(skill + rng.uniform(-0.8, 0.8))))
                        evidence.append(f"{i}\t{class_id}\t{indicator}\tscored\t{score}\t{day}T10:00:00+00\t"
                                        f"{day}T10:00:00+00\tsummative\timport\n")  # fmt: skip
                for habit in ("engagement", "preparedness"):
                    habits.append(f"{i}\t{class_id}\t{habit}\t{rng.randint(2, 4)}\t2026-10-23\t{now}\n")
        _copy(raw, "enrollments", "class_id, person_id, role, is_active, sourced_id", enrollments)
        _copy(raw, "evidence", "student_id, class_id, indicator_id, score_status, level_value, demonstrated_at, "
              "recorded_at, kind, source", evidence)  # fmt: skip
        _copy(raw, "habit_scores", "student_id, class_id, habit, value, observed_on, recorded_at", habits)
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()
    print(f"setup: {students} students, {len(class_rows)} classes, {len(enrollments)} enrollments, "
          f"{len(evidence)} evidence rows, {len(habits)} habit scores in {time.perf_counter() - started:.1f} s")  # fmt: skip


def floor(url: str) -> float:
    """Seconds for a bare SELECT of the evidence up to Q1's end and of the posted grades (after posting)."""
    engine = make_engine(url)
    started = time.perf_counter()
    with engine.connect() as connection:
        for sql in (
            "SELECT class_id, student_id, indicator_id, level_value, demonstrated_at, kind FROM evidence "
            "WHERE demonstrated_at < '2026-10-31' ORDER BY class_id, student_id, indicator_id, demonstrated_at",
            "SELECT student_id, class_id, academic_session_id, letter, course_value, grade_points, provenance "
            "FROM posted_grades",
        ):
            for _ in connection.exec_driver_sql(sql).yield_per(20_000):
                pass
    engine.dispose()
    return time.perf_counter() - started


def run(url: str, out: Path, jobs: int) -> None:
    """Post Q1 and write every export; print the figures."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    marks: list[tuple[str, float]] = []
    started = time.perf_counter()
    with factory.begin() as session:
        school = session.scalar(select(Org).where(Org.sourced_id == "BENCH"))
        period = session.scalar(select(AcademicSession).where(AcademicSession.sourced_id == "Q1"))
        assert school is not None
        assert period is not None
        posting = post_period(
            session, school, period, actor="bench", now=datetime(2026, 11, 2, 16, tzinfo=UTC)
        )
        posted = posting.counts.get("posted")
        queued = sum((posting.counts.get("outbox") or {}).get("queued", {}).values())
    marks.append((f"post_period Q1 ({posted} grades, {queued} queued)", time.perf_counter()))
    with factory() as session:
        school = session.scalar(select(Org).where(Org.sourced_id == "BENCH"))
        period = session.scalar(select(AcademicSession).where(AcademicSession.sourced_id == "Q1"))
        assert school is not None
        assert period is not None

        current = ["  export: find school and period"]

        def step(name: str) -> None:
            marks.append((current[0], time.perf_counter()))
            current[0] = f"  export: {name}"

        results = export_all(session, school, period, jobs=jobs, progress=step)
    marks.append((current[0], time.perf_counter()))
    sizes = 0
    for kind, result in results.items():
        folder = out / kind
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in result.with_manifest().items():
            (folder / name).write_bytes(data)
            sizes += len(data)
    marks.append((f"files written ({sizes / 1e6:.1f} MB in {out})", time.perf_counter()))
    engine.dispose()
    total = time.perf_counter() - started
    previous = started
    print("step                                             seconds")
    for name, moment in marks:
        print(f"{name:<48} {moment - previous:8.2f}")
        previous = moment
    print(f"{'total (post + every export + write)':<48} {total:8.2f}   target < {TARGET_SECONDS:.0f} s: "
          f"{'met' if total < TARGET_SECONDS else 'NOT met'}")  # fmt: skip
    print(f"{'floor (bare SELECT of evidence and posted grades)':<48} {floor(url):8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "registrar-exports")
    parser.add_argument("--no-sis", action="store_true",
                        help="no SIS connection: posting then queues no push (it does by default)")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=default_jobs(),
                        help="renderer processes, as `mastery-bridge export all --jobs` (default: the cores)")  # fmt: skip
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        sys.exit("DATABASE_URL must point at a PostgreSQL database this benchmark may empty")
    print(f"kinds: {', '.join(EXPORT_KINDS)}; rendered in {args.jobs} process(es)")
    setup(url, args.students, sis=not args.no_sis)
    run(url, args.out, args.jobs)


if __name__ == "__main__":
    main()
