"""Reading a whole OneRoster collection with `limit`/`offset` paging (1.1 §3.4.1, 1.2 rostering §3.3.1).

Where to stop: follow `Link: <...>; rel="next"` when the server sends it; else stop once `offset` reaches
`X-Total-Count`; else stop at an empty page or a page shorter than the pages before it. The first page
alone never counts as short, because servers clamp `limit` to their own maximum without saying so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urljoin

from connectors.errors import ConnectorResponseError
from connectors.oneroster.filters import encode_query
from connectors.oneroster.http import Page, Transport

MAX_PAGES = 100_000


def page_items(page: Page, key: str, *, system: str) -> list[Any]:
    """The array under `key` (e.g. `users`); a missing key or `null` reads as an empty page."""
    body = page.body
    if isinstance(body, Mapping):
        items = body.get(key)
        if items is None:
            return []
        if isinstance(items, list):
            return items
    raise ConnectorResponseError(f"response has no {key!r} array", system=system, url=page.url)


def fetch_pages(
    transport: Transport, url: str, key: str, params: Mapping[str, str], *, limit: int
) -> Iterator[tuple[Page, list[Any]]]:
    """Every page of the collection at `url`, with the items under `key`."""
    if limit < 1:
        raise ValueError(f"page limit {limit} is below 1")
    offset = 0
    largest = 0
    page_url = f"{url}?{encode_query([*params.items(), ('limit', limit), ('offset', 0)])}"
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        if page_url in seen:
            raise ConnectorResponseError("paging revisits a page", system=transport.system, url=page_url)
        seen.add(page_url)
        page = transport.get_json(page_url)
        items = page_items(page, key, system=transport.system)
        yield page, items
        offset += len(items)
        if page.next_url:
            page_url = urljoin(page.url, page.next_url)
            continue
        if not items:
            return
        if page.total_count is not None:
            if offset >= page.total_count:
                return
        elif len(items) < largest:
            return
        largest = max(largest, len(items))
        page_url = f"{url}?{encode_query([*params.items(), ('limit', limit), ('offset', offset)])}"
    raise ConnectorResponseError("paging does not end", system=transport.system, url=url)
