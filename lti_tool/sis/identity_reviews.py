"""The identity review queue: what waits for IT staff, and resolving an item (merge or dismiss), audited."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models import (
    AuditLog,
    IdentityKind,
    IdentityReview,
    LtiContext,
    Person,
    PersonIdentifier,
    SchoolClass,
    SisConnection,
    utcnow,
)
from lti_tool.sis.identity_merge import IdentityError, merge_classes, merge_people
from lti_tool.sis.upsert import table_of

IDENTIFIERS = table_of(PersonIdentifier)


def open_reviews(session: Session, connection: SisConnection | None = None) -> Sequence[IdentityReview]:
    """Identity reviews nobody has resolved yet, oldest first (of one connection, or all)."""
    query = select(IdentityReview).where(IdentityReview.resolved_at.is_(None))
    if connection is not None:
        query = query.where(IdentityReview.connection_id == connection.id)
    return session.scalars(query.order_by(IdentityReview.created_at, IdentityReview.id)).all()


def resolve_review(
    session: Session,
    review_id: int,
    *,
    person_id: int | None = None,
    class_id: int | None = None,
    actor: str,
) -> IdentityReview:
    """Resolve a review: merge with the person or class IT staff chose, or dismiss it (neither given).

    A person review takes `person_id` (the SIS person the LMS account is); a class review takes
    `class_id` (the SIS class the LMS context is). Raises IdentityError if the review is unknown or
    already resolved, the choice does not fit its kind or does not exist, or the merge is impossible.
    """
    review = session.get(IdentityReview, review_id)
    if review is None:
        raise IdentityError(f"no identity review {review_id}")
    if review.resolved_at is not None:
        raise IdentityError(f"identity review {review_id} was already resolved by {review.resolved_by}")
    connection = session.get(SisConnection, review.connection_id) if review.connection_id else None
    system = connection.name if connection is not None else ""
    detail: dict[str, Any] = {"kind": review.kind.value}
    if review.kind is IdentityKind.PERSON:
        if class_id is not None:
            raise IdentityError(
                f"identity review {review_id} is about a person: choose a person, not a class"
            )
        if person_id is not None:
            review.resolved_person_id = _resolve_person(session, review, person_id, actor, system)
            detail["person_id"] = review.resolved_person_id
    else:
        if person_id is not None:
            raise IdentityError(f"identity review {review_id} is about a class: choose a class, not a person")
        if class_id is not None:
            review.resolved_class_id = _resolve_class(session, review, class_id, actor, system)
            detail["class_id"] = review.resolved_class_id
    detail["dismissed"] = person_id is None and class_id is None
    review.resolved_at = utcnow()
    review.resolved_by = actor[:255]
    session.add(AuditLog(at=review.resolved_at, actor=actor[:255], action="identity.resolve_review",
                         entity_type="identity_review", entity_id=str(review.id), detail=detail))  # fmt: skip
    session.flush()
    return review


def _resolve_person(session: Session, review: IdentityReview, person_id: int, actor: str, system: str) -> int:
    if session.get(Person, person_id) is None:
        raise IdentityError(f"no person {person_id}")
    lms_person_id = session.scalar(
        select(IDENTIFIERS.c.person_id).where(
            IDENTIFIERS.c.source == review.source,
            IDENTIFIERS.c.system == review.system,
            IDENTIFIERS.c.value == review.external_value,
        )
    )
    if lms_person_id is None:
        raise IdentityError(
            f"the LMS account of identity review {review.id} no longer exists; dismiss the review"
        )
    survivor = merge_people(
        session, sis_person_id=person_id, lms_person_id=lms_person_id, actor=actor, evidence="review",
        connection=system,
    )  # fmt: skip
    session.expire_all()
    return survivor


def _resolve_class(session: Session, review: IdentityReview, class_id: int, actor: str, system: str) -> int:
    if session.get(SchoolClass, class_id) is None:
        raise IdentityError(f"no class {class_id}")
    context = session.get(LtiContext, review.lti_context_id) if review.lti_context_id else None
    if context is None:
        raise IdentityError(
            f"the LMS context of identity review {review.id} no longer exists; dismiss the review"
        )
    if context.class_id is None:
        context.class_id = class_id
        session.flush()
        return class_id
    survivor = merge_classes(
        session, sis_class_id=class_id, lms_class_id=context.class_id, actor=actor, evidence="review",
        connection=system,
    )  # fmt: skip
    session.expire_all()
    return survivor
