"""Connector clients for a stored SIS connection: authenticator, transport, rostering and gradebook clients.

Least privilege: a roster pull asks only for the roster scopes (plus demographics when switched on) and a
grade push only for the gradebook scopes, so a missing grant stops only the job that needs it.
Configured scopes are sorted into those purposes by the 1EdTech scope name each carries, whatever
prefix the vendor puts in front.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests

from connectors.oneroster.auth import (
    OAuth1Signature,
    OAuth2ClientCredentials,
    SignatureMethod,
    TokenEndpointAuthMethod,
)
from connectors.oneroster.client import (
    GRADEBOOK_PATH_V1P2,
    ROSTERING_PATH_V1P1,
    ROSTERING_PATH_V1P2,
    OneRosterClient,
    OneRosterEndpoint,
)
from connectors.oneroster.http import Authenticator, RetryPolicy, Transport, new_session
from connectors.oneroster.profiles import VendorProfile
from connectors.oneroster.records import OneRosterVersion as ConnectorVersion
from lti_tool.crypto import decrypt_secret
from lti_tool.models import OneRosterVersion, SisAuth, SisConnection
from lti_tool.sis.connection_rules import SisConnectionError, connection_options, validate_profile

if TYPE_CHECKING:
    from connectors.oneroster.gradebook import OneRosterGradebookClient
    from lti_tool.settings import Settings


@dataclass(frozen=True, slots=True)
class ScopeSets:
    """The scopes to request for each purpose: least privilege, so a missing grant fails only its job."""

    roster: tuple[str, ...]
    gradebook: tuple[str, ...]
    demographics: tuple[str, ...]

    def for_roster(self, *, include_demographics: bool) -> tuple[str, ...]:
        """What a roster pull asks for."""
        return tuple(dict.fromkeys(self.roster + (self.demographics if include_demographics else ())))


def connection_secret(connection: SisConnection, secret_key: Settings | str) -> str:
    """The decrypted client secret; for building an authenticator only, never for display or logs."""
    return decrypt_secret(secret_key, connection.secret_encrypted).decode("utf-8")


# -- URLs and scopes ------------------------------------------------------------------------------------------


def rostering_url(connection: SisConnection) -> str:
    """The rostering service URL: base URL + the version's standard path (1.1 §3.1, 1.2 rostering §3.1)."""
    path = ROSTERING_PATH_V1P1 if connection.version is OneRosterVersion.V1_1 else ROSTERING_PATH_V1P2
    return connection.base_url.rstrip("/") + path


def gradebook_url(connection: SisConnection) -> str:
    """The gradebook service URL (1.1 serves it under the rostering path; 1.2 has its own)."""
    if connection.version is OneRosterVersion.V1_1:
        return rostering_url(connection)
    return connection.base_url.rstrip("/") + GRADEBOOK_PATH_V1P2


def _purpose(scope: str) -> str:
    lowered = scope.lower()
    if "gradebook" in lowered:
        return "gradebook"
    if "demographics" in lowered:
        return "demographics"
    return "roster"


def scope_sets(connection: SisConnection, profile: VendorProfile | None = None) -> ScopeSets:
    """The scopes each job asks for: configured ones sorted by the 1EdTech name they carry, else the profile's."""
    vendor = profile or validate_profile(connection.profile)
    configured = tuple(connection.scopes.split())
    if not configured:
        return ScopeSets(
            roster=vendor.scopes(roster=True),
            gradebook=vendor.scopes(roster=False, gradebook=True),
            demographics=vendor.scopes(roster=False, demographics=True),
        )
    by_purpose: dict[str, list[str]] = {"roster": [], "gradebook": [], "demographics": []}
    for scope in configured:
        by_purpose[_purpose(scope)].append(scope)
    return ScopeSets(
        roster=tuple(by_purpose["roster"]),
        gradebook=tuple(by_purpose["gradebook"]),
        demographics=tuple(by_purpose["demographics"]),
    )


def token_auth_method(connection: SisConnection, profile: VendorProfile) -> TokenEndpointAuthMethod:
    """client_secret_basic or client_secret_post: the connection's choice, else the profile's."""
    return connection_options(connection).token_auth_method or profile.token_auth_method


def signature_method(connection: SisConnection, profile: VendorProfile) -> SignatureMethod:
    """The OAuth 1.0a signature method: the connection's choice, else the profile's, else HMAC-SHA256."""
    return (
        connection_options(connection).signature_method
        or profile.oauth1_signature
        or SignatureMethod.HMAC_SHA256
    )


def page_size(connection: SisConnection, profile: VendorProfile) -> int:
    """The page size to ask for: the connection's, else the vendor's maximum."""
    return connection_options(connection).page_size or profile.max_page_size


# -- clients --------------------------------------------------------------------------------------------------


def build_authenticator(
    connection: SisConnection,
    *,
    secret_key: Settings | str,
    scopes: Sequence[str],
    profile: VendorProfile | None = None,
) -> Authenticator:
    """OAuth 2 client credentials with `scopes` (token cookies replayed), or OAuth 1.0a signing."""
    vendor = profile or validate_profile(connection.profile)
    options = connection_options(connection)
    secret = connection_secret(connection, secret_key)
    if connection.auth is SisAuth.OAUTH1:
        return OAuth1Signature(
            connection.client_id, secret, signature_method=signature_method(connection, vendor)
        )
    if not options.token_url:
        raise SisConnectionError(f"SIS connection {connection.name!r} has no token_url", field="token_url")
    return OAuth2ClientCredentials(
        token_url=options.token_url,
        client_id=connection.client_id,
        client_secret=secret,
        scopes=tuple(scopes),
        auth_method=token_auth_method(connection, vendor),
        timeout=options.timeout_seconds,
    )


def build_transport(
    connection: SisConnection,
    *,
    secret_key: Settings | str,
    scopes: Sequence[str],
    http: requests.Session | None = None,
    retry: RetryPolicy | None = None,
    profile: VendorProfile | None = None,
) -> Transport:
    """A Transport with the connection's authenticator and timeout; the caller closes `transport.session`."""
    options = connection_options(connection)
    return Transport(
        session=http or new_session(),
        authenticator=build_authenticator(connection, secret_key=secret_key, scopes=scopes, profile=profile),
        timeout=options.timeout_seconds,
        retry=retry or RetryPolicy(),
        system=f"oneroster:{connection.name}",
    )


def _secret_key(secret_key: Settings | str | None) -> Settings | str:
    if secret_key is not None:
        return secret_key
    from lti_tool.settings import load_settings

    return load_settings()


def _endpoint(connection: SisConnection, vendor: VendorProfile) -> OneRosterEndpoint:
    return OneRosterEndpoint(
        version=ConnectorVersion(connection.version.value),
        rostering_url=rostering_url(connection),
        gradebook_url=gradebook_url(connection),
        page_size=page_size(connection, vendor),
    )


def build_roster_source(
    connection: SisConnection,
    *,
    secret_key: Settings | str | None = None,
    http: requests.Session | None = None,
    retry: RetryPolicy | None = None,
) -> OneRosterClient:
    """A OneRosterClient for the connection (roster scopes, plus demographics when switched on).

    `secret_key` defaults to the process settings (MB_SECRET_KEY). The caller closes
    `client.transport.session`, or uses `open_roster_source`.
    """
    vendor = validate_profile(connection.profile)
    scopes = scope_sets(connection, vendor).for_roster(
        include_demographics=connection_options(connection).include_demographics
    )
    transport = build_transport(
        connection, secret_key=_secret_key(secret_key), scopes=scopes, http=http, retry=retry, profile=vendor
    )
    return OneRosterClient(transport, _endpoint(connection, vendor))


def build_grade_sink(
    connection: SisConnection,
    *,
    secret_key: Settings | str | None = None,
    http: requests.Session | None = None,
    retry: RetryPolicy | None = None,
) -> OneRosterGradebookClient:
    """The gradebook client for the connection (gradebook scopes, the profile's limits and page size)."""
    from connectors.oneroster.gradebook import OneRosterGradebookClient

    vendor = validate_profile(connection.profile)
    transport = build_transport(
        connection,
        secret_key=_secret_key(secret_key),
        scopes=scope_sets(connection, vendor).gradebook,
        http=http,
        retry=retry,
        profile=vendor,
    )
    return OneRosterGradebookClient(transport, _endpoint(connection, vendor), vendor)


@contextmanager
def open_roster_source(
    connection: SisConnection, *, secret_key: Settings | str | None = None
) -> Iterator[OneRosterClient]:
    """`build_roster_source`, with its HTTP session closed afterwards."""
    client = build_roster_source(connection, secret_key=secret_key)
    try:
        yield client
    finally:
        client.transport.session.close()


@contextmanager
def open_grade_sink(
    connection: SisConnection, *, secret_key: Settings | str | None = None, threads: int = 1
) -> Iterator[OneRosterGradebookClient]:
    """`build_grade_sink`, with its HTTP session closed afterwards; safe to share between `threads` senders
    (one kept-alive connection each, one token for all)."""
    sink = build_grade_sink(connection, secret_key=secret_key, http=new_session(pool_size=max(threads, 1)))
    try:
        yield sink
    finally:
        sink.transport.session.close()
