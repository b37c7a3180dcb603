"""Find the school and grading period a registrar names: by sourcedId, code or title, with the choices on a miss."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models import AcademicSession, Org, OrgType, SessionType
from lti_tool.registrar.errors import NotFoundError


def list_schools(session: Session) -> Sequence[Org]:
    """Every school (OneRoster org of type school), by name."""
    return session.scalars(select(Org).where(Org.type == OrgType.SCHOOL).order_by(Org.name, Org.id)).all()


def gradable_periods(session: Session, school: Org) -> Sequence[AcademicSession]:
    """The sessions a school posts grades for: its grading periods and credit-bearing terms, by end date.

    OneRoster lets a district own the calendar (academicSessions.org is often the district), so sessions of
    the school's district count as the school's.
    """
    owners = [school.id] if school.parent_id is None else [school.id, school.parent_id]
    return session.scalars(
        select(AcademicSession)
        .where(AcademicSession.org_id.in_(owners))
        .where(
            (AcademicSession.type == SessionType.GRADING_PERIOD) | AcademicSession.is_credit_bearing.is_(True)
        )
        .order_by(AcademicSession.end_date, AcademicSession.start_date.desc(), AcademicSession.id)
    ).all()


def _school_label(school: Org) -> str:
    return f"{school.sourced_id} ({school.name})" if school.sourced_id else f"{school.id} ({school.name})"


def period_label(period: AcademicSession) -> str:
    """How a period is shown in choices: sourcedId and title."""
    return f"{period.sourced_id} ({period.title})" if period.sourced_id else f"{period.id} ({period.title})"


def resolve_school(session: Session, name: str) -> Org:
    """The school whose sourcedId, code (internal id) or name is `name` (names compare case-insensitively)."""
    wanted = name.strip()
    schools = list_schools(session)
    for matches in (
        [school for school in schools if school.sourced_id == wanted],
        [school for school in schools if str(school.id) == wanted],
        [school for school in schools if school.name.casefold() == wanted.casefold()],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise NotFoundError(
                f"school {name!r} is ambiguous: it names {', '.join(_school_label(s) for s in matches)}; "
                "use the sourcedId"
            )
    choices = ", ".join(_school_label(school) for school in schools) or "none (load or sync a roster first)"
    raise NotFoundError(f"no school {name!r}; the schools are: {choices}")


def resolve_period(session: Session, school: Org, name: str) -> AcademicSession:
    """The school's grading period whose sourcedId, code (internal id) or title is `name`."""
    wanted = name.strip()
    periods = gradable_periods(session, school)
    for matches in (
        [period for period in periods if period.sourced_id == wanted],
        [period for period in periods if str(period.id) == wanted],
        [period for period in periods if period.title.casefold() == wanted.casefold()],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise NotFoundError(
                f"grading period {name!r} is ambiguous at {school.name}: it names "
                f"{', '.join(period_label(p) for p in matches)}; use the sourcedId"
            )
    choices = ", ".join(period_label(period) for period in periods) or "none"
    raise NotFoundError(f"no grading period {name!r} at {school.name}; its grading periods are: {choices}")
