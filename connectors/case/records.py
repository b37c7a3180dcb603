"""Typed records of a competency framework read from a file, and the limits the tool stores them within."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

# The longest values the tool stores (column sizes); longer ones are rejected with the item and field named.
MAX_CODE_LENGTH = 64
MAX_IDENTIFIER_LENGTH = 64
MAX_TITLE_LENGTH = 255
MAX_VERSION_LENGTH = 64
# Rubric scores are stored as NUMERIC(5, 2).
MAX_SCORE = Decimal("999.99")
SCORE_EXPONENT = -2


class ItemKind(StrEnum):
    """Level of a framework node, outermost first; the same values as `lti_tool`'s CompetencyKind."""

    GRADUATION_COMPETENCY = "graduation_competency"
    CONTENT_COMPETENCY = "content_competency"
    PERFORMANCE_INDICATOR = "performance_indicator"
    LEARNING_TARGET = "learning_target"


class FrameworkSource(StrEnum):
    """The file format a framework came from."""

    CASE = "case"
    CSV = "csv"


@dataclass(frozen=True, slots=True)
class FrameworkDocument:
    """The framework itself (a CASE CFDocument; for a CSV, `identifier` is None and the title is given)."""

    identifier: str | None
    title: str
    version: str | None
    source: FrameworkSource


@dataclass(frozen=True, slots=True)
class FrameworkItem:
    """One node; `parent_code` is None for a top-level item (a child of the CFDocument).

    `identifier` is the CASE CFItem identifier (None from a CSV); `parent_identifier` the CASE identifier of
    the parent item. `sequence` is the 1-based position among siblings.
    """

    identifier: str | None
    code: str
    statement: str
    kind: ItemKind
    parent_identifier: str | None
    parent_code: str | None
    sequence: int


@dataclass(frozen=True, slots=True)
class RubricLevel:
    """One level of a rubric criterion (a CFRubricCriterionLevel)."""

    score: Decimal
    quality: str
    description: str


@dataclass(frozen=True, slots=True)
class Rubric:
    """A scoring guide for one item: one CASE CFRubricCriterion (which names the item) of a CFRubric.

    `identifier` is the criterion's identifier, `rubric_identifier` the CFRubric's; levels by ascending score.
    """

    identifier: str
    rubric_identifier: str
    title: str
    item_identifier: str
    levels: tuple[RubricLevel, ...]


@dataclass(frozen=True, slots=True)
class FrameworkPackage:
    """A whole framework file: the document, its items parents first, and its rubrics."""

    document: FrameworkDocument
    items: tuple[FrameworkItem, ...]
    rubrics: tuple[Rubric, ...] = ()
