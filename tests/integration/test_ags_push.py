"""AGS grade push against the loopback demo platform: line items, scores, timestamps and token reuse."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from connectors.errors import ConnectorUnavailableError
from connectors.lms import AgsClient, FakeMembershipSource, Member, Score, Transport, new_session
from lti_tool.lti.grade_push import (
    ensure_course_line_item,
    ensure_line_item,
    push_course_grades,
    push_task_scores,
)
from lti_tool.lti.roster_sync import sync_roster
from lti_tool.lti.services import ags_client, nrps_client
from lti_tool.models import (
    AssessmentKind,
    CompetencyItem,
    CompetencyKind,
    Enrollment,
    EnrollmentRole,
    Evidence,
    EvidenceSource,
    Framework,
    FrameworkSource,
    IdentifierSource,
    LineItem,
    Person,
    PersonIdentifier,
    ScoreStatus,
    Task,
    TaskIndicator,
)
from lti_tool.policies import policy_from_row, shipped_policy_document, store_policy
from mappings import Policy
from tests.integration.test_nrps_sync import NOW, LoopbackLms, loopback_lms


# Per learner n (1-based), the scores on the two indicators, oldest first; every value stays on the 0-4 scale.
def first_indicator_scores(n: int) -> list[Decimal]:
    return [Decimal(1 + n % 3), Decimal(2 + n % 2), Decimal(3)]


def second_indicator_scores(n: int) -> list[Decimal]:
    return [Decimal(4 - n % 4), Decimal(2)]


SCORES = (first_indicator_scores, second_indicator_scores)


def explanation_url(person_id: int) -> str:
    return f"http://tool.invalid/students/{person_id}/explanation"


@dataclass
class Scenario:
    lms: LoopbackLms
    task: Task
    policy: Policy
    indicator_ids: tuple[int, int]
    person_ids: dict[str, int]  # LTI sub -> person id


def build_scenario(
    session: Session, lms: LoopbackLms, *, with_evidence: int, sync_over_http: bool
) -> Scenario:
    """Roster the class, give it the shipped 0-4 policy, a task on two indicators and evidence for learners."""
    url = lms.memberships_url
    if sync_over_http:
        source = nrps_client(lms.credentials, tokens=lms.fresh_tokens())
        sync_roster(session, lms.lti_context, url, source=source, now=NOW)
    else:
        # The same roster without HTTP, so a test can count the token requests of the push alone.
        members = [Member(u.user_id, roles=u.roles) for u in lms.server.config.users]
        sync_roster(session, lms.lti_context, url, source=FakeMembershipSource({url: members}), now=NOW)
    row = store_policy(session, shipped_policy_document("four-point-plus-minus"), source="test")
    lms.school_class.policy_id = row.id
    framework = Framework(title="History", source=FrameworkSource.MANUAL)
    session.add(framework)
    session.flush()
    indicators = [
        CompetencyItem(
            framework_id=framework.id, kind=CompetencyKind.PERFORMANCE_INDICATOR, code=code, statement=code
        )
        for code in ("H.1", "H.2")
    ]
    session.add_all(indicators)
    session.flush()
    task = Task(class_id=lms.school_class.id, title="Source analysis", kind=AssessmentKind.SUMMATIVE)
    session.add(task)
    session.flush()
    session.add_all(TaskIndicator(task_id=task.id, indicator_id=item.id) for item in indicators)
    person_ids: dict[str, int] = dict(
        session.execute(
            select(PersonIdentifier.value, PersonIdentifier.person_id).where(
                PersonIdentifier.source == IdentifierSource.LTI,
                PersonIdentifier.system == lms.registration.issuer,
            )
        ).all()
    )
    rows = []
    for n in range(1, with_evidence + 1):
        student_id = person_ids[f"demo-student-{n:04d}"]
        for indicator, scores in zip(indicators, SCORES, strict=True):
            for day, value in enumerate(scores(n)):
                rows.append(
                    {
                        "student_id": student_id,
                        "class_id": lms.school_class.id,
                        "indicator_id": indicator.id,
                        "task_id": task.id,
                        "score_status": ScoreStatus.SCORED,
                        "level_value": value,
                        "demonstrated_at": NOW - timedelta(days=30 - day),
                        "recorded_at": NOW,
                        "kind": AssessmentKind.SUMMATIVE,
                        "source": EvidenceSource.LTI,
                    }
                )
    # A teacher's stray evidence must never turn into a score.
    if rows:
        rows.append({**rows[0], "student_id": person_ids["demo-teacher-001"]})
        session.execute(insert(Evidence), rows)
    session.flush()
    return Scenario(lms, task, policy_from_row(row), (indicators[0].id, indicators[1].id), person_ids)


def expected_value(policy: Policy, n: int) -> Decimal:
    """The method's result per indicator, their mean, rounded by the course rule: computed independently."""
    per_indicator = [policy.method(scores(n)) for scores in SCORES]
    values = [value for value in per_indicator if value is not None]
    return policy.course_rounding.apply(sum(values, Decimal(0)) / len(values))


@pytest.fixture
def transport() -> Iterator[Transport]:
    session = new_session()
    yield Transport(session=session, timeout=10.0)
    session.close()


def test_line_item_is_created_once_and_found_again(db_session: Session) -> None:
    with loopback_lms(db_session, student_count=2) as lms:
        scenario = build_scenario(db_session, lms, with_evidence=0, sync_over_http=False)
        client = ags_client(lms.credentials, tokens=lms.fresh_tokens())

        def ensure() -> LineItem:
            return ensure_line_item(
                db_session,
                scenario.task,
                client=client,
                line_items_url=lms.line_items_url,
                registration=lms.registration,
                scale_maximum=scenario.policy.scale.maximum,
            )

        first = ensure()
        again = ensure()
        assert again.id == first.id
        assert first.task_id == scenario.task.id
        assert first.score_maximum == Decimal(4)
        stored = list(lms.server.platform.store.line_items.values())
        assert [(item.label, item.resource_id, item.tag) for item in stored] == [
            ("Source analysis", f"task-{scenario.task.id}", f"task-{scenario.task.id}")
        ]

        # With the row lost (say, a restored backup), the platform's line item is found, not duplicated.
        url = first.url
        db_session.delete(first)
        db_session.flush()
        found = ensure()
        assert found.url == url
        assert len(lms.server.platform.store.line_items) == 1


def test_push_scores_of_30_learners_twice(db_session: Session, transport: Transport) -> None:
    with loopback_lms(db_session, student_count=40) as lms:
        scenario = build_scenario(db_session, lms, with_evidence=30, sync_over_http=True)
        # A learner the platform does not know: refused (422), reported, and the run goes on.
        ghost = Person(given_name="G", family_name="H", created_at=NOW)
        db_session.add(ghost)
        db_session.flush()
        db_session.add_all(
            [
                PersonIdentifier(
                    person_id=ghost.id,
                    source=IdentifierSource.LTI,
                    system=lms.registration.issuer,
                    value="ghost",
                ),
                Enrollment(class_id=lms.school_class.id, person_id=ghost.id, role=EnrollmentRole.STUDENT),
            ]
        )
        db_session.add(
            Evidence(
                student_id=ghost.id, class_id=lms.school_class.id, indicator_id=scenario.indicator_ids[0],
                task_id=scenario.task.id, score_status=ScoreStatus.SCORED, level_value=Decimal(3),
                demonstrated_at=NOW, recorded_at=NOW, kind=AssessmentKind.SUMMATIVE, source=EvidenceSource.LTI,
            )
        )  # fmt: skip
        # A learner with no LTI identity on this platform is skipped and counted.
        loner = Person(given_name="L", family_name="M", created_at=NOW)
        db_session.add(loner)
        db_session.flush()
        db_session.add(
            Enrollment(class_id=lms.school_class.id, person_id=loner.id, role=EnrollmentRole.STUDENT)
        )
        db_session.flush()

        line_item = ensure_line_item(
            db_session,
            scenario.task,
            client=ags_client(lms.credentials, tokens=lms.fresh_tokens()),
            line_items_url=lms.line_items_url,
            registration=lms.registration,
            scale_maximum=scenario.policy.scale.maximum,
        )
        client = AgsClient(lms.credentials, transport=transport)
        result = push_task_scores(
            db_session,
            scenario.task,
            client=client,
            line_item=line_item,
            policy=scenario.policy,
            now=NOW,
            explanation_url=explanation_url,
        )
        assert result.sent == 30
        assert result.skipped_non_learners == 2
        assert result.skipped_without_evidence == 10
        assert result.skipped_without_user_id == 1
        assert [(failure.person_id, failure.status) for failure in result.failures] == [(ghost.id, 422)]
        assert line_item.last_score_timestamp == NOW

        received = lms.server.platform.received_scores()
        assert len(received) == 30
        by_user = {score.user_id: score for score in received}
        assert set(by_user) == {f"demo-student-{n:04d}" for n in range(1, 31)}
        for n in range(1, 31):
            score = by_user[f"demo-student-{n:04d}"]
            value = expected_value(scenario.policy, n)
            assert score.score_given == value
            assert score.score_maximum == Decimal(4)
            assert (score.grading_progress, score.activity_progress) == ("FullyGraded", "Completed")
            assert score.timestamp == NOW
            assert score.comment is not None
            assert scenario.policy.scale.label_for(value) in score.comment
            person_id = scenario.person_ids[f"demo-student-{n:04d}"]
            assert explanation_url(person_id) in score.comment

        # A second push at the same instant from another process (a new client, no memory of the first):
        # the stored timestamp makes it strictly newer, or the platform would answer 409.
        second = push_task_scores(
            db_session,
            scenario.task,
            client=AgsClient(lms.credentials, transport=transport),
            line_item=line_item,
            policy=scenario.policy,
            now=NOW,
            explanation_url=explanation_url,
        )
        assert second.sent == 30
        assert [failure.status for failure in second.failures] == [422]
        assert second.timestamp == NOW + timedelta(milliseconds=1)
        newer = lms.server.platform.received_scores()[30:]
        assert len(newer) == 30
        assert all(score.timestamp > NOW for score in newer)


def test_1000_score_pushes_use_one_token_request(db_session: Session, transport: Transport) -> None:
    with loopback_lms(db_session, student_count=1000) as lms:
        scenario = build_scenario(db_session, lms, with_evidence=1000, sync_over_http=False)
        with lms.server.platform.store.lock:
            item = lms.server.platform.add_line_item_locked(label="Source analysis", score_maximum=Decimal(4))
        line_item = LineItem(
            task_id=scenario.task.id,
            class_id=lms.school_class.id,
            registration_id=lms.registration.id,
            url=f"{lms.line_items_url}/{item.number}",
            score_maximum=Decimal(4),
            label="Source analysis",
        )
        db_session.add(line_item)
        db_session.flush()

        started = time.perf_counter()
        result = push_task_scores(
            db_session,
            scenario.task,
            client=AgsClient(lms.credentials, transport=transport),
            line_item=line_item,
            policy=scenario.policy,
            now=NOW,
            explanation_url=explanation_url,
        )
        elapsed = time.perf_counter() - started
        print(
            f"AGS push of 1,000 scores: {elapsed:.2f} s, {lms.server.platform.token_requests} token request(s)"
        )
        assert result.sent == 1000
        assert result.failures == ()
        assert lms.server.platform.token_requests == 1
        assert len(lms.server.platform.received_scores()) == 1000


class FlakySink:
    """A `ScoreSink` whose platform goes away after `healthy` scores."""

    def __init__(self, healthy: int) -> None:
        self.healthy = healthy
        self.received: list[Score] = []

    def post_score(self, line_item_url: str, score: Score) -> Score:
        if len(self.received) >= self.healthy:
            raise ConnectorUnavailableError("POST failed", system="test", url=line_item_url, status=503)
        self.received.append(score)
        return score


def test_unavailable_platform_stops_the_run_and_keeps_the_timestamp(db_session: Session) -> None:
    with loopback_lms(db_session, student_count=5) as lms:
        scenario = build_scenario(db_session, lms, with_evidence=5, sync_over_http=False)
        line_item = LineItem(
            task_id=scenario.task.id,
            class_id=lms.school_class.id,
            registration_id=lms.registration.id,
            url=f"{lms.line_items_url}/99",
            score_maximum=Decimal(4),
            label="Source analysis",
            last_score_timestamp=NOW,
        )
        db_session.add(line_item)
        db_session.flush()
        sink = FlakySink(healthy=2)
        with pytest.raises(ConnectorUnavailableError) as stopped:
            push_task_scores(
                db_session,
                scenario.task,
                client=sink,
                line_item=line_item,
                policy=scenario.policy,
                now=NOW,
                explanation_url=explanation_url,
            )
        assert len(sink.received) == 2
        assert "2 score(s) were sent" in " ".join(stopped.value.__notes__)
        assert line_item.last_score_timestamp == NOW + timedelta(milliseconds=1)


def test_course_grade_push(db_session: Session, transport: Transport) -> None:
    with loopback_lms(db_session, student_count=12) as lms:
        scenario = build_scenario(db_session, lms, with_evidence=10, sync_over_http=False)
        line_item = ensure_course_line_item(
            db_session,
            lms.school_class,
            client=AgsClient(lms.credentials, transport=transport),
            line_items_url=lms.line_items_url,
            registration=lms.registration,
            scale_maximum=scenario.policy.scale.maximum,
        )
        assert line_item.task_id is None
        result = push_course_grades(
            db_session,
            lms.school_class,
            client=AgsClient(lms.credentials, transport=transport),
            line_item=line_item,
            policy=scenario.policy,
            now=NOW,
            explanation_url=explanation_url,
        )
        assert (result.sent, result.skipped_without_evidence, result.failures) == (10, 2, ())
        received = lms.server.platform.received_scores()
        assert {score.user_id for score in received} == {f"demo-student-{n:04d}" for n in range(1, 11)}
        # The task covers every indicator of the class, so the course value equals the task value.
        by_user = {score.user_id: score.score_given for score in received}
        assert by_user == {f"demo-student-{n:04d}": expected_value(scenario.policy, n) for n in range(1, 11)}
