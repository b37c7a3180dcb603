"""HTTP plumbing for OneRoster: a timeout on every call, retries with backoff and jitter, typed errors.

GET and PUT are both idempotent (RFC 9110 §9.2.2): a OneRoster PUT names the record by its sourcedId and
replaces it whole, so repeating one after a timeout or a 5xx has the same effect as sending it once.
Both are retried on network errors, 429 and 5xx, honouring `Retry-After`.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

from connectors.errors import (
    ConnectorAuthError,
    ConnectorError,
    ConnectorResponseError,
    ConnectorUnavailableError,
)
from connectors.http import RETRYABLE_STATUSES as RETRYABLE_STATUSES
from connectors.http import parse_retry_after as parse_retry_after
from connectors.http import tune_session
from connectors.http import user_agent as user_agent
from connectors.oneroster.status import StatusInfo, parse_status_info

logger = logging.getLogger(__name__)

SYSTEM = "oneroster"

Sleep = Callable[[float], None]
# Given the status, what the error body said and the URL, a more specific error, or None for the default.
ErrorRefiner = Callable[[int, StatusInfo, str], "ConnectorError | None"]


class Authenticator(Protocol):
    """Signs or authorizes requests to one district's SIS."""

    def auth(self, session: requests.Session) -> requests.auth.AuthBase:
        """The `requests` auth for the next call (fetching or renewing a token first if needed)."""
        ...

    def invalidate(self) -> None:
        """Forget any cached token; called once after a 401."""
        ...


def new_session(*, pool_size: int = 10) -> requests.Session:
    """A `requests.Session` with the mastery-bridge User-Agent and JSON Accept, keeping up to `pool_size`
    connections per host alive (one per sending thread; `connectors.http.tune_session`); the caller closes it."""
    session = tune_session(requests.Session(), pool_size=pool_size)
    session.headers["User-Agent"] = user_agent()
    session.headers["Accept"] = "application/json"
    return session


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries: exponential backoff with full jitter, overridden by `Retry-After`."""

    max_retries: int = 4
    backoff_seconds: float = 0.5
    max_delay_seconds: float = 60.0

    def delay(self, attempt: int, retry_after: str | None, rng: random.Random) -> float:
        """Seconds before retry `attempt + 1` (RFC 9110 §10.2.3 for `Retry-After`)."""
        if retry_after:
            parsed = parse_retry_after(retry_after)
            if parsed is not None:
                return max(0.0, min(parsed, self.max_delay_seconds))
        ceiling = min(self.backoff_seconds * float(1 << attempt), self.max_delay_seconds)
        return rng.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True, slots=True)
class Page:
    """One decoded JSON response: the body, the response headers and `Link` relations, the final URL."""

    url: str
    body: Any
    total_count: int | None
    next_url: str | None


@dataclass(frozen=True, slots=True)
class Written:
    """The answer to a PUT: final URL, status (200 updated, 201 created, ...) and the decoded body, if any."""

    url: str
    status: int
    body: Any


@dataclass(slots=True)
class Transport:
    """A configured session and authenticator plus the timeout, retry policy and sleep every call uses."""

    session: requests.Session
    authenticator: Authenticator
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleep = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    system: str = SYSTEM

    def get_json(self, url: str) -> Page:
        """GET `url` (reads are idempotent, so network errors, 429 and 5xx are retried), decoded."""
        response = self._send("GET", url)
        try:
            body = response.json()
        except ValueError as exc:
            raise ConnectorResponseError(
                "response body is not JSON", system=self.system, url=url, status=response.status_code
            ) from exc
        total = response.headers.get("X-Total-Count", "").strip()
        return Page(
            url=url,
            body=body,
            total_count=int(total) if total.isdigit() else None,
            next_url=response.links.get("next", {}).get("url"),
        )

    def put_json(self, url: str, body: Mapping[str, Any], *, refine: ErrorRefiner | None = None) -> Written:
        """PUT `body` as JSON to `url`, retried like a GET (a PUT by sourcedId is idempotent).

        `refine` may turn a refusal into a more specific error (e.g. a closed grading window).
        """
        data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        response = self._send(
            "PUT", url, data=data, headers={"Content-Type": "application/json"}, refine=refine
        )
        decoded: Any = None
        if response.content:
            try:
                decoded = response.json()
            except ValueError:
                decoded = None  # a success needs no body; some servers echo HTML or plain text
        status = response.status_code
        response.close()
        return Written(url=url, status=status, body=decoded)

    def _send(
        self,
        method: str,
        url: str,
        *,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        refine: ErrorRefiner | None = None,
    ) -> requests.Response:
        attempt = 0
        has_reauthorized = False
        while True:
            try:
                response = self.session.request(
                    method,
                    url,
                    data=data,
                    headers=dict(headers or {}),
                    auth=self.authenticator.auth(self.session),
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                if attempt < self.retry.max_retries:
                    delay = self.retry.delay(attempt, None, self.rng)
                    logger.warning(
                        "%s %s failed (%s); retrying in %.2fs", method, url, type(exc).__name__, delay
                    )
                    self.sleep(delay)
                    attempt += 1
                    continue
                raise ConnectorUnavailableError(
                    f"{method} failed after {attempt + 1} attempts: {type(exc).__name__}",
                    system=self.system,
                    url=url,
                ) from exc
            status = response.status_code
            if status == 401 and not has_reauthorized:
                # A token can be revoked or expire early; fetch a fresh one once.
                has_reauthorized = True
                self.authenticator.invalidate()
                continue
            if status in RETRYABLE_STATUSES and attempt < self.retry.max_retries:
                delay = self.retry.delay(attempt, response.headers.get("Retry-After"), self.rng)
                logger.warning("%s %s answered HTTP %s; retrying in %.2fs", method, url, status, delay)
                response.close()
                self.sleep(delay)
                attempt += 1
                continue
            if status >= 400:
                raise self._error(method, url, response, refine)
            return response

    def _error(
        self, method: str, url: str, response: requests.Response, refine: ErrorRefiner | None = None
    ) -> ConnectorError:
        status = response.status_code
        info = parse_status_info(response.content)
        if refine is not None:
            refined = refine(status, info, url)
            if refined is not None:
                response.close()
                return refined
        error: type[ConnectorError]
        if status in (401, 403):
            error = ConnectorAuthError
        elif status in RETRYABLE_STATUSES or status >= 500:
            error = ConnectorUnavailableError
        else:
            error = ConnectorResponseError
        said = info.summary()
        response.close()
        return error(
            f"{method} refused" + (f": {said}" if said else ""), system=self.system, url=url, status=status
        )
