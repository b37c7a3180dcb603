"""Shared set-up of the registrar tests: the demo district, its grading periods and an SIS connection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.demo.district import generate_district
from lti_tool.demo.load import SIS_SYSTEM, load_district
from lti_tool.models import AcademicSession, OneRosterVersion, Org, SisAuth, SisConnection

#: Just after Quarter 1 of the demo year ends (2026-10-30): posting day.
AFTER_Q1 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
#: After the year's final period (2027-06-11).
AFTER_YEAR = datetime(2027, 6, 20, 15, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Demo:
    """The loaded demo school and its calendar by sourcedId."""

    school: Org
    district: Org
    periods: dict[str, AcademicSession]


def load_demo(session: Session, *, students: int = 40) -> Demo:
    """Load the demo district (Riverbend High School) into the test's session."""
    load_district(session, generate_district(student_count=students))
    school = session.scalar(select(Org).where(Org.sourced_id == "RHS"))
    district = session.scalar(select(Org).where(Org.sourced_id == "RUSD"))
    assert school is not None
    assert district is not None
    periods = {row.sourced_id or "": row for row in session.scalars(select(AcademicSession))}
    return Demo(school, district, periods)


def add_sis_connection(session: Session, demo: Demo, *, name: str = SIS_SYSTEM) -> SisConnection:
    """The district's SIS connection, named as the demo's SIS ids are filed (so every student matches)."""
    connection = SisConnection(
        name=name,
        profile="generic-1.2",
        base_url="https://sis.example.org",
        version=OneRosterVersion.V1_2,
        auth=SisAuth.OAUTH2,
        client_id="demo-client",
        secret_encrypted=b"not used: nothing is delivered in these tests",
        settings={"token_url": "https://sis.example.org/token"},
        org_id=demo.district.id,
    )
    session.add(connection)
    session.flush()
    return connection
