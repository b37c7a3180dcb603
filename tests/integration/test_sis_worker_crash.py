"""Kill the worker process in the middle of a push, restart it: every result delivered, none twice.

The fake SIS runs in a thread of the test (so its PUT counts are at hand) and answers each PUT a little
slowly; the worker is the real `mastery-bridge worker run --burst` in a subprocess (no Redis: the outbox
loop), SIGKILLed once some results are in. After its lease expires a new worker finishes the push.
A result may reach the SIS twice only if it was in flight at the kill (PUT answered, not yet marked
delivered), and then it is still one record by sourcedId; the test checks exactly that.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.demo.sis.serve import serve
from lti_tool.demo.sis.server import FakeOneRoster
from lti_tool.models import OutboxMessage, OutboxStatus
from lti_tool.sis.outbox import enqueue_posted_grades
from lti_tool.sis.worker import DEFAULT_MARK_GROUP
from tests.integration import sis_push_world
from tests.integration.sis_push_world import (
    SECRET_KEY,
    body_of,
    build_world,
    messages,
    post_grades,
)

# The module-scoped database fixtures (assigned, so pytest finds them here).
committed_engine = sis_push_world.committed_engine
committed_url = sis_push_world.committed_url
factory = sis_push_world.factory

PUT_DELAY_SECONDS = 0.03
LEASE_SECONDS = 2
KILL_AFTER_RESULTS = 15


def _slow_puts(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "PUT":
            time.sleep(PUT_DELAY_SECONDS)
        return app(environ, start_response)

    return wrapped


def _worker(database_url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MB_SECRET_KEY": SECRET_KEY,
        "MB_LOG_LEVEL": "WARNING",
    }
    env.pop("MB_REDIS_URL", None)
    command = [
        sys.executable, "-m", "lti_tool", "worker", "run", "--burst",
        "--lease-seconds", str(LEASE_SECONDS), "--nightly-at", "off",
    ]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_killed_worker_leaves_every_result_delivered_exactly_once(
    factory: sessionmaker[Session], committed_url: str
) -> None:
    fake = FakeOneRoster()
    fake.app = _slow_puts(fake.app)
    with serve(fake) as running:
        with factory.begin() as session:
            world = build_world(
                session, base_url=running.base_url, token_url=running.token_url, classes=3, students=20
            )
            enqueue_posted_grades(session, post_grades(session, world), now=datetime.now(UTC))
        with factory() as session:
            result_ids = {
                m.payload["sourcedId"]
                for m in messages(session, world.connection_id)
                if m.payload["kind"] == "result"
            }
        assert len(result_ids) == 60

        first = _worker(committed_url)
        deadline = time.monotonic() + 60
        while sum(fake.put_counts[sid] for sid in result_ids) < KILL_AFTER_RESULTS:
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the worker delivered too little in 60 s"
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
        assert first.returncode == -signal.SIGKILL
        time.sleep(0.3)  # let the server finish a PUT the dead worker had sent

        counts_at_kill = dict(fake.put_counts)
        with factory() as session:
            rows = messages(session, world.connection_id)
            delivered = {m.payload["sourcedId"] for m in rows if m.status is OutboxStatus.DELIVERED}
            lease_ends = session.scalar(
                select(func.max(OutboxMessage.claimed_until)).where(
                    OutboxMessage.connection_id == world.connection_id
                )
            )
        in_flight = {sid for sid in result_ids if counts_at_kill.get(sid, 0) >= 1 and sid not in delivered}
        assert KILL_AFTER_RESULTS <= len(delivered & result_ids) + len(in_flight) < len(result_ids)
        # Deliveries are marked in groups: those answered but not yet recorded are the ones in flight.
        assert len(in_flight) <= DEFAULT_MARK_GROUP
        assert lease_ends is not None  # the dead worker's claims are still leased

        # Wait out the dead worker's lease; then a new worker takes over.
        wait = (lease_ends.replace(tzinfo=lease_ends.tzinfo or UTC) - datetime.now(UTC)).total_seconds()
        time.sleep(max(0.0, wait) + 0.2)
        second = _worker(committed_url)
        _out, err = second.communicate(timeout=120)
        assert second.returncode == 0, err.decode()

    with factory() as session:
        rows = messages(session, world.connection_id)
        bodies = {row.id: body_of(session, row) for row in rows}
    assert {m.status for m in rows} == {OutboxStatus.DELIVERED}
    stored = fake.stored("results")
    assert set(stored) == result_ids
    for row in rows:
        if row.payload["kind"] == "result":
            assert stored[row.payload["sourcedId"]] == bodies[row.id]["result"]
    final = fake.put_counts
    for sid in result_ids:
        expected = counts_at_kill[sid] + 1 if sid in in_flight else 1
        assert final[sid] == expected, sid
    assert all(final[sid] == 1 for sid in final if sid not in in_flight)
    assert fake.tokens_issued == 2  # one per worker process
