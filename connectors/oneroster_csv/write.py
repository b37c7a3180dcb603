"""Write a gradebook as a OneRoster 1.1 or 1.2 CSV zip: manifest.csv plus bulk gradebook files.

Output is deterministic (same gradebook, same bytes): entries sorted by name with a fixed timestamp and
permissions, rows sorted by sourcedId, RFC 4180 CSV with CRLF line ends in UTF-8 without a BOM.
Free-text cells are neutralised against spreadsheet formula injection; identifiers and numbers are not.
"""

from __future__ import annotations

import csv
import io
import itertools
import zipfile
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Final, TypeVar

from connectors.errors import FormatError
from connectors.oneroster_csv.binding import (
    DATA_FILES,
    GRADEBOOK_HEADERS,
    MANIFEST,
    MANIFEST_HEADER,
    MANIFEST_VERSION,
    SYSTEM,
    manifest_property,
)
from connectors.oneroster_csv.records import (
    Category,
    FileMode,
    Gradebook,
    LineItem,
    LineItemLearningObjectiveId,
    OneRosterVersion,
    Result,
    ResultLearningObjectiveId,
    ScoreScale,
    Status,
)

_Cell = str | Decimal | date | datetime | bool | Status | None
T = TypeVar("T")

# 1980-01-01 is the earliest time a zip entry can carry; any fixed value makes the bytes reproducible.
ZIP_TIMESTAMP: Final = (1980, 1, 1, 0, 0, 0)
# Leading characters a spreadsheet treats as a formula (OWASP "CSV injection"; tab and CR included).
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str | None) -> str:
    """`text` safe to open in a spreadsheet: a leading formula character gets a `'` in front."""
    if not text:
        return ""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _cell(value: _Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Status):
        # 1.1 and 1.2 dropped `inactive`; readers take it as tobedeleted, so write that.
        return Status.TO_BE_DELETED.value if value is Status.INACTIVE else value.value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"dateLastModified {value.isoformat()} has no time zone")
        # OneRoster date-times are UTC, written with millisecond precision and a Z.
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, date):
        return value.isoformat()
    return value


def _csv(header: Sequence[str], rows: Iterable[Sequence[_Cell]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue().encode("utf-8")


def _category(item: Category, version: OneRosterVersion) -> list[_Cell]:
    row: list[_Cell] = [item.sourced_id, item.status, item.date_last_modified, neutralise(item.title)]
    return [*row, item.weight] if version is OneRosterVersion.V1_2 else row


def _line_item(item: LineItem, version: OneRosterVersion) -> list[_Cell]:
    row: list[_Cell] = [
        item.sourced_id,
        item.status,
        item.date_last_modified,
        neutralise(item.title),
        neutralise(item.description),
        item.assign_date,
        item.due_date,
        item.class_sourced_id,
        item.category_sourced_id,
        item.academic_session_sourced_id,
        item.result_value_min,
        item.result_value_max,
    ]
    return [*row, item.school_sourced_id] if version is OneRosterVersion.V1_2 else row


def _result(item: Result, version: OneRosterVersion) -> list[_Cell]:
    row: list[_Cell] = [
        item.sourced_id,
        item.status,
        item.date_last_modified,
        item.line_item_sourced_id,
        item.student_sourced_id,
        item.score_status,
        item.score,
        item.score_date,
        neutralise(item.comment),
    ]
    if version is OneRosterVersion.V1_1:
        return row
    return [
        *row,
        neutralise(item.text_score),
        item.class_sourced_id,
        item.in_progress,
        item.incomplete,
        item.late,
        item.missing,
    ]


def _score_scale(item: ScoreScale, _: OneRosterVersion) -> list[_Cell]:
    # The binding writes the mapping list as {lhs:rhs} pairs joined by commas in one cell.
    values = ",".join(f"{{{value.item_value_lhs}:{value.item_value_rhs}}}" for value in item.values)
    return [
        item.sourced_id,
        item.status,
        item.date_last_modified,
        neutralise(item.title),
        neutralise(item.type),
        item.org_sourced_id,
        item.course_sourced_id,
        item.class_sourced_id,
        neutralise(values),
    ]


def _line_item_objective(item: LineItemLearningObjectiveId, _: OneRosterVersion) -> list[_Cell]:
    return [
        item.sourced_id,
        item.status,
        item.date_last_modified,
        item.line_item_sourced_id,
        item.source,
        item.learning_objective_id,
    ]


def _result_objective(item: ResultLearningObjectiveId, _: OneRosterVersion) -> list[_Cell]:
    return [
        item.sourced_id,
        item.status,
        item.date_last_modified,
        item.result_sourced_id,
        item.source,
        item.learning_objective_id,
        item.score,
        neutralise(item.text_score),
    ]


def _sorted_rows(
    file_name: str,
    records: Sequence[T],
    version: OneRosterVersion,
    to_row: Callable[[T, OneRosterVersion], list[_Cell]],
) -> tuple[str, list[list[_Cell]]]:
    rows = sorted((to_row(record, version) for record in records), key=lambda row: str(row[0]))
    for previous, current in itertools.pairwise(rows):
        if previous[0] == current[0]:
            raise FormatError(
                f"{file_name}: sourcedId {current[0]!r} appears twice",
                system=SYSTEM,
                item=file_name,
                field="sourcedId",
            )
    return file_name, rows


def _manifest(version: OneRosterVersion, written: set[str], source_system_name: str | None) -> bytes:
    rows: list[list[_Cell]] = [
        ["manifest.version", MANIFEST_VERSION],
        ["oneroster.version", version.value],
    ]
    for file_name in DATA_FILES[version]:
        mode = FileMode.BULK if file_name in written else FileMode.ABSENT
        rows.append([manifest_property(file_name), mode.value])
    if source_system_name:
        rows.append(["source.systemName", source_system_name])
    return _csv(MANIFEST_HEADER, rows)


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever platform writes it, so the bytes match
            info.external_attr = 0o644 << 16
            archive.writestr(info, entries[name], compresslevel=9)
    return buffer.getvalue()


def write_gradebook_zip(
    gradebook: Gradebook,
    *,
    version: OneRosterVersion = OneRosterVersion.V1_2,
    source_system_name: str | None = "mastery-bridge",
) -> bytes:
    """A OneRoster CSV zip holding `gradebook` as bulk files; files with no rows are declared absent.

    1.1 has no scoreScales or learning-objective files: asking for them in 1.1 raises `FormatError`.
    """
    headers = GRADEBOOK_HEADERS[version]
    tables = [
        _sorted_rows("categories.csv", gradebook.categories, version, _category),
        _sorted_rows("lineItems.csv", gradebook.line_items, version, _line_item),
        _sorted_rows("results.csv", gradebook.results, version, _result),
        _sorted_rows("scoreScales.csv", gradebook.score_scales, version, _score_scale),
        _sorted_rows(
            "lineItemLearningObjectiveIds.csv",
            gradebook.line_item_learning_objective_ids,
            version,
            _line_item_objective,
        ),
        _sorted_rows(
            "resultLearningObjectiveIds.csv",
            gradebook.result_learning_objective_ids,
            version,
            _result_objective,
        ),
    ]
    entries: dict[str, bytes] = {}
    for file_name, rows in tables:
        if not rows:
            continue
        if file_name not in headers:
            raise FormatError(
                f"{file_name}: OneRoster {version.value} has no such file; write version 1.2",
                system=SYSTEM,
                item=file_name,
                field=None,
            )
        entries[file_name] = _csv(headers[file_name], rows)
    entries[MANIFEST] = _manifest(version, set(entries), source_system_name)
    return _zip(entries)
