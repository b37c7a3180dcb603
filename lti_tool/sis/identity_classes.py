"""Match LTI contexts to one connection's SIS classes by the lis course_section_sourcedid."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.models import (
    IdentifierSource,
    IdentityKind,
    IdentityReview,
    LtiContext,
    LtiRegistration,
    SchoolClass,
    SisConnection,
    utcnow,
)
from lti_tool.sis.identity_common import SYNC_ACTOR, MatchReport, close_review, open_count, reviewed
from lti_tool.sis.identity_merge import MergeError, merge_classes
from lti_tool.sis.roster_context import ORGS
from lti_tool.sis.upsert import select_in, table_of

CLASSES = table_of(SchoolClass)
CONTEXTS = table_of(LtiContext)
REGISTRATIONS = table_of(LtiRegistration)


def match_classes(session: Session, connection: SisConnection, *, actor: str = SYNC_ACTOR) -> MatchReport:
    """Link LTI contexts to this connection's SIS classes by lis course_section_sourcedid; returns the counts."""
    session.flush()
    db = session.connection()
    rows = db.execute(
        select(
            CONTEXTS.c.id,
            CONTEXTS.c.class_id,
            CONTEXTS.c.context_id,
            CONTEXTS.c.course_section_sourcedid,
            REGISTRATIONS.c.issuer,
        )
        .join(REGISTRATIONS, REGISTRATIONS.c.id == CONTEXTS.c.registration_id)
        .outerjoin(CLASSES, CLASSES.c.id == CONTEXTS.c.class_id)
        .where(CLASSES.c.sourced_id.is_(None))
        .order_by(CONTEXTS.c.id)
    ).all()
    sections = {row.course_section_sourcedid for row in rows if row.course_section_sourcedid}
    owners = {
        row.sourced_id: (row.id, row.owner)
        for row in select_in(
            db,
            [CLASSES.c.sourced_id, CLASSES.c.id, ORGS.c.sis_connection_id.label("owner")],
            CLASSES.c.sourced_id,
            sections,
            from_=CLASSES.join(ORGS, ORGS.c.id == CLASSES.c.org_id),
        )
    }
    reviews = reviewed(session, connection, IdentityKind.CLASS)
    newly = opened = unmatched = 0
    for row in rows:
        found = owners.get(row.course_section_sourcedid) if row.course_section_sourcedid else None
        if found is not None and found[1] not in (None, connection.id):
            continue  # another connection's section: its own matching links it
        reason: str | None
        candidate = found[0] if found is not None else None
        if candidate is None:
            reason = (
                f"no SIS class has its lis course_section_sourcedid {row.course_section_sourcedid!r}"
                if row.course_section_sourcedid
                else "the LMS sent no lis course_section_sourcedid for this context"
            )
        else:
            reason = _link_context(session, connection, row, candidate, actor)
        if reason is None:
            newly += 1
            close_review(reviews.get(row.id), class_id=candidate)
            continue
        unmatched += 1
        if row.id not in reviews:
            review = IdentityReview(
                kind=IdentityKind.CLASS, connection_id=connection.id, lti_context_id=row.id,
                source=IdentifierSource.LTI, system=row.issuer[:255], external_value=row.context_id[:255],
                candidate_class_id=candidate, reason=reason, created_at=utcnow(),
            )  # fmt: skip
            session.add(review)
            reviews[row.id] = review
            opened += 1
    session.flush()
    if newly:
        session.expire_all()
    return _class_report(session, connection, newly=newly, opened=opened, unmatched=unmatched)


def _link_context(
    session: Session, connection: SisConnection, row: Any, sis_class_id: int, actor: str
) -> str | None:
    """Point the context at the SIS class, merging the class the LMS launch created; a reason if refused."""
    if row.class_id is None:
        session.execute(CONTEXTS.update().where(CONTEXTS.c.id == row.id).values(class_id=sis_class_id))
        return None
    try:
        merge_classes(
            session, sis_class_id=sis_class_id, lms_class_id=row.class_id, actor=actor,
            evidence="course_section_sourcedid", connection=connection.name,
        )  # fmt: skip
    except MergeError as exc:
        return str(exc)
    return None


def _class_report(
    session: Session, connection: SisConnection, *, newly: int, opened: int, unmatched: int
) -> MatchReport:
    db = session.connection()
    owned = (
        select(CLASSES.c.id)
        .join(ORGS, ORGS.c.id == CLASSES.c.org_id)
        .where(ORGS.c.sis_connection_id == connection.id, CLASSES.c.is_active.is_(True))
    )
    linked = db.execute(
        select(func.count(func.distinct(CONTEXTS.c.class_id))).where(CONTEXTS.c.class_id.in_(owned))
    ).scalar_one()
    total = db.execute(select(func.count()).select_from(owned.subquery())).scalar_one()
    return MatchReport(
        kind=IdentityKind.CLASS.value, matched=linked, unmatched=unmatched, newly_matched=newly,
        reviews_opened=opened, reviews_open=open_count(session, connection, IdentityKind.CLASS),
        sis_unlinked=total - linked,
    )  # fmt: skip
