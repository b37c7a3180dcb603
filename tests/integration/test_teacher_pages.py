"""Teacher pages on the demo class: grid, scoring rows, reassessment, corrections, habits, authorization."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, make_url, select
from sqlalchemy.orm import Session

from lti_tool.db import make_engine
from lti_tool.demo.district import generate_district
from lti_tool.demo.load import load_district
from lti_tool.lti.roles import AppRole
from lti_tool.mastery import build_grid
from lti_tool.models import (
    AssessmentKind,
    ClassIndicator,
    Enrollment,
    EnrollmentRole,
    Evidence,
    HabitScore,
    SchoolClass,
    ScoreStatus,
    Task,
    TaskIndicator,
)
from lti_tool.policies import policy_from_row, policy_row_for_class
from lti_tool.web.auth import LaunchSession, issue_session_token
from lti_tool.web.session import app_state
from tests.integration.launch_harness import build_app

TODAY = date(2026, 11, 24)


@pytest.fixture(scope="module")
def module_database_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of this module's own (the app commits), loaded once with the demo district."""
    sa_url = make_url(database_url)
    if sa_url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('teacher') / 'teacher.db'}"
        return
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(database_url)
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        yield sa_url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    finally:
        admin.dispose()


@pytest.fixture(scope="module")
def app(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    for built in build_app(module_database_url, tmp_path_factory.mktemp("app")):
        with app_state(built).session_factory.begin() as session:
            load_district(session, generate_district(student_count=40))
        yield built


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    # Reads end their transaction at once (`_done`): on SQLite an open read would block the app's commits.
    with app_state(app).session_factory(expire_on_commit=False) as db:
        yield db


def _done(session: Session) -> None:
    session.commit()


def _classes(session: Session) -> tuple[SchoolClass, SchoolClass]:
    first = session.scalar(select(SchoolClass).where(SchoolClass.sourced_id == "ALG2-1"))
    other = session.scalar(
        select(SchoolClass).where(SchoolClass.sourced_id != "ALG2-1").order_by(SchoolClass.id)
    )
    assert first is not None
    assert other is not None
    _done(session)
    return first, other


def _member(session: Session, class_id: int, role: EnrollmentRole) -> int:
    person_id = session.scalar(
        select(Enrollment.person_id)
        .where(Enrollment.class_id == class_id, Enrollment.role == role)
        .order_by(Enrollment.person_id)
    )
    assert person_id is not None
    _done(session)
    return person_id


def _students(session: Session, class_id: int) -> list[int]:
    return _listed(
        session,
        session.scalars(
            select(Enrollment.person_id)
            .where(Enrollment.class_id == class_id, Enrollment.role == EnrollmentRole.STUDENT)
            .order_by(Enrollment.person_id)
        ),
    )


def _token(app: Flask, person_id: int, class_id: int, role: AppRole = AppRole.TEACHER) -> str:
    with app.app_context():
        return issue_session_token(
            LaunchSession(
                person_id=person_id,
                registration_id=1,
                deployment_id="d",
                lti_context_id=None,
                class_id=class_id,
                roles=frozenset({role}),
                message_type="LtiResourceLinkRequest",
                resource_link_id=None,
            )
        )


def _indicators(session: Session, class_id: int) -> list[int]:
    return sorted(
        _listed(
            session,
            session.scalars(select(ClassIndicator.indicator_id).where(ClassIndicator.class_id == class_id)),
        )
    )


def _listed(session: Session, values: object) -> list[int]:
    result = list(values)  # type: ignore[call-overload]
    _done(session)
    return result


def _new_task(session: Session, class_id: int, teacher_id: int, count: int = 3, day: date = TODAY) -> Task:
    task = Task(
        class_id=class_id,
        title=f"Task {uuid.uuid4().hex[:6]}",
        assigned_on=day,
        kind=AssessmentKind.SUMMATIVE,
        created_by_id=teacher_id,
    )
    session.add(task)
    session.flush()
    session.add_all(
        TaskIndicator(task_id=task.id, indicator_id=i) for i in _indicators(session, class_id)[:count]
    )
    session.commit()
    return task


def _save(
    client: FlaskClient,
    token: str,
    class_id: int,
    task_id: int,
    student_id: int,
    levels: dict[int, str],
    **extra: str,
) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = client.post(
        f"/teacher/classes/{class_id}/tasks/{task_id}/students/{student_id}",
        json={"levels": {str(k): v for k, v in levels.items()}, **extra},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    return response.status_code, response.get_json()


def _cell(app: Flask, class_id: int, student_id: int, indicator_id: int) -> tuple[Decimal | None, int]:
    with app_state(app).session_factory() as db:
        school_class = db.get(SchoolClass, class_id)
        assert school_class is not None
        row_ = policy_row_for_class(db, school_class)
        assert row_ is not None
        grid = build_grid(db, school_class, policy_from_row(row_), today=TODAY)
        row = next(r for r in grid.rows if r.person_id == student_id)
        cell = next(c for c in row.cells if c.indicator_id == indicator_id)
        return cell.proficiency, cell.evidence_count


def test_grid_renders_numbers_with_level_names(app: Flask, session: Session) -> None:
    demo, _ = _classes(session)
    teacher = _member(session, demo.id, EnrollmentRole.TEACHER)
    client = app.test_client()
    response = client.get(
        f"/teacher/classes/{demo.id}", query_string={"mb_session": _token(app, teacher, demo.id)}
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'role="grid"' in page
    assert "MTH.1.1" in page
    assert any(label in page for label in ("Proficient", "Developing", "Emerging", "Exemplary"))
    assert "Habits of work" in page
    for params in (
        {"period": "Q1"},
        {"indicator": str(_indicators(session, demo.id)[0]), "order": "desc"},
        {"flagged": "1"},
    ):
        other = client.get(
            f"/teacher/classes/{demo.id}",
            query_string={"mb_session": _token(app, teacher, demo.id), **params},
        )
        assert other.status_code == 200
    assert (
        client.get(
            f"/teacher/classes/{demo.id}/policy-preview",
            query_string={"mb_session": _token(app, teacher, demo.id)},
        ).status_code
        == 200
    )


def test_scoring_a_row_inserts_evidence_and_reassessment_adds(app: Flask, session: Session) -> None:
    demo, _ = _classes(session)
    teacher = _member(session, demo.id, EnrollmentRole.TEACHER)
    task = _new_task(session, demo.id, teacher)
    student = _students(session, demo.id)[0]
    indicators = _indicators(session, demo.id)[:3]
    token = _token(app, teacher, demo.id)
    client = app.test_client()
    status, body = _save(
        client,
        token,
        demo.id,
        task.id,
        student,
        {indicators[0]: "2", indicators[1]: "3", indicators[2]: "a"},
        comment="ok",
    )
    assert status == 200, body
    assert body["saved"] == 3
    status, body = _save(client, token, demo.id, task.id, student, {indicators[0]: "4"})
    assert status == 200
    rows = session.scalars(select(Evidence).where(Evidence.task_id == task.id).order_by(Evidence.id)).all()
    assert [(r.indicator_id, r.score_status, r.level_value) for r in rows] == [
        (indicators[0], ScoreStatus.SCORED, Decimal(2)),
        (indicators[1], ScoreStatus.SCORED, Decimal(3)),
        (indicators[2], ScoreStatus.NOT_YET_DEMONSTRATED, None),
        (indicators[0], ScoreStatus.SCORED, Decimal(4)),
    ]
    assert all(r.demonstrated_at.date() == TODAY and r.assessor_id == teacher for r in rows)


def test_absent_and_missing_are_never_zero(app: Flask, session: Session) -> None:
    demo, _ = _classes(session)
    teacher = _member(session, demo.id, EnrollmentRole.TEACHER)
    task = _new_task(session, demo.id, teacher, count=1)
    student = _students(session, demo.id)[1]
    indicator = _indicators(session, demo.id)[0]
    before = _cell(app, demo.id, student, indicator)
    token = _token(app, teacher, demo.id)
    client = app.test_client()
    assert _save(client, token, demo.id, task.id, student, {indicator: "m"})[0] == 200
    assert _save(client, token, demo.id, task.id, student, {indicator: "a"})[0] == 200
    assert _cell(app, demo.id, student, indicator) == before
    assert _save(client, token, demo.id, task.id, student, {indicator: "0"})[0] == 400
    assert _save(client, token, demo.id, task.id, student, {indicator: "5"})[0] == 400


def test_correction_supersedes_and_the_grid_uses_it(app: Flask, session: Session) -> None:
    demo, _ = _classes(session)
    teacher = _member(session, demo.id, EnrollmentRole.TEACHER)
    task = _new_task(session, demo.id, teacher, count=1, day=date(2026, 11, 23))
    student = _students(session, demo.id)[2]
    indicator = _indicators(session, demo.id)[0]
    token = _token(app, teacher, demo.id)
    client = app.test_client()
    _status, body = _save(client, token, demo.id, task.id, student, {indicator: "1"})
    original_id = body["evidence_ids"][0]
    response = client.post(
        f"/teacher/classes/{demo.id}/evidence/{original_id}/correct",
        json={"level": "4", "comment": "typo"},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    new_id = response.get_json()["evidence_id"]
    session.expire_all()
    original = session.get(Evidence, original_id)
    correction = session.get(Evidence, new_id)
    assert original is not None
    assert original.level_value == Decimal(1)
    assert correction is not None
    assert correction.supersedes_id == original_id
    assert correction.level_value == Decimal(4)
    _done(session)
    # The grid's latest scored evidence is now the 4; a second correction of the old row is refused.
    with app_state(app).session_factory() as db:
        school_class = db.get(SchoolClass, demo.id)
        assert school_class is not None
        row_ = policy_row_for_class(db, school_class)
        assert row_ is not None
        grid = build_grid(db, school_class, policy_from_row(row_), today=TODAY)
        row = next(r for r in grid.rows if r.person_id == student)
        result = next(r for r in row.grade.indicators if r.evidence and r.evidence[-1].task == task.title)
        assert result.evidence[-1].score == Decimal(4)
        assert all(item.score != Decimal(1) or item.task != task.title for item in result.evidence)
    again = client.post(
        f"/teacher/classes/{demo.id}/evidence/{original_id}/correct",
        json={"level": "3"},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    assert again.status_code == 400


def test_concurrent_saves_for_one_student_are_both_kept(app: Flask, session: Session) -> None:
    demo, _ = _classes(session)
    teacher = _member(session, demo.id, EnrollmentRole.TEACHER)
    task = _new_task(session, demo.id, teacher, count=1)
    student = _students(session, demo.id)[3]
    indicator = _indicators(session, demo.id)[0]
    tokens = [_token(app, teacher, demo.id), _token(app, teacher, demo.id)]
    results: list[int] = []
    barrier = threading.Barrier(2)

    def post(token: str, level: str) -> None:
        client = app.test_client()
        barrier.wait()
        results.append(_save(client, token, demo.id, task.id, student, {indicator: level})[0])

    if app_state(app).engine.dialect.name == "sqlite":
        # SQLite refuses a second concurrent writer outright (one file lock); the no-lost-update property
        # (saves only insert) is checked with two sessions in turn there, and truly at once on PostgreSQL.
        barrier = threading.Barrier(1)
        post(tokens[0], "2")
        post(tokens[1], "3")
        threads: list[threading.Thread] = []
    else:
        threads = [threading.Thread(target=post, args=(tokens[i], str(i + 2))) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200, 200]
    levels = sorted(session.scalars(select(Evidence.level_value).where(Evidence.task_id == task.id)))
    assert levels == [Decimal(2), Decimal(3)]


def test_authorization_rules(app: Flask, session: Session) -> None:
    demo, other = _classes(session)
    teacher = _member(session, demo.id, EnrollmentRole.TEACHER)
    learner = _students(session, demo.id)[0]
    outsider = next(s for s in _students(session, other.id) if s not in _students(session, demo.id))
    task = _new_task(session, demo.id, teacher, count=1)
    indicator = _indicators(session, demo.id)[0]
    client = app.test_client()
    # Missing token: 401.
    assert client.get(f"/teacher/classes/{demo.id}").status_code == 401
    assert (
        client.post(
            f"/teacher/classes/{demo.id}/tasks/{task.id}/students/{learner}", json={"levels": {}}
        ).status_code
        == 401
    )
    # A teacher launched from another class: 403 on every route.
    other_token = _token(app, teacher, other.id)
    for path in ("", "/tasks", f"/tasks/{task.id}/score", "/habits", "/policy-preview"):
        assert (
            client.get(
                f"/teacher/classes/{demo.id}{path}", query_string={"mb_session": other_token}
            ).status_code
            == 403
        )
    assert _save(client, other_token, demo.id, task.id, learner, {indicator: "3"})[0] == 403
    # A learner: 403 on every teacher route, even of their own class.
    learner_token = _token(app, learner, demo.id, AppRole.STUDENT)
    for path in ("", "/tasks", f"/tasks/{task.id}/score", "/habits", "/policy-preview"):
        assert (
            client.get(
                f"/teacher/classes/{demo.id}{path}", query_string={"mb_session": learner_token}
            ).status_code
            == 403
        )
    assert _save(client, learner_token, demo.id, task.id, learner, {indicator: "3"})[0] == 403
    # Writes validate students and indicators of the class.
    token = _token(app, teacher, demo.id)
    assert _save(client, token, demo.id, task.id, outsider, {indicator: "3"})[0] == 403
    foreign_indicator = max(_indicators(session, other.id) + _indicators(session, demo.id)) + 1000
    assert _save(client, token, demo.id, task.id, learner, {foreign_indicator: "3"})[0] == 400
    created = client.post(
        f"/teacher/classes/{demo.id}/tasks",
        data={
            "mb_session": token,
            "title": "X",
            "kind": "formative",
            "indicator_id": [str(foreign_indicator)],
            "assigned_on": "2026-11-20",
        },
    )
    assert created.status_code == 403
    assert session.scalar(select(func.count()).select_from(Evidence).where(Evidence.task_id == task.id)) == 0


def test_task_creation_and_whole_form_save_without_js(app: Flask, session: Session) -> None:
    demo, _ = _classes(session)
    teacher = _member(session, demo.id, EnrollmentRole.TEACHER)
    token = _token(app, teacher, demo.id)
    indicators = _indicators(session, demo.id)[:2]
    client = app.test_client()
    response = client.post(
        f"/teacher/classes/{demo.id}/tasks",
        data={
            "mb_session": token,
            "title": "Quiz 7",
            "kind": "formative",
            "indicator_id": [str(i) for i in indicators],
            "assigned_on": "2026-11-20",
        },
    )
    assert response.status_code == 303
    task = session.scalar(select(Task).where(Task.class_id == demo.id, Task.title == "Quiz 7"))
    assert task is not None
    sheet = client.get(response.headers["Location"])
    assert sheet.status_code == 200
    assert "Emerging" in sheet.get_data(as_text=True)
    students = _students(session, demo.id)[:2]
    form = {
        "mb_session": token,
        f"level-{students[0]}-{indicators[0]}": "3",
        f"level-{students[1]}-{indicators[1]}": "m",
        f"date-{students[1]}": "2026-11-18",
    }
    saved = client.post(f"/teacher/classes/{demo.id}/tasks/{task.id}/score", data=form)
    assert saved.status_code == 303
    rows = session.scalars(select(Evidence).where(Evidence.task_id == task.id).order_by(Evidence.id)).all()
    assert [(r.student_id, r.level_value, r.demonstrated_at.date()) for r in rows] == [
        (students[0], Decimal(3), date(2026, 11, 20)),
        (students[1], None, date(2026, 11, 18)),
    ]


def test_habits_are_stored_apart_from_the_academic_grade(app: Flask, session: Session) -> None:
    demo, _ = _classes(session)
    teacher = _member(session, demo.id, EnrollmentRole.TEACHER)
    student = _students(session, demo.id)[4]
    indicator = _indicators(session, demo.id)[0]
    before = _cell(app, demo.id, student, indicator)
    evidence_before = session.scalar(select(func.count()).select_from(Evidence))
    started = datetime.now(UTC)
    _done(session)
    token = _token(app, teacher, demo.id)
    client = app.test_client()
    response = client.post(
        f"/teacher/classes/{demo.id}/habits",
        data={
            "mb_session": token,
            "observed_on": "2026-11-20",
            f"habit-{student}-attendance": "1",
            f"habit-{student}-engagement": "4",
        },
    )
    assert response.status_code == 303
    habits = session.scalars(
        select(HabitScore)
        .where(HabitScore.student_id == student, HabitScore.observed_on == date(2026, 11, 20))
        .where(HabitScore.habit.in_(["attendance", "engagement"]), HabitScore.recorded_at > started)
    ).all()
    assert sorted((h.habit.value, h.value) for h in habits) == [
        ("attendance", Decimal(1)),
        ("engagement", Decimal(4)),
    ]
    _done(session)
    assert session.scalar(select(func.count()).select_from(Evidence)) == evidence_before
    assert _cell(app, demo.id, student, indicator) == before
    page = client.get(f"/teacher/classes/{demo.id}", query_string={"mb_session": token}).get_data(
        as_text=True
    )
    assert "Consistently" in page
    bad = client.post(
        f"/teacher/classes/{demo.id}/habits", data={"mb_session": token, f"habit-{student}-attendance": "7"}
    )
    assert bad.status_code == 400


def test_policy_preview_lists_the_improver(app: Flask, session: Session) -> None:
    demo, _ = _classes(session)
    teacher = _member(session, demo.id, EnrollmentRole.TEACHER)
    # A new student who goes F, D, C, B, A (1, 1.5, 2, 3, 4 on every indicator): averaging lowers them.
    from lti_tool.models import Person

    person = Person(given_name="Ima", family_name="Improver")
    session.add(person)
    session.flush()
    session.add(Enrollment(class_id=demo.id, person_id=person.id, role=EnrollmentRole.STUDENT))
    session.commit()
    token = _token(app, teacher, demo.id)
    client = app.test_client()
    for step, level in enumerate(("1", "1", "2", "3", "4")):
        task = _new_task(session, demo.id, teacher, count=5, day=date(2026, 9, 1 + step * 7))
        status, _ = _save(
            client, token, demo.id, task.id, person.id, dict.fromkeys(_indicators(session, demo.id), level)
        )
        assert status == 200
    page = client.get(
        f"/teacher/classes/{demo.id}/policy-preview", query_string={"mb_session": token}
    ).get_data(as_text=True)
    lowered = page.split("Students averaging would have marked down")[1].split("</ul>")[0]
    assert "Ima Improver" in lowered
