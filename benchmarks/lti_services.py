"""Benchmark: NRPS roster sync and AGS grade push against the loopback demo platform.

Run by hand from the repository root:

    .venv/bin/python benchmarks/lti_services.py [--database-url URL] [--members 300] [--scores 1000]

Without `--database-url` a migrated SQLite file in a temporary folder is used; with one (e.g.
`postgresql+psycopg://root@127.0.0.1:5432/test`) the database is migrated to head and every row the
benchmark writes is rolled back at the end.

Part 1 syncs a class of `--members` learners plus 2 teachers over real NRPS (paged, real signed token
request) into the database. Target: <= 1 s.
Part 2 pushes one task's scores for `--scores` learners with evidence over real AGS. Target: exactly 1
token request for all of them (the token is cached per registration and scope).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.lms import AgsClient, TokenClient, Transport, new_session
from lti_tool.db import make_engine, upgrade_database
from lti_tool.lti.grade_push import push_task_scores
from lti_tool.lti.roster_sync import sync_roster
from lti_tool.lti.services import nrps_client
from lti_tool.models import LineItem
from tests.integration.test_ags_push import build_scenario, explanation_url
from tests.integration.test_nrps_sync import NOW, loopback_lms

SYNC_TARGET_SECONDS = 1.0


def bench_sync(session: Session, members: int) -> bool:
    with loopback_lms(session, student_count=members) as lms:
        client = nrps_client(lms.credentials, tokens=TokenClient(Transport(session=new_session())))
        started = time.perf_counter()
        first = sync_roster(session, lms.lti_context, lms.memberships_url, source=client, now=NOW)
        elapsed = time.perf_counter() - started
        started = time.perf_counter()
        again = sync_roster(session, lms.lti_context, lms.memberships_url, source=client, now=NOW)
        again_elapsed = time.perf_counter() - started
    ok = elapsed <= SYNC_TARGET_SECONDS
    print(
        f"NRPS sync, {first.members} members (first, {first.created} created): {elapsed * 1000:.0f} ms "
        f"[target <= {SYNC_TARGET_SECONDS * 1000:.0f} ms: {'OK' if ok else 'MISSED'}]"
    )
    print(
        f"NRPS sync, {again.members} members (again, {again.unchanged} unchanged): {again_elapsed * 1000:.0f} ms"
    )
    return ok


def bench_push(session: Session, learners: int) -> bool:
    with loopback_lms(session, student_count=learners) as lms:
        scenario = build_scenario(session, lms, with_evidence=learners, sync_over_http=False)
        platform = lms.server.platform
        with platform.store.lock:
            item = platform.add_line_item_locked(label="Benchmark task", score_maximum=Decimal(4))
        line_item = LineItem(
            task_id=scenario.task.id,
            class_id=lms.school_class.id,
            registration_id=lms.registration.id,
            url=f"{lms.line_items_url}/{item.number}",
            score_maximum=Decimal(4),
            label="Benchmark task",
        )
        session.add(line_item)
        session.flush()
        http = new_session()
        try:
            client = AgsClient(lms.credentials, transport=Transport(session=http))
            started = time.perf_counter()
            result = push_task_scores(
                session,
                scenario.task,
                client=client,
                line_item=line_item,
                policy=scenario.policy,
                now=NOW,
                explanation_url=explanation_url,
            )
            elapsed = time.perf_counter() - started
        finally:
            http.close()
        tokens = platform.token_requests
        received = len(platform.received_scores())
    ok = tokens == 1 and result.sent == learners and received == learners
    print(
        f"AGS push, {result.sent} scores ({received} received, {len(result.failures)} failed): {elapsed:.2f} s, "
        f"{learners / elapsed:.0f} scores/s, {tokens} token request(s) [target exactly 1: {'OK' if ok else 'MISSED'}]"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a new SQLite file in a temporary folder")
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--scores", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade_database(url)
        engine = make_engine(url)
        print(f"database: {engine.dialect.name}")
        try:
            with engine.connect() as connection:
                transaction = connection.begin()
                session = Session(bind=connection, join_transaction_mode="create_savepoint")
                try:
                    ok = bench_sync(session, args.members)
                    ok = bench_push(session, args.scores) and ok
                finally:
                    session.close()
                    transaction.rollback()  # leave the database as it was
        finally:
            engine.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
