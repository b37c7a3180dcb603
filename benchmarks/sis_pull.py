"""Benchmark: a district roster pulled from the fake OneRoster server into PostgreSQL, full and 1% delta.

Run by hand (not part of the tests):

    .venv/bin/python benchmarks/sis_pull.py [--users 50000] [--enrollments 300000] [--page-size 1000]
        [--database-url postgresql+psycopg://root@127.0.0.1:5432/root]

The fake (lti_tool.demo.sis, OneRoster 1.2 over OAuth 2) runs in its own process, as a district's SIS
would, seeded with a consistent district: 1 district, 4 schools, a school year with 2 semesters and 4
grading periods, 200 courses, classes of 30 and the users and enrollments asked for. It remembers each
collection's shaped records and each filter's result between pages, so paging costs it O(page) and not
O(collection) per page; that is the fake being a fair server, not the pull being helped.

Figures, all over the same HTTP pages:
- the floor: fetching and parsing every page with the client, writing nothing (the fake's serving rate
  plus the client's parsing: the pull cannot beat it);
- the full pull into an empty schema (`sis_bench`, created and dropped here), records/s (target >= 5,000);
- a second, identical full pull (everything unchanged, then full reconciliation);
- a 1% delta: 1% of users and of enrollments changed in the SIS, pulled with `dateLastModified>` (target < 5 s).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection as Pipe
from typing import Any

from flask import request
from sqlalchemy import func, make_url, select
from sqlalchemy.orm import Session

from connectors.oneroster import (
    ROSTERING_PATH_V1P2,
    OAuth2ClientCredentials,
    OneRosterClient,
    OneRosterEndpoint,
    OneRosterVersion,
    Transport,
    new_session,
)
from lti_tool.db import make_engine, upgrade_database
from lti_tool.demo.sis import FakeOneRoster, RunningServer
from lti_tool.demo.sis.server import COLLECTIONS
from lti_tool.demo.sis.wire import abort_with, imsx, matches, quote_all
from lti_tool.models import Enrollment, Person, SisAuth, SisConnection
from lti_tool.models import OneRosterVersion as ModelVersion
from lti_tool.sis.roster_pull import sync_roster

SCHEMA = "sis_bench"
WHEN = "2026-01-10T08:00:00.000Z"
CHANGED = "2026-03-01T08:00:00.000Z"
SCHOOLS, COURSES, CLASS_SIZE, TEACHER_SHARE = 4, 200, 30, 10


class MemoFake(FakeOneRoster):
    """The fake with per-collection and per-filter memory (cleared whenever the data changes)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._shaped: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._filtered: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self._bodies: dict[tuple[str, str, str, int, int], tuple[str, dict[str, str]]] = {}

    def forget(self) -> None:
        self._shaped.clear()
        self._filtered.clear()
        self._bodies.clear()

    def _records(self, version: str, path: str) -> list[dict[str, Any]]:
        key = (version, path)
        if key not in self._shaped:
            self._shaped[key] = super()._records(version, path)
        return self._shaped[key]

    def _rostering(self, version: str, parts: list[str]) -> tuple[str, int, dict[str, str]]:
        if len(parts) != 1:
            return super()._rostering(version, parts)
        path = parts[0]
        raw_filter = request.args.get("filter", "")
        key = (version, path, raw_filter)
        if key not in self._filtered:
            records = self._records(version, path)
            try:
                self._filtered[key] = (
                    [r for r in records if matches(r, raw_filter)] if raw_filter else records
                )
            except ValueError as exc:
                raise abort_with(imsx(400, "invalid_filter_field", str(exc))) from exc
        records = self._filtered[key]
        limit = int(request.args.get("limit", "100"))
        offset = int(request.args.get("offset", "0"))
        page = records[offset : offset + limit]
        headers = {"X-Total-Count": str(len(records))}
        if offset + limit < len(records):
            args = request.args.to_dict()
            args.update(limit=str(limit), offset=str(offset + limit))
            query = "&".join(f"{quote_all(k)}={quote_all(v)}" for k, v in args.items())
            headers["Link"] = f'<{request.base_url}?{query}>; rel="next"'
        return json.dumps({COLLECTIONS[path]: page}), 200, headers


def _ref(kind: str, sourced_id: str) -> dict[str, str]:
    return {"href": f"https://sis.example/{kind}s/{sourced_id}", "sourcedId": sourced_id, "type": kind}


def seed(fake: FakeOneRoster, users: int, enrollments: int) -> None:
    """A consistent district: every enrollment names a class and a user the SIS also serves."""
    base = {"status": "active", "dateLastModified": WHEN}
    fake.add("orgs", {**base, "sourcedId": "d-1", "name": "Bench District", "type": "district"})
    schools = [f"sch-{n}" for n in range(1, SCHOOLS + 1)]
    for school in schools:
        fake.add("orgs", {**base, "sourcedId": school, "name": f"School {school}", "type": "school",
                          "parent": _ref("org", "d-1")})  # fmt: skip
    calendar = [("y-2026", "schoolYear", "2025-08-01", "2026-06-30", None)]
    calendar += [("sem-1", "semester", "2025-08-01", "2026-01-15", "y-2026"),
                 ("sem-2", "semester", "2026-01-16", "2026-06-30", "y-2026")]  # fmt: skip
    calendar += [(f"gp-{n}", "gradingPeriod", start, end, "sem-1" if n < 3 else "sem-2")
                 for n, (start, end) in enumerate((("2025-08-01", "2025-10-31"), ("2025-11-01", "2026-01-15"),
                                                   ("2026-01-16", "2026-03-31"), ("2026-04-01", "2026-06-30")), 1)]  # fmt: skip
    for sourced_id, kind, start, end, parent in calendar:
        item = {**base, "sourcedId": sourced_id, "title": sourced_id, "type": kind, "startDate": start,
                "endDate": end, "schoolYear": "2026"}  # fmt: skip
        if parent:
            item["parent"] = _ref("academicSession", parent)
        fake.add("academicSessions", item)
    for n in range(COURSES):
        fake.add("courses", {**base, "sourcedId": f"crs-{n:04d}", "title": f"Course {n}", "courseCode": f"C{n:04d}",
                             "org": _ref("org", schools[n % SCHOOLS])})  # fmt: skip
    class_count = max(1, enrollments // (CLASS_SIZE + 1))
    for n in range(class_count):
        course = n % COURSES
        fake.add("classes", {**base, "sourcedId": f"cls-{n:05d}", "title": f"Course {course} section {n}",
                             "classCode": f"C{course:04d}-{n}", "classType": "scheduled",
                             "course": _ref("course", f"crs-{course:04d}"),
                             "school": _ref("org", schools[course % SCHOOLS]),
                             "terms": [_ref("academicSession", f"gp-{1 + n % 4}")]})  # fmt: skip
    teachers = max(1, users // TEACHER_SHARE)
    for n in range(users):
        role = "teacher" if n < teachers else "student"
        fake.add("users", {**base, "sourcedId": f"u-{n:06d}", "enabledUser": "true", "givenName": f"Given{n}",
                           "familyName": f"Family{n}", "username": f"user{n:06d}",
                           "email": f"user{n:06d}@bench.example",
                           "roles": [{"roleType": "primary", "role": role,
                                      "org": _ref("org", schools[n % SCHOOLS])}]})  # fmt: skip
    # One teacher per class, students spread so that no one is enrolled twice in one class.
    students = users - teachers
    made = 0
    for n in range(class_count):
        if made >= enrollments:
            break
        fake.add("enrollments", _enrollment(base, f"e-t-{n:05d}", f"u-{n % teachers:06d}", n, "teacher"))
        made += 1
    slot = 0
    while made < enrollments:
        class_number = slot % class_count
        student = teachers + (slot // class_count * 7919 + class_number) % students
        fake.add(
            "enrollments", _enrollment(base, f"e-s-{slot:07d}", f"u-{student:06d}", class_number, "student")
        )
        made += 1
        slot += 1


def _enrollment(
    base: dict[str, str], sourced_id: str, user: str, class_number: int, role: str
) -> dict[str, Any]:
    return {**base, "sourcedId": sourced_id, "role": role, "primary": "true", "user": _ref("user", user),
            "class": _ref("class", f"cls-{class_number:05d}"), "school": _ref("org", "sch-1"),
            "beginDate": "2025-08-01"}  # fmt: skip


def change_one_percent(fake: MemoFake) -> int:
    """Change 1% of users (a new family name) and of enrollments (an end date), as a district's week does."""
    changed = 0
    for collection, update in (
        ("users", {"familyName": "Changed"}),
        ("enrollments", {"endDate": "2026-03-01"}),
    ):
        records = fake.data[collection]
        for item in records[::100]:
            item.update(update, dateLastModified=CHANGED)
            changed += 1
    fake.forget()
    return changed


def serve_fake(users: int, enrollments: int, pipe: Pipe) -> None:
    """The child process: seed, serve, and answer commands from the parent until told to stop."""
    fake = MemoFake(client_id="bench", client_secret="bench-secret", token_lifetime=86_400)
    seed(fake, users, enrollments)
    counts = {key: len(value) for key, value in fake.data.items()}
    with RunningServer(fake) as server:
        pipe.send((server.base_url, counts))
        while True:
            command = pipe.recv()
            if command == "change":
                pipe.send(change_one_percent(fake))
            elif command == "calls":
                pipe.send(len(fake.calls))
            else:
                return


def client_for(base_url: str, page_size: int) -> OneRosterClient:
    authenticator = OAuth2ClientCredentials(
        token_url=f"{base_url}/token",
        client_id="bench",
        client_secret="bench-secret",
        scopes=("https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly",),
    )
    transport = Transport(session=new_session(), authenticator=authenticator, timeout=60.0)
    endpoint = OneRosterEndpoint(OneRosterVersion.V1P2, base_url + ROSTERING_PATH_V1P2, page_size=page_size)
    return OneRosterClient(transport, endpoint)


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def floor(client: OneRosterClient) -> int:
    """Fetch and parse every page of every collection the pull reads; write nothing."""
    total = 0
    for fetch in (client.fetch_orgs, client.fetch_academic_sessions, client.fetch_courses, client.fetch_classes,
                  client.fetch_users, client.fetch_enrollments):  # fmt: skip
        total += sum(1 for _ in fetch())
    return total


def bench_url(database_url: str) -> str:
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise SystemExit(f"the benchmark pulls into PostgreSQL; got {url.get_backend_name()}")
    return url.update_query_dict({"options": f"-csearch_path={SCHEMA}"}).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--enrollments", type=int, default=300_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--database-url", default="postgresql+psycopg://root@127.0.0.1:5432/root")
    args = parser.parse_args()

    # The fake first: forked before any database connection exists, so the child shares none.
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(
        target=serve_fake, args=(args.users, args.enrollments, child), daemon=True
    )
    seeding = time.perf_counter()
    server.start()
    base_url, counts = parent.recv()
    print(f"fake SIS seeded in {time.perf_counter() - seeding:.1f} s: {counts}", file=sys.stderr)

    admin = make_engine(args.database_url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        connection.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
    url = bench_url(args.database_url)
    upgrade_database(url)
    engine = make_engine(url)
    records = sum(
        counts[key] for key in ("orgs", "academicSessions", "courses", "classes", "users", "enrollments")
    )
    try:
        client = client_for(base_url, args.page_size)
        floor(client)  # warm the fake's memory of each collection
        floor_seconds, fetched = timed(lambda: floor(client))
        assert fetched == records, (fetched, records)

        with Session(engine) as session:
            connection = SisConnection(name="bench", profile="generic-1.2", base_url=base_url,
                                       version=ModelVersion.V1_2, auth=SisAuth.OAUTH2, client_id="bench",
                                       secret_encrypted=b"-", scopes="", settings={})  # fmt: skip
            session.add(connection)
            session.commit()
            start = datetime(2026, 2, 1, tzinfo=UTC)

            full_seconds, run = timed(lambda: sync_roster(session, connection, client, full=True, now=start))
            session.commit()
            assert run.status.value == "succeeded", run.errors
            people = session.scalar(select(func.count()).select_from(Person))
            enrolled = session.scalar(select(func.count()).select_from(Enrollment))
            assert (people, enrolled) == (counts["users"], counts["enrollments"]), (people, enrolled)

            again_seconds, again = timed(
                lambda: sync_roster(session, connection, client, full=True, now=start + timedelta(hours=1))
            )
            session.commit()
            unchanged = sum(again.counts[name]["unchanged"] for name in ("users", "enrollments"))

            parent.send("change")
            changed = parent.recv()
            delta_seconds, delta = timed(
                lambda: sync_roster(
                    session, connection, client, full=False, now=datetime(2026, 3, 2, tzinfo=UTC)
                )
            )
            session.commit()
            assert delta.kind.value == "delta", delta.kind
            updated = sum(delta.counts[name]["updated"] for name in ("users", "enrollments"))
            assert updated == changed, (updated, changed)
    finally:
        parent.send("stop")
        server.join(timeout=10)
        engine.dispose()
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        admin.dispose()

    print(f"records: {records:,} ({counts['users']:,} users, {counts['enrollments']:,} enrollments, "
          f"{counts['classes']:,} classes), page size {args.page_size}")  # fmt: skip
    print(
        f"floor  (fetch + parse every page, no writes): {floor_seconds:6.2f} s  {records / floor_seconds:9,.0f} records/s"
    )
    print(f"full pull into PostgreSQL (empty schema):     {full_seconds:6.2f} s  {records / full_seconds:9,.0f} records/s"
          f"  (target >= 5,000; {full_seconds / floor_seconds:.2f}x the floor)")  # fmt: skip
    print(f"second full pull (all {unchanged:,} unchanged + reconciliation): {again_seconds:6.2f} s"
          f"  {records / again_seconds:9,.0f} records/s")  # fmt: skip
    print(f"1% delta ({changed:,} changed records):            {delta_seconds:6.2f} s  (target < 5 s)")
    print(f"counts of the delta: users {delta.counts['users']}, enrollments {delta.counts['enrollments']}")


if __name__ == "__main__":
    main()
