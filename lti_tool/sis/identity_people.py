"""Match LMS people to one connection's SIS users: lis person_sourcedid first, else email or username.

See `lti_tool.sis.identity` for the rules; reasons name SIS users by sourcedId, never by name or email.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.lti.roster_sync import LIS_SYSTEM
from lti_tool.models import IdentifierSource, IdentityKind, IdentityReview, Person, SisConnection, utcnow
from lti_tool.sis.identity_common import SYNC_ACTOR, MatchReport, close_review, open_count, reviewed
from lti_tool.sis.identity_merge import MergeError, merge_people
from lti_tool.sis.roster_context import IDENTIFIERS, USERNAME_CONFLICT_SUFFIX, USERNAME_SUFFIX
from lti_tool.sis.upsert import select_in, table_of

PERSONS = table_of(Person)


@dataclass(frozen=True, slots=True)
class _LmsPerson:
    person_id: int
    issuer: str
    sub: str
    issuers: frozenset[str]
    lis: frozenset[str]
    email: str | None


def _sis_systems(session: Session) -> list[str]:
    return list(session.scalars(select(SisConnection.name)))


def _lms_people(session: Session) -> list[_LmsPerson]:
    """People with an LTI identity and no SIS identity of any connection (the ones left to match)."""
    db = session.connection()
    matched = (
        select(IDENTIFIERS.c.person_id)
        .where(IDENTIFIERS.c.source == IdentifierSource.SIS, IDENTIFIERS.c.system.in_(_sis_systems(session)))
        .scalar_subquery()
    )
    rows = db.execute(
        select(IDENTIFIERS.c.person_id, IDENTIFIERS.c.system, IDENTIFIERS.c.value)
        .where(IDENTIFIERS.c.source == IdentifierSource.LTI, IDENTIFIERS.c.person_id.not_in(matched))
        .order_by(IDENTIFIERS.c.person_id, IDENTIFIERS.c.system, IDENTIFIERS.c.value)
    ).all()
    lti: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for person_id, issuer, sub in rows:
        lti[person_id].append((issuer, sub))
    lis: dict[int, set[str]] = defaultdict(set)
    for person_id, value in select_in(
        db,
        [IDENTIFIERS.c.person_id, IDENTIFIERS.c.value],
        IDENTIFIERS.c.person_id,
        lti,
        IDENTIFIERS.c.source == IdentifierSource.SIS,
        IDENTIFIERS.c.system == LIS_SYSTEM,
    ):
        lis[person_id].add(value)
    emails: dict[int, str | None] = {
        row.id: row.email for row in select_in(db, [PERSONS.c.id, PERSONS.c.email], PERSONS.c.id, lti)
    }
    return [
        _LmsPerson(
            person_id=person_id,
            issuer=ids[0][0],
            sub=ids[0][1],
            issuers=frozenset(issuer for issuer, _ in ids),
            lis=frozenset(lis[person_id]),
            email=(emails.get(person_id) or "").strip().casefold() or None,
        )
        for person_id, ids in lti.items()
    ]


@dataclass(slots=True)
class _SisIndex:
    """This connection's SIS people, looked up by sourcedId, email and username."""

    by_sourced_id: dict[str, int]
    by_key: dict[str, set[int]]
    shared_usernames: set[str]
    sourced_ids: dict[int, str]
    lms_issuers: dict[int, set[str]]

    @classmethod
    def load(cls, session: Session, connection: SisConnection, people: Sequence[_LmsPerson]) -> _SisIndex:
        db = session.connection()
        system = connection.name
        sis = (IDENTIFIERS.c.source == IdentifierSource.SIS, IDENTIFIERS.c.system == system)
        lis_values = {value for person in people for value in person.lis}
        by_sourced_id = {
            value: person_id
            for value, person_id in select_in(
                db, [IDENTIFIERS.c.value, IDENTIFIERS.c.person_id], IDENTIFIERS.c.value, lis_values, *sis
            )
        }
        keys = {person.email for person in people if person.email}
        lower_email = func.lower(PERSONS.c.email, type_=PERSONS.c.email.type)
        by_key: dict[str, set[int]] = defaultdict(set)
        for email, person_id in select_in(
            db,
            [lower_email, PERSONS.c.id],
            lower_email,
            keys,
            *sis,
            from_=PERSONS.join(IDENTIFIERS, IDENTIFIERS.c.person_id == PERSONS.c.id),
        ):
            by_key[email].add(person_id)
        for username, person_id in select_in(
            db,
            [IDENTIFIERS.c.value, IDENTIFIERS.c.person_id],
            IDENTIFIERS.c.value,
            keys,
            IDENTIFIERS.c.source == IdentifierSource.SIS,
            IDENTIFIERS.c.system == system + USERNAME_SUFFIX,
        ):
            by_key[username].add(person_id)
        shared = {
            row.value
            for row in select_in(
                db,
                [IDENTIFIERS.c.value],
                IDENTIFIERS.c.value,
                keys,
                IDENTIFIERS.c.source == IdentifierSource.SIS,
                IDENTIFIERS.c.system == system + USERNAME_CONFLICT_SUFFIX,
            )
        }
        candidates = set(by_sourced_id.values()) | {pid for ids in by_key.values() for pid in ids}
        sourced_ids: dict[int, str] = {}
        lms_issuers: dict[int, set[str]] = defaultdict(set)
        for person_id, source, issuer, value in select_in(
            db,
            [IDENTIFIERS.c.person_id, IDENTIFIERS.c.source, IDENTIFIERS.c.system, IDENTIFIERS.c.value],
            IDENTIFIERS.c.person_id,
            candidates,
        ):
            if source == IdentifierSource.SIS and issuer == system:
                sourced_ids[person_id] = value
            elif source == IdentifierSource.LTI:
                lms_issuers[person_id].add(issuer)
        return cls(by_sourced_id, dict(by_key), shared, sourced_ids, dict(lms_issuers))

    def names(self, person_ids: Collection[int]) -> str:
        """SIS users by sourcedId, for review reasons."""
        return ", ".join(repr(self.sourced_ids.get(pid, str(pid))) for pid in sorted(person_ids))


def _decide(person: _LmsPerson, index: _SisIndex) -> tuple[int | None, str, str | None]:
    """(SIS person to merge with, the evidence, None) or (candidate or None, "", why a human must decide)."""
    lis_hits = {index.by_sourced_id[value] for value in person.lis if value in index.by_sourced_id}
    key_hits = index.by_key.get(person.email, set()) if person.email else set()
    if len(lis_hits) > 1:
        return None, "", f"its lis person_sourcedids name different SIS users: {index.names(lis_hits)}"
    if lis_hits:
        (target,) = lis_hits
        if key_hits and target not in key_hits:
            return (
                target,
                "",
                (
                    f"its lis person_sourcedid names SIS user {index.names([target])} but its email matches "
                    f"SIS user {index.names(key_hits)}"
                ),
            )
        return _check_platform(person, index, target, "lis")
    if person.lis:
        known = f"SIS user {index.names(key_hits)}" if key_hits else "no SIS user"
        lis = ", ".join(repr(value) for value in sorted(person.lis))
        return (
            (next(iter(key_hits)) if len(key_hits) == 1 else None),
            "",
            (f"its lis person_sourcedid {lis} is not a user of this SIS; its email matches {known}"),
        )
    if person.email is None:
        return None, "", "the LMS sent no lis person_sourcedid and no email to match on"
    if person.email in index.shared_usernames:
        return None, "", "its email is a username several SIS users share"
    if len(key_hits) > 1:
        return None, "", f"its email matches several SIS users: {index.names(key_hits)}"
    if key_hits:
        (target,) = key_hits
        return _check_platform(person, index, target, "email")
    return None, "", "no SIS user has its lis person_sourcedid, username or email"


def _check_platform(
    person: _LmsPerson, index: _SisIndex, target: int, evidence: str
) -> tuple[int | None, str, str | None]:
    if index.lms_issuers.get(target, set()) & person.issuers:
        return (
            target,
            "",
            (f"SIS user {index.names([target])} is already linked to another account of the same platform"),
        )
    return target, evidence, None


def match_people(session: Session, connection: SisConnection, *, actor: str = SYNC_ACTOR) -> MatchReport:
    """Link LMS people to this connection's SIS users (see the module docstring); returns the counts."""
    session.flush()
    people = _lms_people(session)
    index = _SisIndex.load(session, connection, people)
    reviews = reviewed(session, connection, IdentityKind.PERSON)
    newly = opened = 0
    for person in people:
        key = (IdentifierSource.LTI, person.issuer, person.sub)
        target, evidence, reason = _decide(person, index)
        if reason is None and target is not None:
            try:
                survivor = merge_people(
                    session, sis_person_id=target, lms_person_id=person.person_id, actor=actor,
                    evidence=evidence, connection=connection.name,
                )  # fmt: skip
            except MergeError as exc:
                reason = str(exc)
            else:
                newly += 1
                index.lms_issuers.setdefault(survivor, set()).update(person.issuers)
                close_review(reviews.get(key), person_id=survivor)
                continue
        if key not in reviews:
            review = IdentityReview(
                kind=IdentityKind.PERSON, connection_id=connection.id, source=IdentifierSource.LTI,
                system=person.issuer[:255], external_value=person.sub[:255], candidate_person_id=target,
                reason=reason or "", created_at=utcnow(),
            )  # fmt: skip
            session.add(review)
            reviews[key] = review
            opened += 1
    session.flush()
    if newly:
        session.expire_all()  # merges deleted rows behind the ORM's back
    return _people_report(session, connection, newly=newly, opened=opened, unmatched=len(people) - newly)


def _people_report(
    session: Session, connection: SisConnection, *, newly: int, opened: int, unmatched: int
) -> MatchReport:
    db = session.connection()
    sis_people = select(IDENTIFIERS.c.person_id).where(
        IDENTIFIERS.c.source == IdentifierSource.SIS, IDENTIFIERS.c.system == connection.name
    )
    lti_people = select(IDENTIFIERS.c.person_id).where(IDENTIFIERS.c.source == IdentifierSource.LTI)
    linked = db.execute(
        select(func.count()).select_from(sis_people.where(IDENTIFIERS.c.person_id.in_(lti_people)).subquery())
    ).scalar_one()
    total = db.execute(select(func.count()).select_from(sis_people.subquery())).scalar_one()
    return MatchReport(
        kind=IdentityKind.PERSON.value, matched=linked, unmatched=unmatched, newly_matched=newly,
        reviews_opened=opened, reviews_open=open_count(session, connection, IdentityKind.PERSON),
        sis_unlinked=total - linked,
    )  # fmt: skip
