"""Benchmark: the teacher's class mastery grid and the score-row save, in-process through the Flask test client.

Run by hand from the repository root (about 20 s on SQLite, 30 s on PostgreSQL):

    .venv/bin/python benchmarks/pages.py [--requests 50] [--saves 50] [--no-profile]
        [--database-url postgresql+psycopg://root@127.0.0.1:5432/mastery_pages_bench]

Without --database-url it uses a fresh SQLite file in a temporary folder. A PostgreSQL database must be
named `mastery_pages_bench...`; it is dropped and recreated (through the `postgres` database) before the run
and dropped after, so the benchmark can never touch another one.

Seed: one school (the shipped `four-point-plus-minus` policy as its default), a school year of four
grading periods (the current one ends in 10 days, so the period-end flag is live), one course and class,
35 students, a teacher, 15 indicators (ClassIndicator rows), 10 tasks aligned to all 15, and one scored
piece of evidence per task x student x indicator (5,250 rows, bulk inserted), plus habits of work.

Measured (the test client calls the WSGI app in this process, so the time around a call is server time):
    grid: warm-up, then GET /teacher/classes/<id> N times: p50/p95/max ms and SQL statements per request;
          page weight: the HTML plus every stylesheet and script it links, raw and gzip;
          one request under cProfile, top entries by cumulative time.
    save: POST /teacher/classes/<id>/tasks/<task>/students/<student> with 3 indicators, M times:
          p50/p95 of the `server_ms` the view reports, and of the whole in-process call.
Targets (the issue): the grid for 35 students x 15 indicators x 10 pieces of evidence under 150 ms of server
time with a page under 200 KB; each save under 100 ms of server time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, insert, make_url, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lti_tool.app import create_app
from lti_tool.db import upgrade_database
from lti_tool.lti.roles import AppRole
from lti_tool.models import (
    AcademicSession,
    AssessmentKind,
    ClassIndicator,
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
    Habit,
    HabitScore,
    Org,
    OrgType,
    Person,
    SchoolClass,
    ScoreStatus,
    SessionType,
    Task,
    TaskIndicator,
    utcnow,
)
from lti_tool.policies import DEFAULT_POLICY_NAME, shipped_policy_document, store_policy
from lti_tool.runtime import GC_THRESHOLDS, tune_garbage_collector
from lti_tool.settings import Settings
from lti_tool.web.auth import LaunchSession, issue_session_token
from lti_tool.web.session import app_state

DATABASE_PREFIX = "mastery_pages_bench"
STUDENTS, INDICATORS, PIECES = 35, 15, 10
SAVE_INDICATORS = 3
WARMUP = 5
TARGET_GRID_MS = 150.0
TARGET_PAGE_BYTES = 200 * 1024
TARGET_SAVE_MS = 100.0
PROFILE_TOP = 12
LEVELS = tuple(Decimal(value) for value in ("1", "2", "2.5", "3", "3.5", "4"))
#: Teachers type whole levels (the school has no scale of its own, so the 1-4 default applies).
TYPED_LEVELS = ("1", "2", "3", "4")
#: Frames of the test client and Flask's dispatch, left out of the profile (they only wrap the view).
WRAPPER_FRAMES = re.compile(r"/(werkzeug|flask)/|<method 'join'")


@dataclass(frozen=True, slots=True)
class Seeded:
    """The ids the requests need."""

    class_id: int
    teacher_id: int
    student_ids: tuple[int, ...]
    save_task_id: int
    save_indicator_ids: tuple[int, ...]


# Database ----------------------------------------------------------------------------------------------


def _postgres_admin_url(url: str) -> str:
    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


def fresh_database(url: str) -> None:
    """Drop and recreate a PostgreSQL benchmark database (SQLite files are new already), then migrate."""
    sa_url = make_url(url)
    if sa_url.get_backend_name() == "postgresql":
        name = sa_url.database or ""
        if not name.startswith(DATABASE_PREFIX):
            raise SystemExit(
                f"--database-url must name a database starting with {DATABASE_PREFIX!r}, got {name!r}"
            )
        admin = create_engine(_postgres_admin_url(url), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
    upgrade_database(url)


def drop_database(url: str) -> None:
    """Drop the PostgreSQL benchmark database (SQLite: the temporary folder goes on its own)."""
    sa_url = make_url(url)
    if sa_url.get_backend_name() != "postgresql":
        return
    admin = create_engine(_postgres_admin_url(url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{sa_url.database}"'))
    finally:
        admin.dispose()


def seed(session: Session, today: date) -> Seeded:
    """One class of 35 students x 15 indicators x 10 scored pieces of evidence, graded by the shipped policy."""
    school = Org(name="Pages Bench High", type=OrgType.SCHOOL, sourced_id="PAGES-BENCH")
    session.add(school)
    session.flush()
    policy_row = store_policy(
        session, shipped_policy_document(DEFAULT_POLICY_NAME), org_id=school.id, source="benchmark"
    )
    school.default_policy_id = policy_row.id

    # Four 60-day periods; the third ends in 10 days, so "below mastery near a period's end" is computed live.
    third_end = today + timedelta(days=10)
    starts = [third_end - timedelta(days=179 - 60 * n) for n in range(4)]
    year = AcademicSession(org_id=school.id, title="Year", type=SessionType.SCHOOL_YEAR, sourced_id="PB-SY",
                           start_date=starts[0], end_date=starts[3] + timedelta(days=59))  # fmt: skip
    session.add(year)
    session.flush()
    periods = [
        AcademicSession(org_id=school.id, title=f"Q{n + 1}", type=SessionType.GRADING_PERIOD, parent_id=year.id,
                        sourced_id=f"PB-Q{n + 1}", start_date=start, end_date=start + timedelta(days=59))
        for n, start in enumerate(starts)
    ]  # fmt: skip
    periods.append(AcademicSession(org_id=school.id, title="Final", type=SessionType.GRADING_PERIOD,
                                   parent_id=year.id, sourced_id="PB-Y1", start_date=year.start_date,
                                   end_date=year.end_date, is_credit_bearing=True))  # fmt: skip
    course = Course(org_id=school.id, code="ALG2", title="Algebra II", credits=Decimal(1))
    session.add_all([*periods, course])
    session.flush()
    school_class = SchoolClass(course_id=course.id, org_id=school.id, title="Algebra II, period 3")
    framework = Framework(title="Pages bench framework", source=FrameworkSource.MANUAL)
    session.add_all([school_class, framework])
    session.flush()
    session.add_all(ClassSession(class_id=school_class.id, academic_session_id=p.id) for p in periods)

    items = [
        CompetencyItem(framework_id=framework.id, kind=CompetencyKind.PERFORMANCE_INDICATOR, code=f"A2.{n + 1}",
                       statement=f"I can reason about algebraic structure number {n + 1}.", sequence=n)
        for n in range(INDICATORS)
    ]  # fmt: skip
    teacher = Person(given_name="Tess", family_name="Teacher")
    students = [Person(given_name=f"Student{n:02d}", family_name=f"Family{n:02d}") for n in range(STUDENTS)]
    session.add_all([*items, teacher, *students])
    session.flush()
    indicator_ids = [item.id for item in items]
    session.add_all(ClassIndicator(class_id=school_class.id, indicator_id=i) for i in indicator_ids)
    session.add(Enrollment(class_id=school_class.id, person_id=teacher.id, role=EnrollmentRole.TEACHER))
    session.add_all(
        Enrollment(class_id=school_class.id, person_id=p.id, role=EnrollmentRole.STUDENT) for p in students
    )
    tasks = [
        Task(class_id=school_class.id, title=f"Task {n + 1}", kind=AssessmentKind.FORMATIVE,
             assigned_on=today - timedelta(days=100 - 10 * n), created_by_id=teacher.id)
        for n in range(PIECES + 1)
    ]  # fmt: skip
    session.add_all(tasks)
    session.flush()
    save_task = tasks[-1]
    save_indicators = indicator_ids[:SAVE_INDICATORS]
    session.add_all(
        TaskIndicator(task_id=t.id, indicator_id=i) for t in tasks[:PIECES] for i in indicator_ids
    )
    session.add_all(TaskIndicator(task_id=save_task.id, indicator_id=i) for i in save_indicators)

    now = utcnow()
    evidence = [
        {
            "student_id": student.id,
            "class_id": school_class.id,
            "indicator_id": indicator_id,
            "task_id": task.id,
            "score_status": ScoreStatus.SCORED,
            "level_value": LEVELS[(s * 7 + i * 3 + k * 5 + (k * k) % 4) % len(LEVELS)],
            "demonstrated_at": datetime.combine(task.assigned_on or today, day_time(10), tzinfo=UTC),
            "recorded_at": now,
            "assessor_id": teacher.id,
            "kind": task.kind,
            "source": EvidenceSource.LTI,
        }
        for k, task in enumerate(tasks[:PIECES])
        for s, student in enumerate(students)
        for i, indicator_id in enumerate(indicator_ids)
    ]
    session.execute(insert(Evidence), evidence)
    habits = [
        {"student_id": student.id, "class_id": school_class.id, "habit": habit,
         "value": Decimal(1 + (s + h + week) % 4), "observed_on": today - timedelta(days=7 * week),
         "recorded_by_id": teacher.id, "recorded_at": now}
        for s, student in enumerate(students)
        for h, habit in enumerate(Habit)
        for week in range(2)
    ]  # fmt: skip
    session.execute(insert(HabitScore), habits)
    return Seeded(
        class_id=school_class.id,
        teacher_id=teacher.id,
        student_ids=tuple(student.id for student in students),
        save_task_id=save_task.id,
        save_indicator_ids=tuple(save_indicators),
    )


# Measuring ---------------------------------------------------------------------------------------------


@contextmanager
def counting_statements(app: Flask) -> Iterator[list[int]]:
    """Count SQL statements the app's engine runs inside the block (the list's one item)."""
    counter = [0]

    def count(*_: Any) -> None:
        counter[0] += 1

    engine = app_state(app).engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", count)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 50 samples is the 48th smallest)."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]


def verdict(value: float, target: float) -> str:
    return "PASS" if value < target else "BELOW TARGET"


def linked_assets(page: str) -> list[str]:
    """Paths of the stylesheets and scripts a page links (what a browser fetches to show it)."""
    hrefs = re.findall(r'<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"', page)
    hrefs += re.findall(r'<script[^>]+src="([^"]+)"', page)
    return list(dict.fromkeys(urlsplit(href).path for href in hrefs))


def print_profile(profiler: cProfile.Profile) -> None:
    """The top entries by cumulative time below the test client and Flask's dispatch."""
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    entries = sorted(stats.stats.items(), key=lambda item: item[1][3], reverse=True)  # type: ignore[attr-defined]
    print(f"  one grid request under cProfile ({total * 1000:.0f} ms with profiling overhead), top {PROFILE_TOP}"
          " by cumulative time below Flask's dispatch:")  # fmt: skip
    print(f"    {'calls':>9} {'own ms':>8} {'cum ms':>8}  function")
    shown = 0
    for (filename, line, name), (_, calls, own, cumulative, _) in entries:
        where = f"{filename}:{line}({name})"
        if WRAPPER_FRAMES.search(where):
            continue
        where = re.sub(r"^.*/(site-packages|main)/", "", where)
        print(f"    {calls:>9} {own * 1000:8.1f} {cumulative * 1000:8.1f}  {where}")
        shown += 1
        if shown == PROFILE_TOP:
            break


def measure_grid(app: Flask, client: FlaskClient, url: str, requests: int, *, is_profiled: bool) -> None:
    for _ in range(WARMUP):
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(
                f"GET grid answered {response.status_code}: {response.get_data(as_text=True)[:300]}"
            )
    timings: list[float] = []
    cpu: list[float] = []
    with counting_statements(app) as statements:
        for _ in range(requests):
            started, cpu_started = time.perf_counter(), time.thread_time()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.thread_time() - cpu_started) * 1000)
    page = response.get_data()
    html = page.decode()
    cells = html.count('class="cell')
    print(
        f"grid: {requests} requests, {cells} cells, {statements[0] / requests:.0f} SQL statements per request"
    )
    p50, p95 = percentile(timings, 0.5), percentile(timings, 0.95)
    print(f"  server time  p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   max {max(timings):6.1f} ms"
          f"   (target < {TARGET_GRID_MS:.0f} ms) {verdict(p95, TARGET_GRID_MS)} at p95")  # fmt: skip
    print(f"  of it CPU    p50 {percentile(cpu, 0.5):6.1f} ms   p95 {percentile(cpu, 0.95):6.1f} ms"
          "   (this thread; the rest is waiting on the database or for a core)")  # fmt: skip

    parts = [("HTML", url, page)]
    for path in linked_assets(html):
        asset = client.get(path)
        if asset.status_code != 200:
            raise SystemExit(f"GET {path} answered {asset.status_code}")
        parts.append((path, path, asset.get_data()))
        asset.close()
    sizes = []
    for name, target, body in parts:
        # What a browser downloads: the app negotiates Accept-Encoding (Flask-Compress).
        sent = client.get(target, headers={"Accept-Encoding": "br, gzip"})
        sizes.append(
            (name, len(body), len(sent.get_data()), sent.headers.get("Content-Encoding", "identity"))
        )
        sent.close()
    raw_total = sum(raw for _, raw, _, _ in sizes)
    wire_total = sum(wire for _, _, wire, _ in sizes)
    print("  page weight (the HTML and the stylesheets and scripts it links):")
    for name, raw, wire, encoding in sizes:
        print(f"    {name[:40]:<40} {raw / 1024:7.1f} KB raw {wire / 1024:6.1f} KB on the wire ({encoding})")
    print(f"    {'total':<40} {raw_total / 1024:7.1f} KB raw {wire_total / 1024:6.1f} KB on the wire"
          f"   (target < {TARGET_PAGE_BYTES // 1024} KB) on the wire {verdict(wire_total, TARGET_PAGE_BYTES)},"
          f" raw {verdict(raw_total, TARGET_PAGE_BYTES)}")  # fmt: skip
    token_bytes = html.count("mb_session=") * len(url.split("mb_session=", 1)[1])
    print(f"    of the HTML, {token_bytes / 1024:.1f} KB is the session token repeated in every link")

    if is_profiled:
        profiler = cProfile.Profile()
        profiler.enable()
        client.get(url)
        profiler.disable()
        print_profile(profiler)


def measure_saves(client: FlaskClient, seeded: Seeded, token: str, saves: int) -> None:
    server_ms: list[float] = []
    call_ms: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    base = f"/teacher/classes/{seeded.class_id}/tasks/{seeded.save_task_id}/students"
    for n in range(saves):
        student_id = seeded.student_ids[n % len(seeded.student_ids)]
        levels = {str(i): TYPED_LEVELS[(n + j) % 4] for j, i in enumerate(seeded.save_indicator_ids)}
        started = time.perf_counter()
        response = client.post(f"{base}/{student_id}", json={"levels": levels}, headers=headers)
        call_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"save answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
        body = response.get_json()
        if body["saved"] != SAVE_INDICATORS:
            raise SystemExit(f"save stored {body['saved']} rows, expected {SAVE_INDICATORS}")
        server_ms.append(float(body["server_ms"]))
    p50, p95 = percentile(server_ms, 0.5), percentile(server_ms, 0.95)
    print(f"save: {saves} rows of {SAVE_INDICATORS} indicators")
    print(f"  server_ms    p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   max {max(server_ms):6.1f} ms"
          f"   (target < {TARGET_SAVE_MS:.0f} ms) {verdict(p95, TARGET_SAVE_MS)} at p95")  # fmt: skip
    print(f"  whole call   p50 {percentile(call_ms, 0.5):6.1f} ms   p95 {percentile(call_ms, 0.95):6.1f} ms"
          "   (includes request parsing, session token check and commit outside server_ms)")  # fmt: skip


def run(database_url: str, data_dir: Path, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    fresh_database(database_url)
    app = create_app(
        Settings(
            database_url=database_url,
            data_dir=data_dir,
            public_base_url="https://mb.example.org",
            secret_key="pages-benchmark-secret-key",
            log_level="WARNING",
            is_debug=False,
        )
    )
    # As the production entry point (lti_tool/wsgi.py) does in every gunicorn worker.
    tune_garbage_collector()
    print(f"garbage collector tuned as in production: thresholds {GC_THRESHOLDS}")
    try:
        today = utcnow().date()
        with app_state(app).session_factory.begin() as session:
            seeded = seed(session, today)
        if app_state(app).engine.dialect.name == "postgresql":
            with app_state(app).engine.connect() as connection:
                connection.execute(text("ANALYZE"))
                connection.commit()
        print(f"seeded {STUDENTS} students x {INDICATORS} indicators x {PIECES} pieces = "
              f"{STUDENTS * INDICATORS * PIECES:,} evidence rows in {time.perf_counter() - started:.1f} s")  # fmt: skip
        with app.test_request_context():
            token = issue_session_token(
                LaunchSession(
                    person_id=seeded.teacher_id,
                    registration_id=1,
                    deployment_id="pages-bench",
                    lti_context_id=None,
                    class_id=seeded.class_id,
                    roles=frozenset({AppRole.TEACHER}),
                    message_type="LtiResourceLinkRequest",
                    resource_link_id="pages-bench-link",
                    launch_id="pages-bench",
                )
            )
        client = app.test_client()
        grid_url = f"/teacher/classes/{seeded.class_id}?mb_session={token}"
        measure_grid(app, client, grid_url, args.requests, is_profiled=not args.no_profile)
        measure_saves(client, seeded, token, args.saves)
    finally:
        app_state(app).dispose()
    print(f"done in {time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    parser.add_argument("--requests", type=int, default=50, help="grid requests measured (default 50)")
    parser.add_argument("--saves", type=int, default=50, help="score-row saves measured (default 50)")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile of one grid request")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mastery-pages-bench-") as folder:
        data_dir = Path(folder)
        url = args.database_url or f"sqlite:///{data_dir / 'pages.db'}"
        print(f"== {make_url(url).render_as_string(hide_password=True)}")
        # Wall times here are this process's; other work on the machine competing for its cores inflates them.
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the start")
        try:
            run(url, data_dir, args)
        finally:
            drop_database(url)


if __name__ == "__main__":
    main()
