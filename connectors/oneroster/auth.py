"""Authenticators for OneRoster: OAuth 2 client credentials (1.2, and 1.1 at some vendors) and OAuth 1.0a (1.1).

This is the one import site of authlib in this package; authlib ships no type information, so it is fenced here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import requests
from authlib.common.errors import AuthlibBaseError  # type: ignore[import-untyped]
from authlib.integrations.requests_client import (  # type: ignore[import-untyped]
    OAuth1Auth,
    OAuth2Session,
)
from authlib.oauth1.rfc5849.signature import generate_signature_base_string  # type: ignore[import-untyped]
from authlib.oauth1.rfc5849.util import escape  # type: ignore[import-untyped]

from connectors.errors import ConnectorAuthError, ConnectorUnavailableError

SYSTEM = "oneroster"


class TokenEndpointAuthMethod(StrEnum):
    """How the client authenticates at the token endpoint (RFC 6749 §2.3.1)."""

    CLIENT_SECRET_BASIC = "client_secret_basic"  # noqa: S105 - a method name, not a secret
    CLIENT_SECRET_POST = "client_secret_post"  # noqa: S105 - a method name, not a secret


class SignatureMethod(StrEnum):
    """OAuth 1.0a signature methods OneRoster 1.1 servers use (1.1 §7.1 names HMAC-SHA256; many want SHA1)."""

    HMAC_SHA1 = "HMAC-SHA1"
    HMAC_SHA256 = "HMAC-SHA256"


class _BearerAuth(requests.auth.AuthBase):
    def __init__(self, access_token: str) -> None:
        self.access_token = access_token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.access_token}"
        return request


@dataclass(slots=True)
class OAuth2ClientCredentials:
    """OAuth 2 client credentials grant (1EdTech Security Framework §4.1); the token cached until near expiry.

    `scopes` are sent verbatim because some vendors prefix the 1EdTech scope URIs. Cookies the token
    endpoint sets (load-balancer affinity at Aeries and others) are copied into the API session so they
    accompany every call made with that token.
    """

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] = ()
    auth_method: TokenEndpointAuthMethod = TokenEndpointAuthMethod.CLIENT_SECRET_BASIC
    timeout: float = 30.0
    leeway_seconds: float = 60.0
    clock: Callable[[], float] = time.time
    _access_token: str | None = field(default=None, init=False, repr=False)
    _expires_at: float = field(default=0.0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def auth(self, session: requests.Session) -> requests.auth.AuthBase:
        """Bearer auth with a cached token, fetching a new one when none is held or it is about to expire.

        Safe to share between threads: when the token is due, one thread fetches it and the others wait
        for that one, so a pool of senders makes one token request per token lifetime.
        """
        access_token = self._access_token
        if access_token is None or self.clock() >= self._expires_at:
            with self._lock:
                access_token = self._access_token
                if access_token is None or self.clock() >= self._expires_at:
                    access_token = self._fetch(session)
        return _BearerAuth(access_token)

    def invalidate(self) -> None:
        """Drop the cached token."""
        with self._lock:
            self._access_token = None

    def _fetch(self, session: requests.Session) -> str:
        oauth = OAuth2Session(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method=self.auth_method.value,
            scope=" ".join(self.scopes) or None,
        )
        oauth.headers["User-Agent"] = session.headers.get("User-Agent", "mastery-bridge")
        try:
            token: dict[str, Any] = oauth.fetch_token(
                self.token_url, grant_type="client_credentials", timeout=self.timeout
            )
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            unavailable = status is not None and (status == 429 or status >= 500)
            error = ConnectorUnavailableError if unavailable else ConnectorAuthError
            raise error("token endpoint refused", system=SYSTEM, url=self.token_url, status=status) from exc
        except requests.RequestException as exc:
            raise ConnectorUnavailableError(
                f"token request failed: {type(exc).__name__}", system=SYSTEM, url=self.token_url
            ) from exc
        except (AuthlibBaseError, ValueError) as exc:
            raise ConnectorAuthError(f"token refused: {exc}", system=SYSTEM, url=self.token_url) from exc
        finally:
            session.cookies.update(oauth.cookies)
            oauth.close()
        access_token = token.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise ConnectorAuthError("token response has no access_token", system=SYSTEM, url=self.token_url)
        expires_in = token.get("expires_in")
        lifetime = (
            float(expires_in)
            if isinstance(expires_in, int | float | str) and str(expires_in).isdigit()
            else 3600.0
        )
        # Renew before expiry, but never hold a short-lived token for less than half its life.
        self._expires_at = self.clock() + max(lifetime - self.leeway_seconds, lifetime / 2)
        self._access_token = access_token
        return access_token


def _sign_hmac_sha256(client: Any, request: Any) -> str:
    """HMAC-SHA256 over the RFC 5849 §3.4.1 base string, keyed as §3.4.2 keys HMAC-SHA1."""
    base_string = generate_signature_base_string(request)
    key = f"{escape(client.client_secret or '')}&{escape(client.token_secret or '')}"
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class _OAuth1Auth(OAuth1Auth):  # type: ignore[misc]
    # A copy, so registering HMAC-SHA256 does not change authlib's class for every other user.
    SIGNATURE_METHODS: ClassVar[dict[str, Callable[[Any, Any], str]]] = dict(OAuth1Auth.SIGNATURE_METHODS)


_OAuth1Auth.register_signature_method(SignatureMethod.HMAC_SHA256.value, _sign_hmac_sha256)


@dataclass(slots=True)
class OAuth1Signature:
    """OAuth 1.0a one-legged signing (OneRoster 1.1 §7.1): consumer key and secret, no token."""

    client_id: str
    client_secret: str = field(repr=False)
    signature_method: SignatureMethod = SignatureMethod.HMAC_SHA256

    def auth(self, session: requests.Session) -> requests.auth.AuthBase:
        """A signer for one request (a fresh nonce and timestamp each time)."""
        signer: requests.auth.AuthBase = _OAuth1Auth(
            self.client_id, self.client_secret, signature_method=self.signature_method.value
        )
        return signer

    def invalidate(self) -> None:
        """Nothing is cached."""
