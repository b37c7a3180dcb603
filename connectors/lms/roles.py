"""The roles an LMS plays for mastery-bridge, as protocols the real clients and the fakes both satisfy."""

from __future__ import annotations

from typing import Protocol

from connectors.lms.records import LineItem, Member, Score


class MembershipSource(Protocol):
    """Something that lists the members of a context (NRPS 2.0)."""

    def fetch_members(self, memberships_url: str) -> list[Member]:
        """Every member of the context at `memberships_url`."""
        ...


class LineItemStore(Protocol):
    """Something that holds gradebook columns (AGS 2.0 line items)."""

    def list_line_items(
        self,
        line_items_url: str,
        *,
        resource_link_id: str | None = None,
        resource_id: str | None = None,
        tag: str | None = None,
    ) -> list[LineItem]:
        """The line items in the container, optionally filtered."""
        ...

    def create_line_item(self, line_items_url: str, line_item: LineItem) -> LineItem:
        """Create a line item and return it with its `id`."""
        ...


class ScoreSink(Protocol):
    """Something that accepts scores for a line item (AGS 2.0 score service)."""

    def post_score(self, line_item_url: str, score: Score) -> Score:
        """Publish `score`; return it with the timestamp actually sent."""
        ...
