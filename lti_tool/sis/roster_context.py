"""The state of one roster pull: what it owns, what it has seen, what it counted and warned about.

Counts per collection are `Tally`s; warnings name a record by its sourcedId and never carry names,
emails or demographic values. `Change` is how one record compares with the row it would write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Final

from sqlalchemy import Connection, Row, select

from lti_tool.models import IdentifierSource, Org, PersonIdentifier
from lti_tool.sis.course_map import CourseMap
from lti_tool.sis.upsert import AnyRow, table_of

Progress = Callable[[str, int], None]

#: At most this many warnings are stored per collection; the rest are counted in one closing warning.
MAX_WARNINGS_PER_COLLECTION: Final = 200
#: `PersonIdentifier.system` suffixes, after the connection name, for SIS usernames kept for matching.
USERNAME_SUFFIX: Final = "#username"
USERNAME_CONFLICT_SUFFIX: Final = "#username-conflict"

ORGS = table_of(Org)
IDENTIFIERS = table_of(PersonIdentifier)


class Change(Enum):
    """How an incoming record compares with what the database holds."""

    CREATED = "created"
    UPDATED = "updated"
    DEACTIVATED = "deactivated"
    UNCHANGED = "unchanged"


_COUNTERS: Final = {change: change.value for change in Change}


def compare(existing: AnyRow | Mapping[str, Any] | None, values: Mapping[str, Any]) -> Change:
    """CREATED when nothing exists, DEACTIVATED when an active row goes inactive, UPDATED on any difference."""
    if existing is None:
        return Change.CREATED
    current = existing._mapping if isinstance(existing, Row) else existing
    if "is_active" in values and current["is_active"] and not values["is_active"]:
        return Change.DEACTIVATED
    if any(current[name] != value for name, value in values.items() if name in current):
        return Change.UPDATED
    return Change.UNCHANGED


def changed_columns(existing: AnyRow, values: Mapping[str, Any]) -> dict[str, Any]:
    """The columns of `values` that differ from the row."""
    current = existing._mapping
    return {name: value for name, value in values.items() if current[name] != value}


@dataclass(slots=True)
class Tally:
    """What a pull did to one collection. `skipped` records were returned but could not be stored."""

    created: int = 0
    updated: int = 0
    deactivated: int = 0
    unchanged: int = 0
    skipped: int = 0

    def add(self, change: Change) -> None:
        """Count one record."""
        name = _COUNTERS[change]  # Enum.value is a slow descriptor: this runs once per record
        setattr(self, name, getattr(self, name) + 1)

    def as_dict(self) -> dict[str, int]:
        """The counts as stored in `SyncRun.counts`."""
        return asdict(self)


@dataclass(slots=True)
class PullContext:
    """One pull's working state; maps go from SIS sourcedId to row id and cover this connection's rows."""

    db: Connection
    connection_id: int
    system: str
    started_at: datetime
    is_full: bool
    course_map: CourseMap | None = None
    progress: Progress | None = None
    home_org_id: int | None = None
    org_ids: dict[str, int] = field(default_factory=dict)
    session_ids: dict[str, int] = field(default_factory=dict)
    course_ids: dict[str, int] = field(default_factory=dict)
    class_ids: dict[str, int] = field(default_factory=dict)
    person_ids: dict[str, int] = field(default_factory=dict)
    held_triples: set[int] | None = None  # enrollment (class, person, role) keys, read on first use
    tallies: dict[str, Tally] = field(default_factory=dict)
    seen: dict[str, set[str]] = field(default_factory=dict)
    warnings: list[dict[str, str]] = field(default_factory=list)
    _warning_counts: dict[str, int] = field(default_factory=dict)

    @property
    def username_system(self) -> str:
        """`PersonIdentifier.system` of this connection's usernames (stored case-folded)."""
        return self.system + USERNAME_SUFFIX

    @property
    def username_conflict_system(self) -> str:
        """`PersonIdentifier.system` marking a username two SIS users share: never used for matching."""
        return self.system + USERNAME_CONFLICT_SUFFIX

    def tally(self, collection: str) -> Tally:
        """The collection's counts (created on first use, so every pulled collection appears)."""
        return self.tallies.setdefault(collection, Tally())

    def see(self, collection: str, sourced_ids: Iterable[str]) -> None:
        """Note records the SIS returned, so a full reconciliation keeps them."""
        self.seen.setdefault(collection, set()).update(sourced_ids)

    def skip(self, collection: str, sourced_id: str, message: str) -> None:
        """Count a record that cannot be stored and say why (by sourcedId only)."""
        self.tally(collection).skipped += 1
        self.warn(collection, sourced_id, message)

    def warn(self, collection: str, sourced_id: str, message: str) -> None:
        """Record a warning about one record; past the per-collection cap it is only counted."""
        count = self._warning_counts.get(collection, 0) + 1
        self._warning_counts[collection] = count
        if count <= MAX_WARNINGS_PER_COLLECTION:
            self.warnings.append({"collection": collection, "sourced_id": sourced_id, "message": message})

    def closing_warnings(self) -> list[dict[str, str]]:
        """The stored warnings plus one per collection that passed the cap."""
        overflow = [
            {
                "collection": collection,
                "message": f"{count - MAX_WARNINGS_PER_COLLECTION} more warnings like these were not stored",
            }
            for collection, count in sorted(self._warning_counts.items())
            if count > MAX_WARNINGS_PER_COLLECTION
        ]
        return [*self.warnings, *overflow]

    def report(self, collection: str, count: int) -> None:
        """Tell the progress callback how many records of `collection` were read so far."""
        if self.progress is not None:
            self.progress(collection, count)

    def load_person_ids(self) -> None:
        """sourcedId -> person id for every person this connection's pulls created or adopted."""
        rows = self.db.execute(
            select(IDENTIFIERS.c.value, IDENTIFIERS.c.person_id).where(
                IDENTIFIERS.c.source == IdentifierSource.SIS, IDENTIFIERS.c.system == self.system
            )
        )
        self.person_ids = {value: person_id for value, person_id in rows}
