"""Enqueueing posted grades: the caller's transaction, payloads, deterministic ids, dedupe, amendments, skips."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.oneroster.profiles import load_profile
from connectors.oneroster_csv.payloads import (
    PeriodLineItem,
    PeriodResult,
    line_item_sourced_id,
    result_sourced_id,
)
from lti_tool.models import OneRosterVersion, OutboxMessage, OutboxStatus, PostedGrade, SisConnection
from lti_tool.sis.grade_push import MessageKind
from lti_tool.sis.outbox import decode_record, encode_record, enqueue_posted_grades, outbox_depth
from lti_tool.sis.push_bodies import message_body, service_urls
from tests.integration.sis_push_world import (
    add_evidence,
    amend,
    body_of,
    build_world,
    messages,
    outbox_count,
    post_grades,
)

NOW = datetime(2026, 11, 2, 16, 0, tzinfo=UTC)


def _by_kind(rows: list[OutboxMessage]) -> dict[str, list[OutboxMessage]]:
    found: dict[str, list[OutboxMessage]] = {}
    for row in rows:
        found.setdefault(row.payload["kind"], []).append(row)
    return found


def test_enqueue_queues_prerequisites_one_line_item_and_a_result_per_grade(db_session: Session) -> None:
    world = build_world(db_session, students=3)
    grades = post_grades(db_session, world)

    report = enqueue_posted_grades(db_session, grades, now=NOW)

    assert report.queued == {"category": 1, "scoreScale": 1, "lineItem": 1, "result": 3}
    assert report.already_queued == 0
    assert report.skipped == ()
    rows = _by_kind(messages(db_session, world.connection_id))
    class_sid = world.class_sids[world.class_ids[0]]
    (line_item,) = rows["lineItem"]
    assert line_item.payload["sourcedId"] == line_item_sourced_id(class_sid, world.period_sid)
    assert line_item.payload["path"] == f"lineItems/{line_item.payload['sourcedId']}"
    body = body_of(db_session, line_item)["lineItem"]
    assert body["title"] == "Algebra 1 Q1 Term Grade"
    assert body["category"]["sourcedId"] == rows["category"][0].payload["sourcedId"]
    assert body["scoreScale"]["sourcedId"] == rows["scoreScale"][0].payload["sourcedId"]
    assert body["academicSession"]["sourcedId"] == world.period_sid
    assert body["learningObjectiveSet"] == [
        {"source": "case", "learningObjectiveIds": sorted(world.case_ids.values())}
    ]
    assert set(line_item.payload["requires"]) == {
        rows["category"][0].payload["sourcedId"],
        rows["scoreScale"][0].payload["sourcedId"],
    }
    scale = body_of(db_session, rows["scoreScale"][0])["scoreScale"]
    assert scale["scoreScaleValue"][0] == {"itemValueLHS": "3.70", "itemValueRHS": "A+"}
    assert body_of(db_session, rows["category"][0])["category"]["title"] == "Term Grade"

    results = {r.payload["postedGradeId"]: r for r in rows["result"]}
    for grade in grades:
        message = results[grade.id]
        student_sid = world.student_sids[grade.student_id]
        assert message.payload["sourcedId"] == result_sourced_id(class_sid, world.period_sid, student_sid)
        assert message.payload["requires"] == [line_item.payload["sourcedId"]]
        assert message.payload["period"] == {"sourcedId": world.period_sid, "title": "Q1"}
        assert message.dedupe_key.endswith(f":pg{grade.id}")
        assert message.status is OutboxStatus.PENDING
        assert message.attempts == 0
        result = body_of(db_session, message)["result"]
        assert result["score"] == float(grade.course_value or 0)
        assert result["textScore"] == grade.letter
        assert result["scoreStatus"] == "fully graded"
        assert result["scoreDate"] == "2026-11-02"
        assert result["student"]["sourcedId"] == student_sid
        objectives = result["learningObjectiveSet"][0]["learningObjectiveResults"]
        assert {o["learningObjectiveId"] for o in objectives} == set(world.case_ids.values())
        assert {o["score"] for o in objectives} == {float(grade.course_value or 0), 2.5}


def test_payload_record_round_trips_and_builds_the_stored_body(db_session: Session) -> None:
    world = build_world(db_session, students=2)
    enqueue_posted_grades(db_session, post_grades(db_session, world), now=NOW)
    connection = db_session.get(SisConnection, world.connection_id)
    assert connection is not None
    profile = load_profile(connection.profile)
    for row in messages(db_session, world.connection_id):
        kind = MessageKind(row.payload["kind"])
        record = decode_record(kind, row.payload["record"])
        assert encode_record(record) == row.payload["record"]
        assert record.sourced_id == row.payload["sourcedId"]
        rebuilt = message_body(
            record, urls=service_urls(connection), profile=profile, version=connection.version
        )
        assert rebuilt == body_of(db_session, row)
        assert "body" not in row.payload  # built when sent, never stored twice


def test_enqueue_is_part_of_the_callers_transaction(db_session: Session) -> None:
    world = build_world(db_session)
    db_session.commit()  # the world stays; what follows is one transaction
    before = outbox_count(db_session)

    grades = post_grades(db_session, world)
    report = enqueue_posted_grades(db_session, grades, now=NOW)
    assert report.results_queued == 3
    assert outbox_count(db_session) == before + 6
    db_session.rollback()

    assert outbox_count(db_session) == before
    assert (
        db_session.scalars(select(PostedGrade).where(PostedGrade.class_id == world.class_ids[0])).all() == []
    )


def test_enqueueing_again_is_a_no_op_and_an_amendment_queues_one_result(db_session: Session) -> None:
    world = build_world(db_session, students=3)
    grades = post_grades(db_session, world)
    enqueue_posted_grades(db_session, grades, now=NOW)

    again = enqueue_posted_grades(db_session, grades, now=datetime(2026, 11, 3, tzinfo=UTC))
    assert again.queued_total == 0
    assert again.already_queued == 6
    assert outbox_count(db_session, world.connection_id) == 6

    amendment = amend(db_session, grades[0], letter="A+", value="3.80", at=datetime(2026, 11, 9, tzinfo=UTC))
    report = enqueue_posted_grades(db_session, [amendment], now=datetime(2026, 11, 9, tzinfo=UTC))
    assert report.queued == {"result": 1}
    assert report.already_queued == 3  # category, scale and line item are unchanged
    newest = messages(db_session, world.connection_id)[-1]
    assert newest.payload["postedGradeId"] == amendment.id
    first = next(
        m for m in messages(db_session, world.connection_id) if m.payload["postedGradeId"] == grades[0].id
    )
    assert newest.payload["sourcedId"] == first.payload["sourcedId"]  # same SIS record, updated
    assert body_of(db_session, newest)["result"]["textScore"] == "A+"


def test_grades_without_sis_ids_or_connection_are_skipped_with_reasons(db_session: Session) -> None:
    world = build_world(db_session, students=3, students_without_sis_id=1)
    grades = post_grades(db_session, world)
    report = enqueue_posted_grades(db_session, grades, now=NOW)
    assert report.results_queued == 2
    assert report.skipped_reasons() == {
        f"the student has no SIS sourcedId from connection {world.connection_name!r}": 1
    }
    assert "stu-" not in str(report.to_json())

    # A second world whose connection serves no org: with several connections enabled, none is guessed.
    other = build_world(db_session, students=1, connection_org=False)
    db_session.get(SisConnection, other.connection_id).org_id = None  # type: ignore[union-attr]
    stray = post_grades(db_session, other)
    report = enqueue_posted_grades(db_session, stray, now=NOW)
    assert report.queued_total == 0
    (reason,) = report.skipped_reasons()
    assert "no SIS connection is assigned to the class's school or district" in reason


def test_indicator_scores_come_from_evidence_at_period_end_without_provenance(db_session: Session) -> None:
    world = build_world(db_session, students=1)
    class_id, student_id = world.class_ids[0], world.student_ids[0]
    first, second = world.indicator_ids
    add_evidence(
        db_session,
        student_id=student_id,
        class_id=class_id,
        indicator_id=first,
        level="3",
        on=date(2026, 9, 10),
    )
    add_evidence(
        db_session,
        student_id=student_id,
        class_id=class_id,
        indicator_id=second,
        level="2",
        on=date(2026, 9, 12),
    )
    # After the period's end: not part of the Q1 snapshot.
    add_evidence(
        db_session,
        student_id=student_id,
        class_id=class_id,
        indicator_id=second,
        level="4",
        on=date(2026, 11, 20),
    )
    grades = post_grades(db_session, world, with_provenance=False)

    enqueue_posted_grades(db_session, grades, now=NOW)

    (result,) = _by_kind(messages(db_session, world.connection_id))["result"]
    objectives = body_of(db_session, result)["result"]["learningObjectiveSet"][0]["learningObjectiveResults"]
    scores = {o["learningObjectiveId"]: o for o in objectives}
    assert scores[world.case_ids["M.1"]]["score"] == 3.0
    assert scores[world.case_ids["M.1"]]["textScore"] == "Proficient"
    assert scores[world.case_ids["M.2"]]["score"] == 2.0


def test_v1p1_profile_sends_the_letter_in_comment_and_no_score_scale(db_session: Session) -> None:
    world = build_world(db_session, profile="generic-1.1", version="1.1", auth="oauth1", token_url=None)
    grades = post_grades(db_session, world)
    enqueue_posted_grades(db_session, grades, now=NOW)
    rows = _by_kind(messages(db_session, world.connection_id))
    assert set(rows) == {"category", "lineItem", "result"}
    line_item = body_of(db_session, rows["lineItem"][0])["lineItem"]
    assert line_item["gradingPeriod"]["sourcedId"] == world.period_sid
    assert "academicSession" not in line_item
    assert "scoreScale" not in line_item
    assert line_item["class"]["href"].endswith(
        f"/ims/oneroster/v1p1/classes/{world.class_sids[world.class_ids[0]]}"
    )
    for message in rows["result"]:
        body = body_of(db_session, message)["result"]
        grade = next(g for g in grades if g.id == message.payload["postedGradeId"])
        assert body["comment"] == grade.letter
        assert "textScore" not in body
        assert "learningObjectiveSet" not in body
        record = decode_record(MessageKind.RESULT, message.payload["record"])
        assert isinstance(record, PeriodResult)
        assert record.text_score == grade.letter


def test_powerschool_profile_puts_letter_in_metadata_and_clips_titles(db_session: Session) -> None:
    world = build_world(db_session, profile="powerschool")
    db_session.flush()
    from lti_tool.models import Course, SchoolClass

    school_class = db_session.get(SchoolClass, world.class_ids[0])
    assert school_class is not None
    course = db_session.get(Course, school_class.course_id)
    assert course is not None
    course.title = "Advanced Placement Calculus BC with Differential Equations and Series"
    grades = post_grades(db_session, world)
    enqueue_posted_grades(db_session, grades, now=NOW)
    rows = _by_kind(messages(db_session, world.connection_id))
    profile = load_profile("powerschool")
    line_item = body_of(db_session, rows["lineItem"][0])["lineItem"]
    assert profile.title_max_chars is not None
    assert len(line_item["title"]) <= profile.title_max_chars
    assert line_item["metadata"] == {"scoreType": "GRADESCALE"}
    record = decode_record(MessageKind.LINE_ITEM, rows["lineItem"][0].payload["record"])
    assert isinstance(record, PeriodLineItem)
    assert record.title == line_item["title"]
    # Categories are unique per teacher at PowerSchool: scoped by the class's teacher.
    category = decode_record(MessageKind.CATEGORY, rows["category"][0].payload["record"])
    assert category.scope_sourced_id == f"teacher-{world.tag}"
    for message in rows["result"]:
        grade = next(g for g in grades if g.id == message.payload["postedGradeId"])
        assert body_of(db_session, message)["result"]["metadata"] == {"gradeScaleValue": grade.letter}


def test_outbox_depth_counts_by_state(db_session: Session) -> None:
    world = build_world(db_session, students=2)
    enqueue_posted_grades(db_session, post_grades(db_session, world), now=NOW)
    first = messages(db_session, world.connection_id)[0]
    first.status = OutboxStatus.DELIVERED
    db_session.flush()
    depth = outbox_depth(db_session, world.connection_id)
    assert (depth.pending, depth.failed, depth.delivered) == (4, 0, 1)
    assert depth.oldest_pending_at == NOW
    connection = db_session.get(SisConnection, world.connection_id)
    assert connection is not None
    assert connection.version is OneRosterVersion.V1_2


def test_a_school_sized_enqueue_keeps_order_payloads_and_dedupe(db_session: Session) -> None:
    # Over INSERT_CHUNK messages: PostgreSQL stages them with COPY (lti_tool.sis.outbox._copy_insert).
    world = build_world(db_session, students=260, classes=4)
    grades = post_grades(db_session, world)
    report = enqueue_posted_grades(db_session, grades, now=NOW)
    assert report.queued["result"] == 1040
    rows = messages(db_session, world.connection_id)
    assert len(rows) == sum(report.queued.values())
    ranks = [MessageKind(row.payload["kind"]).rank for row in sorted(rows, key=lambda r: r.id)]
    assert ranks == sorted(ranks)  # prerequisites, then line items, then results, in id order
    assert {row.status for row in rows} == {OutboxStatus.PENDING}
    for row in rows[-3:]:
        assert (
            decode_record(MessageKind(row.payload["kind"]), row.payload["record"]).sourced_id
            == (row.payload["sourcedId"])
        )
    again = enqueue_posted_grades(db_session, grades, now=NOW)
    assert again.queued == {}
    assert again.already_queued == len(rows)
    assert outbox_count(db_session) == len(rows)
