"""People, their external identifiers and their enrollments in classes."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.models.base import Base, UtcDateTime, str_enum, utcnow
from lti_tool.models.enums import EnrollmentRole, IdentifierSource
from lti_tool.models.org import SchoolClass


class Person(Base):
    """A student, teacher or other user; identities in other systems hang off it as identifiers."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    given_name: Mapped[str] = mapped_column(String(255))
    family_name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # False once the SIS deletes the person (tobedeleted, or gone at a full reconciliation); rows are kept.
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())

    identifiers: Mapped[list[PersonIdentifier]] = relationship(back_populates="person")


class PersonIdentifier(Base):
    """One identity of a person in another system.

    `system` scopes `value`: for LTI it is the platform issuer (a `sub` is only unique per platform),
    for the SIS it is the connection name, for email it is empty.
    """

    __tablename__ = "person_identifiers"
    __table_args__ = (UniqueConstraint("source", "system", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    source: Mapped[IdentifierSource] = mapped_column(str_enum(IdentifierSource, "source"))
    system: Mapped[str] = mapped_column(String(255), default="")
    value: Mapped[str] = mapped_column(String(255))

    person: Mapped[Person] = relationship(back_populates="identifiers")


class Enrollment(Base):
    """A person's role in a class over a span of dates."""

    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("class_id", "person_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sourced_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    role: Mapped[EnrollmentRole] = mapped_column(str_enum(EnrollmentRole, "role"))
    is_active: Mapped[bool] = mapped_column(default=True)
    begin_date: Mapped[date | None]
    end_date: Mapped[date | None]

    person: Mapped[Person] = relationship()
    school_class: Mapped[SchoolClass] = relationship()
