"""A posting's values: forked workers agree with this process, evidence text parses as rows, batches read back."""

from __future__ import annotations

import json
import multiprocessing
import threading
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from lti_tool.models import OutboxMessage, PostedGrade
from lti_tool.registrar import posting_store
from lti_tool.registrar.evidence_stream import (
    EvidenceRow,
    StudentEvidence,
    evidence_names,
    evidence_rows,
    evidence_text,
    group_evidence,
    group_evidence_text,
)
from lti_tool.registrar.posted_values import (
    JSONB_VERSION,
    PARALLEL_MIN_GRADES,
    compute_posted_values,
    provenance,
    worker_count,
)
from lti_tool.registrar.posting import post_period
from lti_tool.registrar.scope import PeriodScope, end_of_day, load_scope, stream_period_grades
from tests.integration.registrar_support import AFTER_Q1, Demo, add_sis_connection, load_demo


@pytest.fixture
def demo(db_session: Session) -> Demo:
    demo = load_demo(db_session)
    add_sis_connection(db_session, demo)
    return demo


def q1_scope(session: Session, demo: Demo) -> tuple[PeriodScope, dict[int, int]]:
    scope = load_scope(session, demo.school, demo.periods["Q1"])
    return scope, {item.class_id: item.policy_row_id or 0 for item in scope.classes}


@pytest.mark.forks
def test_forked_workers_give_the_rows_this_process_gives(db_session: Session, demo: Demo) -> None:
    scope, policy_ids = q1_scope(db_session, demo)
    here = list(compute_posted_values(db_session, scope, policy_ids, as_jsonb=True, part_grades=25))
    forked = list(
        compute_posted_values(db_session, scope, policy_ids, as_jsonb=True, workers=2, part_grades=25)
    )
    assert forked == here
    assert [(v.class_id, v.student_id) for v in here] == [
        (item.class_id, person) for item in scope.classes for person in item.student_ids
    ]


@pytest.mark.forks
def test_the_workers_end_when_the_caller_stops_early(db_session: Session, demo: Demo) -> None:
    scope, policy_ids = q1_scope(db_session, demo)
    values = compute_posted_values(db_session, scope, policy_ids, as_jsonb=True, workers=2, part_grades=25)
    assert next(values).class_id == scope.classes[0].class_id
    assert multiprocessing.active_children()
    values.close()  # as when storing a row fails
    assert multiprocessing.active_children() == []


def test_the_stored_document_is_the_provenance_of_the_grading_path(db_session: Session, demo: Demo) -> None:
    scope, policy_ids = q1_scope(db_session, demo)
    as_jsonb = list(compute_posted_values(db_session, scope, policy_ids, as_jsonb=True, part_grades=30))
    as_documents = list(compute_posted_values(db_session, scope, policy_ids, as_jsonb=False))
    graded = list(stream_period_grades(db_session, scope))
    assert len(as_jsonb) == len(as_documents) == len(graded)
    for binary, values, item in zip(as_jsonb, as_documents, graded, strict=True):
        expected = provenance(item, policy_row_id=policy_ids[item.scope_class.class_id], as_of="2026-10-30")
        assert values.stored == expected
        assert list(expected)[-1] == "explanation"
        assert isinstance(binary.stored, bytes)
        assert binary.stored.startswith(JSONB_VERSION)
        assert json.loads(binary.stored[1:]) == expected
        assert values.pushed == {key: value for key, value in expected.items() if key != "explanation"}
        assert (values.letter, values.course_value, values.evidence_count, values.status) == (
            item.grade.letter, item.grade.course_value, item.grade.evidence_count, item.grade.status.value,
        )  # fmt: skip


def _as_text(rows: list[EvidenceRow]) -> str:
    # What the PostgreSQL query writes for these rows (see evidence_stream._POSTGRES_EVIDENCE_TEXT).
    zero = date(2000, 1, 1)
    return "\n".join(
        ",".join((str(c), str(s), str(i), str(ind), "" if v is None else str(v), str((day - zero).days), kind,
                  "" if task is None else str(task)))
        for c, s, i, ind, v, day, kind, task in rows
    )  # fmt: skip


def _comparable(groups: list[StudentEvidence]) -> list[tuple[Any, ...]]:
    return [
        (g.class_id, g.student_id, g.evidence, [g.evidence_ids[id(item)] for item in g.evidence])
        for g in groups
    ]


def test_evidence_read_as_text_is_the_evidence_read_as_rows(db_session: Session, demo: Demo) -> None:
    scope, _ = q1_scope(db_session, demo)
    class_ids = [item.class_id for item in scope.classes]
    before = end_of_day(scope.period.end_date)
    names = evidence_names(db_session, class_ids)
    codes = {item.class_id: item.course_code for item in scope.classes}
    rows = list(evidence_rows(db_session, class_ids, before=before))
    assert rows
    expected = _comparable(list(group_evidence(rows, names, codes)))
    assert _comparable(list(group_evidence_text(_as_text(rows), names, codes))) == expected
    assert list(group_evidence_text("", names, codes)) == []
    if db_session.get_bind().dialect.name == "postgresql":
        served = evidence_text(db_session, class_ids, before=before)
        assert served == _as_text(rows)
        assert _comparable(list(group_evidence_text(served, names, codes))) == expected
        assert evidence_text(db_session, [-1], before=before) == ""


def test_small_batches_are_all_read_back_for_the_push(
    db_session: Session, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(posting_store, "INSERT_BATCH", 7)
    stored: list[int] = []
    posting = post_period(db_session, demo.school, demo.periods["Q1"], actor="r", now=AFTER_Q1,
                          progress=stored.append)  # fmt: skip
    rows = db_session.scalars(select(PostedGrade).where(PostedGrade.posting_id == posting.id)).all()
    assert len(stored) > 2
    assert set(stored[:-1]) == {7}
    assert sum(stored) == len(rows) == posting.counts["posted"]
    results = db_session.scalars(select(OutboxMessage).where(OutboxMessage.topic.like("%result%"))).all()
    assert sorted(message.payload["postedGradeId"] for message in results) == sorted(row.id for row in rows)
    # The stored provenance keeps its explanation; only the push's copies went without it.
    assert all(row.provenance["explanation"] for row in rows)


def test_posting_leaves_the_compression_setting_as_it_was(db_session: Session, demo: Demo) -> None:
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("a PostgreSQL setting")
    before = db_session.scalar(text("SHOW default_toast_compression"))
    post_period(db_session, demo.school, demo.periods["Q1"], actor="r", now=AFTER_Q1)
    assert db_session.scalar(text("SHOW default_toast_compression")) == before


def test_workers_only_for_a_large_job_on_postgresql_in_a_single_threaded_process(db_session: Session) -> None:
    is_postgres = db_session.get_bind().dialect.name == "postgresql"
    assert worker_count(db_session, PARALLEL_MIN_GRADES - 1) == 0
    large = worker_count(db_session, PARALLEL_MIN_GRADES)
    assert large == 0 if not is_postgres else large != 1
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert worker_count(db_session, 10 * PARALLEL_MIN_GRADES) == 0
    finally:
        release.set()
        other.join()
