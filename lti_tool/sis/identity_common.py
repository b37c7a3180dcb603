"""What identity matching reports and the review bookkeeping people and class matching share."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.models import IdentityKind, IdentityReview, SisConnection, utcnow

SYNC_ACTOR: Final = "sis-sync"


@dataclass(frozen=True, slots=True)
class MatchReport:
    """How matching stands for one connection after a run (people or classes).

    `matched` LMS identities are linked to this SIS (all of them, not only this run's `newly_matched`);
    `unmatched` ones are not (each has an open or dismissed review); `sis_unlinked` SIS rows have no LMS
    counterpart yet (normal until everyone has used the LMS).
    """

    kind: str
    matched: int
    unmatched: int
    newly_matched: int
    reviews_opened: int
    reviews_open: int
    sis_unlinked: int

    def as_counts(self) -> dict[str, int]:
        """The integer counts, as stored in `SyncRun.counts["identity"]`."""
        return {key: value for key, value in asdict(self).items() if isinstance(value, int)}


def reviewed(session: Session, connection: SisConnection, kind: IdentityKind) -> dict[Any, IdentityReview]:
    """Reviews already opened for this connection (open or resolved), by what they are about."""
    reviews = session.scalars(
        select(IdentityReview).where(
            IdentityReview.connection_id == connection.id, IdentityReview.kind == kind
        )
    )
    if kind is IdentityKind.CLASS:
        return {review.lti_context_id: review for review in reviews}
    return {(review.source, review.system, review.external_value): review for review in reviews}


def close_review(
    review: IdentityReview | None, *, person_id: int | None = None, class_id: int | None = None
) -> None:
    if review is not None and review.resolved_at is None:
        review.resolved_at = utcnow()
        review.resolved_by = SYNC_ACTOR
        review.resolved_person_id = person_id
        review.resolved_class_id = class_id


def open_count(session: Session, connection: SisConnection, kind: IdentityKind) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(IdentityReview)
            .where(
                IdentityReview.connection_id == connection.id,
                IdentityReview.kind == kind,
                IdentityReview.resolved_at.is_(None),
            )
        )
        or 0
    )
