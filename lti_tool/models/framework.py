"""Competency frameworks, proficiency scales and task-neutral scoring guides."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.models.base import Base, UtcDateTime, str_enum, utcnow
from lti_tool.models.enums import CompetencyKind, FrameworkSource


class Framework(Base):
    """A competency framework (a CASE CFDocument, a CSV import or one written by hand)."""

    __tablename__ = "frameworks"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    case_identifier: Mapped[str | None] = mapped_column(String(64), unique=True)
    source: Mapped[FrameworkSource] = mapped_column(str_enum(FrameworkSource, "source"))
    version: Mapped[str | None] = mapped_column(String(64))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), index=True)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    items: Mapped[list[CompetencyItem]] = relationship(
        back_populates="framework", order_by="CompetencyItem.sequence"
    )


class CompetencyItem(Base):
    """A node of a framework: graduation or content competency, performance indicator or learning target.

    Evidence is scored against performance indicators (`kind=performance_indicator`).
    """

    __tablename__ = "competency_items"
    __table_args__ = (
        UniqueConstraint("framework_id", "code"),
        UniqueConstraint("framework_id", "case_identifier"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    framework_id: Mapped[int] = mapped_column(ForeignKey("frameworks.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("competency_items.id"), index=True)
    kind: Mapped[CompetencyKind] = mapped_column(str_enum(CompetencyKind, "kind"))
    code: Mapped[str] = mapped_column(String(64))
    statement: Mapped[str] = mapped_column(Text)
    case_identifier: Mapped[str | None] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(default=0)

    framework: Mapped[Framework] = relationship(back_populates="items")
    parent: Mapped[CompetencyItem | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[CompetencyItem]] = relationship(
        back_populates="parent", order_by="CompetencyItem.sequence"
    )


class ProficiencyScale(Base):
    """A set of proficiency levels (e.g. 1-4 Emerging..Exemplary); `org_id` null means available to all."""

    __tablename__ = "proficiency_scales"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    is_default: Mapped[bool] = mapped_column(default=False)

    levels: Mapped[list[ProficiencyLevel]] = relationship(
        back_populates="scale", order_by="ProficiencyLevel.sequence"
    )


class ProficiencyLevel(Base):
    """One level of a scale, with its descriptor and the student-facing "I can" statement."""

    __tablename__ = "proficiency_levels"
    __table_args__ = (UniqueConstraint("scale_id", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scale_id: Mapped[int] = mapped_column(ForeignKey("proficiency_scales.id", ondelete="CASCADE"))
    value: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    label: Mapped[str] = mapped_column(String(64))
    descriptor: Mapped[str] = mapped_column(Text, default="")
    i_can: Mapped[str] = mapped_column(Text, default="")
    is_mastery: Mapped[bool] = mapped_column(default=False)
    sequence: Mapped[int] = mapped_column(default=0)

    scale: Mapped[ProficiencyScale] = relationship(back_populates="levels")


class ScoringGuide(Base):
    """A task-neutral rubric for one indicator on one scale: serves every task assessing the indicator."""

    __tablename__ = "scoring_guides"

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("competency_items.id"), index=True)
    scale_id: Mapped[int] = mapped_column(ForeignKey("proficiency_scales.id"))
    title: Mapped[str] = mapped_column(String(255))
    case_identifier: Mapped[str | None] = mapped_column(String(64), unique=True)

    descriptors: Mapped[list[ScoringGuideDescriptor]] = relationship(
        back_populates="guide", order_by="ScoringGuideDescriptor.level_value"
    )


class ScoringGuideDescriptor(Base):
    """What performance at one level of a scoring guide looks like."""

    __tablename__ = "scoring_guide_descriptors"
    __table_args__ = (UniqueConstraint("guide_id", "level_value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    guide_id: Mapped[int] = mapped_column(ForeignKey("scoring_guides.id", ondelete="CASCADE"))
    level_value: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    descriptor: Mapped[str] = mapped_column(Text)

    guide: Mapped[ScoringGuide] = relationship(back_populates="descriptors")


class ClassIndicator(Base):
    """An indicator a class is assessed on."""

    __tablename__ = "class_indicators"

    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True)
    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("competency_items.id", ondelete="CASCADE"), primary_key=True, index=True
    )
