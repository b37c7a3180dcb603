"""Benchmark: evidence -> period grades, through the pure core and from SQLite and PostgreSQL.

Run by hand:

    .venv/bin/python benchmarks/translate.py [--students 20000] [--skip-core] [--databases sqlite,postgresql]

Part 1 times every calculation method over 20,000 students x 6 courses x 12 indicators x 8 scores
(11.52 million scores) on one core (see translate_core.py; targets 1,000,000 scores/s for most_recent,
mean and decaying_average, 300,000/s for power_law).
Part 2 bulk-loads the same shape of data into the real schema on each database, then computes every
student's snapshot grade for each grading period (Q1-Q4 and the credit-bearing final) from the
database with `lti_tool.grading.stream_class_grades`, and prints scores/s beside the time of a bare
SELECT of the same rows in the same order (the floor). Target: within 3x the floor.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, exists, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, aliased

sys.path.insert(0, str(Path(__file__).resolve().parent))

import translate_core

from lti_tool.db import make_engine, upgrade_database
from lti_tool.grading import stream_class_grades
from lti_tool.models import (
    AcademicSession,
    ClassSession,
    CompetencyItem,
    CompetencyKind,
    Course,
    Evidence,
    Framework,
    FrameworkSource,
    Org,
    OrgType,
    Person,
    SchoolClass,
    ScoreStatus,
    SessionType,
)
from lti_tool.policies import shipped_policy_document
from mappings import parse_policy

COURSES, INDICATORS, SCORES, SECTION_SIZE = 6, 12, 8, 40
YEAR_START, YEAR_END = date(2026, 8, 24), date(2027, 6, 11)
QUARTERS = (
    ("Q1", date(2026, 8, 24), date(2026, 10, 30)),
    ("Q2", date(2026, 11, 2), date(2027, 1, 15)),
    ("Q3", date(2027, 1, 19), date(2027, 3, 26)),
    ("Q4", date(2027, 3, 29), date(2027, 6, 11)),
)
EVIDENCE_COLUMNS = (
    "student_id", "class_id", "indicator_id", "score_status", "level_value", "demonstrated_at", "recorded_at",
    "kind", "source",
)  # fmt: skip
TARGET_RATIO = 3.0


def _reset(url: str) -> Engine:
    """An empty database at the newest schema."""
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        path.unlink(missing_ok=True)
    else:
        admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
        name = url.rsplit("/", 1)[1]
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    upgrade_database(url)
    return make_engine(url)


def _skeleton(session: Session, students: int) -> tuple[list[int], list[int], dict[int, list[int]]]:
    """School, sessions, courses, classes, indicators and students; returns ids needed for evidence."""
    school = Org(name="Benchmark High", type=OrgType.SCHOOL, sourced_id="BENCH")
    session.add(school)
    session.flush()
    year = AcademicSession(org_id=school.id, title="2026-27", type=SessionType.SCHOOL_YEAR, start_date=YEAR_START,
                           end_date=YEAR_END, sourced_id="SY")  # fmt: skip
    session.add(year)
    session.flush()
    periods = [
        AcademicSession(
            org_id=school.id,
            title=pid,
            type=SessionType.GRADING_PERIOD,
            start_date=start,
            end_date=end,
            parent_id=year.id,
            sourced_id=pid,
        )
        for pid, start, end in QUARTERS
    ]
    periods.append(AcademicSession(org_id=school.id, title="Final", type=SessionType.GRADING_PERIOD, sourced_id="Y1",
                                   start_date=YEAR_START, end_date=YEAR_END, parent_id=year.id, is_credit_bearing=True))  # fmt: skip
    session.add_all(periods)
    framework = Framework(title="Bench", source=FrameworkSource.MANUAL)
    session.add(framework)
    session.flush()
    indicators: dict[int, list[int]] = {}
    class_ids: list[int] = []
    for c in range(COURSES):
        course = Course(org_id=school.id, code=f"C{c}", title=f"Course {c}", credits=Decimal(1))
        items = [CompetencyItem(framework_id=framework.id, kind=CompetencyKind.PERFORMANCE_INDICATOR,
                                code=f"C{c}.{i}", statement="indicator") for i in range(INDICATORS)]  # fmt: skip
        session.add(course)
        session.add_all(items)
        session.flush()
        for s in range(0, students, SECTION_SIZE):
            section = SchoolClass(course_id=course.id, org_id=school.id, title=f"C{c}-{s // SECTION_SIZE}")
            session.add(section)
            session.flush()
            class_ids.append(section.id)
            indicators[section.id] = [item.id for item in items]
            session.add_all(ClassSession(class_id=section.id, academic_session_id=p.id) for p in periods)
    session.execute(insert(Person), [{"given_name": "S", "family_name": str(n)} for n in range(students)])
    student_ids = list(session.scalars(select(Person.id).order_by(Person.id)))
    return student_ids, class_ids, indicators


def _evidence(
    student_ids: list[int], class_ids: list[int], indicators: dict[int, list[int]], seed: int
) -> Iterator[tuple[object, ...]]:
    rng = random.Random(seed)
    span = (YEAR_END - YEAR_START).days
    sections_per_course = len(class_ids) // COURSES
    for course in range(COURSES):
        for index, student_id in enumerate(student_ids):
            class_id = class_ids[course * sections_per_course + index // SECTION_SIZE]
            for indicator_id in indicators[class_id]:
                for k in range(SCORES):
                    day = YEAR_START + timedelta(days=int(span * (k + rng.random()) / SCORES))
                    at = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
                    yield (
                        student_id,
                        class_id,
                        indicator_id,
                        "scored",
                        Decimal(rng.randint(0, 4)),
                        at,
                        at,
                        "summative",
                        "import",
                    )


def _bulk_load(engine: Engine, rows: Iterator[tuple[object, ...]]) -> int:
    """COPY on PostgreSQL, executemany in one transaction on SQLite; returns rows loaded."""
    count = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY evidence ({', '.join(EVIDENCE_COLUMNS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
                    count += 1
        else:
            # The engine runs pysqlite in autocommit mode (see lti_tool.db); one explicit transaction.
            cursor.execute("BEGIN")
            marks = ", ".join("?" for _ in EVIDENCE_COLUMNS)
            sql = f"INSERT INTO evidence ({', '.join(EVIDENCE_COLUMNS)}) VALUES ({marks})"
            batch: list[tuple[object, ...]] = []
            for row in rows:
                batch.append((*row[:4], str(row[4]), row[5].isoformat(), row[6].isoformat(), *row[7:]))  # type: ignore[attr-defined]
                if len(batch) == 50_000:
                    cursor.executemany(sql, batch)
                    count += len(batch)
                    batch.clear()
            cursor.executemany(sql, batch)
            count += len(batch)
        raw.commit()
    finally:
        raw.close()
    return count


def _floor(engine: Engine) -> tuple[float, int]:
    """A bare SELECT of the same rows, in the same order, through the same driver: seconds and rows."""
    correction = aliased(Evidence)
    query = (
        select(Evidence.class_id, Evidence.student_id, Evidence.indicator_id, Evidence.level_value,
               Evidence.demonstrated_at, Evidence.kind)
        .where(Evidence.score_status == ScoreStatus.SCORED)
        .where(~exists().where(correction.supersedes_id == Evidence.id))
        .order_by(Evidence.class_id, Evidence.student_id, Evidence.indicator_id, Evidence.demonstrated_at)
        .execution_options(yield_per=20_000)
    )  # fmt: skip
    with Session(engine) as session:
        started = time.perf_counter()
        rows = sum(1 for _ in session.execute(query))
        return time.perf_counter() - started, rows


def run_database(url: str, students: int, seed: int) -> None:
    """Load, then time the floor and the grading pass on one database."""
    label = url.split(":", 1)[0]
    print(f"\n== {label}: {url}")
    engine = _reset(url)
    try:
        started = time.perf_counter()
        with Session(engine) as session, session.begin():
            student_ids, class_ids, indicators = _skeleton(session, students)
        loaded = _bulk_load(engine, _evidence(student_ids, class_ids, indicators, seed))
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                connection.execute(text("ANALYZE"))
                connection.commit()
        print(f"bulk load: {loaded:,} evidence rows in {time.perf_counter() - started:.1f}s")
        floor_seconds, floor_rows = _floor(engine)
        print(f"floor (bare SELECT, same rows and order): {floor_rows:,} rows in {floor_seconds:.2f}s "
              f"= {floor_rows / floor_seconds:,.0f} rows/s")  # fmt: skip
        policy = parse_policy(shipped_policy_document("four-point-plus-minus"))
        with Session(engine) as session:
            started = time.perf_counter()
            students_graded = grades = 0
            for item in stream_class_grades(session, policy):
                students_graded += 1
                grades += len(item.grades)
            seconds = time.perf_counter() - started
        ratio = seconds / floor_seconds
        verdict = "PASS" if ratio <= TARGET_RATIO else "BELOW TARGET"
        print(f"graded {students_graded:,} student x class pairs, {grades:,} period grades, from {floor_rows:,} "
              f"scores in {seconds:.2f}s = {floor_rows / seconds:,.0f} scores/s")  # fmt: skip
        print(f"cost vs floor: {ratio:.2f}x (target <= {TARGET_RATIO:.0f}x) {verdict}")
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-core", action="store_true", help="skip part 1 (pure core)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--sqlite-url", default="sqlite:///var/bench/translate.db")
    parser.add_argument("--postgresql-url", default="postgresql+psycopg://root@127.0.0.1:5432/mastery_bench")
    args = parser.parse_args()
    if not args.skip_core:
        print("== part 1: pure core (one core)")
        translate_core.run(args.students, args.seed, also_calculate=False)
    print("\n== part 2: from the database")
    for name in args.databases.split(","):
        url = args.sqlite_url if name == "sqlite" else args.postgresql_url
        run_database(url, args.students, args.seed)


if __name__ == "__main__":
    main()
