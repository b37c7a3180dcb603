"""Registrar exports: assemble a school's posted grades from the database and render them (connectors.exports).

Import rule: orchestration over lti_tool.models, the registrar's lookups and connectors.exports; no Flask, so
the CLI (`mastery-bridge export`) and the staff page share it. Functions take a Session and never commit.

Errors::

    MasteryBridgeError
    └── ExportError
        ├── UnknownExportKindError   the kind named is not one of EXPORT_KINDS (the message lists them)
        └── NothingPostedError       no grade is posted for the school and period yet
"""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Final

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from connectors.exports import EXPORT_KINDS, ExportDataset, ExportResult, render_export
from lti_tool.errors import MasteryBridgeError
from lti_tool.exports.assemble import build_dataset
from lti_tool.forking import may_fork, usable_cpus
from lti_tool.models import AcademicSession, Org, PostedGrade, SchoolClass

__all__ = [
    "EXPORT_KINDS",
    "ExportError",
    "ExportResult",
    "NothingPostedError",
    "UnknownExportKindError",
    "build_dataset",
    "default_jobs",
    "export_all",
    "export_kind",
    "has_posted_grades",
    "render_all",
]

#: Relative rendering cost of each kind (CPU seconds at 5,000 students, benchmarks/registrar.py), used to
#: share the kinds out between processes; a kind not listed counts as 1.
RENDER_WEIGHT: Final = {
    "report-card-pdf": 2.7,
    "transcript-pdf": 1.2,
    "ncaa": 0.7,
    "grades-xlsx": 0.7,
    "oneroster-csv": 0.65,
    "grades-csv": 0.3,
    "powerschool-storedgrades": 0.2,
}
MAX_JOBS: Final = 8
# The dataset a forked renderer reads: inherited through fork, never pickled (it is hundreds of MB).
_SHARED: list[ExportDataset] = []


class ExportError(MasteryBridgeError):
    """An export cannot be made as asked."""


class UnknownExportKindError(ExportError, LookupError):
    """The export kind is not one we write; the message lists the kinds."""


class NothingPostedError(ExportError):
    """Nothing is posted for the school and period, so there is nothing to export."""


def _check_kind(kind: str) -> None:
    if kind not in EXPORT_KINDS:
        raise UnknownExportKindError(
            f"unknown export kind {kind!r}; the kinds are: {', '.join(EXPORT_KINDS)}"
        )


def has_posted_grades(session: Session, school: Org, period: AcademicSession) -> bool:
    """True when at least one grade of the school's classes is posted for `period`."""
    found = session.scalar(
        select(
            exists().where(
                PostedGrade.academic_session_id == period.id,
                PostedGrade.class_id.in_(select(SchoolClass.id).where(SchoolClass.org_id == school.id)),
            )
        )
    )
    return bool(found)


def _refuse_if_empty(session: Session, school: Org, period: AcademicSession) -> None:
    if not has_posted_grades(session, school, period):
        raise NothingPostedError(
            f"nothing is posted for {period.title} ({period.sourced_id or period.id}) at {school.name} yet; "
            "post the period first (mastery-bridge grades post --school ... --period ...)"
        )


def export_kind(
    session: Session,
    kind: str,
    school: Org,
    period: AcademicSession,
    *,
    progress: Callable[[str], None] | None = None,
) -> ExportResult:
    """One export of the school's current posted grades for `period`: files plus their SHA-256 manifest."""
    _check_kind(kind)
    _refuse_if_empty(session, school, period)
    dataset = build_dataset(session, school, period, kinds=(kind,), progress=progress)
    if progress is not None:
        progress(f"rendering {kind}")
    return render_export(kind, dataset)


def default_jobs() -> int:
    """Renderer processes to use when the caller does not say: the machine's cores, at most MAX_JOBS."""
    return min(usable_cpus(), MAX_JOBS)


def _render_shared(kind: str) -> ExportResult:
    return render_export(kind, _SHARED[0])


def _lanes(kinds: Sequence[str], jobs: int) -> list[list[str]]:
    """Kinds shared out over `jobs` lanes, heaviest first onto the lightest lane (longest-processing-time)."""
    lanes: list[list[str]] = [[] for _ in range(jobs)]
    loads = [0.0] * jobs
    for kind in sorted(kinds, key=lambda k: -RENDER_WEIGHT.get(k, 1.0)):
        lightest = loads.index(min(loads))
        lanes[lightest].append(kind)
        loads[lightest] += RENDER_WEIGHT.get(kind, 1.0)
    return [lane for lane in lanes if lane]


def render_all(
    dataset: ExportDataset,
    kinds: Sequence[str],
    *,
    jobs: int = 1,
    progress: Callable[[str], None] | None = None,
) -> dict[str, ExportResult]:
    """Render several kinds from one dataset, in up to `jobs` processes; results by kind, in `kinds` order.

    With `jobs` > 1 the kinds are shared out by their rendering cost: this process renders the first
    lane while forked children render the others from the same dataset (inherited, not copied through a
    pipe), so a school's exports take about as long as the heaviest lane. Forking is for command-line
    and batch callers: in a process with other threads running, or without fork (not POSIX), it renders
    here.
    """
    lanes = _lanes(kinds, max(1, min(jobs, MAX_JOBS)))
    if len(lanes) <= 1 or not may_fork():
        results = {}
        for kind in kinds:
            if progress is not None:
                progress(f"rendering {kind}")
            results[kind] = render_export(kind, dataset)
        return results
    if progress is not None:
        progress(f"rendering {len(kinds)} exports in {len(lanes)} processes")
    _SHARED[:] = [dataset]
    # Frozen, the dataset's objects are left out of the children's garbage collections, which would
    # otherwise touch (and so copy) every page of it.
    gc.freeze()
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=len(lanes) - 1, mp_context=context) as pool:
            pending: dict[str, Future[ExportResult]] = {
                kind: pool.submit(_render_shared, kind) for lane in lanes[1:] for kind in lane
            }
            done = {kind: render_export(kind, dataset) for kind in lanes[0]}
            done.update({kind: future.result() for kind, future in pending.items()})
    finally:
        gc.unfreeze()
        _SHARED.clear()
    return {kind: done[kind] for kind in kinds}


def export_all(
    session: Session,
    school: Org,
    period: AcademicSession,
    *,
    kinds: Iterable[str] = EXPORT_KINDS,
    jobs: int = 1,
    progress: Callable[[str], None] | None = None,
) -> dict[str, ExportResult]:
    """Several exports from one dataset (the database is read once), by kind; rendered in up to `jobs`
    processes (`render_all`)."""
    chosen = list(kinds)
    for kind in chosen:
        _check_kind(kind)
    _refuse_if_empty(session, school, period)
    dataset: ExportDataset = build_dataset(session, school, period, kinds=chosen, progress=progress)
    return render_all(dataset, chosen, jobs=jobs, progress=progress)
