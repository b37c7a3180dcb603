"""Teacher pages: the class mastery grid, scoring a task, corrections, habits of work and the policy preview.

Authorization: every route needs a teacher launch of THIS class (`LaunchSession.class_id`), else 403.
CSRF: the tool sets no cookies, so a cross-site form carries no ambient authority. Every write is authorised
only by the signed session token, sent as `Authorization: Bearer` by score.js or as the hidden `mb_session`
field of the forms the tool renders; a forged form would have to know the teacher's token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, current_app, g, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.jobs import schedule_task_push
from lti_tool.lti.hooks import refresh_roster
from lti_tool.lti.roles import AppRole
from lti_tool.mastery import (
    HABIT_LABELS,
    build_grid,
    class_indicators,
    class_students,
    plain_average_letters,
    sort_rows,
)
from lti_tool.mastery import policy_preview as compute_policy_preview
from lti_tool.models import (
    AssessmentKind,
    CompetencyItem,
    Evidence,
    Habit,
    LtiContext,
    ProficiencyLevel,
    SchoolClass,
    ScoreStatus,
    ScoringGuide,
    ScoringGuideDescriptor,
    Task,
    current_evidence_query,
    utcnow,
)
from lti_tool.policies import class_policy
from lti_tool.scoring import (
    Entry,
    ScoringError,
    class_scale,
    correct_evidence,
    create_task,
    parse_entry,
    parse_habit,
    record_habits,
    record_row,
    scale_values,
    task_indicator_ids,
)
from lti_tool.web.auth import current_launch, launch_url_for, require_launch
from lti_tool.web.session import app_state, db_session
from mappings import Policy

log = logging.getLogger("mastery_bridge.web.teacher")
bp = Blueprint("teacher", __name__, url_prefix="/teacher/classes/<int:class_id>")


def _school_class(class_id: int) -> SchoolClass:
    if current_launch().class_id != class_id:
        abort(403, description="This session was launched from another class.")
    school_class = db_session().get(SchoolClass, class_id)
    if school_class is None:
        abort(404)
    return school_class


def _policy(session: Session, school_class: SchoolClass) -> Policy:
    # Until staff choose one, the shipped default grades the class (see lti_tool.policies.class_policy).
    return class_policy(session, school_class)[0]


def _task(session: Session, class_id: int, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None or task.class_id != class_id:
        abort(404, description=f"Task {task_id} is not in this class.")
    return task


def _today() -> date:
    return utcnow().date()


def _fail(exc: ScoringError) -> ResponseReturnValue:
    abort(exc.status, description=str(exc))


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


@bp.get("")
@require_launch(AppRole.TEACHER)
def grid(class_id: int) -> str:
    """The class mastery grid (students x indicators), with habits of work in a separate column group."""
    school_class = _school_class(class_id)
    session = db_session()
    policy, is_school_policy = class_policy(session, school_class)
    period_id = request.args.get("period") or None
    indicator = request.args.get("indicator", type=int)
    is_descending = request.args.get("order") == "desc"
    only_flagged = request.args.get("flagged") == "1"
    mastery_grid = build_grid(session, school_class, policy, today=_today(), period_id=period_id)
    rows = sort_rows(mastery_grid, indicator, is_descending=is_descending)
    if only_flagged:
        rows = tuple(row for row in rows if row.is_not_progressing)
    return render_template(
        "teacher/grid.html",
        school_class=school_class,
        grid=mastery_grid,
        rows=rows,
        policy=policy,
        habits=list(Habit),
        selected_indicator=indicator,
        selected_period=period_id,
        is_descending=is_descending,
        only_flagged=only_flagged,
        session_token=g.get("session_token"),
        is_school_policy=is_school_policy,
        can_sync_roster=_lti_context(session, class_id) is not None,
        roster_message=_roster_message(request.args),
    )


def _lti_context(session: Session, class_id: int) -> LtiContext | None:
    """The launch's LMS course, when it offers NRPS (a roster can be pulled from it)."""
    launch_context = current_launch().lti_context_id
    context = session.get(LtiContext, launch_context) if launch_context is not None else None
    if context is None or context.class_id != class_id or not context.memberships_url:
        return None
    return context


def _roster_message(args: Mapping[str, str]) -> str | None:
    outcome = args.get("roster")
    if outcome == "synced":
        return (
            f"Roster refreshed from the LMS: {args.get('created', '0')} new, {args.get('updated', '0')} updated, "
            f"{args.get('deactivated', '0')} no longer enrolled."
        )
    if outcome == "failed":
        return "The LMS did not answer the roster request; the class list is unchanged. Try again later."
    return None


@bp.post("/roster/sync")
@require_launch(AppRole.TEACHER)
def sync_roster(class_id: int) -> ResponseReturnValue:
    """Pull the class roster from the LMS now (NRPS), whatever the debounce says."""
    _school_class(class_id)
    session = db_session()
    context = _lti_context(session, class_id)
    if context is None:
        abort(409, description="This class was not launched from an LMS course that shares its roster.")
    result = refresh_roster(
        session,
        context.id,
        secret_key=app_state().settings.secret_key,
        now=utcnow(),
        min_interval=timedelta(0),
    )
    query: dict[str, object] = {"roster": "failed"}
    if result is not None:
        query = {"roster": "synced", "created": result.created, "updated": result.updated,
                 "deactivated": result.deactivated}  # fmt: skip
    return redirect(launch_url_for("teacher.grid", class_id=class_id, **query), code=303)


@bp.get("/tasks")
@require_launch(AppRole.TEACHER)
def tasks(class_id: int) -> str:
    """Pick a task to score, or create one aligned to the class's indicators."""
    school_class = _school_class(class_id)
    session = db_session()
    task_rows = session.scalars(
        select(Task).where(Task.class_id == class_id).order_by(Task.assigned_on.desc(), Task.id.desc())
    ).all()
    return render_template(
        "teacher/tasks.html",
        school_class=school_class,
        tasks=task_rows,
        indicators=class_indicators(session, class_id),
        kinds=list(AssessmentKind),
        today=_today(),
        session_token=g.get("session_token"),
    )


@bp.post("/tasks")
@require_launch(AppRole.TEACHER)
def new_task(class_id: int) -> ResponseReturnValue:
    """Create a task and open its scoring sheet."""
    school_class = _school_class(class_id)
    form = request.form
    try:
        kind = AssessmentKind(form.get("kind", AssessmentKind.FORMATIVE.value))
        assigned_on = date.fromisoformat(form.get("assigned_on") or _today().isoformat())
    except ValueError:
        abort(400, description="The task kind or date is not valid.")
    try:
        indicator_ids = [int(value) for value in form.getlist("indicator_id")]
    except ValueError:
        abort(400, description="An indicator id is not a number.")
    try:
        task = create_task(
            db_session(),
            school_class,
            title=form.get("title", ""),
            kind=kind,
            indicator_ids=indicator_ids,
            assigned_on=assigned_on,
            created_by_id=current_launch().person_id,
        )
    except ScoringError as exc:
        return _fail(exc)
    return redirect(launch_url_for("teacher.score", class_id=class_id, task_id=task.id), code=303)


def _descriptors(
    session: Session, school_class: SchoolClass, indicator_ids: list[int]
) -> dict[int, list[dict[str, Any]]]:
    """Per indicator, its levels with the scoring guide's descriptor, else the scale level's descriptor."""
    scale = class_scale(session, school_class)
    levels = (
        session.scalars(
            select(ProficiencyLevel)
            .where(ProficiencyLevel.scale_id == scale.id)
            .order_by(ProficiencyLevel.value)
        ).all()
        if scale is not None
        else []
    )
    guide_text: dict[tuple[int, Decimal], str] = {}
    if scale is not None and indicator_ids:
        for indicator_id, value, text in session.execute(
            select(
                ScoringGuide.indicator_id,
                ScoringGuideDescriptor.level_value,
                ScoringGuideDescriptor.descriptor,
            )
            .join(ScoringGuideDescriptor, ScoringGuideDescriptor.guide_id == ScoringGuide.id)
            .where(ScoringGuide.indicator_id.in_(indicator_ids), ScoringGuide.scale_id == scale.id)
        ):
            guide_text[(indicator_id, Decimal(value))] = text
    return {
        indicator_id: [
            {
                "value": level.value,
                "key": f"{level.value.normalize():f}",
                "label": level.label,
                "descriptor": guide_text.get((indicator_id, Decimal(level.value)), level.descriptor),
            }
            for level in levels
        ]
        for indicator_id in indicator_ids
    }


@bp.get("/tasks/<int:task_id>/score")
@require_launch(AppRole.TEACHER)
def score(class_id: int, task_id: int) -> str:
    """The scoring sheet: one row per student, one cell per aligned indicator, descriptors visible."""
    school_class = _school_class(class_id)
    session = db_session()
    task = _task(session, class_id, task_id)
    indicator_ids = task_indicator_ids(session, task.id)
    items = {
        item.id: item
        for item in session.scalars(select(CompetencyItem).where(CompetencyItem.id.in_(indicator_ids)))
    }
    return render_template(
        "teacher/score.html",
        school_class=school_class,
        task=task,
        indicators=[items[indicator_id] for indicator_id in indicator_ids if indicator_id in items],
        descriptors=_descriptors(session, school_class, indicator_ids),
        students=class_students(session, class_id),
        session_token=g.get("session_token"),
    )


def _parse_row(
    task: Task,
    indicator_ids: list[int],
    allowed: tuple[Decimal, ...],
    values: dict[int, str],
    student_id: int,
) -> dict[int, Entry]:
    entries: dict[int, Entry] = {}
    for indicator_id, text in values.items():
        if indicator_id not in indicator_ids:
            raise ScoringError(f"indicator {indicator_id} is not aligned to task {task.id}")
        entry = parse_entry(text, allowed, where=f"student {student_id}, indicator {indicator_id}")
        if entry is not None:
            entries[indicator_id] = entry
    return entries


def _optional_date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ScoringError(f"date {text[:20]!r} is not YYYY-MM-DD") from exc


@bp.post("/tasks/<int:task_id>/students/<int:student_id>")
@require_launch(AppRole.TEACHER)
def save_row(class_id: int, task_id: int, student_id: int) -> ResponseReturnValue:
    """Save one student's row (JSON from score.js): inserts evidence, never updates; answers JSON."""
    started = time.perf_counter()
    school_class = _school_class(class_id)
    session = db_session()
    task = _task(session, class_id, task_id)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("levels"), dict):
        abort(400, description='Send JSON like {"levels": {"<indicator id>": "3"}}.')
    rows = _save_row_payload(session, school_class, task, student_id, payload)
    if rows:
        schedule_task_push(current_app._get_current_object(), session, task)  # type: ignore[attr-defined]
    server_ms = round((time.perf_counter() - started) * 1000, 1)
    log.info("scoring row saved: %d evidence rows in %.1f ms", len(rows), server_ms)
    return jsonify({"saved": len(rows), "evidence_ids": [row.id for row in rows], "server_ms": server_ms})


def _save_row_payload(
    session: Session, school_class: SchoolClass, task: Task, student_id: int, payload: dict[str, Any]
) -> list[Evidence]:
    # Committed here, not after the response: the AGS push job must see these rows.
    try:
        values = {int(key): str(value) for key, value in payload["levels"].items()}
        entries = _parse_row(
            task,
            task_indicator_ids(session, task.id),
            scale_values(session, class_scale(session, school_class)),
            values,
            student_id,
        )
        rows = record_row(
            session,
            task,
            student_id=student_id,
            entries=entries,
            demonstrated_on=_optional_date(payload.get("demonstrated_on")),
            assessor_id=current_launch().person_id,
            comment=str(payload.get("comment") or "")[:2000],
            evidence_url=str(payload.get("evidence_url") or ""),
        )
    except ValueError:
        abort(400, description="Indicator ids must be numbers.")
    except ScoringError as exc:
        abort(exc.status, description=str(exc))
    session.commit()
    return rows


@bp.post("/tasks/<int:task_id>/score")
@require_launch(AppRole.TEACHER)
def save_sheet(class_id: int, task_id: int) -> ResponseReturnValue:
    """Save the whole sheet (the no-JavaScript path): every row with at least one entry."""
    school_class = _school_class(class_id)
    session = db_session()
    task = _task(session, class_id, task_id)
    indicator_ids = task_indicator_ids(session, task.id)
    allowed = scale_values(session, class_scale(session, school_class))
    form = request.form
    saved = 0
    try:
        for student_id, _ in class_students(session, class_id):
            values = {
                indicator_id: form.get(f"level-{student_id}-{indicator_id}", "")
                for indicator_id in indicator_ids
            }
            entries = _parse_row(task, indicator_ids, allowed, values, student_id)
            if not entries:
                continue
            saved += len(
                record_row(
                    session,
                    task,
                    student_id=student_id,
                    entries=entries,
                    demonstrated_on=_optional_date(form.get(f"date-{student_id}")),
                    assessor_id=current_launch().person_id,
                    comment=form.get(f"comment-{student_id}", "")[:2000],
                    evidence_url=form.get(f"url-{student_id}", ""),
                )
            )
    except ScoringError as exc:
        return _fail(exc)
    session.commit()
    if saved:
        schedule_task_push(current_app._get_current_object(), session, task)  # type: ignore[attr-defined]
    return redirect(launch_url_for("teacher.grid", class_id=class_id), code=303)


@bp.get("/students/<int:student_id>/indicators/<int:indicator_id>")
@require_launch(AppRole.TEACHER)
def evidence_trail(class_id: int, student_id: int, indicator_id: int) -> str:
    """A student's current evidence on one indicator, oldest demonstration first, with corrections."""
    school_class = _school_class(class_id)
    session = db_session()
    students = dict(class_students(session, class_id))
    indicator = session.get(CompetencyItem, indicator_id)
    if student_id not in students or indicator is None:
        abort(404)
    query = current_evidence_query(class_id=class_id, student_id=student_id, indicator_id=indicator_id)
    rows = session.scalars(query).all()
    titles = dict(session.execute(select(Task.id, Task.title).where(Task.class_id == class_id)).all())
    scale = class_scale(session, school_class)
    return render_template(
        "teacher/trail.html",
        school_class=school_class,
        student_name=students[student_id],
        indicator=indicator,
        rows=rows,
        titles=titles,
        levels=_descriptors(session, school_class, [indicator_id])[indicator_id] if scale else [],
        policy=_policy(session, school_class),
        session_token=g.get("session_token"),
    )


@bp.post("/evidence/<int:evidence_id>/correct")
@require_launch(AppRole.TEACHER)
def correct(class_id: int, evidence_id: int) -> ResponseReturnValue:
    """Correct a score: a new row supersedes the old one (which is kept, untouched)."""
    school_class = _school_class(class_id)
    session = db_session()
    data = request.get_json(silent=True) if request.is_json else request.form
    if not data:
        abort(400, description="Send the corrected level.")
    try:
        entry = parse_entry(
            str(data.get("level", "")),
            scale_values(session, class_scale(session, school_class)),
            where=f"correction of evidence {evidence_id}",
        )
        if entry is None:
            raise ScoringError("a correction needs a level, 'a' or 'm'")
        row = correct_evidence(
            session,
            class_id,
            evidence_id,
            entry,
            assessor_id=current_launch().person_id,
            comment=str(data.get("comment") or "")[:2000],
        )
    except ScoringError as exc:
        return _fail(exc)
    session.commit()
    task = session.get(Task, row.task_id) if row.task_id is not None else None
    if task is not None:
        schedule_task_push(current_app._get_current_object(), session, task)  # type: ignore[attr-defined]
    if _wants_json():
        return jsonify({"evidence_id": row.id, "supersedes_id": evidence_id})
    return redirect(
        launch_url_for(
            "teacher.evidence_trail",
            class_id=class_id,
            student_id=row.student_id,
            indicator_id=row.indicator_id,
        ),
        code=303,
    )


@bp.get("/habits")
@require_launch(AppRole.TEACHER)
def habits(class_id: int) -> str:
    """Habits of work entry: one row per student, each habit on its own 1-4 scale."""
    school_class = _school_class(class_id)
    return render_template(
        "teacher/habits.html",
        school_class=school_class,
        students=class_students(db_session(), class_id),
        habits=list(Habit),
        labels=HABIT_LABELS,
        today=_today(),
        session_token=g.get("session_token"),
    )


@bp.post("/habits")
@require_launch(AppRole.TEACHER)
def save_habits(class_id: int) -> ResponseReturnValue:
    """Store habit observations (HabitScore rows, never evidence)."""
    _school_class(class_id)
    session = db_session()
    form = request.form
    try:
        observed_on = _optional_date(form.get("observed_on")) or _today()
        for student_id, _ in class_students(session, class_id):
            values = {}
            for habit in Habit:
                value = parse_habit(form.get(f"habit-{student_id}-{habit.value}", ""), where=f"{habit.value}")
                if value is not None:
                    values[habit] = value
            if values:
                record_habits(
                    session,
                    class_id,
                    student_id=student_id,
                    values=values,
                    observed_on=observed_on,
                    recorded_by_id=current_launch().person_id,
                )
        foreign = {key.split("-")[1] for key in form if key.startswith("habit-") and form[key].strip()} - {
            str(student_id) for student_id, _ in class_students(session, class_id)
        }
        if foreign:
            raise ScoringError("habit scores name people who are not students of this class", status=403)
    except ScoringError as exc:
        return _fail(exc)
    return redirect(launch_url_for("teacher.grid", class_id=class_id), code=303)


@bp.get("/policy-preview")
@require_launch(AppRole.TEACHER)
def policy_preview(class_id: int) -> str:
    """The school policy's letters beside a plain average of all scores, and who averaging would lower."""
    school_class = _school_class(class_id)
    session = db_session()
    policy = _policy(session, school_class)
    mastery_grid = build_grid(session, school_class, policy, today=_today())
    return render_template(
        "teacher/policy_preview.html",
        school_class=school_class,
        grid=mastery_grid,
        policy=policy,
        averages=plain_average_letters(mastery_grid, policy),
        lowered=compute_policy_preview(mastery_grid, policy),
        statuses=ScoreStatus,
        evidence_model=Evidence,
    )
