"""Framework import into a real database: samples, idempotent re-import, in-place updates, atomic failures, CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.case import parse_case_package, parse_framework_csv
from lti_tool.cli import main
from lti_tool.db import make_engine, make_session_factory, upgrade_database
from lti_tool.frameworks import FrameworkImportError, import_framework
from lti_tool.models import (
    CompetencyItem,
    CompetencyKind,
    Framework,
    FrameworkSource,
    ProficiencyLevel,
    ProficiencyScale,
    ScoringGuide,
    ScoringGuideDescriptor,
)
from tests.unit.connectors.test_case_parse import CSV, DOC, SAMPLES, build_package

Invoke = Callable[..., Result]
TABLES = (Framework, CompetencyItem, ScoringGuide, ScoringGuideDescriptor, ProficiencyScale, ProficiencyLevel)


def counts(session: Session) -> dict[str, int]:
    return {
        table.__tablename__: session.scalar(select(func.count()).select_from(table)) or 0 for table in TABLES
    }


def _package(data: dict[str, Any]) -> Any:
    return parse_case_package(json.dumps(data).encode())


@pytest.mark.parametrize(
    ("sample", "title", "item_count"),
    [
        ("SequenceNumberFramework.json", "Sequence Number Test", 2),
        ("SmartLevelFramework.json", "SmartLevel Test", 14),
        ("Utf8TestFramework.json", "UTF8 𝑑 Test", 1),
    ],
)
def test_samples_import_and_reimport_is_idempotent(
    db_session: Session, sample: str, title: str, item_count: int
) -> None:
    package = parse_case_package((SAMPLES / sample).read_bytes())

    first = import_framework(db_session, package)
    second = import_framework(db_session, package)

    assert (first.created, first.updated) == (1 + item_count, 0)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 1 + item_count)
    framework = db_session.scalars(select(Framework).where(Framework.case_identifier == DOC)).one()
    assert framework.title == title
    assert framework.source is FrameworkSource.CASE
    assert len(framework.items) == item_count
    by_identifier = {item.case_identifier: item for item in framework.items}
    for parsed in package.items:
        row = by_identifier[parsed.identifier]
        assert (row.code, row.statement, row.sequence) == (parsed.code, parsed.statement, parsed.sequence)
        parent = by_identifier.get(parsed.parent_identifier)
        assert row.parent_id == (parent.id if parent else None)


def test_smart_level_hierarchy_in_the_database(db_session: Session) -> None:
    import_framework(db_session, parse_case_package((SAMPLES / "SmartLevelFramework.json").read_bytes()))

    rows = db_session.scalars(select(CompetencyItem).where(CompetencyItem.parent_id.is_(None))).all()
    assert sorted(row.statement for row in rows) == ["Item 1", "Item 2"]
    item_1 = next(row for row in rows if row.statement == "Item 1")
    assert [child.statement for child in item_1.children] == [f"Item 1.{n}" for n in range(1, 11)]
    assert {child.kind for child in item_1.children} == {CompetencyKind.PERFORMANCE_INDICATOR}


def test_same_cfdocument_identifier_updates_the_same_framework(db_session: Session) -> None:
    # Two of the samples share a CFDocument identifier and item ...0001: CASE says they are the same things.
    import_framework(db_session, parse_case_package((SAMPLES / "SmartLevelFramework.json").read_bytes()))
    report = import_framework(
        db_session, parse_case_package((SAMPLES / "Utf8TestFramework.json").read_bytes())
    )

    assert report.created == 0
    assert {(change.entity, change.fields) for change in report.changes} == {
        ("framework", ("title",)),
        # In the UTF-8 sample item 1 is a leaf, so it becomes an indicator.
        ("item", ("kind", "statement")),
    }
    assert len(report.kept) == 13
    assert db_session.scalar(select(func.count()).select_from(Framework)) == 1


def test_modified_statement_is_updated_in_place(db_session: Session) -> None:
    data = build_package()
    import_framework(db_session, _package(data))
    before = {row.case_identifier: row.id for row in db_session.scalars(select(CompetencyItem))}

    data["CFItems"][1]["fullStatement"] = "Plan and carry out an investigation"
    report = import_framework(db_session, _package(data))

    assert (report.created, report.updated) == (0, 1)
    (change,) = report.changes
    assert (change.entity, change.action, change.key, change.fields) == (
        "item",
        "updated",
        "SCI.1.a",
        ("statement",),
    )
    after = {row.case_identifier: row.id for row in db_session.scalars(select(CompetencyItem))}
    assert after == before
    row = db_session.scalars(select(CompetencyItem).where(CompetencyItem.code == "SCI.1.a")).one()
    assert row.statement == "Plan and carry out an investigation"


def test_rubric_becomes_a_scoring_guide_on_a_scale_made_from_its_levels(db_session: Session) -> None:
    report = import_framework(db_session, _package(build_package()))

    guide = db_session.scalars(select(ScoringGuide)).one()
    assert guide.case_identifier == "c0000000-0000-0000-0000-000000000001"
    indicator = db_session.get(CompetencyItem, guide.indicator_id)
    assert indicator is not None
    assert indicator.code == "SCI.1.a"
    assert [(int(d.level_value), d.descriptor) for d in guide.descriptors] == [
        (1, "Level 1: Emerging"),
        (2, "Level 2: Developing"),
        (3, "Level 3: Proficient"),
    ]
    scale = db_session.get(ProficiencyScale, guide.scale_id)
    assert scale is not None
    assert [level.label for level in scale.levels] == ["Emerging", "Developing", "Proficient"]
    assert {change.entity for change in report.changes} >= {"scoring_guide", "proficiency_scale"}

    again = import_framework(db_session, _package(build_package()))
    assert (again.created, again.updated) == (0, 0)
    assert db_session.scalar(select(func.count()).select_from(ProficiencyScale)) == 1


def test_rubric_uses_an_existing_default_scale_with_the_same_levels(db_session: Session) -> None:
    scale = ProficiencyScale(name="School 1-3", is_default=True)
    db_session.add(scale)
    db_session.flush()
    for value in (1, 2, 3):
        db_session.add(ProficiencyLevel(scale_id=scale.id, value=value, label=str(value)))
    db_session.flush()

    import_framework(db_session, _package(build_package()))

    assert db_session.scalars(select(ScoringGuide)).one().scale_id == scale.id


def test_dry_run_writes_nothing(db_session: Session) -> None:
    before = counts(db_session)

    report = import_framework(db_session, _package(build_package()), dry_run=True)

    assert report.is_dry_run
    assert report.created == 7  # framework, 4 items, scale, scoring guide
    assert counts(db_session) == before


def test_code_held_by_a_kept_item_is_an_error_and_nothing_changes(db_session: Session) -> None:
    data = build_package()
    import_framework(db_session, _package(data))
    before = counts(db_session)
    data["CFItems"][0]["fullStatement"] = "Changed, but must not be stored"
    data["CFItems"][3]["humanCodingScheme"] = "SCI.1.b"
    data["CFItems"][2]["humanCodingScheme"] = "SCI.1.c"
    data["CFItems"][2]["identifier"] = "00000000-0000-0000-0000-000000000099"
    data["CFAssociations"][2]["originNodeURI"]["identifier"] = "00000000-0000-0000-0000-000000000099"

    with pytest.raises(FrameworkImportError) as info:
        import_framework(db_session, _package(data))

    assert info.value.field == "code"
    assert info.value.item == "00000000-0000-0000-0000-000000000004"
    assert counts(db_session) == before
    statement = db_session.scalar(select(CompetencyItem.statement).where(CompetencyItem.code == "SCI.1"))
    assert statement == "Use evidence to explain phenomena"


def test_csv_import_and_reimport(db_session: Session) -> None:
    package = parse_framework_csv(CSV.encode(), title="Riverbend Math")

    first = import_framework(db_session, package)
    second = import_framework(db_session, package)
    changed = import_framework(
        db_session,
        parse_framework_csv(CSV.replace("Reason mathematically", "Reason well"), title="Riverbend Math"),
    )

    assert (first.created, second.created, second.updated) == (6, 0, 0)
    assert (changed.created, changed.updated) == (0, 1)
    framework = db_session.scalars(select(Framework).where(Framework.title == "Riverbend Math")).one()
    assert (framework.source, framework.case_identifier) == (FrameworkSource.CSV, None)
    rows = {row.code: row for row in framework.items}
    assert rows["M1.1.a"].parent_id == rows["M1.1"].id
    assert rows["M1"].statement == "Reason well"
    assert rows["M1.1"].statement == "Solve équations"
    assert rows["G1"].kind is CompetencyKind.GRADUATION_COMPETENCY


# -- CLI -----------------------------------------------------------------------------------------------------


@pytest.fixture
def run(empty_database_url: str) -> Invoke:
    upgrade_database(empty_database_url)
    runner = CliRunner()
    env = {
        "DATABASE_URL": empty_database_url,
        "MB_PUBLIC_BASE_URL": "https://mb.example.org",
        "MB_SECRET_KEY": "test-secret-key",
        "MB_LOG_LEVEL": "WARNING",
    }

    def invoke(*args: str) -> Result:
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def _database_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return counts(session)
    finally:
        engine.dispose()


def test_cli_import_json_dry_run_and_reimport(run: Invoke, empty_database_url: str) -> None:
    sample = str(SAMPLES / "SmartLevelFramework.json")

    dry = run("frameworks", "import", sample, "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["created"] == 15
    assert _database_counts(empty_database_url)["competency_items"] == 0

    first = run("frameworks", "import", sample, "--json")
    report = json.loads(first.stdout)
    assert (report["created"], report["updated"], report["is_dry_run"]) == (15, 0, False)
    assert report["changes"][0] == {
        "entity": "framework",
        "action": "created",
        "key": "SmartLevel Test",
        "identifier": DOC,
        "fields": [],
    }
    assert _database_counts(empty_database_url)["competency_items"] == 14

    again = run("frameworks", "import", sample)
    assert again.exit_code == 0
    assert "0 created, 0 updated, 15 unchanged" in again.stdout


def test_cli_import_csv_and_broken_file(run: Invoke, empty_database_url: str, tmp_path: Path) -> None:
    good = tmp_path / "Riverbend Math.csv"
    good.write_text(CSV, encoding="utf-8")
    broken = tmp_path / "broken.csv"
    broken.write_text(CSV + "X,NOPE,learning_target,Orphan\n", encoding="utf-8")

    result = run("frameworks", "import", str(good))
    assert result.exit_code == 0, result.output
    assert "imported 'Riverbend Math' (csv" in result.stdout

    failed = run("frameworks", "import", str(broken))
    assert failed.exit_code == 2
    assert "line 7 (X): parent_code: 'NOPE' is not a code in this file" in failed.stderr
    assert _database_counts(empty_database_url)["competency_items"] == 5
