"""Import competency frameworks (CASE 1.0 packages, framework CSVs) into the database, in place.

`import_framework` upserts within the caller's transaction (it does not commit):
- The framework is matched by its CASE CFDocument identifier; a CSV framework (no identifier) by
  source, title and org.
- Items are matched by CASE identifier within the framework, CSV items by code. Changed fields are updated
  in place and reported; nothing is ever deleted: items no longer in the file are kept and listed in
  `ImportReport.kept`.
- Each CASE rubric criterion becomes a ScoringGuide (matched by the criterion identifier) on the indicator it
  names. Its scale is an existing ProficiencyScale of the org (or a global one) whose level values are
  exactly the criterion's scores, the org's default first; otherwise a new scale is made from the levels
  (value = score, label = quality or the score, descriptor = description). No level of a new scale is marked
  as mastery: staff decide that.
- The writes run in a SAVEPOINT: on any error, or with `dry_run=True`, the database is left as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, selectinload

from connectors.case import FrameworkItem, FrameworkPackage, Rubric
from connectors.case.records import MAX_TITLE_LENGTH
from lti_tool.errors import MasteryBridgeError
from lti_tool.models import (
    CompetencyItem,
    CompetencyKind,
    Framework,
    FrameworkSource,
    ProficiencyLevel,
    ProficiencyScale,
    ScoringGuide,
    ScoringGuideDescriptor,
    utcnow,
)

Entity = Literal["framework", "item", "scoring_guide", "proficiency_scale"]
Action = Literal["created", "updated"]


class FrameworkImportError(MasteryBridgeError):
    """A valid file that cannot be stored as it stands (e.g. a code held by another item); names item and field.

    Belongs in `lti_tool.errors` beside InputFileError; defined here until that tree is updated.
    """

    def __init__(self, message: str, *, item: str, field: str) -> None:
        super().__init__(f"{item}: {field}: {message}")
        self.item = item
        self.field = field


@dataclass(frozen=True, slots=True)
class RecordChange:
    """One created or updated record: `key` is the code (items) or title, `fields` the changed ones."""

    entity: Entity
    action: Action
    key: str
    identifier: str | None
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did; counts cover the framework, its items, scoring guides and new scales."""

    framework_id: int
    title: str
    source: str
    created: int
    updated: int
    unchanged: int
    changes: tuple[RecordChange, ...]
    kept: tuple[str, ...]
    is_dry_run: bool

    @property
    def has_changes(self) -> bool:
        """True when anything was created or updated."""
        return bool(self.changes)


class _Recorder:
    def __init__(self) -> None:
        self.changes: list[RecordChange] = []
        self.unchanged = 0

    def record(self, entity: Entity, key: str, identifier: str | None, fields: Sequence[str] | None) -> None:
        """`fields` None: created; empty: unchanged; else updated."""
        if fields is None:
            self.changes.append(RecordChange(entity, "created", key, identifier))
        elif fields:
            self.changes.append(RecordChange(entity, "updated", key, identifier, tuple(fields)))
        else:
            self.unchanged += 1


def _apply(row: object, values: dict[str, object]) -> list[str]:
    """Set `values` on `row`; the names of the attributes that changed."""
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    for name in changed:
        setattr(row, name, values[name])
    return changed


def import_framework(
    session: Session,
    package: FrameworkPackage,
    *,
    org_id: int | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> ImportReport:
    """Create or update the framework in `package`; see the module docstring for matching rules."""
    recorder = _Recorder()
    savepoint = session.begin_nested()
    try:
        framework = _upsert_framework(session, package, org_id, now or utcnow(), recorder)
        rows = _upsert_items(session, framework, package.items, recorder)
        for rubric in package.rubrics:
            _upsert_guide(session, rows[rubric.item_identifier], rubric, org_id, recorder)
        session.flush()
        kept = tuple(
            sorted(
                item.code
                for item in session.scalars(
                    select(CompetencyItem).where(CompetencyItem.framework_id == framework.id)
                )
                if all(item is not row for row in rows.values())
            )
        )
        report = ImportReport(
            framework_id=framework.id,
            title=framework.title,
            source=str(framework.source),
            created=sum(change.action == "created" for change in recorder.changes),
            updated=sum(change.action == "updated" for change in recorder.changes),
            unchanged=recorder.unchanged,
            changes=tuple(recorder.changes),
            kept=kept,
            is_dry_run=dry_run,
        )
    except BaseException:
        savepoint.rollback()
        raise
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    return report


def _upsert_framework(
    session: Session, package: FrameworkPackage, org_id: int | None, now: datetime, recorder: _Recorder
) -> Framework:
    document = package.document
    source = FrameworkSource(document.source.value)
    query = select(Framework)
    if document.identifier is not None:
        query = query.where(Framework.case_identifier == document.identifier)
    else:
        query = query.where(
            Framework.case_identifier.is_(None),
            Framework.source == source,
            Framework.title == document.title,
            Framework.org_id.is_(None) if org_id is None else Framework.org_id == org_id,
        )
    framework = session.scalars(query.order_by(Framework.id).limit(1)).first()
    values: dict[str, object] = {"title": document.title, "version": document.version, "source": source}
    if framework is None:
        framework = Framework(case_identifier=document.identifier, org_id=org_id, imported_at=now, **values)
        session.add(framework)
        session.flush()
        recorder.record("framework", document.title, document.identifier, None)
    else:
        recorder.record("framework", document.title, document.identifier, _apply(framework, values))
        # When it was last imported is bookkeeping, not a change to report.
        framework.imported_at = now
    return framework


def _upsert_items(
    session: Session, framework: Framework, items: Sequence[FrameworkItem], recorder: _Recorder
) -> dict[str | None, CompetencyItem]:
    """Items parents first; returns the rows by CASE identifier, or by code for CSV items."""
    existing = list(
        session.scalars(select(CompetencyItem).where(CompetencyItem.framework_id == framework.id))
    )
    by_identifier = {row.case_identifier: row for row in existing if row.case_identifier is not None}
    by_code = {row.code: row for row in existing}
    rows: dict[str | None, CompetencyItem] = {}
    rows_by_code: dict[str, CompetencyItem] = {}
    for item in items:
        row = by_identifier.get(item.identifier) if item.identifier is not None else by_code.get(item.code)
        holder = by_code.get(item.code)
        if holder is not None and holder is not row:
            raise FrameworkImportError(
                f"{item.code!r} is already the code of another item of {framework.title!r} "
                f"(identifier {holder.case_identifier or '-'}); change one of them",
                item=item.identifier or item.code,
                field="code",
            )
        parent = rows_by_code[item.parent_code] if item.parent_code is not None else None
        values: dict[str, object] = {
            "kind": CompetencyKind(item.kind.value),
            "code": item.code,
            "statement": item.statement,
            "sequence": item.sequence,
            # Parents come first and are flushed, so their ids are known.
            "parent_id": parent.id if parent is not None else None,
        }
        if row is None:
            row = CompetencyItem(framework_id=framework.id, case_identifier=item.identifier, **values)
            session.add(row)
            session.flush()
            recorder.record("item", item.code, item.identifier, None)
        else:
            old_code = row.code
            changed = _apply(row, values)
            if "code" in changed:
                by_code.pop(old_code, None)
            recorder.record("item", item.code, item.identifier, changed)
        by_code[item.code] = row
        rows[item.identifier if item.identifier is not None else item.code] = row
        rows_by_code[item.code] = row
    return rows


def _find_or_create_scale(
    session: Session, rubric: Rubric, org_id: int | None, recorder: _Recorder
) -> ProficiencyScale:
    scores = {level.score for level in rubric.levels}
    owner: ColumnElement[bool] = ProficiencyScale.org_id.is_(None)
    if org_id is not None:
        owner = or_(owner, ProficiencyScale.org_id == org_id)
    candidates = session.scalars(
        select(ProficiencyScale)
        .where(owner)
        .options(selectinload(ProficiencyScale.levels))
        .order_by(ProficiencyScale.is_default.desc(), ProficiencyScale.org_id.is_(None), ProficiencyScale.id)
    )
    for scale in candidates:
        if {level.value for level in scale.levels} == scores:
            return scale
    scale = ProficiencyScale(org_id=org_id, name=rubric.title[:MAX_TITLE_LENGTH], is_default=False)
    session.add(scale)
    session.flush()
    for sequence, level in enumerate(rubric.levels, start=1):
        session.add(
            ProficiencyLevel(
                scale_id=scale.id,
                value=level.score,
                label=(level.quality or str(level.score))[:64],
                descriptor=level.description,
                sequence=sequence,
            )
        )
    session.flush()
    session.refresh(scale, ["levels"])
    recorder.record("proficiency_scale", scale.name, rubric.rubric_identifier, None)
    return scale


def _upsert_guide(
    session: Session, indicator: CompetencyItem, rubric: Rubric, org_id: int | None, recorder: _Recorder
) -> None:
    scale = _find_or_create_scale(session, rubric, org_id, recorder)
    guide = session.scalars(
        select(ScoringGuide)
        .where(ScoringGuide.case_identifier == rubric.identifier)
        .options(selectinload(ScoringGuide.descriptors))
    ).first()
    # A display name: a longer rubric title is cut rather than refused.
    values: dict[str, object] = {
        "indicator_id": indicator.id,
        "scale_id": scale.id,
        "title": rubric.title[:MAX_TITLE_LENGTH],
    }
    changed: list[str] | None
    if guide is None:
        guide = ScoringGuide(case_identifier=rubric.identifier, **values)
        session.add(guide)
        session.flush()
        descriptors: dict[Decimal, ScoringGuideDescriptor] = {}
        changed = None
    else:
        changed = _apply(guide, values)
        descriptors = {descriptor.level_value: descriptor for descriptor in guide.descriptors}
    for level in rubric.levels:
        text = level.description or level.quality
        descriptor = descriptors.get(level.score)
        if descriptor is None:
            session.add(ScoringGuideDescriptor(guide_id=guide.id, level_value=level.score, descriptor=text))
            if changed is not None and "descriptors" not in changed:
                changed.append("descriptors")
        elif descriptor.descriptor != text:
            descriptor.descriptor = text
            if changed is not None and "descriptors" not in changed:
                changed.append("descriptors")
    recorder.record("scoring_guide", guide.title, rubric.identifier, changed)
