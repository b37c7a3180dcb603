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

from collections.abc import Callable, Iterable

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from connectors.exports import EXPORT_KINDS, ExportDataset, ExportResult, render_export
from lti_tool.errors import MasteryBridgeError
from lti_tool.exports.assemble import build_dataset
from lti_tool.models import AcademicSession, Org, PostedGrade, SchoolClass

__all__ = [
    "EXPORT_KINDS",
    "ExportError",
    "ExportResult",
    "NothingPostedError",
    "UnknownExportKindError",
    "build_dataset",
    "export_all",
    "export_kind",
    "has_posted_grades",
]


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


def export_all(
    session: Session,
    school: Org,
    period: AcademicSession,
    *,
    kinds: Iterable[str] = EXPORT_KINDS,
    progress: Callable[[str], None] | None = None,
) -> dict[str, ExportResult]:
    """Several exports from one dataset (the database is read once), by kind."""
    chosen = list(kinds)
    for kind in chosen:
        _check_kind(kind)
    _refuse_if_empty(session, school, period)
    dataset: ExportDataset = build_dataset(session, school, period, kinds=chosen, progress=progress)
    results = {}
    for kind in chosen:
        if progress is not None:
            progress(f"rendering {kind}")
        results[kind] = render_export(kind, dataset)
    return results
