"""CASE 1.0 CFPackage and framework CSV parsing: the shipped samples, kinds, and every broken-file error."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.case import (
    FrameworkSource,
    ItemKind,
    parse_case_package,
    parse_framework_csv,
    read_framework_file,
)
from connectors.case.package import map_item_kind
from connectors.errors import FormatError

SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "specs" / "case-1.0" / "samples"
DOC = "d0000000-0000-0000-0000-000000000000"
STAMP = "2024-01-01T00:00:00+00:00"


def _uuid(n: int) -> str:
    return f"00000000-0000-0000-0000-{n:012d}"


def _link(identifier: str) -> dict[str, str]:
    return {"title": "x", "identifier": identifier, "uri": f"https://example.org/{identifier}"}


def _item(n: int, code: str | None, statement: str, item_type: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "identifier": _uuid(n),
        "uri": f"https://example.org/{_uuid(n)}",
        "lastChangeDateTime": STAMP,
        "fullStatement": statement,
    }
    if code is not None:
        item["humanCodingScheme"] = code
    if item_type is not None:
        item["CFItemType"] = item_type
    return item


def _child_of(n: int, child: str, parent: str, sequence: int | None = None) -> dict[str, Any]:
    association: dict[str, Any] = {
        "identifier": f"a0000000-0000-0000-0000-{n:012d}",
        "uri": f"https://example.org/a{n}",
        "lastChangeDateTime": STAMP,
        "associationType": "isChildOf",
        "originNodeURI": _link(child),
        "destinationNodeURI": _link(parent),
    }
    if sequence is not None:
        association["sequenceNumber"] = sequence
    return association


def build_package() -> dict[str, Any]:
    """A competency with two indicators, one with a learning target, and a rubric on indicator 1."""
    return {
        "CFDocument": {
            "identifier": DOC,
            "uri": f"https://example.org/{DOC}",
            "creator": "Riverbend",
            "title": "Riverbend Science",
            "version": "2.0",
            "lastChangeDateTime": STAMP,
        },
        "CFItems": [
            _item(1, "SCI.1", "Use evidence to explain phenomena", "Competency"),
            _item(2, "SCI.1.a", "Plan an investigation", "Performance Indicator"),
            _item(3, "SCI.1.b", "Analyse data", None),
            _item(4, None, "I can name variables", None),
        ],
        "CFAssociations": [
            _child_of(1, _uuid(1), DOC, 1),
            _child_of(2, _uuid(2), _uuid(1), 2),
            _child_of(3, _uuid(3), _uuid(1), 1),
            _child_of(4, _uuid(4), _uuid(2)),
        ],
        "CFRubrics": [
            {
                "identifier": "b0000000-0000-0000-0000-000000000001",
                "uri": "https://example.org/rubric",
                "lastChangeDateTime": STAMP,
                "title": "Investigation rubric",
                "CFRubricCriteria": [
                    {
                        "identifier": "c0000000-0000-0000-0000-000000000001",
                        "uri": "https://example.org/criterion",
                        "lastChangeDateTime": STAMP,
                        "CFItemURI": _link(_uuid(2)),
                        "CFRubricCriterionLevels": [
                            {
                                "identifier": f"e0000000-0000-0000-0000-00000000000{score}",
                                "uri": f"https://example.org/level{score}",
                                "lastChangeDateTime": STAMP,
                                "score": score,
                                "quality": quality,
                                "description": f"Level {score}: {quality}",
                            }
                            for score, quality in ((2, "Developing"), (1, "Emerging"), (3, "Proficient"))
                        ],
                    }
                ],
            }
        ],
    }


def _parse(data: dict[str, Any]) -> Any:
    return parse_case_package(json.dumps(data).encode("utf-8"))


# -- the shipped samples -----------------------------------------------------------------------------


def test_sequence_number_sample_orders_siblings_by_sequence_number() -> None:
    package = parse_case_package((SAMPLES / "SequenceNumberFramework.json").read_bytes())

    assert package.document.title == "Sequence Number Test"
    assert package.document.identifier == DOC
    assert [(item.code, item.sequence, item.parent_code) for item in package.items] == [
        ("SNT.2", 1, None),
        ("SNT.1", 2, None),
    ]
    assert package.items[0].identifier == "ea98ab46-c0ea-11e7-820f-a71b35976453"


def test_smart_level_sample_builds_the_two_level_tree_with_identifier_codes() -> None:
    package = parse_case_package((SAMPLES / "SmartLevelFramework.json").read_bytes())

    assert len(package.items) == 14
    top = [item for item in package.items if item.parent_code is None]
    assert [item.statement for item in top] == ["Item 1", "Item 2"]
    assert all(item.kind is ItemKind.CONTENT_COMPETENCY for item in top)
    by_statement = {item.statement: item for item in package.items}
    assert by_statement["Item 1.10"].parent_identifier == by_statement["Item 1"].identifier
    assert by_statement["Item 1.10"].sequence == 10
    assert by_statement["Item 2.2"].kind is ItemKind.PERFORMANCE_INDICATOR
    # No humanCodingScheme: the code is the identifier.
    assert all(item.code == item.identifier for item in package.items)
    assert package.rubrics == ()


def test_utf8_sample_keeps_astral_characters() -> None:
    package = read_framework_file("Utf8TestFramework.json", (SAMPLES / "Utf8TestFramework.json").read_bytes())

    assert package.document.title == "UTF8 𝑑 Test"
    (item,) = package.items
    assert item.statement == "Item 𝑑 1"
    assert package.document.source is FrameworkSource.CASE


# -- a richer package ------------------------------------------------------------------------------------


def test_package_kinds_codes_sequences_and_rubric() -> None:
    package = _parse(build_package())

    assert package.document.version == "2.0"
    assert [(item.code, item.kind, item.parent_code, item.sequence) for item in package.items] == [
        ("SCI.1", ItemKind.CONTENT_COMPETENCY, None, 1),
        ("SCI.1.b", ItemKind.PERFORMANCE_INDICATOR, "SCI.1", 1),
        ("SCI.1.a", ItemKind.PERFORMANCE_INDICATOR, "SCI.1", 2),
        (_uuid(4), ItemKind.LEARNING_TARGET, "SCI.1.a", 1),
    ]
    (rubric,) = package.rubrics
    assert rubric.item_identifier == _uuid(2)
    assert rubric.identifier == "c0000000-0000-0000-0000-000000000001"
    assert [(level.score, level.quality) for level in rubric.levels] == [
        (Decimal(1), "Emerging"),
        (Decimal(2), "Developing"),
        (Decimal(3), "Proficient"),
    ]


@pytest.mark.parametrize(
    ("item_type", "parent", "has_children", "expected"),
    [
        ("Graduation Competency", None, True, ItemKind.GRADUATION_COMPETENCY),
        ("Competency", None, True, ItemKind.CONTENT_COMPETENCY),
        ("Domain", None, True, ItemKind.CONTENT_COMPETENCY),
        ("Cluster", ItemKind.CONTENT_COMPETENCY, True, ItemKind.CONTENT_COMPETENCY),
        ("Standard", ItemKind.CONTENT_COMPETENCY, False, ItemKind.PERFORMANCE_INDICATOR),
        ("performance-indicator", None, False, ItemKind.PERFORMANCE_INDICATOR),
        ("Learning Target", ItemKind.CONTENT_COMPETENCY, False, ItemKind.LEARNING_TARGET),
        ("Standard", ItemKind.PERFORMANCE_INDICATOR, False, ItemKind.LEARNING_TARGET),
        ("Graduation Competency", ItemKind.CONTENT_COMPETENCY, True, ItemKind.CONTENT_COMPETENCY),
        ("Math Standard", None, False, ItemKind.PERFORMANCE_INDICATOR),
        (None, None, True, ItemKind.CONTENT_COMPETENCY),
        (None, None, False, ItemKind.PERFORMANCE_INDICATOR),
        ("Something Else", ItemKind.LEARNING_TARGET, False, ItemKind.LEARNING_TARGET),
    ],
)
def test_kind_mapping(
    item_type: str | None, parent: ItemKind | None, has_children: bool, expected: ItemKind
) -> None:
    assert map_item_kind(item_type, parent_kind=parent, has_children=has_children) is expected


# -- broken packages -----------------------------------------------------------------------------------


def _broken(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(build_package())
    change(data)
    return data


def test_not_json() -> None:
    with pytest.raises(FormatError, match=r"file: is not JSON: .* line 1") as info:
        parse_case_package(b"{not json")
    assert info.value.item == "file"


def test_missing_cfdocument() -> None:
    with pytest.raises(FormatError, match="CFDocument: is required") as info:
        _parse({"CFItems": []})
    assert (info.value.item, info.value.field) == ("CFPackage", "CFDocument")


def test_schema_violation_names_the_item_and_field() -> None:
    data = _broken(lambda d: d["CFItems"][2].pop("fullStatement"))

    with pytest.raises(FormatError) as info:
        _parse(data)
    assert info.value.item == f"CFItems[2] {_uuid(3)}"
    assert info.value.field == "fullStatement"
    assert f"CFItems[2] {_uuid(3)}: fullStatement: is required" in str(info.value)


def test_schema_type_violation_in_the_document() -> None:
    data = _broken(lambda d: d["CFDocument"].update(title=7))

    with pytest.raises(FormatError, match=f"CFDocument {DOC}: title: 7 is not of type 'string'"):
        _parse(data)


def test_association_to_an_unknown_item() -> None:
    unknown = "99999999-0000-0000-0000-000000000000"
    data = _broken(lambda d: d["CFAssociations"][3]["destinationNodeURI"].update(identifier=unknown))

    with pytest.raises(FormatError, match=unknown) as info:
        _parse(data)
    assert info.value.item == "CFAssociations[3] a0000000-0000-0000-0000-000000000004"
    assert info.value.field == "destinationNodeURI.identifier"


def test_association_from_an_unknown_item() -> None:
    unknown = "99999999-0000-0000-0000-000000000000"
    data = _broken(lambda d: d["CFAssociations"][0]["originNodeURI"].update(identifier=unknown))

    with pytest.raises(FormatError) as info:
        _parse(data)
    assert info.value.field == "originNodeURI.identifier"


def test_cycle() -> None:
    def make_cycle(data: dict[str, Any]) -> None:
        data["CFAssociations"][0]["destinationNodeURI"] = _link(_uuid(4))

    with pytest.raises(FormatError, match="forms a cycle") as info:
        _parse(_broken(make_cycle))
    assert info.value.item == f"CFItems[0] {_uuid(1)}"
    assert info.value.field == "CFAssociations (isChildOf)"


def test_duplicate_human_coding_scheme() -> None:
    data = _broken(lambda d: d["CFItems"][1].update(humanCodingScheme="SCI.1"))

    with pytest.raises(FormatError, match="already the code of CFItems\\[0\\]") as info:
        _parse(data)
    assert (info.value.item, info.value.field) == (f"CFItems[1] {_uuid(2)}", "humanCodingScheme")


def test_rubric_level_without_score() -> None:
    data = _broken(
        lambda d: d["CFRubrics"][0]["CFRubricCriteria"][0]["CFRubricCriterionLevels"][0].pop("score")
    )

    with pytest.raises(FormatError) as info:
        _parse(data)
    assert info.value.field == "score"
    assert "CFRubricCriterionLevels[0]" in str(info.value.item)


# -- CSV ---------------------------------------------------------------------------------------------------

CSV = """code,parent_code,kind,statement
G1,,graduation_competency,"Communicate with evidence, clearly"
M1,G1,content_competency,Reason mathematically
M1.1,M1,Performance Indicator,Solve équations
M1.1.a,M1.1,learning_target,I can isolate a variable
M1.2,M1,performance_indicator,Model with functions
"""


def test_csv_parses_hierarchy_kinds_and_sequences() -> None:
    package = parse_framework_csv(CSV.encode("utf-8-sig"), title="Riverbend Math")

    assert package.document.identifier is None
    assert package.document.source is FrameworkSource.CSV
    assert [(item.code, item.parent_code, item.kind, item.sequence) for item in package.items] == [
        ("G1", None, ItemKind.GRADUATION_COMPETENCY, 1),
        ("M1", "G1", ItemKind.CONTENT_COMPETENCY, 1),
        ("M1.1", "M1", ItemKind.PERFORMANCE_INDICATOR, 1),
        ("M1.2", "M1", ItemKind.PERFORMANCE_INDICATOR, 2),
        ("M1.1.a", "M1.1", ItemKind.LEARNING_TARGET, 1),
    ]
    assert package.items[0].statement == "Communicate with evidence, clearly"
    assert package.items[2].statement == "Solve équations"


def test_csv_children_may_come_before_parents() -> None:
    text = (
        "code,parent_code,kind,statement\nA.1,A,performance_indicator,Child\nA,,content_competency,Parent\n"
    )

    package = read_framework_file("Order.csv", text.encode())

    assert [item.code for item in package.items] == ["A", "A.1"]
    assert package.document.title == "Order"


@pytest.mark.parametrize(
    ("text", "item", "field", "message"),
    [
        (CSV + "X,NOPE,learning_target,Orphan\n", "line 7 (X)", "parent_code", "'NOPE' is not a code"),
        (CSV + "X,,skill,Bad kind\n", "line 7 (X)", "kind", "'skill' is not one of"),
        (CSV + "M1.2,M1,learning_target,Again\n", "line 7 (M1.2)", "code", "already the code of line 6"),
        ("code,kind,statement\nA,content_competency,x\n", "line 1", "parent_code", "missing column"),
        (CSV + ",M1,learning_target,No code\n", "line 7", "code", "is empty"),
        (
            "code,parent_code,kind,statement\nA,B,content_competency,a\nB,A,content_competency,b\n",
            "line 2 (A)",
            "parent_code",
            "cycle",
        ),
    ],
)
def test_csv_errors_name_the_line_and_field(text: str, item: str, field: str, message: str) -> None:
    with pytest.raises(FormatError, match=message) as info:
        parse_framework_csv(text.encode(), title="Broken")
    assert (info.value.item, info.value.field) == (item, field)


def test_unknown_extension() -> None:
    with pytest.raises(FormatError, match=r"notes\.txt: is neither"):
        read_framework_file("notes.txt", b"")
