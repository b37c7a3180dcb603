"""The job queue: inline without Redis, RQ on the real Redis at 127.0.0.1:6379, and the nightly schedule.

Each test uses its own queue name and removes every key it made. The push job delivers to the fake SIS on
loopback; the nightly job runs a real (empty) roster sync and re-arms itself for the next night.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import lti_tool.sis.clients as clients
from connectors.oneroster.http import RetryPolicy
from lti_tool.cli import main
from lti_tool.demo.sis.serve import RunningServer, serve
from lti_tool.demo.sis.server import FakeOneRoster
from lti_tool.errors import ConfigError
from lti_tool.models import OutboxMessage, OutboxStatus, SisConnection, SyncKind, SyncRun, SyncStatus
from lti_tool.settings import Settings, load_settings
from lti_tool.sis.outbox import enqueue_posted_grades
from lti_tool.sis.queue import (
    InlineQueue,
    JobQueueError,
    RedisQueue,
    dispose_engines,
    enqueue_push,
    job_queue,
    run_rq_worker,
)
from lti_tool.sis.schedule import (
    NIGHTLY_JOB_PREFIX,
    is_nightly_due,
    next_nightly_run,
    parse_time_of_day,
    run_outbox_loop,
    schedule_all_nightly,
    schedule_nightly_sync,
)
from tests.integration import sis_push_world
from tests.integration.sis_push_world import (
    SECRET_KEY,
    World,
    build_world,
    messages,
    post_grades,
)

# The module-scoped database fixtures (assigned, so pytest finds them here).
committed_engine = sis_push_world.committed_engine
committed_url = sis_push_world.committed_url
factory = sis_push_world.factory

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def queue_name() -> Iterator[str]:
    """A queue of this test's own; every RQ key of it (and of its jobs) is deleted afterwards."""
    name = f"mb-test-{uuid.uuid4().hex[:12]}"
    yield name
    redis = Redis.from_url(REDIS_URL)
    queue = Queue(name, connection=redis)
    job_ids = set(queue.get_job_ids())
    for registry in (
        queue.scheduled_job_registry,
        queue.finished_job_registry,
        queue.failed_job_registry,
        queue.started_job_registry,
        queue.deferred_job_registry,
        queue.canceled_job_registry,
    ):
        job_ids.update(registry.get_job_ids(cleanup=False))
    for job_id in job_ids:
        for key in redis.scan_iter(f"rq:*{job_id}*"):
            redis.delete(key)
    for key in redis.scan_iter(f"*{name}*"):
        redis.delete(key)
    redis.srem("rq:queues", f"rq:queue:{name}")
    for key in redis.scan_iter("rq:worker:*"):
        if redis.type(key) == b"hash" and redis.hget(key, "queues") == name.encode():
            redis.srem("rq:workers", key)
            redis.delete(key)
    redis.close()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, committed_url: str) -> Iterator[None]:
    """The process settings jobs read: this module's database and the key the secrets were sealed with."""
    monkeypatch.setenv("DATABASE_URL", committed_url)
    monkeypatch.setenv("MB_SECRET_KEY", SECRET_KEY)
    monkeypatch.delenv("MB_REDIS_URL", raising=False)
    yield
    dispose_engines()


@pytest.fixture
def running() -> Iterator[RunningServer]:
    with serve(FakeOneRoster()) as server:
        yield server


def _world(factory: sessionmaker[Session], running: RunningServer, students: int = 3) -> World:
    with factory.begin() as session:
        world = build_world(
            session, base_url=running.base_url, token_url=running.token_url, students=students
        )
        enqueue_posted_grades(session, post_grades(session, world), now=datetime.now(UTC))
    return world


def _statuses(factory: sessionmaker[Session], world: World) -> set[OutboxStatus]:
    with factory() as session:
        return {m.status for m in messages(session, world.connection_id)}


def _redis_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings with the job queue; the environment too, since jobs read their settings from it."""
    monkeypatch.setenv("MB_REDIS_URL", REDIS_URL)
    return load_settings()


def test_redis_url_is_validated_and_unset_means_inline() -> None:
    assert load_settings({}).redis_url is None
    assert load_settings({"MB_REDIS_URL": "  "}).redis_url is None
    assert load_settings({"MB_REDIS_URL": "rediss://cache:6380/1"}).redis_url == "rediss://cache:6380/1"
    with pytest.raises(ConfigError, match="MB_REDIS_URL must be a Redis URL"):
        load_settings({"MB_REDIS_URL": "127.0.0.1:6379"})
    assert load_settings({}).queue_name == "mastery-bridge"
    assert job_queue(load_settings({"MB_QUEUE_NAME": "district-7"})).name == "district-7"
    with pytest.raises(ConfigError, match="MB_QUEUE_NAME must be"):
        load_settings({"MB_QUEUE_NAME": "two words"})
    assert isinstance(job_queue(load_settings({})), InlineQueue)
    assert isinstance(job_queue(load_settings({"MB_REDIS_URL": REDIS_URL})), RedisQueue)


def test_push_threads_default_and_bounds() -> None:
    assert load_settings({}).push_threads == 4
    assert load_settings({"MB_PUSH_THREADS": "12"}).push_threads == 12
    for bad in ("0", "33", "four", "-2"):
        with pytest.raises(ConfigError, match="MB_PUSH_THREADS must be a whole number from 1 to 32"):
            load_settings({"MB_PUSH_THREADS": bad})


def test_inline_queue_runs_the_push_job_at_once(
    env: None, factory: sessionmaker[Session], running: RunningServer
) -> None:
    world = _world(factory, running)
    job = enqueue_push(load_settings(), world.connection_id)
    assert job.status == "finished"
    assert job.result["delivered"] == 6
    assert job.result["next_retry_at"] is None
    assert _statuses(factory, world) == {OutboxStatus.DELIVERED}
    assert len(running.fake.stored("results")) == 3
    with pytest.raises(JobQueueError, match="set MB_REDIS_URL"):
        InlineQueue().enqueue_at(datetime.now(UTC), print, job_id="x")


def test_rq_round_trip_delivers_through_a_worker(
    env: None,
    factory: sessionmaker[Session],
    running: RunningServer,
    queue_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = _world(factory, running)
    settings = _redis_settings(monkeypatch)
    job = enqueue_push(settings, world.connection_id, queue_name=queue_name)
    assert job.status == "queued"
    assert _statuses(factory, world) == {OutboxStatus.PENDING}  # nothing ran yet

    assert run_rq_worker(settings, burst=True, queue_name=queue_name, fork=False) is True

    fetched = Job.fetch(job.id, connection=Redis.from_url(REDIS_URL))
    assert fetched.get_status() == "finished"
    result = fetched.return_value()
    assert result is not None
    assert result["delivered"] == 6
    assert _statuses(factory, world) == {OutboxStatus.DELIVERED}
    assert set(running.fake.stored("results")) == {
        m.payload["sourcedId"] for m in _messages(factory, world) if m.payload["kind"] == "result"
    }


def _messages(factory: sessionmaker[Session], world: World) -> list[OutboxMessage]:
    with factory() as session:
        return messages(session, world.connection_id)


def test_push_job_reschedules_itself_for_retries(
    env: None,
    factory: sessionmaker[Session],
    running: RunningServer,
    queue_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = _world(factory, running, students=1)
    running.fake.quirks.error_rate = 1.0
    running.fake.quirks.retry_after = "0"
    settings = _redis_settings(monkeypatch)
    enqueue_push(settings, world.connection_id, queue_name=queue_name)
    original = clients.build_grade_sink

    def fast_sink(connection: SisConnection, **kwargs: Any) -> Any:
        return original(connection, **{**kwargs, "retry": RetryPolicy(max_retries=1, backoff_seconds=0.001)})

    monkeypatch.setattr(clients, "build_grade_sink", fast_sink)
    run_rq_worker(settings, burst=True, queue_name=queue_name, fork=False)
    queue = job_queue(settings, name=queue_name)
    assert isinstance(queue, RedisQueue)
    scheduled = queue.scheduled(f"mb-push-{world.connection_id}-")
    assert len(scheduled) == 1
    (_, when) = scheduled[0]
    with factory() as session:
        category = next(m for m in messages(session, world.connection_id) if m.payload["kind"] == "category")
    assert category.attempts == 1
    assert category.status is OutboxStatus.PENDING
    result = next(m for m in _messages(factory, world) if m.payload["kind"] == "result")
    assert result.attempts == 0  # never sent ahead of its line item
    # The job runs again within a minute of the earliest due message (and not before now).
    assert datetime.now(UTC) <= when.replace(tzinfo=UTC) <= category.next_attempt_at + timedelta(minutes=2)


def test_nightly_schedule_is_armed_replaced_and_re_arms_itself(
    env: None,
    factory: sessionmaker[Session],
    running: RunningServer,
    queue_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = _world(factory, running, students=1)
    settings = _redis_settings(monkeypatch)
    now = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)

    armed = schedule_all_nightly(settings, at=parse_time_of_day("02:30"), queue_name=queue_name, now=now)
    mine = [a for a in armed if a.connection == world.connection_name]
    assert [(a.runs_at, a.job_id) for a in mine] == [
        (
            datetime(2026, 11, 2, 2, 30, tzinfo=UTC),
            f"{NIGHTLY_JOB_PREFIX}-{world.connection_id}-20261102T0230",
        )
    ]
    again = schedule_all_nightly(settings, at=parse_time_of_day("03:15"), queue_name=queue_name, now=now)
    assert len(again) == len(armed)
    queue = job_queue(settings, name=queue_name)
    assert isinstance(queue, RedisQueue)
    prefix = f"{NIGHTLY_JOB_PREFIX}-{world.connection_id}-"
    assert [job_id for job_id, _ in queue.scheduled(prefix)] == [f"{prefix}20261102T0315"]

    # Tonight's job, already due: the worker's scheduler queues it, it re-arms tomorrow's and syncs.
    queue.cancel_scheduled(NIGHTLY_JOB_PREFIX)
    due_at = datetime.now(UTC) - timedelta(minutes=2)
    job = schedule_nightly_sync(
        queue,
        world.connection_id,
        at=due_at.time().replace(second=0, microsecond=0),
        after=due_at - timedelta(days=1),
    )
    assert job.scheduled_for is not None
    assert job.scheduled_for < datetime.now(UTC)
    run_rq_worker(settings, burst=True, queue_name=queue_name, fork=False)

    rearmed = queue.scheduled(prefix)
    assert len(rearmed) == 1
    assert rearmed[0][1].replace(tzinfo=UTC) == job.scheduled_for + timedelta(days=1)
    with factory() as session:
        runs = session.scalars(select(SyncRun).where(SyncRun.connection_id == world.connection_id)).all()
    assert len(runs) == 1  # the sync ran (against the empty fake)


def test_next_nightly_run_and_due_check(factory: sessionmaker[Session], running: RunningServer) -> None:
    at = parse_time_of_day("02:30")
    assert next_nightly_run(datetime(2026, 11, 2, 1, 0, tzinfo=UTC), at) == datetime(
        2026, 11, 2, 2, 30, tzinfo=UTC
    )
    assert next_nightly_run(datetime(2026, 11, 2, 2, 30, tzinfo=UTC), at) == datetime(
        2026, 11, 3, 2, 30, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="must be HH:MM"):
        parse_time_of_day("half past two")
    world = _world(factory, running, students=1)
    with factory.begin() as session:
        assert is_nightly_due(session, world.connection_id, now=datetime(2026, 11, 2, 3, tzinfo=UTC), at=at)
        # Never synced: yesterday's 02:30 has passed, so a sync is due even before tonight's.
        assert is_nightly_due(session, world.connection_id, now=datetime(2026, 11, 2, 2, tzinfo=UTC), at=at)
        session.add(
            SyncRun(
                connection_id=world.connection_id,
                kind=SyncKind.DELTA,
                started_at=datetime(2026, 11, 2, 2, 31, tzinfo=UTC),
                status=SyncStatus.SUCCEEDED,
            )
        )
    with factory() as session:
        assert not is_nightly_due(
            session, world.connection_id, now=datetime(2026, 11, 2, 3, tzinfo=UTC), at=at
        )
        assert is_nightly_due(
            session, world.connection_id, now=datetime(2026, 11, 3, 2, 45, tzinfo=UTC), at=at
        )


def test_outbox_loop_and_worker_cli_without_redis(
    env: None, factory: sessionmaker[Session], running: RunningServer
) -> None:
    world = _world(factory, running)
    runner = CliRunner()
    result = runner.invoke(main, ["worker", "run", "--burst", "--nightly-at", "off"])
    assert result.exit_code == 0, result.output
    assert _statuses(factory, world) == {OutboxStatus.DELIVERED}
    total = run_outbox_loop(load_settings(), burst=True, nightly_at=None)
    assert total.claimed == 0

    refused = runner.invoke(main, ["worker", "schedule"])
    assert refused.exit_code == 2
    assert "set MB_REDIS_URL" in refused.output
    bad = runner.invoke(main, ["worker", "run", "--burst", "--nightly-at", "25:99"])
    assert bad.exit_code == 2


def test_worker_schedule_cli_with_redis(
    env: None,
    factory: sessionmaker[Session],
    running: RunningServer,
    queue_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = _world(factory, running, students=1)
    monkeypatch.setenv("MB_REDIS_URL", REDIS_URL)
    result = CliRunner().invoke(
        main, ["worker", "schedule", "--at", "04:05", "--queue", queue_name, "--json"]
    )
    assert result.exit_code == 0, result.output
    import json

    document = json.loads(result.stdout)
    (mine,) = [d for d in document if d["connection"] == world.connection_name]
    assert mine["job_id"].startswith(f"{NIGHTLY_JOB_PREFIX}-{world.connection_id}-")
    assert mine["runs_at"].endswith("04:05:00+00:00")


def test_worker_run_cli_forks_an_rq_work_horse_per_job(
    env: None,
    factory: sessionmaker[Session],
    running: RunningServer,
    queue_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = _world(factory, running)
    settings = _redis_settings(monkeypatch)
    enqueue_push(settings, world.connection_id, queue_name=queue_name)
    result = CliRunner().invoke(main, ["worker", "run", "--burst", "--queue", queue_name])
    assert result.exit_code == 0, result.output
    assert _statuses(factory, world) == {OutboxStatus.DELIVERED}
    assert len(running.fake.stored("results")) == 3
