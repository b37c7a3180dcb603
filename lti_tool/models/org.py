"""Organisations, the academic calendar, courses and class sections."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Numeric,
    String,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.models.base import Base, str_enum
from lti_tool.models.enums import CourseLevel, NcaaArea, OrgType, SessionType


class Org(Base):
    """A district or a school (OneRoster org); schools point at their district through `parent_id`."""

    __tablename__ = "orgs"

    id: Mapped[int] = mapped_column(primary_key=True)
    sourced_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[OrgType] = mapped_column(str_enum(OrgType, "type"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), index=True)
    # use_alter: orgs <-> grading_policies and orgs <-> proficiency_scales reference each other.
    default_policy_id: Mapped[int | None] = mapped_column(ForeignKey("grading_policies.id", use_alter=True))
    default_scale_id: Mapped[int | None] = mapped_column(ForeignKey("proficiency_scales.id", use_alter=True))
    # The SIS connection whose roster pull owns this org (and, through org_id, its sessions, courses,
    # classes and their enrollments): scopes reconciliation and stops two connections sharing a sourcedId.
    # use_alter: orgs <-> sis_connections reference each other.
    sis_connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("sis_connections.id", use_alter=True), index=True
    )
    # False once the SIS deletes it (status tobedeleted, or gone at a full reconciliation); rows are kept.
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())

    parent: Mapped[Org | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Org]] = relationship(back_populates="parent")


class AcademicSession(Base):
    """A node of the calendar tree: school_year -> semester/term -> grading_period."""

    __tablename__ = "academic_sessions"
    __table_args__ = (CheckConstraint("end_date >= start_date", name="end_not_before_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sourced_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    type: Mapped[SessionType] = mapped_column(str_enum(SessionType, "type"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("academic_sessions.id"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    is_credit_bearing: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())

    parent: Mapped[AcademicSession | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[AcademicSession]] = relationship(
        back_populates="parent", order_by="AcademicSession.start_date"
    )


class Course(Base):
    """A course in a school's catalogue, with the credit and NCAA facts transcripts need."""

    __tablename__ = "courses"
    __table_args__ = (UniqueConstraint("org_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sourced_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    code: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255))
    credits: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    subject: Mapped[str | None] = mapped_column(String(128))
    level: Mapped[CourseLevel] = mapped_column(str_enum(CourseLevel, "level"), default=CourseLevel.STANDARD)
    is_ncaa_core: Mapped[bool] = mapped_column(default=False)
    ncaa_area: Mapped[NcaaArea | None] = mapped_column(str_enum(NcaaArea, "ncaa_area"))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())


class SchoolClass(Base):
    """A section of a course taught at a school (OneRoster class); table `classes`."""

    __tablename__ = "classes"

    id: Mapped[int] = mapped_column(primary_key=True)
    sourced_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    section_code: Mapped[str | None] = mapped_column(String(64))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("grading_policies.id"))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())

    course: Mapped[Course] = relationship()
    academic_sessions: Mapped[list[AcademicSession]] = relationship(
        secondary="class_sessions", viewonly=True, order_by="AcademicSession.start_date"
    )


class ClassSession(Base):
    """Links a class to each academic session (year, term, grading period) it runs in."""

    __tablename__ = "class_sessions"

    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True)
    academic_session_id: Mapped[int] = mapped_column(
        ForeignKey("academic_sessions.id", ondelete="CASCADE"), primary_key=True, index=True
    )
