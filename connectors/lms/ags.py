"""AGS 2.0 client: line items, scores and results."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from connectors.errors import ConnectorResponseError
from connectors.lms.http import SYSTEM, next_page_urls, optional_str, require_object, require_str
from connectors.lms.records import (
    MEDIA_TYPE_LINE_ITEM,
    MEDIA_TYPE_LINE_ITEM_CONTAINER,
    MEDIA_TYPE_RESULT_CONTAINER,
    MEDIA_TYPE_SCORE,
    SCOPE_AGS_LINE_ITEM,
    SCOPE_AGS_RESULT_READONLY,
    SCOPE_AGS_SCORE,
    LineItem,
    Result,
    Score,
)
from connectors.lms.service import ServiceClient

ONE_MILLISECOND = timedelta(milliseconds=1)


def service_url(line_item_url: str, suffix: str) -> str:
    """`line_item_url` with `/suffix` appended to its path, keeping any query (Moodle's `?type_id=`).

    AGS 2.0 §3.4: the score endpoint is the line item URL with `/scores` added to the path.
    """
    parts = urlsplit(line_item_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + suffix, fragment=""))


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 with milliseconds and offset, e.g. `2024-05-01T12:00:00.123+00:00` (AGS 2.0 §3.4.5)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def json_number(value: Decimal) -> int | float:
    """A `Decimal` as a JSON number; integral values stay exact integers."""
    return int(value) if value == value.to_integral_value() else float(value)


class AgsClient(ServiceClient):
    """Reads and writes line items and publishes scores (LTI Advantage AGS 2.0).

    Score posts are not retried on 5xx or network errors: a platform may have recorded the score
    before failing, and a blind retry would then be refused as stale (Moodle 409, Canvas 400) or
    double-counted by a platform that ignores timestamps. They are retried on 429 (not processed)
    and once on 401 with a fresh token. The caller's next sync resends with a newer timestamp.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_sent: dict[tuple[str, str], datetime] = {}
        self._last_sent_lock = threading.Lock()

    def list_line_items(
        self,
        line_items_url: str,
        *,
        resource_link_id: str | None = None,
        resource_id: str | None = None,
        tag: str | None = None,
    ) -> list[LineItem]:
        """Every line item in the container, following `rel="next"` links (AGS 2.0 §3.2.4)."""
        filters = {"resource_link_id": resource_link_id, "resource_id": resource_id, "tag": tag}
        params = {name: value for name, value in filters.items() if value is not None}
        items: list[LineItem] = []

        def fetch(url: str) -> requests.Response:
            # Filters go on the first request only; `next` links already carry them.
            return self._call(
                "GET",
                url,
                scopes=[SCOPE_AGS_LINE_ITEM],
                accept=MEDIA_TYPE_LINE_ITEM_CONTAINER,
                is_idempotent=True,
                params=params if url == line_items_url else None,
            )

        for response in next_page_urls(line_items_url, fetch):
            page = self.transport.parse_json(response)
            if not isinstance(page, list):
                raise ConnectorResponseError(
                    "line item container is not a list", system=SYSTEM, url=response.url
                )
            items.extend(_parse_line_item(raw, url=response.url) for raw in page)
        return items

    def get_line_item(self, line_item_url: str) -> LineItem:
        """One line item by its URL."""
        response = self._call(
            "GET",
            line_item_url,
            scopes=[SCOPE_AGS_LINE_ITEM],
            accept=MEDIA_TYPE_LINE_ITEM,
            is_idempotent=True,
        )
        return _parse_line_item(self.transport.parse_json(response), url=line_item_url)

    def create_line_item(self, line_items_url: str, line_item: LineItem) -> LineItem:
        """POST a new line item and return it with the `id` the platform gave it (AGS 2.0 §3.2.5).

        The body never carries an `id`: Schoology rejects a POST that has one.
        """
        body: dict[str, Any] = {
            "label": line_item.label,
            "scoreMaximum": json_number(line_item.score_maximum),
        }
        optional = {
            "resourceLinkId": line_item.resource_link_id,
            "resourceId": line_item.resource_id,
            "tag": line_item.tag,
        }
        body.update({name: value for name, value in optional.items() if value is not None})
        response = self._call(
            "POST",
            line_items_url,
            scopes=[SCOPE_AGS_LINE_ITEM],
            accept=MEDIA_TYPE_LINE_ITEM,
            content_type=MEDIA_TYPE_LINE_ITEM,
            is_idempotent=False,
            body=body,
        )
        return _parse_line_item(self.transport.parse_json(response), url=line_items_url)

    def post_score(self, line_item_url: str, score: Score) -> Score:
        """Publish `score` to `{line_item}/scores`; return it with the timestamp actually sent.

        AGS 2.0 §3.4: a platform must ignore a score whose timestamp is not newer than the last one it
        accepted, so timestamps sent per (line item, user) are kept strictly increasing here.
        """
        timestamp = self._next_timestamp(line_item_url, score.user_id, score.timestamp)
        body: dict[str, Any] = {
            "userId": score.user_id,
            "scoreMaximum": json_number(score.score_maximum),
            "activityProgress": score.activity_progress,
            "gradingProgress": score.grading_progress,
            "timestamp": format_timestamp(timestamp),
        }
        if score.score_given is not None:
            body["scoreGiven"] = json_number(score.score_given)
        if score.comment is not None:
            body["comment"] = score.comment
        for name, value in (score.extensions or {}).items():
            body.setdefault(name, value)
        response = self._call(
            "POST",
            service_url(line_item_url, "scores"),
            scopes=[SCOPE_AGS_SCORE],
            accept="application/json",
            content_type=MEDIA_TYPE_SCORE,
            is_idempotent=False,
            body=body,
        )
        response.close()
        return Score(
            user_id=score.user_id,
            score_maximum=score.score_maximum,
            timestamp=timestamp,
            score_given=score.score_given,
            activity_progress=score.activity_progress,
            grading_progress=score.grading_progress,
            comment=score.comment,
        )

    def list_results(self, line_item_url: str, *, user_id: str | None = None) -> list[Result]:
        """The results recorded for a line item (AGS 2.0 §3.3), optionally for one user."""
        results: list[Result] = []
        params = {"user_id": user_id} if user_id is not None else None
        first_url = service_url(line_item_url, "results")

        def fetch(url: str) -> requests.Response:
            return self._call(
                "GET",
                url,
                scopes=[SCOPE_AGS_RESULT_READONLY],
                accept=MEDIA_TYPE_RESULT_CONTAINER,
                is_idempotent=True,
                params=params if url == first_url else None,
            )

        for response in next_page_urls(first_url, fetch):
            page = self.transport.parse_json(response)
            if not isinstance(page, list):
                raise ConnectorResponseError(
                    "result container is not a list", system=SYSTEM, url=response.url
                )
            results.extend(_parse_result(raw, url=response.url) for raw in page)
        return results

    def _next_timestamp(self, line_item_url: str, user_id: str, wanted: datetime) -> datetime:
        moment = wanted.astimezone(UTC)
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)  # what is sent
        key = (line_item_url, user_id)
        with self._last_sent_lock:
            last = self._last_sent.get(key)
            if last is not None and moment <= last:
                moment = last + ONE_MILLISECOND
            self._last_sent[key] = moment
        return moment


def _decimal(value: object, field: str, *, url: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise ConnectorResponseError(f"field {field!r} is not a number", system=SYSTEM, url=url)
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise ConnectorResponseError(f"field {field!r} is not a number", system=SYSTEM, url=url) from exc


def _parse_line_item(raw: object, *, url: str) -> LineItem:
    data = require_object(raw, "line item", url=url)
    return LineItem(
        id=require_str(data, "id", url=url),
        label=require_str(data, "label", url=url),
        score_maximum=_decimal(data.get("scoreMaximum"), "scoreMaximum", url=url),
        resource_link_id=optional_str(data, "resourceLinkId", url=url),
        resource_id=optional_str(data, "resourceId", url=url),
        tag=optional_str(data, "tag", url=url),
    )


def _parse_result(raw: object, *, url: str) -> Result:
    data = require_object(raw, "result", url=url)
    score = data.get("resultScore")
    maximum = data.get("resultMaximum")
    return Result(
        id=require_str(data, "id", url=url),
        user_id=require_str(data, "userId", url=url),
        score_of=require_str(data, "scoreOf", url=url),
        result_score=None if score is None else _decimal(score, "resultScore", url=url),
        result_maximum=None if maximum is None else _decimal(maximum, "resultMaximum", url=url),
        comment=optional_str(data, "comment", url=url),
    )
