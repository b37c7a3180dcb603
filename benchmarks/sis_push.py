"""Benchmark: push 100,000 results through the grade outbox to the fake OneRoster gradebook.

Run by hand from the repository root (PostgreSQL is the target; a fresh schema is made and dropped):

    .venv/bin/python benchmarks/sis_push.py --database-url postgresql+psycopg://root@127.0.0.1:5432/root \
        [--results 100000] [--classes 400] [--threads 8] [--token-lifetime 3600]

Target: >= 500 results/s from outbox to SIS, with exactly one token request per token lifetime.
The fake SIS runs in its own process (so it does not share the GIL with the worker); the worker is
`deliver_all` as `mastery-bridge worker run` calls it (MB_PUSH_THREADS senders sharing one token
and a keep-alive connection each); `--threads` sets that number here.
Printed: seeding and enqueue time, the floor (raw PUT rate of the same client to the same fake, no
database, no outbox), the push rate, and tokens issued per phase.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import socket
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import insert, make_url, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.oneroster.http import new_session
from connectors.oneroster_csv.payloads import PeriodResult
from lti_tool.db import make_engine, make_session_factory, upgrade_database
from lti_tool.demo.sis.server import PREFIX
from lti_tool.models import (
    AcademicSession,
    ClassIndicator,
    ClassSession,
    CompetencyItem,
    CompetencyKind,
    Course,
    Framework,
    FrameworkSource,
    IdentifierSource,
    Org,
    OrgType,
    OutboxMessage,
    OutboxStatus,
    Person,
    PersonIdentifier,
    PostedGrade,
    PostedGradeStatus,
    SchoolClass,
    SessionType,
)
from lti_tool.policies import DEFAULT_POLICY_NAME, shipped_policy_document, store_policy
from lti_tool.sis.clients import build_grade_sink, open_grade_sink
from lti_tool.sis.connection import create_connection
from lti_tool.sis.outbox import enqueue_posted_grades
from lti_tool.sis.worker import deliver_all

TARGET_RESULTS_PER_SECOND = 500
SECRET_KEY = "benchmark-secret-key"
FLOOR_RESULTS = 10_000
LETTERS = (("A", "3.50"), ("B+", "3.00"), ("B", "2.70"), ("C", "2.10"))


# -- the fake SIS in its own process ----------------------------------------------------------------------


STATS_PATH = "/__bench/stats"


def _serve_fake(port: int, token_lifetime: int, threads: int) -> None:
    """Serve the fake under gunicorn (one process, threads, HTTP/1.1 keep-alive) with a stats path.

    Werkzeug's server, which tests and the demo use, closes every connection after one response (see
    werkzeug.serving: "Always close the connection"), so a keep-alive client would still pay a TCP
    connect per PUT. The app is the same FakeOneRoster; only the WSGI server differs.
    """
    from gunicorn.app.base import BaseApplication

    from lti_tool.demo.sis.server import FakeOneRoster

    fake = FakeOneRoster(token_lifetime=token_lifetime)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"] == STATS_PATH:
            stats = {
                "tokens": fake.tokens_issued,
                "puts": sum(fake.put_counts.values()),
                "cpu": time.process_time(),
            }
            if "results" in environ.get("QUERY_STRING", ""):
                stats["results"] = len(fake.stored("results"))
            body = json.dumps(stats).encode()
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        return fake.app(environ, start_response)

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = {"bind": f"127.0.0.1:{port}", "workers": 1, "worker_class": "gthread", "threads": threads,
                       "keepalive": 60, "loglevel": "warning", "accesslog": None}  # fmt: skip
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return app

    Server().run()


class FakeProcess:
    """The fake SIS in a child process; `stats()` asks it for tokens issued, PUTs (and results held)."""

    def __init__(self, token_lifetime: int, threads: int) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.origin = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.origin}{PREFIX}"
        self.token_url = f"{self.base_url}/token"
        self.process = multiprocessing.get_context("spawn").Process(
            target=_serve_fake, args=(port, token_lifetime, threads * 2), daemon=True
        )
        self.process.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                self.stats()
                return
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stats(self, *, results: bool = False) -> dict[str, Any]:
        answer: dict[str, Any] = requests.get(
            f"{self.origin}{STATS_PATH}" + ("?results=1" if results else ""), timeout=60
        ).json()
        return answer

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(timeout=30)


# -- the database -----------------------------------------------------------------------------------------


def _bench_url(database_url: str, tmp: Path) -> tuple[str, Any]:
    """A fresh migrated database: a new schema on PostgreSQL (dropped by the returned callable)."""
    sa_url = make_url(database_url)
    if sa_url.get_backend_name() == "sqlite":
        url = f"sqlite:///{tmp / 'bench.db'}"
        upgrade_database(url)
        return url, lambda: None
    schema = f"bench_push_{uuid.uuid4().hex[:8]}"
    admin = make_engine(database_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = sa_url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )
    upgrade_database(url)

    def drop() -> None:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()

    return url, drop


def _ids(session: Any, model: Any, column: Any, values: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(values), 5000):
        chunk = values[start : start + 5000]
        found.update(
            {key: value for key, value in session.execute(select(column, model.id).where(column.in_(chunk)))}
        )
    return found


def seed(factory: Any, fake: FakeProcess, *, results: int, classes: int) -> int:
    """A school with `classes` classes sharing students so that there are `results` posted grades."""
    per_class = math.ceil(results / classes)
    students = per_class * 4  # each student takes 4 of the classes
    with factory.begin() as session:
        district = Org(sourced_id="bench-district", name="Bench district", type=OrgType.DISTRICT)
        session.add(district)
        session.flush()
        school = Org(
            sourced_id="bench-school", name="Bench school", type=OrgType.SCHOOL, parent_id=district.id
        )
        session.add(school)
        session.flush()
        period = AcademicSession(
            sourced_id="bench-q1", org_id=school.id, title="Q1", type=SessionType.GRADING_PERIOD,
            start_date=date(2026, 8, 20), end_date=date(2026, 10, 30),
        )  # fmt: skip
        session.add(period)
        policy = store_policy(
            session, shipped_policy_document(DEFAULT_POLICY_NAME), source=DEFAULT_POLICY_NAME
        )
        framework = Framework(title="Bench", source=FrameworkSource.CASE, case_identifier=str(uuid.uuid4()))
        session.add(framework)
        session.flush()
        items = [
            CompetencyItem(framework_id=framework.id, kind=CompetencyKind.PERFORMANCE_INDICATOR, code=f"B.{n}",
                           statement=f"Indicator {n}", case_identifier=str(uuid.uuid4()), sequence=n)
            for n in (1, 2)
        ]  # fmt: skip
        session.add_all(items)
        connection = create_connection(
            session, name="bench", profile="generic-1.2", base_url=fake.base_url, version="1.2", auth="oauth2",
            client_id="district-client", secret="s3cret&key=+/", secret_key=SECRET_KEY,
            settings={"token_url": fake.token_url}, org=school.id,
        )  # fmt: skip
        session.flush()
        session.execute(
            insert(Course),
            [{"sourced_id": f"bench-course-{n}", "org_id": school.id, "code": f"C{n}", "title": f"Course {n}",
              "credits": Decimal("1")} for n in range(classes)],
        )  # fmt: skip
        course_ids = _ids(session, Course, Course.sourced_id, [f"bench-course-{n}" for n in range(classes)])
        session.execute(
            insert(SchoolClass),
            [{"sourced_id": f"bench-class-{n}", "course_id": course_ids[f"bench-course-{n}"], "org_id": school.id,
              "title": f"Course {n} section 1"} for n in range(classes)],
        )  # fmt: skip
        class_ids = _ids(
            session, SchoolClass, SchoolClass.sourced_id, [f"bench-class-{n}" for n in range(classes)]
        )
        session.execute(
            insert(ClassSession),
            [{"class_id": c, "academic_session_id": period.id} for c in class_ids.values()],
        )
        session.execute(
            insert(ClassIndicator),
            [{"class_id": c, "indicator_id": i.id} for c in class_ids.values() for i in items],
        )
        session.execute(
            insert(Person),
            [{"given_name": "S", "family_name": f"bench-{n}", "email": None} for n in range(students)],
        )
        person_ids = _ids(session, Person, Person.family_name, [f"bench-{n}" for n in range(students)])
        session.execute(
            insert(PersonIdentifier),
            [{"person_id": person_ids[f"bench-{n}"], "source": IdentifierSource.SIS, "system": connection.name,
              "value": f"bench-student-{n}"} for n in range(students)],
        )  # fmt: skip
        at = datetime(2026, 11, 2, 15, tzinfo=UTC)
        rows = []
        for index in range(results):
            class_number = index % classes
            student_number = (index // classes) + (class_number % 4) * per_class
            letter, value = LETTERS[index % len(LETTERS)]
            rows.append({
                "student_id": person_ids[f"bench-{student_number}"], "class_id": class_ids[f"bench-class-{class_number}"],
                "academic_session_id": period.id, "policy_id": policy.id, "course_value": Decimal(value),
                "letter": letter, "grade_points": Decimal("3.0"), "status": PostedGradeStatus.GRADED,
                "evidence_count": 3, "computed_at": at, "posted_at": at, "posted_by": "bench", "is_locked": True,
                "provenance": {"indicators": [
                    {"code": "B.1", "case_identifier": items[0].case_identifier, "proficiency": value},
                    {"code": "B.2", "case_identifier": items[1].case_identifier, "proficiency": "2.80"},
                ]},
            })  # fmt: skip
        for start in range(0, len(rows), 5000):
            session.execute(insert(PostedGrade), rows[start : start + 5000])
        return connection.id


# -- the phases -------------------------------------------------------------------------------------------


def floor(fake: FakeProcess, factory: Any, connection_id: int, threads: int) -> float:
    """Raw PUTs of results by the same client to the same fake: no database, no outbox."""
    from lti_tool.models import SisConnection

    with factory() as session:
        connection = session.get(SisConnection, connection_id)
        sink = build_grade_sink(connection, secret_key=SECRET_KEY, http=new_session(pool_size=threads))
    at = datetime(2026, 11, 2, 15, tzinfo=UTC)
    results = [
        PeriodResult(class_sourced_id="floor-class", grading_period_sourced_id="bench-q1",
                     student_sourced_id=f"floor-{n}", score_status="fully graded", score_date=at.date(),
                     date_last_modified=at, score=Decimal("3.25"), text_score="B+")
        for n in range(FLOOR_RESULTS)
    ]  # fmt: skip
    # The floor's line item, so the fake accepts its results.
    from connectors.oneroster_csv.payloads import PeriodLineItem

    sink.put_line_item(
        PeriodLineItem(class_sourced_id="floor-class", school_sourced_id="bench-school", category_sourced_id="floor",
                       grading_period_sourced_id="bench-q1", title="floor", assign_date=at, due_date=at,
                       date_last_modified=at)
    )  # fmt: skip
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(sink.put_result, results))
    elapsed = time.perf_counter() - started
    sink.transport.session.close()
    return FLOOR_RESULTS / elapsed


def push(factory: Any, connection_id: int, threads: int, batch_size: int) -> tuple[float, Any]:
    from lti_tool.models import SisConnection

    """What `mastery-bridge worker run` does for one connection (lti_tool.sis.schedule), timed."""
    with factory() as session:
        connection = session.get(SisConnection, connection_id)
        session.expunge(connection)
    started = time.perf_counter()
    with open_grade_sink(connection, secret_key=SECRET_KEY, threads=threads) as sink:
        report = deliver_all(
            factory, connection_id, sink, worker_id="bench", batch_size=batch_size, concurrency=threads
        )
    elapsed = time.perf_counter() - started
    return elapsed, report


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--results", type=int, default=100_000)
    parser.add_argument("--classes", type=int, default=400)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--token-lifetime", type=int, default=3600)
    args = parser.parse_args()

    import tempfile

    fake = FakeProcess(args.token_lifetime, args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        url, drop = _bench_url(args.database_url, Path(tmp))
        engine = make_engine(url)
        factory = make_session_factory(engine)
        try:
            started = time.perf_counter()
            connection_id = seed(factory, fake, results=args.results, classes=args.classes)
            print(
                f"seed: {args.results:,} posted grades in {args.classes} classes: {time.perf_counter() - started:.1f} s"
            )

            started = time.perf_counter()
            with factory.begin() as session:
                grades = session.scalars(select(PostedGrade).order_by(PostedGrade.id)).all()
                report = enqueue_posted_grades(session, grades)
            enqueue_s = time.perf_counter() - started
            print(
                f"enqueue: {report.queued} in {enqueue_s:.1f} s ({args.results / enqueue_s:,.0f} results/s)"
            )

            before = fake.stats()
            floor_rate = floor(fake, factory, connection_id, args.threads)
            after_floor = fake.stats()
            print(
                f"floor (raw PUT, same client and fake, {args.threads} threads, no database): "
                f"{floor_rate:,.0f} results/s, {after_floor['tokens'] - before['tokens']} token request(s)"
            )

            cpu_before = time.process_time()
            elapsed, delivery = push(factory, connection_id, args.threads, args.batch_size)
            worker_cpu = time.process_time() - cpu_before
            after = fake.stats(results=True)
            rate = args.results / elapsed
            tokens = after["tokens"] - after_floor["tokens"]
            # The client renews 60 s before expiry (at half the lifetime for short ones): one token each.
            renew_after = max(args.token_lifetime - 60, args.token_lifetime / 2)
            lifetimes = max(1, math.ceil(elapsed / renew_after))
            with factory() as session:
                undelivered = session.scalar(
                    select(OutboxMessage.id).where(OutboxMessage.status != OutboxStatus.DELIVERED).limit(1)
                )
            ok = rate >= TARGET_RESULTS_PER_SECOND and tokens <= lifetimes and undelivered is None
            print(
                f"push: {delivery.delivered:,} messages ({args.results:,} results) in {elapsed:.1f} s = "
                f"{rate:,.0f} results/s with {args.threads} threads, batch {args.batch_size}; "
                f"{tokens} token request(s) for {elapsed:.0f} s at a {args.token_lifetime} s lifetime "
                f"[target >= {TARGET_RESULTS_PER_SECOND}/s and <= {lifetimes} token(s): {'OK' if ok else 'MISSED'}]"
            )
            print(f"fake holds {after['results']:,} results ({FLOOR_RESULTS:,} of them from the floor run)")
            print(
                f"CPU per result: worker {worker_cpu / args.results * 1000:.2f} ms, fake "
                f"{(after['cpu'] - after_floor['cpu']) / args.results * 1000:.2f} ms; load average "
                + " ".join(f"{x:.1f}" for x in os.getloadavg())
                + f" on {os.cpu_count()} cores"
            )
            print(f"push vs floor: {rate / floor_rate:.0%}")
        finally:
            engine.dispose()
            drop()
            fake.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
