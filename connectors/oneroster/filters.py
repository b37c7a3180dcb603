"""OneRoster query parameters: the filter grammar, `fields`, `sort`, and RFC 3986 query encoding.

The filter grammar is 1.1 §3.4.2 / 1.2 rostering §3.3.2: `field op 'value'`, at most two predicates
joined by one logical operator (` AND ` or ` OR `, never both).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import quote


class Operator(StrEnum):
    """Predicate operators of the filter grammar; `~` is "contains"."""

    EQ = "="
    NE = "!="
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    CONTAINS = "~"


class Logical(StrEnum):
    """How two predicates combine."""

    AND = "AND"
    OR = "OR"


@dataclass(frozen=True, slots=True)
class Predicate:
    """One `field op 'value'` comparison."""

    field: str
    operator: Operator
    value: str

    def __post_init__(self) -> None:
        if not self.field or not self.field.replace(".", "").isalnum():
            raise ValueError(f"filter field {self.field!r} is not a OneRoster field name")
        # The grammar has no escape for a quote inside a value.
        if "'" in self.value:
            raise ValueError(f"filter value {self.value!r} for {self.field!r} contains a single quote")

    def render(self) -> str:
        return f"{self.field}{self.operator.value}'{self.value}'"


@dataclass(frozen=True, slots=True)
class Filter:
    """One predicate, or two joined by `logical`; OneRoster allows no more."""

    first: Predicate
    second: Predicate | None = None
    logical: Logical = Logical.AND

    def render(self) -> str:
        """The value of the `filter` query parameter (unencoded)."""
        if self.second is None:
            return self.first.render()
        return f"{self.first.render()} {self.logical.value} {self.second.render()}"

    def and_(self, other: Predicate) -> Filter:
        """This filter AND `other`; refuses a third predicate."""
        return self._join(other, Logical.AND)

    def or_(self, other: Predicate) -> Filter:
        """This filter OR `other`; refuses a third predicate."""
        return self._join(other, Logical.OR)

    def _join(self, other: Predicate, logical: Logical) -> Filter:
        if self.second is not None:
            raise ValueError(
                f"OneRoster filters take at most two predicates; {self.render()!r} has two already"
            )
        return Filter(self.first, other, logical)


def where(field: str, operator: Operator | str, value: str) -> Filter:
    """A one-predicate filter: `where("role", "=", "student")`."""
    return Filter(Predicate(field, Operator(operator), value))


def format_timestamp(moment: datetime) -> str:
    """`moment` in the ISO 8601 UTC form OneRoster servers compare `dateLastModified` with."""
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {moment!r} has no timezone")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def modified_since(moment: datetime) -> Filter:
    """The delta-pull filter `dateLastModified>'...'` (1.1 §3.4.2; 1.2 rostering §3.3.2)."""
    return where("dateLastModified", Operator.GT, format_timestamp(moment))


@dataclass(frozen=True, slots=True)
class Query:
    """Selection parameters of a collection read: `filter`, `fields`, `sort` and `orderBy`."""

    filter: Filter | None = None
    fields: tuple[str, ...] = ()
    sort: str | None = None
    order_by: str | None = None

    def params(self) -> dict[str, str]:
        found: dict[str, str] = {}
        if self.filter is not None:
            found["filter"] = self.filter.render()
        if self.fields:
            found["fields"] = ",".join(self.fields)
        if self.sort:
            found["sort"] = self.sort
        if self.order_by:
            if self.order_by not in ("asc", "desc"):
                raise ValueError(f"orderBy {self.order_by!r} is neither 'asc' nor 'desc'")
            found["orderBy"] = self.order_by
        return found


def encode_query(params: Mapping[str, str | int] | Iterable[tuple[str, str | int]]) -> str:
    """A query string encoded per RFC 3986 §2.3 (only unreserved characters left bare).

    OAuth 1.0a signs query parameters with this same encoding (RFC 5849 §3.6), so building the
    string here, rather than letting `requests` use `+` for spaces, keeps signatures verifiable.
    """
    pairs = params.items() if isinstance(params, Mapping) else params
    return "&".join(f"{quote(str(k), safe='-._~')}={quote(str(v), safe='-._~')}" for k, v in pairs)
