"""Tasks of a class: list them with their indicators, offer indicators to assess, validate and create new ones.

Functions take a `Session` and never commit; the request or CLI command owns the transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from lti_tool.models import (
    AssessmentKind,
    ClassIndicator,
    CompetencyItem,
    CompetencyKind,
    Framework,
    SchoolClass,
    Task,
    TaskIndicator,
)

TITLE_MAX_LENGTH = 255  # tasks.title is String(255)


@dataclass(frozen=True, slots=True)
class IndicatorChoice:
    """An indicator a task can assess: its row id, code and statement."""

    id: int
    code: str
    statement: str


@dataclass(frozen=True, slots=True)
class TaskSummary:
    """A task of a class with the indicators it assesses."""

    id: int
    title: str
    kind: AssessmentKind
    assigned_on: date | None
    indicators: tuple[IndicatorChoice, ...]


@dataclass(frozen=True, slots=True)
class TaskDraft:
    """A new task as the teacher typed it, kept as text so a form with errors re-renders unchanged."""

    title: str = ""
    kind: str = ""
    indicator_ids: tuple[str, ...] = ()
    assigned_on: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class NewTask:
    """A validated TaskDraft."""

    title: str
    kind: AssessmentKind
    indicator_ids: tuple[int, ...]
    assigned_on: date | None
    description: str


@dataclass(frozen=True, slots=True)
class FieldError:
    """A problem with one form field; `field` is the input's name (and the anchor of its error message)."""

    field: str
    message: str


def _is_id(text: str) -> bool:
    # str.isdigit() alone accepts non-ASCII digits such as "²", which int() rejects.
    return text.isascii() and text.isdigit() and int(text) > 0


def _choice(item: CompetencyItem) -> IndicatorChoice:
    return IndicatorChoice(id=item.id, code=item.code, statement=item.statement)


def _indicator_order() -> tuple[InstrumentedAttribute[Any], ...]:
    return (CompetencyItem.framework_id, CompetencyItem.sequence, CompetencyItem.code, CompetencyItem.id)


def list_class_tasks(session: Session, class_id: int) -> list[TaskSummary]:
    """The tasks of class `class_id`, newest first, each with its indicators (two queries)."""
    tasks = list(session.scalars(select(Task).where(Task.class_id == class_id).order_by(Task.id.desc())))
    indicators: defaultdict[int, list[IndicatorChoice]] = defaultdict(list)
    if tasks:
        rows = session.execute(
            select(TaskIndicator.task_id, CompetencyItem)
            .join(CompetencyItem, CompetencyItem.id == TaskIndicator.indicator_id)
            .where(TaskIndicator.task_id.in_([task.id for task in tasks]))
            .order_by(*_indicator_order())
        )
        for task_id, item in rows:
            indicators[task_id].append(_choice(item))
    return [
        TaskSummary(
            id=task.id,
            title=task.title,
            kind=task.kind,
            assigned_on=task.assigned_on,
            indicators=tuple(indicators[task.id]),
        )
        for task in tasks
    ]


def list_indicator_choices(session: Session, school_class: SchoolClass) -> list[IndicatorChoice]:
    """The indicators a new task of `school_class` may assess.

    The class's own indicators (ClassIndicator) when it has any; else the performance indicators of the
    frameworks its existing tasks use; else every performance indicator of a framework shared with all
    schools or owned by the class's school.
    """
    own = list(
        session.scalars(
            select(CompetencyItem)
            .join(ClassIndicator, ClassIndicator.indicator_id == CompetencyItem.id)
            .where(ClassIndicator.class_id == school_class.id)
            .order_by(*_indicator_order())
        )
    )
    if own:
        return [_choice(item) for item in own]
    used_frameworks = (
        select(CompetencyItem.framework_id)
        .join(TaskIndicator, TaskIndicator.indicator_id == CompetencyItem.id)
        .join(Task, Task.id == TaskIndicator.task_id)
        .where(Task.class_id == school_class.id)
    )
    performance = select(CompetencyItem).where(CompetencyItem.kind == CompetencyKind.PERFORMANCE_INDICATOR)
    used = list(
        session.scalars(
            performance.where(CompetencyItem.framework_id.in_(used_frameworks)).order_by(*_indicator_order())
        )
    )
    if used:
        return [_choice(item) for item in used]
    visible = list(
        session.scalars(
            performance.join(Framework, Framework.id == CompetencyItem.framework_id)
            .where(or_(Framework.org_id.is_(None), Framework.org_id == school_class.org_id))
            .order_by(*_indicator_order())
        )
    )
    return [_choice(item) for item in visible]


def find_class_tasks(session: Session, class_id: int, task_ids: Collection[int]) -> list[Task]:
    """The tasks among `task_ids` that belong to class `class_id`, in the order of `task_ids`."""
    if not task_ids:
        return []
    found = {
        task.id: task
        for task in session.scalars(select(Task).where(Task.class_id == class_id, Task.id.in_(task_ids)))
    }
    return [found[task_id] for task_id in task_ids if task_id in found]


def validate_task_draft(
    draft: TaskDraft, *, allowed_indicator_ids: Collection[int]
) -> tuple[NewTask | None, list[FieldError]]:
    """The NewTask `draft` describes, or None and one FieldError per bad field (in form order)."""
    errors: list[FieldError] = []
    title = draft.title.strip()
    if not title:
        errors.append(FieldError("title", "Enter a title for the task."))
    elif len(title) > TITLE_MAX_LENGTH:
        errors.append(FieldError("title", f"Shorten the title to {TITLE_MAX_LENGTH} characters or fewer."))
    kind: AssessmentKind | None = None
    try:
        kind = AssessmentKind(draft.kind)
    except ValueError:
        errors.append(FieldError("kind", "Choose whether the task is formative or summative."))
    indicator_ids: list[int] = []
    for raw in draft.indicator_ids:
        if not _is_id(raw) or int(raw) not in allowed_indicator_ids:
            errors.append(FieldError("indicator_ids", f"Indicator {raw!r} is not offered for this class."))
            break
        if int(raw) not in indicator_ids:
            indicator_ids.append(int(raw))
    if not draft.indicator_ids:
        errors.append(FieldError("indicator_ids", "Choose at least one indicator the task assesses."))
    assigned_on: date | None = None
    if draft.assigned_on.strip():
        try:
            assigned_on = date.fromisoformat(draft.assigned_on.strip())
        except ValueError:
            errors.append(
                FieldError(
                    "assigned_on", f"Enter the date as YYYY-MM-DD (got {draft.assigned_on.strip()!r})."
                )
            )
    if errors or kind is None:
        return None, errors
    return (
        NewTask(
            title=title,
            kind=kind,
            indicator_ids=tuple(indicator_ids),
            assigned_on=assigned_on,
            description=draft.description.strip(),
        ),
        [],
    )


def create_task(
    session: Session, class_id: int, new_task: NewTask, *, created_by_id: int | None, now: datetime
) -> Task:
    """Insert `new_task` into class `class_id` with its indicators; flushed, so it has an id."""
    task = Task(
        class_id=class_id,
        title=new_task.title,
        description=new_task.description,
        assigned_on=new_task.assigned_on,
        kind=new_task.kind,
        created_by_id=created_by_id,
        created_at=now,
    )
    session.add(task)
    session.flush()
    session.add_all(
        TaskIndicator(task_id=task.id, indicator_id=indicator_id) for indicator_id in new_task.indicator_ids
    )
    session.flush()
    return task


def parse_ids(values: Sequence[str]) -> tuple[int, ...] | None:
    """Row ids from form values, or None when any is not a positive integer."""
    if not all(_is_id(value) for value in values):
        return None
    return tuple(dict.fromkeys(int(value) for value in values))
