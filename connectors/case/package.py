"""Parse a 1EdTech CASE 1.0 CFPackage (JSON) into a FrameworkPackage, validating it first.

CASE 1.0 (1EdTech, "Competencies and Academic Standards Exchange", Information Model §4):
- The hierarchy is the `CFAssociations` of type `isChildOf`: origin = child, destination = parent; a
  destination equal to the CFDocument identifier makes a top-level item. Other association types are ignored.
- `humanCodingScheme` is the code people read; identifiers (UUIDs) are kept, because OneRoster 1.2 results
  name learning objectives by them (`learningObjectiveSet` with `source: "case"`).

Decisions the spec leaves to us:
- An item with no `isChildOf` association is top-level. CASE allows an item under several parents; the tool
  stores a tree, so the first `isChildOf` of an item (in file order) wins and the others are ignored.
- An item without `humanCodingScheme` gets its CASE identifier as its code (unique and stable across
  re-imports, unlike a position-based code).
- Siblings are ordered by the association's `sequenceNumber` (missing ones last), then by file order; the
  stored `sequence` is the 1-based position among siblings.
- Kinds: see `map_item_kind`.
- Rubrics: one `Rubric` per CFRubricCriterion that names an item (`CFItemURI`); criteria naming no item, or
  with no levels, are skipped. Every level needs a `score`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Any, NotRequired, TypedDict, cast

from connectors.case.records import (
    MAX_CODE_LENGTH,
    MAX_IDENTIFIER_LENGTH,
    MAX_SCORE,
    MAX_TITLE_LENGTH,
    MAX_VERSION_LENGTH,
    SCORE_EXPONENT,
    FrameworkDocument,
    FrameworkItem,
    FrameworkPackage,
    FrameworkSource,
    ItemKind,
    Rubric,
    RubricLevel,
)
from connectors.case.tree import Node, check_unique_codes, order_parents_first
from connectors.errors import FormatError

SYSTEM = "CASE 1.0 package"
SCHEMA_FILE = "case-v1p0-cfpackage-schema.json"
CHILD_OF = "isChildOf"
_HIERARCHY_FIELD = "CFAssociations (isChildOf)"


class LinkURI(TypedDict):
    """CASE LinkURI / LinkGenURI."""

    title: str
    identifier: str
    uri: str


class CFDocument(TypedDict):
    """The CFPackage's CFDocument (fields the tool reads)."""

    identifier: str
    title: str
    version: NotRequired[str]


class CFItem(TypedDict):
    """A CFPackage CFItem (fields the tool reads)."""

    identifier: str
    fullStatement: str
    humanCodingScheme: NotRequired[str]
    CFItemType: NotRequired[str]


class CFAssociation(TypedDict):
    """A CFPackage CFAssociation (fields the tool reads)."""

    identifier: str
    associationType: str
    originNodeURI: LinkURI
    destinationNodeURI: LinkURI
    sequenceNumber: NotRequired[int]


class CFRubricCriterionLevel(TypedDict):
    """A CFRubricCriterionLevel (fields the tool reads)."""

    identifier: str
    score: NotRequired[Decimal | int]
    quality: NotRequired[str]
    description: NotRequired[str]
    position: NotRequired[int]


class CFRubricCriterion(TypedDict):
    """A CFRubricCriterion (fields the tool reads)."""

    identifier: str
    category: NotRequired[str]
    CFItemURI: NotRequired[LinkURI]
    CFRubricCriterionLevels: NotRequired[list[CFRubricCriterionLevel]]


class CFRubric(TypedDict):
    """A CFRubric (fields the tool reads)."""

    identifier: str
    title: NotRequired[str]
    CFRubricCriteria: NotRequired[list[CFRubricCriterion]]


class CFPackage(TypedDict):
    """A CASE 1.0 CFPackage, after schema validation."""

    CFDocument: CFDocument
    CFItems: NotRequired[list[CFItem]]
    CFAssociations: NotRequired[list[CFAssociation]]
    CFRubrics: NotRequired[list[CFRubric]]


def _error(message: str, *, item: str, field: str | None) -> FormatError:
    where = f"{item}: {field}" if field else item
    return FormatError(f"{where}: {message}", system=SYSTEM, item=item, field=field)


# -- kinds ------------------------------------------------------------------------------------------------

_TYPE_KINDS: Mapping[str, ItemKind] = {
    **dict.fromkeys(
        ("graduation competency", "graduation standard", "portrait of a graduate", "graduate profile"),
        ItemKind.GRADUATION_COMPETENCY,
    ),
    **dict.fromkeys(
        (
            "competency",
            "content competency",
            "domain",
            "cluster",
            "strand",
            "substrand",
            "sub strand",
            "category",
            "topic",
            "course",
            "grade level",
            "subject",
        ),
        ItemKind.CONTENT_COMPETENCY,
    ),
    **dict.fromkeys(
        (
            "performance indicator",
            "indicator",
            "standard",
            "content standard",
            "performance expectation",
            "benchmark",
            "expectation",
            "outcome",
            "learning outcome",
        ),
        ItemKind.PERFORMANCE_INDICATOR,
    ),
    **dict.fromkeys(
        (
            "learning target",
            "target",
            "learning objective",
            "objective",
            "element",
            "component",
            "substandard",
            "sub standard",
            "skill",
            "i can statement",
        ),
        ItemKind.LEARNING_TARGET,
    ),
}
# Tried in order on types not in the table above ("Math Standard", "Competency (HS)").
_TYPE_KEYWORDS: Sequence[tuple[str, ItemKind]] = (
    ("graduat", ItemKind.GRADUATION_COMPETENCY),
    ("indicator", ItemKind.PERFORMANCE_INDICATOR),
    ("target", ItemKind.LEARNING_TARGET),
    ("objective", ItemKind.LEARNING_TARGET),
    ("competenc", ItemKind.CONTENT_COMPETENCY),
    ("standard", ItemKind.PERFORMANCE_INDICATOR),
)


def kind_of_item_type(item_type: str | None) -> ItemKind | None:
    """The kind a CFItemType names, or None when it names none we know (case and punctuation ignored)."""
    if not item_type:
        return None
    normalized = " ".join(re.sub(r"[^a-z0-9]+", " ", item_type.lower()).split())
    kind = _TYPE_KINDS.get(normalized)
    if kind is not None:
        return kind
    return next((kind for keyword, kind in _TYPE_KEYWORDS if keyword in normalized), None)


def map_item_kind(item_type: str | None, *, parent_kind: ItemKind | None, has_children: bool) -> ItemKind:
    """The kind of a CFItem from its CFItemType and its place in the tree.

    1. Anything under a performance indicator or a learning target is a learning target (a unit-level
       step toward the indicator).
    2. Otherwise a known CFItemType decides (`kind_of_item_type`): "Competency", "Domain", "Cluster",
       "Strand", "Course", "Grade Level" -> content competency; "Standard", "Performance Indicator",
       "Benchmark", "Performance Expectation" -> performance indicator; "Learning Target", "Objective",
       "Element", "Skill" -> learning target; "Graduation Competency" -> graduation competency.
    3. An unknown or missing type: an item with children groups others (content competency); a leaf is
       what evidence is scored against (performance indicator).
    4. A graduation competency under a content competency becomes a content competency (never above its
       parent). Graduation competencies are never inferred from depth alone: a CASE document is usually one
       content area, and school-wide competencies are named as such.
    """
    if parent_kind in (ItemKind.PERFORMANCE_INDICATOR, ItemKind.LEARNING_TARGET):
        return ItemKind.LEARNING_TARGET
    kind = kind_of_item_type(item_type)
    if kind is None:
        kind = ItemKind.CONTENT_COMPETENCY if has_children else ItemKind.PERFORMANCE_INDICATOR
    if parent_kind is ItemKind.CONTENT_COMPETENCY and kind is ItemKind.GRADUATION_COMPETENCY:
        return ItemKind.CONTENT_COMPETENCY
    return kind


# -- validation ----------------------------------------------------------------------------------------------


@cache
def _validator() -> Any:
    # jsonschema ships no type information: fenced here, its only import site.
    from jsonschema import Draft4Validator  # type: ignore[import-untyped]

    schema = json.loads(resources.files("connectors.case").joinpath("schema", SCHEMA_FILE).read_text("utf-8"))
    return Draft4Validator(schema)


def _describe_schema_error(error: Any, data: Any) -> FormatError:
    path = list(error.absolute_path)
    item = "CFPackage"
    rest: list[Any] = path
    if path and path[0] == "CFDocument":
        item, rest = "CFDocument", path[1:]
        identifier = data.get("CFDocument", {}).get("identifier") if isinstance(data, dict) else None
        if isinstance(identifier, str):
            item = f"CFDocument {identifier}"
    elif len(path) >= 2 and isinstance(path[1], int):
        item, rest = f"{path[0]}[{path[1]}]", path[2:]
        entry = data[path[0]][path[1]]
        if isinstance(entry, dict) and isinstance(entry.get("identifier"), str):
            item = f"{item} {entry['identifier']}"
    field = ".".join(str(part) for part in rest) or None
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = next((name for name in error.validator_value if name not in error.instance), None)
        if missing is not None:
            field = f"{field}.{missing}" if field else str(missing)
            return _error("is required", item=item, field=field)
    return _error(str(error.message), item=item, field=field)


def _load_json(content: bytes | str) -> Any:
    try:
        text = content.decode("utf-8-sig") if isinstance(content, bytes) else content
    except UnicodeDecodeError as exc:
        raise _error(f"is not UTF-8 text (byte {exc.start})", item="file", field=None) from exc
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise _error(
            f"is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", item="file", field=None
        ) from exc


def _check_length(value: str, limit: int, *, item: str, field: str) -> str:
    if len(value) > limit:
        raise _error(f"is {len(value)} characters long; at most {limit} are stored", item=item, field=field)
    return value


# -- parsing -----------------------------------------------------------------------------------------------


def parse_case_package(content: bytes | str) -> FrameworkPackage:
    """The framework in a CFPackage JSON document; FormatError naming the item and field if it is invalid."""
    data = _load_json(content)
    if not isinstance(data, dict) or "CFDocument" not in data:
        raise _error(
            "is required (a CASE CFPackage has one CFDocument)", item="CFPackage", field="CFDocument"
        )
    error = next(
        iter(sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))), None
    )
    if error is not None:
        raise _describe_schema_error(error, data)
    package = cast(CFPackage, data)
    document = _document(package["CFDocument"])
    document_identifier = package["CFDocument"]["identifier"]
    items = _items(document_identifier, package.get("CFItems", []), package.get("CFAssociations", []))
    rubrics = _rubrics(package.get("CFRubrics", []), {item.identifier for item in items})
    return FrameworkPackage(document=document, items=items, rubrics=rubrics)


def _document(cf_document: CFDocument) -> FrameworkDocument:
    item = f"CFDocument {cf_document['identifier']}"
    identifier = _check_length(
        cf_document["identifier"], MAX_IDENTIFIER_LENGTH, item=item, field="identifier"
    )
    title = cf_document["title"].strip()
    if not title:
        raise _error("is empty", item=item, field="title")
    version = cf_document.get("version")
    return FrameworkDocument(
        identifier=identifier,
        title=_check_length(title, MAX_TITLE_LENGTH, item=item, field="title"),
        version=_check_length(version, MAX_VERSION_LENGTH, item=item, field="version") if version else None,
        source=FrameworkSource.CASE,
    )


def _parents(
    document_identifier: str, by_identifier: Mapping[str, CFItem], associations: Sequence[CFAssociation]
) -> dict[str, tuple[str | None, int | None]]:
    """Each item identifier's parent identifier (None: the document) and its sequenceNumber."""
    parents: dict[str, tuple[str | None, int | None]] = {}
    for index, association in enumerate(associations):
        if association["associationType"] != CHILD_OF:
            continue
        label = f"CFAssociations[{index}] {association['identifier']}"
        origin = association["originNodeURI"]["identifier"]
        destination = association["destinationNodeURI"]["identifier"]
        if origin not in by_identifier:
            raise _error(
                f"{origin!r} is not a CFItem of this package", item=label, field="originNodeURI.identifier"
            )
        if destination != document_identifier and destination not in by_identifier:
            raise _error(
                f"{destination!r} is neither the CFDocument nor a CFItem of this package",
                item=label,
                field="destinationNodeURI.identifier",
            )
        parent = None if destination == document_identifier else destination
        parents.setdefault(origin, (parent, association.get("sequenceNumber")))
    return parents


def _items(
    document_identifier: str, cf_items: Sequence[CFItem], associations: Sequence[CFAssociation]
) -> tuple[FrameworkItem, ...]:
    by_identifier: dict[str, CFItem] = {}
    labels: dict[str, str] = {}
    for index, cf_item in enumerate(cf_items):
        identifier = cf_item["identifier"]
        label = f"CFItems[{index}] {identifier}"
        _check_length(identifier, MAX_IDENTIFIER_LENGTH, item=label, field="identifier")
        if identifier in by_identifier or identifier == document_identifier:
            raise _error("is used by another CFItem or the CFDocument", item=label, field="identifier")
        if not cf_item["fullStatement"].strip():
            raise _error("is empty", item=label, field="fullStatement")
        by_identifier[identifier] = cf_item
        labels[identifier] = label
    parents = _parents(document_identifier, by_identifier, associations)
    position = {identifier: index for index, identifier in enumerate(by_identifier)}

    def sibling_order(identifier: str) -> tuple[bool, int, int]:
        sequence_number = parents.get(identifier, (None, None))[1]
        return (sequence_number is None, sequence_number or 0, position[identifier])

    nodes = [
        Node(key=identifier, parent_key=parents.get(identifier, (None, None))[0], label=labels[identifier])
        for identifier in sorted(by_identifier, key=sibling_order)
    ]
    ordered = order_parents_first(nodes, system=SYSTEM, parent_field=_HIERARCHY_FIELD)
    codes = {
        labels[identifier]: _code(by_identifier[identifier], labels[identifier])
        for identifier in by_identifier
    }
    check_unique_codes(codes, system=SYSTEM, code_field="humanCodingScheme")
    has_children = {node.parent_key for node in nodes}
    kinds: dict[str, ItemKind] = {}
    sequences: dict[str | None, int] = {}
    items: list[FrameworkItem] = []
    for node in ordered:
        cf_item = by_identifier[node.key]
        kinds[node.key] = map_item_kind(
            cf_item.get("CFItemType"),
            parent_kind=kinds[node.parent_key] if node.parent_key is not None else None,
            has_children=node.key in has_children,
        )
        sequences[node.parent_key] = sequences.get(node.parent_key, 0) + 1
        items.append(
            FrameworkItem(
                identifier=node.key,
                code=codes[node.label],
                statement=cf_item["fullStatement"].strip(),
                kind=kinds[node.key],
                parent_identifier=node.parent_key,
                parent_code=codes[labels[node.parent_key]] if node.parent_key is not None else None,
                sequence=sequences[node.parent_key],
            )
        )
    return tuple(items)


def _code(cf_item: CFItem, label: str) -> str:
    code = (cf_item.get("humanCodingScheme") or "").strip() or cf_item["identifier"]
    return _check_length(code, MAX_CODE_LENGTH, item=label, field="humanCodingScheme")


def _score(level: CFRubricCriterionLevel, label: str) -> Decimal:
    raw = level.get("score")
    if raw is None:
        raise _error("is required to store the level", item=label, field="score")
    try:
        score = Decimal(raw)
        fits = score == score.quantize(Decimal(1).scaleb(SCORE_EXPONENT)) and abs(score) <= MAX_SCORE
    except InvalidOperation:
        fits = False
    if not fits:
        raise _error(
            f"{raw} does not fit: at most {MAX_SCORE} with two decimal places", item=label, field="score"
        )
    return score


def _rubrics(cf_rubrics: Sequence[CFRubric], item_identifiers: set[str | None]) -> tuple[Rubric, ...]:
    rubrics: list[Rubric] = []
    for rubric_index, cf_rubric in enumerate(cf_rubrics):
        for criterion_index, criterion in enumerate(cf_rubric.get("CFRubricCriteria", [])):
            label = f"CFRubrics[{rubric_index}].CFRubricCriteria[{criterion_index}] {criterion['identifier']}"
            link = criterion.get("CFItemURI")
            cf_levels = criterion.get("CFRubricCriterionLevels", [])
            if link is None or not cf_levels:
                continue
            _check_length(criterion["identifier"], MAX_IDENTIFIER_LENGTH, item=label, field="identifier")
            if link["identifier"] not in item_identifiers:
                raise _error(
                    f"{link['identifier']!r} is not a CFItem of this package",
                    item=label,
                    field="CFItemURI.identifier",
                )
            levels: dict[Decimal, RubricLevel] = {}
            for level_index, cf_level in enumerate(cf_levels):
                level_label = f"{label}.CFRubricCriterionLevels[{level_index}] {cf_level['identifier']}"
                score = _score(cf_level, level_label)
                if score in levels:
                    raise _error(f"{score} is the score of another level", item=level_label, field="score")
                levels[score] = RubricLevel(
                    score=score,
                    quality=(cf_level.get("quality") or "").strip(),
                    description=(cf_level.get("description") or "").strip(),
                )
            title = (cf_rubric.get("title") or "").strip() or "Rubric"
            category = (criterion.get("category") or "").strip()
            rubrics.append(
                Rubric(
                    identifier=criterion["identifier"],
                    rubric_identifier=cf_rubric["identifier"],
                    title=f"{title}: {category}" if category else title,
                    item_identifier=link["identifier"],
                    levels=tuple(levels[score] for score in sorted(levels)),
                )
            )
    return tuple(rubrics)
