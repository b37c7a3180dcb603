"""The fake's gradebook: PUT and GET of categories, scoreScales, lineItems and results, 1.1 and 1.2.

A PUT by sourcedId stores the record whole (201 on create, 200 on update, 1.2 gradebook §4.2) and counts
it in `put_counts`. Bodies are checked for the fields the OpenAPI `*DType` schemas require (1.1: the
information model's required fields) and answered 400 with an imsx body naming the field when one is
missing. A PUT needs the `gradebook.createput` scope; a read needs a gradebook scope. Grades for an
academic session in the `grading_window_closed` quirk are refused the way Infinite Campus refuses them.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from flask import request

from lti_tool.demo.sis.wire import abort_with, imsx, page_of

if TYPE_CHECKING:
    from lti_tool.demo.sis.server import Quirks

GRADEBOOK_COLLECTIONS_V1P2: Final = {
    "categories": "category",
    "scoreScales": "scoreScale",
    "lineItems": "lineItem",
    "results": "result",
}
GRADEBOOK_COLLECTIONS_V1P1: Final = {"categories": "category", "lineItems": "lineItem", "results": "result"}

_COMMON: Final = ("sourcedId", "status", "dateLastModified")
REQUIRED: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("1.2", "categories"): (*_COMMON, "title"),
    ("1.2", "scoreScales"): (*_COMMON, "title", "type", "class", "scoreScaleValue"),
    ("1.2", "lineItems"): (*_COMMON, "title", "assignDate", "dueDate", "class", "school", "category"),
    ("1.2", "results"): (*_COMMON, "lineItem", "student", "scoreStatus", "scoreDate"),
    ("1.1", "categories"): (*_COMMON, "title"),
    ("1.1", "lineItems"): (*_COMMON, "title", "assignDate", "dueDate", "class", "category", "gradingPeriod"),
    ("1.1", "results"): (*_COMMON, "lineItem", "student", "scoreStatus", "scoreDate"),
}
_REFS: Final = (
    "class",
    "school",
    "category",
    "academicSession",
    "gradingPeriod",
    "lineItem",
    "student",
    "course",
)
_SCORE_STATUSES: Final = frozenset(
    {"exempt", "fully graded", "not submitted", "partially graded", "submitted"}
)
_READ_SCOPES: Final = ("gradebook.readonly", "gradebook-core.readonly", "gradebook.createput")

Answer = tuple[str, int, dict[str, str]]


def _invalid(description: str) -> Exception:
    return abort_with(imsx(400, "invaliddata", description))


def _is_utc_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


@dataclass
class GradebookStore:
    """Gradebook records by (version, collection) and sourcedId, plus accepted PUTs per sourcedId."""

    put_counts: Counter[str] = field(default_factory=Counter)
    _records: dict[tuple[str, str], dict[str, dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def records(self, version: str, collection: str) -> dict[str, dict[str, Any]]:
        """The stored records of one collection, by sourcedId (a copy)."""
        with self._lock:
            return copy.deepcopy(self._records.get((version, collection), {}))

    def handle(
        self,
        *,
        version: str,
        parts: list[str],
        granted: frozenset[str],
        scope_prefix: str,
        quirks: Quirks,
    ) -> Answer:
        """Answer one gradebook request (`parts` is the path below the service base)."""
        collection = parts[0]
        singular = (GRADEBOOK_COLLECTIONS_V1P1 if version == "1.1" else GRADEBOOK_COLLECTIONS_V1P2)[
            collection
        ]
        if request.method == "PUT":
            if f"{scope_prefix}gradebook.createput" not in granted:
                raise abort_with(imsx(403, "forbidden", f"the token lacks {scope_prefix}gradebook.createput"))
            if len(parts) != 2 or not parts[1]:
                raise abort_with(imsx(405, "unsupported", f"PUT needs /{collection}/{{sourcedId}}"))
            return self._put(version, collection, singular, parts[1], quirks)
        if not any(f"{scope_prefix}{name}" in granted for name in _READ_SCOPES):
            raise abort_with(imsx(403, "forbidden", "the token has no gradebook scope"))
        if len(parts) == 2:
            with self._lock:
                found = copy.deepcopy(self._records.get((version, collection), {}).get(parts[1]))
            if found is None:
                raise abort_with(imsx(404, "unknownobject", f"no {collection} {parts[1]}"))
            return json.dumps({singular: self._shape(found, quirks)}), 200, {}
        if len(parts) != 1:
            raise abort_with(imsx(404, "unknownobject", f"no endpoint {'/'.join(parts)}"))
        with self._lock:
            stored = [
                copy.deepcopy(r) for _, r in sorted(self._records.get((version, collection), {}).items())
            ]
        body, headers = page_of(
            [self._shape(r, quirks) for r in stored],
            collection,
            max_limit=quirks.max_limit,
            has_paging_headers=not quirks.no_paging_headers,
        )
        return body, 200, headers

    def _put(self, version: str, collection: str, singular: str, sourced_id: str, quirks: Quirks) -> Answer:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise _invalid("the request body is not a JSON object")
        record = body.get(singular)
        if not isinstance(record, dict):
            raise _invalid(f"the request body lacks the {singular!r} object")
        self._validate(version, collection, record, sourced_id, is_lax=quirks.lax_bodies)
        period = self._period(version, collection, record)
        if period is not None and period in quirks.grading_window_closed:
            # Infinite Campus accepts grades only while the grading window is open (see the profile's sources).
            raise abort_with(
                imsx(
                    400,
                    "invaliddata",
                    f"The grading window is closed for academic session {period}; "
                    "grades cannot be posted until it is reopened",
                )
            )
        with self._lock:
            held = self._records.setdefault((version, collection), {})
            is_created = sourced_id not in held
            held[sourced_id] = copy.deepcopy(record)
            self.put_counts[sourced_id] += 1
        status = 201 if is_created else 200
        if quirks.lax_bodies:
            return "OK", status, {"Content-Type": "text/plain"}  # lax servers answer a write in plain text
        return json.dumps({singular: record}), status, {}

    def _validate(
        self, version: str, collection: str, record: dict[str, Any], sourced_id: str, *, is_lax: bool
    ) -> None:
        for name in REQUIRED[(version, collection)]:
            value = record.get(name)
            if value is None or value == "" or value == []:
                raise _invalid(f"{collection} {sourced_id}: required field {name!r} is missing")
        if record["sourcedId"] != sourced_id:
            raise _invalid(
                f"sourcedId {record['sourcedId']!r} in the body differs from {sourced_id!r} in the URL"
            )
        if collection == "scoreScales":
            values = record["scoreScaleValue"]
            if not isinstance(values, list) or not all(
                isinstance(v, dict) and v.get("itemValueLHS") and v.get("itemValueRHS") for v in values
            ):
                raise _invalid(
                    f"scoreScales {sourced_id}: scoreScaleValue needs itemValueLHS and itemValueRHS"
                )
        if is_lax:
            return
        if record["status"] not in ("active", "tobedeleted"):
            raise _invalid(
                f"{collection} {sourced_id}: status {record['status']!r} is not active or tobedeleted"
            )
        if not _is_utc_datetime(record["dateLastModified"]):
            raise _invalid(
                f"{collection} {sourced_id}: dateLastModified is not a date-time with a UTC offset"
            )
        for name in _REFS:
            if name in record and not (isinstance(record[name], dict) and record[name].get("sourcedId")):
                raise _invalid(f"{collection} {sourced_id}: {name!r} is not a GUIDRef with a sourcedId")
        status = record.get("scoreStatus")
        if status is not None and status not in _SCORE_STATUSES and not str(status).startswith("ext:"):
            raise _invalid(f"{collection} {sourced_id}: scoreStatus {status!r} is not in the vocabulary")

    def _period(self, version: str, collection: str, record: dict[str, Any]) -> str | None:
        """The academic session a line item or result grades, for the grading-window check."""
        if collection == "lineItems":
            return _ref(record.get("academicSession")) or _ref(record.get("gradingPeriod"))
        if collection != "results":
            return None
        line_item_id = _ref(record.get("lineItem"))
        with self._lock:
            line_item = self._records.get((version, "lineItems"), {}).get(line_item_id or "")
        if line_item is None:
            raise _invalid(f"results {record.get('sourcedId')}: lineItem {line_item_id!r} is unknown")
        return _ref(line_item.get("academicSession")) or _ref(line_item.get("gradingPeriod"))

    @staticmethod
    def _shape(record: dict[str, Any], quirks: Quirks) -> dict[str, Any]:
        if not quirks.lax_bodies:
            return record
        if isinstance(record.get("dateLastModified"), str):
            record["dateLastModified"] = record["dateLastModified"].removesuffix("Z").removesuffix(".000")
        if isinstance(record.get("score"), int | float):
            record["score"] = str(record["score"])  # seen in the wild: numbers as strings
        record["vendorExtra"] = {"anything": True}
        record.setdefault("comment", None)
        return record


def _ref(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("sourcedId")
    return value if isinstance(value, str) and value else None
