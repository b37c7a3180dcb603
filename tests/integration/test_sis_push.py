"""Grade push end to end: outbox -> worker -> the fake OneRoster gradebook on loopback, under vendor quirks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from connectors.oneroster.gradebook import OneRosterGradebookClient
from connectors.oneroster.http import RetryPolicy
from connectors.oneroster.profiles import load_profile, profile_names
from lti_tool.demo.sis.serve import RunningServer, serve
from lti_tool.demo.sis.server import FakeOneRoster, Quirks
from lti_tool.models import AcademicSession, OutboxMessage, OutboxStatus, PostedGrade, SisConnection
from lti_tool.sis.clients import build_grade_sink, open_grade_sink
from lti_tool.sis.leases import claim_batch
from lti_tool.sis.outbox import enqueue_posted_grades
from lti_tool.sis.push_plan import CHANGED, NEW, SAME, plan_push
from lti_tool.sis.worker import RetryTiming, deliver_all, deliver_due
from tests.integration import sis_push_world
from tests.integration.sis_push_world import (
    SECRET_KEY,
    World,
    amend,
    body_of,
    build_world,
    messages,
    post_grades,
)

# The module-scoped database fixtures (assigned, so pytest finds them here).
committed_engine = sis_push_world.committed_engine
committed_url = sis_push_world.committed_url
factory = sis_push_world.factory

NOW = datetime(2026, 11, 2, 16, 0, tzinfo=UTC)
FAST_RETRY = RetryPolicy(max_retries=4, backoff_seconds=0.001, max_delay_seconds=0.01)


@pytest.fixture
def fake() -> FakeOneRoster:
    return FakeOneRoster(quirks=Quirks(retry_after="0"))


@pytest.fixture
def running(fake: FakeOneRoster) -> Iterator[RunningServer]:
    with serve(fake) as server:
        yield server


def _world(
    factory: sessionmaker[Session],
    running: RunningServer,
    *,
    students: int = 4,
    classes: int = 2,
    **kwargs: object,
) -> World:
    with factory.begin() as session:
        options: dict[str, object] = {"token_url": running.token_url, **kwargs}
        world = build_world(
            session,
            base_url=running.base_url,
            students=students,
            classes=classes,
            **options,  # type: ignore[arg-type]
        )
        enqueue_posted_grades(session, post_grades(session, world), now=NOW)
    return world


def _sink(factory: sessionmaker[Session], world: World) -> OneRosterGradebookClient:
    with factory() as session:
        connection = session.get(SisConnection, world.connection_id)
        assert connection is not None
        return build_grade_sink(connection, secret_key=SECRET_KEY, retry=FAST_RETRY)


def _deliver_until_done(
    factory: sessionmaker[Session],
    world: World,
    sink: OneRosterGradebookClient,
    *,
    rounds: int = 30,
    **kwargs: object,
) -> int:
    """Deliver, moving the clock past every backoff, until nothing is pending; returns the rounds taken."""
    now = NOW
    for number in range(1, rounds + 1):
        deliver_due(factory, world.connection_id, sink, worker_id="test-worker", now=now, **kwargs)  # type: ignore[arg-type]
        with factory() as session:
            pending = session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.connection_id == world.connection_id,
                    OutboxMessage.status == OutboxStatus.PENDING,
                )
            ).all()
        if not pending:
            return number
        now += timedelta(hours=7)
    raise AssertionError(f"{len(pending)} messages still pending after {rounds} rounds")


def _expected(factory: sessionmaker[Session], world: World) -> dict[str, dict[str, dict[str, object]]]:
    """Collection -> sourcedId -> the body the outbox holds (what must end up in the SIS)."""
    collections = {
        "category": "categories",
        "scoreScale": "scoreScales",
        "lineItem": "lineItems",
        "result": "results",
    }
    found: dict[str, dict[str, dict[str, object]]] = {}
    with factory() as session:
        for row in messages(session, world.connection_id):
            kind = row.payload["kind"]
            found.setdefault(collections[kind], {})[row.payload["sourcedId"]] = body_of(session, row)[kind]
    return found


def _assert_sis_holds(
    fake: FakeOneRoster, expected: dict[str, dict[str, dict[str, object]]], version: str = "1.2"
) -> None:
    for collection, records in expected.items():
        stored = fake.stored(collection, version)
        assert set(stored) == set(records), collection
        for sourced_id, body in records.items():
            assert stored[sourced_id] == body, (collection, sourced_id)


@pytest.mark.parametrize(
    "quirks",
    [
        Quirks(retry_after="0"),
        Quirks(retry_after="0", rate_limit_first=5),
        Quirks(retry_after="0", error_rate=0.35, seed=11),
        Quirks(retry_after="0", drop_on_call=4),
        Quirks(retry_after="0", lax_bodies=True),
    ],
    ids=["plain", "429-retry-after", "random-500s", "dropped-connection", "lax-bodies"],
)
def test_push_reaches_exactly_the_expected_state_under_quirks(
    factory: sessionmaker[Session], quirks: Quirks
) -> None:
    fake = FakeOneRoster(quirks=quirks)
    with serve(fake) as running:
        world = _world(factory, running)
        sink = _sink(factory, world)
        _deliver_until_done(factory, world, sink, batch_size=5)
    expected = _expected(factory, world)
    assert len(expected["results"]) == 8
    assert len(expected["lineItems"]) == 2
    if quirks.lax_bodies:
        assert set(fake.stored("results")) == set(expected["results"])
    else:
        _assert_sis_holds(fake, expected)
    with factory() as session:
        rows = messages(session, world.connection_id)
    assert {r.status for r in rows} == {OutboxStatus.DELIVERED}
    assert all(r.claimed_by is None and r.delivered_at is not None for r in rows)
    assert fake.tokens_issued == 1


def test_threaded_push_with_overlapping_claims_sends_each_result_once(
    factory: sessionmaker[Session], running: RunningServer
) -> None:
    # What `worker run` does (MB_PUSH_THREADS senders, the next batch claimed while one is in flight):
    # small batches so that many claims overlap deliveries.
    world = _world(factory, running, students=12, classes=3)
    with factory() as session:
        connection = session.get(SisConnection, world.connection_id)
        assert connection is not None
        session.expunge(connection)
    with open_grade_sink(connection, secret_key=SECRET_KEY, threads=4) as sink:
        report = deliver_all(factory, world.connection_id, sink, worker_id="w", batch_size=7, concurrency=4)
    expected = _expected(factory, world)
    assert len(expected["results"]) == 36
    _assert_sis_holds(running.fake, expected)
    assert report.delivered == sum(len(records) for records in expected.values())
    assert all(running.fake.put_counts[sid] == 1 for sid in expected["results"])
    assert running.fake.tokens_issued == 1
    with factory() as session:
        rows = messages(session, world.connection_id)
    assert {r.status for r in rows} == {OutboxStatus.DELIVERED}
    assert all(r.claimed_by is None for r in rows)


def test_results_wait_for_their_line_item(factory: sessionmaker[Session], running: RunningServer) -> None:
    world = _world(factory, running, classes=1, students=3)
    with factory.begin() as session:
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.connection_id == world.connection_id,
                OutboxMessage.topic == "oneroster.lineItem",
            )
            .values(next_attempt_at=NOW + timedelta(hours=1))
        )
    batch = claim_batch(
        factory, world.connection_id, worker_id="w", batch_size=50, now=NOW, lease=timedelta(minutes=1)
    )
    assert sorted(m.kind.value for m in batch) == ["category", "scoreScale"]  # results held back

    later = claim_batch(
        factory,
        world.connection_id,
        worker_id="w2",
        batch_size=50,
        now=NOW + timedelta(hours=2),
        lease=timedelta(minutes=1),
    )
    # The category and scale are leased by "w" until NOW + 1 min, long expired by now: all are claimable,
    # and the results ride along with their line item in the same batch.
    assert sorted(m.kind.value for m in later) == [
        "category",
        "lineItem",
        "result",
        "result",
        "result",
        "scoreScale",
    ]


def test_concurrent_claims_take_disjoint_batches(
    factory: sessionmaker[Session], running: RunningServer
) -> None:
    world = _world(factory, running, classes=1, students=6)
    lease = timedelta(minutes=5)
    first = claim_batch(factory, world.connection_id, worker_id="a", batch_size=4, now=NOW, lease=lease)
    assert sorted(m.kind.value for m in first) == ["category", "lineItem", "result", "scoreScale"]
    # "a" holds the line item: the other results wait for it rather than go to "b" ahead of it.
    assert claim_batch(factory, world.connection_id, worker_id="b", batch_size=50, now=NOW, lease=lease) == []
    with factory.begin() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([m.id for m in first if m.kind.value != "result"]))
            .values(status=OutboxStatus.DELIVERED)
        )
    second = claim_batch(factory, world.connection_id, worker_id="b", batch_size=50, now=NOW, lease=lease)
    assert {m.id for m in first}.isdisjoint({m.id for m in second})
    assert [m.kind.value for m in second] == ["result"] * 5
    assert claim_batch(factory, world.connection_id, worker_id="c", batch_size=50, now=NOW, lease=lease) == []


def test_v1p1_push_with_oauth1_and_letter_in_comment(
    factory: sessionmaker[Session], fake: FakeOneRoster, running: RunningServer
) -> None:
    world = _world(factory, running, profile="generic-1.1", version="1.1", auth="oauth1")
    sink = _sink(factory, world)
    _deliver_until_done(factory, world, sink)
    expected = _expected(factory, world)
    assert "scoreScales" not in expected
    _assert_sis_holds(fake, expected, version="1.1")
    for body in fake.stored("results", "1.1").values():
        assert body["comment"] in {"A", "B+", "B", "C", "A-"}


def test_closed_grading_window_keeps_messages_pending_with_a_plain_message(
    factory: sessionmaker[Session], fake: FakeOneRoster, running: RunningServer
) -> None:
    world = _world(factory, running, classes=1, students=3, profile="infinite-campus")
    fake.quirks.grading_window_closed.add(world.period_sid)
    sink = _sink(factory, world)

    report = deliver_due(factory, world.connection_id, sink, worker_id="w", now=NOW)

    assert report.deferred == 1  # the line item; its results were not even claimed
    with factory() as session:
        rows = {r.payload["kind"]: r for r in messages(session, world.connection_id)}
    line_item = rows["lineItem"]
    assert line_item.status is OutboxStatus.PENDING
    assert line_item.attempts == 0
    assert line_item.last_error is not None
    assert line_item.last_error.startswith(
        "the grading window for Q1 is closed in Infinite Campus; grades will be sent when it opens"
    )
    assert line_item.next_attempt_at == NOW + RetryTiming().window_closed_delay
    assert rows["result"].status is OutboxStatus.PENDING
    assert rows["result"].attempts == 0
    assert fake.stored("results") == {}

    fake.quirks.grading_window_closed.clear()
    assert (
        deliver_due(
            factory, world.connection_id, sink, worker_id="w", now=NOW + timedelta(minutes=30)
        ).claimed
        == 0
    )
    _deliver_until_done(factory, world, sink)
    _assert_sis_holds(fake, _expected(factory, world))


def test_failures_back_off_then_give_up_without_student_data(
    factory: sessionmaker[Session], fake: FakeOneRoster, running: RunningServer
) -> None:
    world = _world(factory, running, classes=1, students=1)
    sink = _sink(factory, world)
    assert deliver_due(factory, world.connection_id, sink, worker_id="w", now=NOW).delivered == 4
    with factory.begin() as session:  # send the result again, now against a failing SIS
        result = next(r for r in messages(session, world.connection_id) if r.payload["kind"] == "result")
        result.status, result.delivered_at, result.attempts = OutboxStatus.PENDING, None, 0
    fake.quirks.error_rate = 1.0
    timing = RetryTiming(max_attempts=3, base_delay=timedelta(seconds=10))
    moments = []
    now = NOW
    for _ in range(3):
        report = deliver_due(factory, world.connection_id, sink, worker_id="w", now=now, timing=timing)
        assert report.claimed == 1
        with factory() as session:
            row = session.get(OutboxMessage, result.id)
            assert row is not None
            moments.append((row.attempts, row.status, row.next_attempt_at))
            error = row.last_error or ""
        now = row.next_attempt_at + timedelta(seconds=1)
    assert [m[0] for m in moments] == [1, 2, 3]
    assert [m[1] for m in moments] == [OutboxStatus.PENDING, OutboxStatus.PENDING, OutboxStatus.FAILED]
    # Exponential backoff with jitter in [50%, 100%]: 5-10 s after the first failure, 10-20 s after the second.
    assert timedelta(seconds=5) <= moments[0][2] - NOW <= timedelta(seconds=10)
    assert moments[1][2] - moments[0][2] >= timedelta(seconds=10)
    assert error.startswith(
        "gave up after 3 attempts: PUT result failed (ConnectorUnavailableError, HTTP 500)"
    )
    assert world.student_sids[world.student_ids[0]] not in error
    assert result.payload["sourcedId"] not in error


def test_dry_run_reports_new_changed_and_same_and_writes_nothing(
    factory: sessionmaker[Session], fake: FakeOneRoster, running: RunningServer
) -> None:
    world = _world(factory, running, classes=1, students=3)
    sink = _sink(factory, world)
    with factory() as session:
        connection = session.get(SisConnection, world.connection_id)
        assert connection is not None
        period = session.get(AcademicSession, world.period_id)
        assert period is not None
        plan = plan_push(session, connection, period, sink)
        assert plan.counts() == {NEW: 3, CHANGED: 0, SAME: 0, "skipped": 0}
    assert fake.put_counts == {}

    _deliver_until_done(factory, world, sink)
    with factory.begin() as session:
        first = session.scalars(
            select(PostedGrade).where(PostedGrade.class_id == world.class_ids[0]).order_by(PostedGrade.id)
        ).first()
        assert first is not None
        amend(session, first, letter="A+", value="3.80", at=NOW + timedelta(days=3))
    puts_before = dict(fake.put_counts)
    with factory() as session:
        connection = session.get(SisConnection, world.connection_id)
        period = session.get(AcademicSession, world.period_id)
        assert connection is not None
        assert period is not None
        outbox_before = len(messages(session, world.connection_id))
        plan = plan_push(session, connection, period, sink)
        assert len(messages(session, world.connection_id)) == outbox_before
    assert dict(fake.put_counts) == puts_before
    assert plan.counts() == {NEW: 0, CHANGED: 1, SAME: 2, "skipped": 0}
    (changed,) = [r for r in plan.results if r.state == CHANGED]
    assert {(c.field, c.ours, c.theirs) for c in changed.changes} == {
        ("score", "3.8", "3.5"),
        ("letter", "A+", "A"),
        ("scoreDate", "2026-11-05", "2026-11-02"),
    }
    assert plan.to_json()["counts"]["changed"] == 1


@pytest.mark.parametrize("profile_name", profile_names())
def test_every_vendor_profile_delivers_the_bodies_the_outbox_holds(
    factory: sessionmaker[Session], profile_name: str
) -> None:
    profile = load_profile(profile_name)
    version = profile.default_version.value
    fake = FakeOneRoster(
        oauth1_method=(profile.oauth1_signature or "HMAC-SHA256"),
        quirks=Quirks(retry_after="0", token_cookie=profile.needs_token_cookies),
    )
    fake.scopes = tuple(dict.fromkeys((*fake.scopes, *profile.scopes(roster=True, gradebook=True))))
    with serve(fake) as running:
        world = _world(
            factory,
            running,
            classes=1,
            students=2,
            profile=profile_name,
            version=version,
            auth=profile.auth.value,
        )
        _deliver_until_done(factory, world, _sink(factory, world))
    expected = _expected(factory, world)
    if not profile.can_put_categories:
        expected.pop("categories", None)
    _assert_sis_holds(fake, expected, version=version)
    assert len(fake.stored("results", version)) == 2
