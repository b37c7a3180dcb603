"""Parse a framework CSV: columns `code,parent_code,kind,statement`, one item a row, header first.

`kind` is one of graduation_competency, content_competency, performance_indicator, learning_target (case,
spaces and hyphens ignored: "Performance Indicator" works). An empty `parent_code` makes a top-level item.
Rows may come in any order; siblings keep file order. Extra columns are ignored. Items have no CASE
identifier: re-imports match them by code.
"""

from __future__ import annotations

import csv
import io

from connectors.case.records import (
    MAX_CODE_LENGTH,
    MAX_TITLE_LENGTH,
    FrameworkDocument,
    FrameworkItem,
    FrameworkPackage,
    FrameworkSource,
    ItemKind,
)
from connectors.case.tree import Node, check_unique_codes, order_parents_first
from connectors.errors import FormatError

SYSTEM = "framework CSV"
COLUMNS = ("code", "parent_code", "kind", "statement")


def _error(message: str, *, item: str, field: str | None) -> FormatError:
    where = f"{item}: {field}" if field else item
    return FormatError(f"{where}: {message}", system=SYSTEM, item=item, field=field)


def _kind(value: str, *, item: str) -> ItemKind:
    normalized = "_".join(value.strip().lower().replace("-", " ").split())
    try:
        return ItemKind(normalized)
    except ValueError:
        allowed = ", ".join(kind.value for kind in ItemKind)
        raise _error(f"{value!r} is not one of {allowed}", item=item, field="kind") from None


def parse_framework_csv(content: bytes | str, *, title: str) -> FrameworkPackage:
    """The framework in a CSV file; `title` names it (the CLI and upload use the file name)."""
    try:
        text = content.decode("utf-8-sig") if isinstance(content, bytes) else content
    except UnicodeDecodeError as exc:
        raise _error(f"is not UTF-8 text (byte {exc.start})", item="file", field=None) from exc
    title = title.strip()
    if not title or len(title) > MAX_TITLE_LENGTH:
        raise _error(f"must be 1 to {MAX_TITLE_LENGTH} characters", item="file", field="title")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise _error("is empty (expected a header row)", item="line 1", field=None) from None
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise _error(
            f"missing column(s) {', '.join(missing)}; the header must name {','.join(COLUMNS)}",
            item="line 1",
            field=missing[0],
        )
    column = {name: header.index(name) for name in COLUMNS}
    rows: list[tuple[str, str, str | None, ItemKind, str]] = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        label = f"line {reader.line_num}"
        if len(row) < len(header):
            row = row + [""] * (len(header) - len(row))
        code = row[column["code"]].strip()
        if not code:
            raise _error("is empty", item=label, field="code")
        label = f"{label} ({code})"
        if len(code) > MAX_CODE_LENGTH:
            raise _error(f"is longer than {MAX_CODE_LENGTH} characters", item=label, field="code")
        statement = row[column["statement"]].strip()
        if not statement:
            raise _error("is empty", item=label, field="statement")
        parent_code = row[column["parent_code"]].strip() or None
        rows.append((label, code, parent_code, _kind(row[column["kind"]], item=label), statement))
    check_unique_codes({label: code for label, code, *_ in rows}, system=SYSTEM, code_field="code")
    codes = {code for _, code, *_ in rows}
    for label, _, parent_code, _, _ in rows:
        if parent_code is not None and parent_code not in codes:
            raise _error(f"{parent_code!r} is not a code in this file", item=label, field="parent_code")
    nodes = [Node(key=code, parent_key=parent_code, label=label) for label, code, parent_code, _, _ in rows]
    ordered = order_parents_first(nodes, system=SYSTEM, parent_field="parent_code")
    by_code = {code: (kind, statement) for _, code, _, kind, statement in rows}
    sequences: dict[str | None, int] = {}
    items: list[FrameworkItem] = []
    for node in ordered:
        sequences[node.parent_key] = sequences.get(node.parent_key, 0) + 1
        kind, statement = by_code[node.key]
        items.append(
            FrameworkItem(
                identifier=None,
                code=node.key,
                statement=statement,
                kind=kind,
                parent_identifier=None,
                parent_code=node.parent_key,
                sequence=sequences[node.parent_key],
            )
        )
    document = FrameworkDocument(identifier=None, title=title, version=None, source=FrameworkSource.CSV)
    return FrameworkPackage(document=document, items=tuple(items))
