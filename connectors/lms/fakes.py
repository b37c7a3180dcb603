"""In-memory fakes of the LMS roles, for tests and the demo; they enforce the same rules as real platforms."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime

from connectors.errors import ConnectorResponseError
from connectors.lms.ags import ONE_MILLISECOND
from connectors.lms.records import LineItem, Member, Score

SYSTEM = "fake-lms"


class FakeMembershipSource:
    """A `MembershipSource` answering from a dict of memberships URL -> members."""

    def __init__(self, members_by_url: dict[str, list[Member]] | None = None) -> None:
        self.members_by_url = dict(members_by_url or {})

    def fetch_members(self, memberships_url: str) -> list[Member]:
        """The members registered for `memberships_url`; unknown URLs answer 404 like a platform."""
        try:
            return list(self.members_by_url[memberships_url])
        except KeyError:
            raise ConnectorResponseError(
                "unknown memberships URL", system=SYSTEM, url=memberships_url, status=404
            ) from None


class FakeGradeBook:
    """A `LineItemStore` and `ScoreSink` in memory; keeps timestamps strictly increasing like `AgsClient`.

    `received` lists every accepted (line item URL, score) in order, for assertions.
    """

    def __init__(self, base_url: str = "https://lms.invalid/lineitems") -> None:
        self._base_url = base_url.rstrip("/")
        self._lock = threading.Lock()
        self._items: dict[str, tuple[str, LineItem]] = {}
        self._last: dict[tuple[str, str], datetime] = {}
        self.received: list[tuple[str, Score]] = []

    def list_line_items(
        self,
        line_items_url: str,
        *,
        resource_link_id: str | None = None,
        resource_id: str | None = None,
        tag: str | None = None,
    ) -> list[LineItem]:
        """The line items created in `line_items_url`, filtered like AGS 2.0 §3.2.4."""
        with self._lock:
            items = [item for container, item in self._items.values() if container == line_items_url]
        return [
            item
            for item in items
            if (resource_link_id is None or item.resource_link_id == resource_link_id)
            and (resource_id is None or item.resource_id == resource_id)
            and (tag is None or item.tag == tag)
        ]

    def create_line_item(self, line_items_url: str, line_item: LineItem) -> LineItem:
        """Store `line_item` under a new id URL; an `id` in the request is refused like Schoology does."""
        if line_item.id is not None:
            raise ConnectorResponseError(
                "line item POST carries an id", system=SYSTEM, url=line_items_url, status=400
            )
        with self._lock:
            item_id = f"{self._base_url}/{len(self._items) + 1}"
            created = replace(line_item, id=item_id)
            self._items[item_id] = (line_items_url, created)
        return created

    def post_score(self, line_item_url: str, score: Score) -> Score:
        """Record `score`, bumping a non-increasing timestamp by 1 ms like `AgsClient`."""
        with self._lock:
            if line_item_url not in self._items:
                raise ConnectorResponseError(
                    "unknown line item", system=SYSTEM, url=line_item_url, status=404
                )
            key = (line_item_url, score.user_id)
            moment = score.timestamp.astimezone(UTC)
            moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
            last = self._last.get(key)
            if last is not None and moment <= last:
                moment = last + ONE_MILLISECOND
            self._last[key] = moment
            sent = replace(score, timestamp=moment)
            self.received.append((line_item_url, sent))
        return sent
