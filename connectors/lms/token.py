"""LTI Advantage access tokens: client_credentials grant with a signed JWT assertion, cached per scope set."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from connectors.errors import ConnectorAuthError, ConnectorResponseError
from connectors.lms.http import Transport, require_object
from connectors.lms.records import PlatformCredentials

logger = logging.getLogger(__name__)

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 300

Clock = Callable[[], float]
CacheKey = tuple[str, str, frozenset[str]]


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A bearer token, the scopes the platform granted and when (on the client's clock) it stops being used."""

    value: str
    scopes: frozenset[str]
    expires_at: float


class TokenClient:
    """Obtains and caches LTI Advantage access tokens (Security Framework §4.1, RFC 7523 §2.2).

    Tokens are cached per (issuer, client_id, scope set) until `expires_in` minus a safety margin,
    so a thousand score posts cost one token request. Thread-safe: concurrent callers for the same
    key wait for a single token request instead of each making one.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        safety_margin_seconds: float = 60.0,
    ) -> None:
        self._transport = transport
        self._clock = clock
        self._wall_clock = wall_clock
        self._safety_margin = safety_margin_seconds
        self._cache: dict[CacheKey, AccessToken] = {}
        self._locks: dict[CacheKey, threading.Lock] = {}
        self._guard = threading.Lock()
        self.token_requests = 0

    def get_token(self, credentials: PlatformCredentials, scopes: Iterable[str]) -> AccessToken:
        """A valid token for `scopes`, from the cache when possible."""
        key = (credentials.issuer, credentials.client_id, frozenset(scopes))
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            cached = self._cache.get(key)
            if cached is not None and cached.expires_at > self._clock():
                return cached
            token = self._request_token(credentials, key[2])
            self._cache[key] = token
            return token

    def invalidate(self, credentials: PlatformCredentials, token: AccessToken) -> None:
        """Forget `token` (the platform refused it), so the next call fetches a fresh one."""
        key = (credentials.issuer, credentials.client_id, token.scopes)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if self._cache.get(key) == token:
                del self._cache[key]

    def build_client_assertion(self, credentials: PlatformCredentials) -> str:
        """A signed RS256 client assertion: iss = sub = client_id, aud = token URL, unique jti."""
        try:
            key = RSAKey.import_key(credentials.private_key_pem, {"kid": credentials.key_id})
        except (JoseError, ValueError, TypeError) as exc:
            raise ConnectorAuthError(
                "tool private key cannot be loaded", system=self._transport.system, url=credentials.token_url
            ) from exc
        now = int(self._wall_clock())
        claims = {
            "iss": credentials.client_id,
            "sub": credentials.client_id,
            "aud": credentials.assertion_audience,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode({"alg": "RS256", "kid": credentials.key_id, "typ": "JWT"}, claims, key)

    def _request_token(self, credentials: PlatformCredentials, scopes: frozenset[str]) -> AccessToken:
        url = credentials.token_url
        system = self._transport.system
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": self.build_client_assertion(credentials),
            "scope": " ".join(sorted(scopes)),
        }
        started = self._clock()
        self.token_requests += 1
        # A token request has no side effect worth protecting, so it is retried like a GET.
        response = self._transport.send("POST", url, is_idempotent=True, data=form)
        if response.status_code in (400, 401, 403):
            response.close()
            raise ConnectorAuthError(
                "token request refused", system=system, url=url, status=response.status_code
            )
        self._transport.check(response)
        body = require_object(self._transport.parse_json(response), "token response", url=url)
        value = body.get("access_token")
        expires_in = body.get("expires_in", 3600)
        if not isinstance(value, str) or not value:
            raise ConnectorResponseError("token response has no access_token", system=system, url=url)
        if not isinstance(expires_in, int | float) or isinstance(expires_in, bool) or expires_in <= 0:
            raise ConnectorResponseError(
                f"token expires_in is invalid: {expires_in!r}", system=system, url=url
            )
        # Short-lived tokens keep half their life instead of a margin longer than the life itself.
        margin = min(self._safety_margin, expires_in / 2)
        logger.info("obtained access token from %s for %d scope(s)", url, len(scopes))
        return AccessToken(value=value, scopes=scopes, expires_at=started + expires_in - margin)
