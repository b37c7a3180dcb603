"""A small in-process background executor: work after the response, each job on its own database session.

Used to push AGS scores after a teacher saves, so the request never waits on the LMS. A job key already
queued is not queued again (thirty row saves of one task make one or two pushes, not thirty). Errors are
logged with the job key only, never student data. Jobs are lost if the process stops; the next save of the
task pushes every learner's current score again, so nothing is lost for long.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Final

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.errors import ConnectorError
from lti_tool.lti.grade_push import GradePushError, ensure_line_item, push_task_scores
from lti_tool.lti.services import ags_client, credentials_for
from lti_tool.models import LtiContext, LtiRegistration, SchoolClass, Task, utcnow
from lti_tool.policies import class_policy
from lti_tool.web.session import app_state

log = logging.getLogger("mastery_bridge.jobs")

_EXTENSION: Final = "mastery_bridge_jobs"
AGS_SCORE_SCOPE: Final = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
AGS_LINE_ITEM_SCOPE: Final = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"

Job = Callable[[Session], None]


class BackgroundJobs:
    """A thread pool whose jobs each get a fresh session, committed on success and rolled back on error."""

    def __init__(self, session_factory: sessionmaker[Session], *, max_workers: int = 2) -> None:
        self._session_factory = session_factory
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="mb-job")
        self._lock = threading.Lock()
        self._queued: set[str] = set()

    def submit_once(self, key: str, job: Job) -> Future[None] | None:
        """Queue `job` unless a job with `key` is waiting to start; returns its future (None if merged)."""
        with self._lock:
            if key in self._queued:
                return None
            self._queued.add(key)
        return self._executor.submit(self._run, key, job)

    def _run(self, key: str, job: Job) -> None:
        with self._lock:
            # Started: a save from now on needs a new run to be seen, so the key may queue again.
            self._queued.discard(key)
        try:
            with self._session_factory() as session:
                job(session)
                session.commit()
        except (ConnectorError, GradePushError) as exc:
            log.warning("background job %s failed: %s", key, type(exc).__name__)
        except Exception:  # the outermost edge of a worker thread: log, never crash the pool
            log.exception("background job %s failed unexpectedly", key)

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop taking jobs; wait for the running ones when `wait`."""
        self._executor.shutdown(wait=wait)


def jobs_for(app: Flask) -> BackgroundJobs:
    """The app's executor, created on first use."""
    jobs = app.extensions.get(_EXTENSION)
    if not isinstance(jobs, BackgroundJobs):
        jobs = BackgroundJobs(app_state(app).session_factory)
        app.extensions[_EXTENSION] = jobs
    return jobs


def ags_context(session: Session, class_id: int) -> LtiContext | None:
    """The class's LMS context that can take scores (line items URL and the AGS score scope), if any."""
    contexts = session.scalars(
        select(LtiContext).where(LtiContext.class_id == class_id, LtiContext.line_items_url.is_not(None))
    ).all()
    for context in contexts:
        scopes = context.ags_scopes or []
        if AGS_SCORE_SCOPE in scopes and AGS_LINE_ITEM_SCOPE in scopes:
            return context
    return None


def push_task_job(task_id: int, *, secret_key: str, explanation_base: str) -> Job:
    """A job that pushes every learner's current proficiency on a task to the LMS gradebook (AGS)."""

    def run(session: Session) -> None:
        task = session.get(Task, task_id)
        if task is None:
            return
        context = ags_context(session, task.class_id)
        school_class = session.get(SchoolClass, task.class_id)
        if context is None or context.line_items_url is None or school_class is None:
            return
        registration = session.get(LtiRegistration, context.registration_id)
        if registration is None:
            return
        policy = class_policy(session, school_class)[0]
        now: datetime = utcnow()
        client = ags_client(credentials_for(session, registration, secret_key, now=now))
        line_item = ensure_line_item(
            session,
            task,
            client=client,
            line_items_url=context.line_items_url,
            registration=registration,
            scale_maximum=policy.scale.maximum,
        )
        result = push_task_scores(
            session,
            task,
            client=client,
            line_item=line_item,
            policy=policy,
            now=now,
            explanation_url=lambda person_id: f"{explanation_base}/student/progress",
        )
        log.info("pushed task %d: %d sent, %d refused", task_id, result.sent, len(result.failures))

    return run


def schedule_task_push(app: Flask, session: Session, task: Task) -> bool:
    """Queue an AGS push of `task` when its class's LMS context takes scores; never blocks the request."""
    if session.get_bind().dialect.name == "sqlite":
        # SQLite takes one writer and fails (not waits) a second that began by reading; a push running
        # beside score saves made saves fail. Pushes run on PostgreSQL only (a known cut, see the report).
        return False
    if ags_context(session, task.class_id) is None:
        return False
    settings = app_state(app).settings
    job = push_task_job(task.id, secret_key=settings.secret_key, explanation_base=settings.public_base_url)
    jobs_for(app).submit_once(f"ags-push-task-{task.id}", job)
    return True
