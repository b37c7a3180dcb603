"""Platform public keys (1EdTech Security Framework §6.3): fetched over HTTP, cached by Cache-Control.

One cache per process, keyed by the registration's key_set_url. An unknown `kid` forces one refetch, so a
platform's key rotation is picked up without waiting for max-age to run out.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from lti_tool.errors import LaunchError

DEFAULT_MAX_AGE_SECONDS = 300
MAX_MAX_AGE_SECONDS = 24 * 3600
FETCH_TIMEOUT_SECONDS = (3.05, 5.0)
USER_AGENT = "mastery-bridge/0.1 (+LTI 1.3 tool; platform JWKS fetch)"
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _CachedKeySet:
    keys: dict[str, dict[str, Any]]  # kid -> JWK
    expires_at: float


def cache_lifetime(cache_control: str | None) -> int:
    """Seconds a JWKS response may be reused: its max-age (capped at a day), 0 for no-store/no-cache."""
    if not cache_control:
        return DEFAULT_MAX_AGE_SECONDS
    directives = cache_control.lower()
    if "no-store" in directives or "no-cache" in directives:
        return 0
    match = _MAX_AGE.search(cache_control)
    if match is None:
        return DEFAULT_MAX_AGE_SECONDS
    return min(int(match.group(1)), MAX_MAX_AGE_SECONDS)


class PlatformKeyCache:
    """Thread-safe in-process cache of platform JWK sets; `key_for` is the one entry point."""

    def __init__(
        self,
        http: requests.Session | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http or requests.Session()
        self._http.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _CachedKeySet] = {}
        self._url_locks: dict[str, threading.Lock] = {}

    def key_for(self, key_set_url: str, kid: str) -> dict[str, Any]:
        """The JWK with `kid` at `key_set_url`; refetch once if it is not cached; LaunchError if absent."""
        entry = self._fresh_entry(key_set_url)
        if entry is None or kid not in entry.keys:
            entry = self._refresh(key_set_url, stale=entry)
        key = entry.keys.get(kid)
        if key is None:
            raise LaunchError(
                f"unknown kid {kid!r}: not in the platform JWKS at {key_set_url} after a refetch"
            )
        return key

    def _fresh_entry(self, url: str) -> _CachedKeySet | None:
        with self._lock:
            entry = self._entries.get(url)
        if entry is None or entry.expires_at <= self._clock():
            return None
        return entry

    def _refresh(self, url: str, *, stale: _CachedKeySet | None) -> _CachedKeySet:
        with self._lock:
            url_lock = self._url_locks.setdefault(url, threading.Lock())
        with url_lock:
            # Another thread may have fetched while this one waited for the lock.
            with self._lock:
                current = self._entries.get(url)
            if current is not None and current is not stale and current.expires_at > self._clock():
                return current
            entry = self._fetch(url)
            with self._lock:
                self._entries[url] = entry
            return entry

    def _fetch(self, url: str) -> _CachedKeySet:
        try:
            response = self._http.get(url, timeout=FETCH_TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            raise LaunchError(
                f"platform JWKS at {url} unreachable ({type(exc).__name__})", status=503
            ) from exc
        if response.status_code != 200:
            raise LaunchError(f"platform JWKS at {url} answered HTTP {response.status_code}", status=503)
        try:
            document = response.json()
        except ValueError as exc:
            raise LaunchError(f"platform JWKS at {url} is not JSON", status=503) from exc
        raw_keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(raw_keys, list):
            raise LaunchError(f"platform JWKS at {url} has no keys list", status=503)
        keys = {
            key["kid"]: key
            for key in raw_keys
            if isinstance(key, dict) and isinstance(key.get("kid"), str) and key.get("use", "sig") == "sig"
        }
        lifetime = cache_lifetime(response.headers.get("Cache-Control"))
        return _CachedKeySet(keys=keys, expires_at=self._clock() + lifetime)
