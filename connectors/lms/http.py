"""HTTP plumbing shared by the LTI Advantage clients: timeouts, User-Agent, bounded retries, error mapping."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests

from connectors.errors import (
    ConnectorAuthError,
    ConnectorError,
    ConnectorResponseError,
    ConnectorUnavailableError,
)
from connectors.http import RETRYABLE_STATUSES, parse_retry_after
from connectors.http import user_agent as user_agent

logger = logging.getLogger(__name__)

SYSTEM = "lti-advantage"
MAX_PAGES = 10_000

Sleep = Callable[[float], None]


def new_session() -> requests.Session:
    """A `requests.Session` with the mastery-bridge User-Agent; the caller closes it."""
    session = requests.Session()
    session.headers["User-Agent"] = user_agent()
    return session


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait before retrying a retryable failure."""

    max_retries: int = 3
    backoff_seconds: float = 0.5
    max_delay_seconds: float = 30.0

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait before retry number `attempt + 1`, honouring `Retry-After` (RFC 9110 §10.2.3)."""
        wanted: float = self.backoff_seconds * float(1 << attempt)
        if retry_after:
            parsed = parse_retry_after(retry_after)
            if parsed is not None:
                wanted = parsed
        return max(0.0, min(wanted, self.max_delay_seconds))


@dataclass(frozen=True, slots=True)
class Transport:
    """A configured session plus the timeout, retry policy and sleep every call uses."""

    session: requests.Session
    timeout: float = 10.0
    retry: RetryPolicy = RetryPolicy()
    sleep: Sleep = time.sleep
    system: str = SYSTEM

    def send(
        self,
        method: str,
        url: str,
        *,
        is_idempotent: bool,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request; retry 429 always, and network errors and 5xx only when `is_idempotent`.

        A 429 means the server refused the request before doing anything with it, so repeating it is
        safe even for a POST. The returned response may still carry an error status: see `check`.
        """
        retry_statuses = RETRYABLE_STATUSES if is_idempotent else frozenset({429})
        attempt = 0
        while True:
            try:
                response = self.session.request(
                    method, url, headers=dict(headers or {}), timeout=self.timeout, **kwargs
                )
            except requests.RequestException as exc:
                if is_idempotent and attempt < self.retry.max_retries:
                    logger.warning("%s %s failed (%s); retrying", method, url, type(exc).__name__)
                    self.sleep(self.retry.delay(attempt, None))
                    attempt += 1
                    continue
                raise ConnectorUnavailableError(
                    f"{method} failed: {type(exc).__name__}", system=self.system, url=url
                ) from exc
            if response.status_code in retry_statuses and attempt < self.retry.max_retries:
                delay = self.retry.delay(attempt, response.headers.get("Retry-After"))
                logger.warning(
                    "%s %s answered HTTP %s; retrying in %.2fs", method, url, response.status_code, delay
                )
                response.close()
                self.sleep(delay)
                attempt += 1
                continue
            return response

    def check(self, response: requests.Response) -> requests.Response:
        """Return `response` if it succeeded, else raise the matching `ConnectorError`.

        The body is not quoted in the message: platforms echo user ids and names in error bodies.
        """
        status = response.status_code
        if status < 400:
            return response
        url = response.request.url if response.request is not None else response.url
        error: type[ConnectorError]
        if status in (401, 403):
            error = ConnectorAuthError
        elif status == 429 or status >= 500:
            error = ConnectorUnavailableError
        else:
            error = ConnectorResponseError
        response.close()
        raise error(
            f"{response.request.method if response.request else 'request'} refused",
            system=self.system,
            url=url,
            status=status,
        )

    def parse_json(self, response: requests.Response) -> Any:
        """The decoded JSON body (non-integral numbers as `Decimal`), or `ConnectorResponseError`."""
        try:
            return response.json(parse_float=Decimal)
        except ValueError as exc:
            raise ConnectorResponseError(
                "response body is not JSON", system=self.system, url=response.url, status=response.status_code
            ) from exc


def next_page_urls(first_url: str, fetch: Callable[[str], requests.Response]) -> Iterator[requests.Response]:
    """Follow `Link: <...>; rel="next"` (RFC 8288) from `first_url`, yielding each page's response."""
    url: str | None = first_url
    seen: set[str] = set()
    while url is not None:
        if url in seen or len(seen) >= MAX_PAGES:
            raise ConnectorResponseError("pagination does not end", system=SYSTEM, url=url)
        seen.add(url)
        response = fetch(url)
        yield response
        url = response.links.get("next", {}).get("url")


def require_str(data: Mapping[str, Any], key: str, *, url: str) -> str:
    """`data[key]` as a non-empty string, or `ConnectorResponseError`."""
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ConnectorResponseError(f"field {key!r} missing or not a string", system=SYSTEM, url=url)
    return value


def optional_str(data: Mapping[str, Any], key: str, *, url: str) -> str | None:
    """`data[key]` as a string when present, `None` when absent or null."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConnectorResponseError(f"field {key!r} is not a string", system=SYSTEM, url=url)
    return value


def require_object(value: Any, what: str, *, url: str) -> dict[str, Any]:
    """`value` if it is a JSON object, else `ConnectorResponseError` naming `what`."""
    if not isinstance(value, dict):
        raise ConnectorResponseError(f"{what} is not a JSON object", system=SYSTEM, url=url)
    return value
