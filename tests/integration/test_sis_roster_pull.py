"""The roster pull against the fake OneRoster server on loopback: exactly the SIS's state under every quirk,
idempotent, deltas, tobedeleted and hard deletes, failure rollback, dry runs, warnings, demographics, CSV."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.oneroster import OneRosterVersion, RosterSource
from connectors.oneroster_csv import PackageRosterSource, read_roster_zip
from lti_tool.models import (
    Course,
    CourseLevel,
    Demographic,
    NcaaArea,
    Org,
    Person,
    SisConnection,
    SyncKind,
    SyncRun,
    SyncStatus,
)
from lti_tool.sis.course_map import CourseMap
from lti_tool.sis.roster_pull import COLLECTIONS, last_good_run, sync_roster
from tests.support.oneroster_fake import FakeOneRoster, Quirks
from tests.support.sis_roster import (
    LATER,
    STUDENTS,
    Sleeps,
    add_connection,
    database_state,
    demographics_state,
    expected_state,
    record,
    roster_client,
    roster_zip,
    running_fake,
    seed_calendar_district,
    touch,
)

T1 = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
T2 = datetime(2026, 2, 2, 8, 0, tzinfo=UTC)
T3 = datetime(2026, 2, 3, 8, 0, tzinfo=UTC)
RECORDS = {"orgs": 2, "academicSessions": 5, "courses": 1, "classes": 2, "users": STUDENTS + 1,
           "enrollments": STUDENTS + 2}  # fmt: skip
QUIRKS = {
    "none": Quirks(),
    "no_paging_headers": Quirks(no_paging_headers=True),
    "clamped_limit": Quirks(max_limit=4),
    "clamped_without_headers": Quirks(max_limit=4, no_paging_headers=True),
    "rate_limited": Quirks(rate_limit_first=3, retry_after="2"),
    "random_500s": Quirks(error_rate=0.25, seed=5),
    "slow": Quirks(slow_first=2, slow_seconds=0.6),
    "dropped_mid_page": Quirks(drop_on_call=3),
    "lax_bodies": Quirks(lax_bodies=True),
    "hard_deletes": Quirks(hard_deletes=True),
}
RETRYING = {"rate_limited", "random_500s", "slow", "dropped_mid_page"}


def tallies(run: SyncRun) -> dict[str, dict[str, int]]:
    return {name: run.counts[name] for name in COLLECTIONS if name in run.counts}


def pull(
    session: Session,
    connection: SisConnection,
    source: RosterSource,
    *,
    full: bool = True,
    now: datetime = T1,
    **options: Any,
) -> SyncRun:
    run = sync_roster(session, connection, source, full=full, now=now, **options)
    assert run.status is SyncStatus.SUCCEEDED, run.errors
    return run


@pytest.mark.parametrize(
    "version", [OneRosterVersion.V1P1, OneRosterVersion.V1P2], ids=["1.1-oauth1", "1.2-oauth2"]
)
@pytest.mark.parametrize("quirk", list(QUIRKS))
def test_full_pull_reaches_exactly_the_sis_state_and_a_second_changes_nothing(
    db_session: Session, quirk: str, version: OneRosterVersion
) -> None:
    sleeps = Sleeps()
    with running_fake(QUIRKS[quirk]) as server:
        connection = add_connection(db_session, version=version.value)
        client = roster_client(server, version, sleeps=sleeps, timeout=0.3 if quirk == "slow" else 2.0)

        first = pull(db_session, connection, client)
        assert first.kind is SyncKind.FULL
        assert database_state(db_session, connection) == expected_state(server.fake)
        assert {name: counts["created"] for name, counts in tallies(first).items()} == RECORDS
        assert first.warnings == []

        second = pull(db_session, connection, client, now=T2)
        assert {name: counts["unchanged"] for name, counts in tallies(second).items()} == RECORDS
        assert all(counts["created"] == counts["updated"] == counts["deactivated"] == 0
                   for counts in tallies(second).values())  # fmt: skip
        assert database_state(db_session, connection) == expected_state(server.fake)

        if quirk == "hard_deletes":
            server.fake.delete("users", "s-05")
            server.fake.delete("enrollments", "enr-s-05-class-2")
            server.fake.delete("classes", "class-2")
            delta = pull(db_session, connection, client, full=False, now=T3)
            assert delta.kind is SyncKind.DELTA  # a delta cannot see what is gone
            assert tallies(delta)["users"]["deactivated"] == 0
            third = pull(db_session, connection, client, full=True, now=T3)
            assert tallies(third)["users"]["deactivated"] == 1
            assert tallies(third)["enrollments"]["deactivated"] == 1
            assert tallies(third)["classes"]["deactivated"] == 1
            gone = {("people", "s-05"), ("enrollments", "enr-s-05-class-2"), ("classes", "class-2")}
            fake_now = expected_state(server.fake)
            for collection, sourced_id in gone:
                assert sourced_id not in fake_now[collection]
            state = database_state(db_session, connection)
            assert state["people"]["s-05"][-1] is False
            assert state["enrollments"]["enr-s-05-class-2"][-1] is False
            assert state["classes"]["class-2"][-1] is False
            for collection in fake_now:
                assert {
                    k: v for k, v in state[collection].items() if (collection, k) not in gone
                } == fake_now[collection]
    if quirk in RETRYING:
        assert sleeps.calls, "the quirk never made the client retry"
    if quirk == "rate_limited":
        assert sleeps.calls[:3] == [2.0, 2.0, 2.0]  # Retry-After honoured


def test_delta_pull_asks_for_changes_since_the_last_good_run_and_applies_them(db_session: Session) -> None:
    with running_fake() as server:
        connection = add_connection(db_session)
        client = roster_client(server, OneRosterVersion.V1P2)
        pull(db_session, connection, client, now=T1)

        touch(server.fake, "users", "s-03", familyName="Smith", email="s-03@new.example.edu")
        touch(server.fake, "classes", "class-1", title="Algebra I - Period 1")
        server.fake.add("users", {**record(server.fake, "users", "s-02"), "sourcedId": "s-99", "username": "s-99",
                                  "email": "s-99@example.edu", "dateLastModified": LATER})  # fmt: skip
        server.fake.add("enrollments", {**record(server.fake, "enrollments", "enr-s-02-class-1"),
                                        "sourcedId": "enr-s-99-class-1", "dateLastModified": LATER,
                                        "user": {"sourcedId": "s-99", "type": "user", "href": "x"}})  # fmt: skip
        server.fake.delete("enrollments", "enr-s-04-class-1", when=LATER)  # tobedeleted
        server.fake.calls.clear()

        delta = pull(db_session, connection, client, full=False, now=T2)

        assert delta.kind is SyncKind.DELTA
        assert delta.counts["delta_since"] == "2026-01-15T07:55:00+00:00"  # last good start less 5 minutes
        assert all("filter=dateLastModified%3E%272026-01-15T07%3A55%3A00.000Z%27" in call
                   for call in server.fake.calls)  # fmt: skip
        counts = tallies(delta)
        assert counts["users"] == {"created": 1, "updated": 1, "deactivated": 0, "unchanged": 0, "skipped": 0}
        assert counts["enrollments"] == {
            "created": 1,
            "updated": 0,
            "deactivated": 1,
            "unchanged": 0,
            "skipped": 0,
        }
        assert counts["classes"]["updated"] == 1
        assert counts["orgs"] == {"created": 0, "updated": 0, "deactivated": 0, "unchanged": 0, "skipped": 0}
        assert database_state(db_session, connection) == expected_state(server.fake)
        assert last_good_run(db_session, connection) is delta


def test_a_failure_mid_pull_rolls_everything_back_and_records_a_failed_run(db_session: Session) -> None:
    with running_fake() as server:
        connection = add_connection(db_session)
        client = roster_client(server, OneRosterVersion.V1P2)
        pull(db_session, connection, client, now=T1)
        before = database_state(db_session, connection)
        touch(server.fake, "orgs", "org-school", name="North High School")
        touch(server.fake, "users", "s-01", givenName="Renamed")

        def break_the_sis(collection: str, count: int) -> None:
            if collection == "users" and count:
                server.fake.quirks.error_rate = 1.0  # every later call answers 500

        failed = sync_roster(db_session, connection, client, full=True, now=T2, progress=break_the_sis)
        db_session.commit()  # what the CLI does with whatever comes back

    assert failed.status is SyncStatus.FAILED
    assert failed.counts == {}
    (error,) = failed.errors
    assert error["type"] == "ConnectorUnavailableError"
    assert error["status"] == 500
    assert "nothing was imported" in error["message"]
    assert database_state(db_session, connection) == before  # the org and user changes are gone
    runs = db_session.scalars(select(SyncRun).order_by(SyncRun.id)).all()
    assert [run.status for run in runs] == [SyncStatus.SUCCEEDED, SyncStatus.FAILED]
    assert last_good_run(db_session, connection) is runs[0]


def test_a_dry_run_counts_exactly_and_writes_only_its_run_record(db_session: Session) -> None:
    with running_fake() as server:
        connection = add_connection(db_session)
        client = roster_client(server, OneRosterVersion.V1P2)
        dry = pull(db_session, connection, client, dry_run=True)
        assert dry.is_dry_run
        assert {name: counts["created"] for name, counts in tallies(dry).items()} == RECORDS
        assert db_session.scalar(select(func.count()).select_from(Org)) == 0
        assert db_session.scalar(select(func.count()).select_from(Person)) == 0
        assert last_good_run(db_session, connection) is None  # a dry run is no base for a delta

        real = pull(db_session, connection, client, now=T1)
        assert real.kind is SyncKind.FULL
        assert tallies(real) == tallies(dry)
        touch(server.fake, "users", "s-07", familyName="Changed")
        dry_delta = pull(db_session, connection, client, full=False, now=T2, dry_run=True)
        assert tallies(dry_delta)["users"]["updated"] == 1
        assert database_state(db_session, connection)["people"]["s-07"][1] == "Doe"


def test_records_pointing_at_unknown_rows_are_skipped_and_named_by_sourced_id_only(
    db_session: Session,
) -> None:
    with running_fake() as server:
        fake = server.fake
        fake.add("enrollments", {**record(fake, "enrollments", "enr-s-01-class-2"), "sourcedId": "enr-orphan",
                                 "class": {"sourcedId": "class-404", "type": "class", "href": "x"}})  # fmt: skip
        fake.add("enrollments", {**record(fake, "enrollments", "enr-s-01-class-2"), "sourcedId": "enr-ghost",
                                 "user": {"sourcedId": "u-404", "type": "user", "href": "x"}})  # fmt: skip
        fake.add("enrollments", {**record(fake, "enrollments", "enr-s-01-class-2"), "sourcedId": "enr-twin"})
        fake.add("academicSessions", {**record(fake, "academicSessions", "gp-1"), "sourcedId": "gp-bad",
                                      "startDate": "2026-01-01", "endDate": "2025-01-01"})  # fmt: skip
        connection = add_connection(db_session)
        run = pull(db_session, connection, roster_client(server, OneRosterVersion.V1P2))

    assert tallies(run)["enrollments"]["skipped"] == 3
    assert tallies(run)["academicSessions"]["skipped"] == 1
    by_record = {item["sourced_id"]: item["message"] for item in run.warnings}
    assert by_record["enr-orphan"] == "class 'class-404' is unknown"
    assert by_record["enr-ghost"] == "user 'u-404' is unknown"
    assert by_record["enr-twin"] == "duplicates enrollment 'enr-s-01-class-2' (same user, class, role)"
    assert by_record["gp-bad"] == "endDate is before startDate"
    text = json.dumps(run.warnings)
    for user in fake.data["users"]:
        assert user["familyName"] not in text
        assert user["email"] not in text


def test_the_course_map_supplies_credits_level_and_ncaa_facts(db_session: Session, tmp_path: Path) -> None:
    path = tmp_path / "courses.csv"
    path.write_text(
        "course_sourced_id,course_code,credits,level,ncaa_core,ncaa_area\ncourse-alg,,1.0,Honors,yes,math\n"
    )
    with running_fake() as server:
        connection = add_connection(db_session)
        client = roster_client(server, OneRosterVersion.V1P2)
        pull(db_session, connection, client, course_map=CourseMap.from_csv(path))
        course = db_session.scalars(select(Course).where(Course.sourced_id == "course-alg")).one()
        assert (course.credits, course.level, course.is_ncaa_core, course.ncaa_area) == (
            Decimal("1.00"), CourseLevel.HONORS, True, NcaaArea.MATH,
        )  # fmt: skip
        again = pull(db_session, connection, client, now=T2)  # no map: the facts stay
        assert tallies(again)["courses"]["unchanged"] == 1
        db_session.refresh(course)
        assert course.credits == Decimal("1.00")


def test_demographics_only_when_switched_on_and_deleted_with_the_record(db_session: Session) -> None:
    with running_fake() as server:
        connection = add_connection(db_session)
        client = roster_client(server, OneRosterVersion.V1P2)
        off = pull(db_session, connection, client)
        assert "demographics" not in off.counts
        assert db_session.scalar(select(func.count()).select_from(Demographic)) == 0

        on = pull(db_session, connection, client, now=T2, include_demographics=True)
        assert on.counts["demographics"]["created"] == STUDENTS + 1
        stored = demographics_state(db_session, connection)
        assert stored["s-01"] == {
            "birth_date": "2010-05-01",
            "sex": "unspecified",
            "asian": True,
            "white": False,
        }
        assert "2010-05-01" not in json.dumps(on.warnings)

        server.fake.delete("demographics", "s-01", when="2026-02-02T12:00:00.000Z")  # after T2
        again = pull(db_session, connection, client, full=False, now=T3, include_demographics=True)
        assert again.counts["demographics"]["deactivated"] == 1
        assert "s-01" not in demographics_state(db_session, connection)


def test_progress_is_reported_per_collection_and_batch(db_session: Session) -> None:
    seen: list[tuple[str, int]] = []
    with running_fake() as server:
        connection = add_connection(db_session)
        pull(
            db_session,
            connection,
            roster_client(server, OneRosterVersion.V1P2),
            progress=lambda c, n: seen.append((c, n)),
        )
    assert [name for name in dict.fromkeys(c for c, _ in seen)] == list(COLLECTIONS)
    assert {c: n for c, n in seen} == RECORDS  # the last report of each is its total


def test_identity_counts_are_part_of_the_run(db_session: Session) -> None:
    with running_fake() as server:
        connection = add_connection(db_session)
        run = pull(db_session, connection, roster_client(server, OneRosterVersion.V1P2))
    people = run.counts["identity"]["people"]
    assert people == {"matched": 0, "unmatched": 0, "newly_matched": 0, "reviews_opened": 0,
                      "reviews_open": 0, "sis_unlinked": STUDENTS + 1}  # fmt: skip
    assert run.counts["identity"]["classes"]["sis_unlinked"] == 2


def test_the_connection_is_pointed_at_its_district(db_session: Session) -> None:
    with running_fake() as server:
        connection = add_connection(db_session)
        pull(db_session, connection, roster_client(server, OneRosterVersion.V1P2))
    district = db_session.scalars(select(Org).where(Org.sourced_id == "org-district")).one()
    assert connection.org_id == district.id


def test_a_csv_package_is_pulled_into_the_same_state(db_session: Session) -> None:
    fake = FakeOneRoster()
    seed_calendar_district(fake)
    package = read_roster_zip(roster_zip(fake), received_at=T1)
    connection = add_connection(db_session, name="district-csv", version="1.1")

    run = pull(db_session, connection, PackageRosterSource(package))

    assert {name: counts["created"] for name, counts in tallies(run).items()} == RECORDS
    assert database_state(db_session, connection) == expected_state(fake)
    again = pull(db_session, connection, PackageRosterSource(package), now=T2)
    assert all(counts["created"] == counts["updated"] == counts["deactivated"] == 0
               for counts in tallies(again).values())  # fmt: skip


def test_a_second_connection_never_takes_over_another_connections_rows(db_session: Session) -> None:
    with running_fake() as server:
        first = add_connection(db_session, name="district-a")
        pull(db_session, first, roster_client(server, OneRosterVersion.V1P2))
        second = add_connection(db_session, name="district-b")
        run = pull(db_session, second, roster_client(server, OneRosterVersion.V1P2), now=T2)
        assert tallies(run)["orgs"]["skipped"] == 2
        assert tallies(run)["classes"]["skipped"] == 2
        assert database_state(db_session, first) == expected_state(server.fake)
        assert database_state(db_session, second)["orgs"] == {}
