"""Rules for SIS connection settings: names, profiles, URLs, versions, auth, scopes and the options JSON.

A connection's `settings` JSON holds what a district needs beyond the columns (token URL, token endpoint
auth method, OAuth 1.0a signature method, course map file, demographics switch, page size, timeout);
`connection_options` reads it into a typed `ConnectionOptions` at this one edge. Every error is a
`SisConnectionError` whose `field` names what to fix.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from connectors.oneroster.auth import SignatureMethod, TokenEndpointAuthMethod
from connectors.oneroster.client import GRADEBOOK_PATH_V1P2, ROSTERING_PATH_V1P1, ROSTERING_PATH_V1P2
from connectors.oneroster.profiles import ProfileError, VendorProfile, load_profile, profile_names
from connectors.oneroster.records import OneRosterVersion as ConnectorVersion
from lti_tool.errors import MasteryBridgeError
from lti_tool.models import OneRosterVersion, SisAuth, SisConnection

NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# PersonIdentifier(source=sis, system=<connection name>) holds SIS ids; "lis" is where the LMS-reported
# lis_person_sourcedid lives (lti_tool.lti.roster_sync), so a connection may not take that name.
RESERVED_NAMES: Final = frozenset({"lis"})
MAX_URL_LENGTH: Final = 2048  # sis_connections.base_url is String(2048)
MAX_SCOPES_LENGTH: Final = 1024  # sis_connections.scopes is String(1024)
MAX_CLIENT_ID_LENGTH: Final = 255
DEFAULT_TIMEOUT_SECONDS: Final = 30.0
STANDARD_PATHS: Final = (ROSTERING_PATH_V1P1, ROSTERING_PATH_V1P2, GRADEBOOK_PATH_V1P2, "/ims/oneroster")
SETTINGS_KEYS: Final = frozenset(
    {"token_url", "token_auth_method", "signature_method", "course_map", "demographics", "page_size",
     "timeout_seconds"}
)  # fmt: skip


class SisConnectionError(MasteryBridgeError):
    """An SIS connection cannot be created, changed or used as configured; `field` names what to fix."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class ConnectionOptions:
    """The typed contents of `SisConnection.settings`."""

    token_url: str | None = None
    token_auth_method: TokenEndpointAuthMethod | None = None  # None: the profile's
    signature_method: SignatureMethod | None = None  # None: the profile's, else HMAC-SHA256
    course_map: str | None = None
    include_demographics: bool = False
    page_size: int | None = None  # None: the profile's max_page_size
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    def to_json(self) -> dict[str, Any]:
        """The JSON document stored in `SisConnection.settings` (unset options left out)."""
        document: dict[str, Any] = {
            "token_url": self.token_url,
            "token_auth_method": self.token_auth_method.value if self.token_auth_method else None,
            "signature_method": self.signature_method.value if self.signature_method else None,
            "course_map": self.course_map,
            "demographics": self.include_demographics or None,
            "page_size": self.page_size,
            "timeout_seconds": None
            if self.timeout_seconds == DEFAULT_TIMEOUT_SECONDS
            else self.timeout_seconds,
        }
        return {key: value for key, value in document.items() if value is not None}


# -- validation -----------------------------------------------------------------------------------------------


def validate_name(name: str) -> str:
    """A connection name: letters, digits, `.`, `_`, `-`, at most 64 characters, not a reserved system."""
    text = name.strip()
    if not NAME_PATTERN.fullmatch(text):
        raise SisConnectionError(
            f"name {name!r} must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            field="name",
        )
    if text.lower() in RESERVED_NAMES:
        raise SisConnectionError(
            f"name {text!r} is reserved for identifiers the LMS reports; choose another", field="name"
        )
    return text


def validate_profile(name: str) -> VendorProfile:
    """The shipped vendor profile `name`."""
    try:
        return load_profile(name.strip())
    except ProfileError as exc:
        known = ", ".join(profile_names())
        raise SisConnectionError(
            f"profile {name!r} is not known; choose one of {known}", field="profile"
        ) from exc


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_url(field: str, value: str) -> str:
    """An absolute https URL (http only on loopback, for test and demo servers); no query or fragment."""
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise SisConnectionError(f"{field} must be an absolute https:// URL, got {value!r}", field=field)
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise SisConnectionError(
            f"{field} {value!r} uses plain http: the client secret and student data would cross the network "
            "unencrypted; use https (http is accepted only for 127.0.0.1 or localhost)",
            field=field,
        )
    if parts.query or parts.fragment:
        raise SisConnectionError(f"{field} {value!r} must not carry a query string or fragment", field=field)
    if len(url) > MAX_URL_LENGTH:
        raise SisConnectionError(f"{field} is longer than {MAX_URL_LENGTH} characters", field=field)
    return url


def validate_base_url(value: str) -> str:
    """The district's base URL: everything before the standard OneRoster path, vendor prefix included."""
    url = validate_url("base_url", value)
    path = urlsplit(url).path
    for standard in STANDARD_PATHS:
        at = path.find(standard)
        if at >= 0:
            suggestion = url[: len(url) - len(path) + at]
            raise SisConnectionError(
                f"base_url {value!r} contains the standard path {standard!r}; give the part before it "
                f"({suggestion!r}): the service path for the version is added",
                field="base_url",
            )
    return url


def validate_version(value: str, profile: VendorProfile) -> OneRosterVersion:
    """`1.1` or `1.2`, and one the vendor offers."""
    try:
        version = OneRosterVersion(value.strip())
    except ValueError:
        raise SisConnectionError(f"version {value!r} must be 1.1 or 1.2", field="version") from None
    if not profile.supports(ConnectorVersion(version.value)):
        offered = ", ".join(v.value for v in profile.versions)
        raise SisConnectionError(
            f"version {version.value} is not offered by profile {profile.name} (it offers {offered})",
            field="version",
        )
    return version


def validate_auth(value: str, version: OneRosterVersion) -> SisAuth:
    """`oauth2` or `oauth1`; OneRoster 1.2 allows only OAuth 2 (1EdTech Security Framework 1.1 §4)."""
    try:
        auth = SisAuth(value.strip().lower())
    except ValueError:
        raise SisConnectionError(f"auth {value!r} must be oauth2 or oauth1", field="auth") from None
    if auth is SisAuth.OAUTH1 and version is OneRosterVersion.V1_2:
        raise SisConnectionError(
            "auth oauth1 is not allowed with version 1.2: OneRoster 1.2 uses OAuth 2 client credentials",
            field="auth",
        )
    return auth


def validate_scopes(scopes: Sequence[str]) -> tuple[str, ...]:
    """Scope strings as the vendor spells them; no whitespace inside one, duplicates dropped."""
    cleaned: list[str] = []
    for scope in scopes:
        text = scope.strip()
        if not text or any(ch.isspace() for ch in text):
            raise SisConnectionError(f"scope {scope!r} must be one non-empty word", field="scopes")
        cleaned.append(text)
    unique = tuple(dict.fromkeys(cleaned))
    if len(" ".join(unique)) > MAX_SCOPES_LENGTH:
        raise SisConnectionError(f"scopes are longer than {MAX_SCOPES_LENGTH} characters", field="scopes")
    return unique


def validate_options(
    options: ConnectionOptions, *, auth: SisAuth, profile: VendorProfile
) -> ConnectionOptions:
    """Cross-field rules: OAuth 2 needs a token URL; a course map must be a readable file."""
    if auth is SisAuth.OAUTH2:
        if not options.token_url:
            raise SisConnectionError(
                "token_url is required with auth oauth2 (the vendor's OAuth 2 token endpoint)",
                field="token_url",
            )
        validate_url("token_url", options.token_url)
    if options.page_size is not None and not 1 <= options.page_size <= profile.max_page_size:
        raise SisConnectionError(
            f"page_size {options.page_size} is outside 1..{profile.max_page_size} (profile {profile.name})",
            field="page_size",
        )
    if not 1 <= options.timeout_seconds <= 600:
        raise SisConnectionError(
            f"timeout_seconds {options.timeout_seconds} is outside 1..600", field="timeout_seconds"
        )
    if options.course_map is not None:
        path = Path(options.course_map)
        if not path.is_file():
            raise SisConnectionError(
                f"course_map {options.course_map!r} is not a readable file", field="course_map"
            )
    return options


def parse_options(document: Mapping[str, Any], *, where: str) -> ConnectionOptions:
    """Settings JSON -> ConnectionOptions; unknown keys and wrong types name the key."""
    unknown = sorted(set(document) - SETTINGS_KEYS)
    if unknown:
        raise SisConnectionError(f"{where}: setting {unknown[0]!r} is not known", field=unknown[0])

    def text(key: str) -> str | None:
        value = document.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise SisConnectionError(f"{where}: setting {key!r} must be a non-empty string", field=key)
        return value.strip()

    try:
        token_auth = text("token_auth_method")
        signature = text("signature_method")
        page_size = document.get("page_size")
        timeout = document.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
        if page_size is not None and (isinstance(page_size, bool) or not isinstance(page_size, int)):
            raise SisConnectionError(
                f"{where}: setting 'page_size' must be a whole number", field="page_size"
            )
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            raise SisConnectionError(
                f"{where}: setting 'timeout_seconds' must be a number", field="timeout_seconds"
            )
        demographics = document.get("demographics", False)
        if not isinstance(demographics, bool):
            raise SisConnectionError(
                f"{where}: setting 'demographics' must be true or false", field="demographics"
            )
        return ConnectionOptions(
            token_url=text("token_url"),
            token_auth_method=TokenEndpointAuthMethod(token_auth) if token_auth else None,
            signature_method=SignatureMethod(signature) if signature else None,
            course_map=text("course_map"),
            include_demographics=demographics,
            page_size=page_size,
            timeout_seconds=float(timeout),
        )
    except ValueError as exc:
        if isinstance(exc, SisConnectionError):
            raise
        raise SisConnectionError(f"{where}: {exc}", field="settings") from exc


def connection_options(connection: SisConnection) -> ConnectionOptions:
    """The typed options of a stored connection."""
    return parse_options(connection.settings or {}, where=f"SIS connection {connection.name!r}")


def validate_client_id(client_id: str) -> str:
    text = client_id.strip()
    if not text or len(text) > MAX_CLIENT_ID_LENGTH:
        raise SisConnectionError(f"client_id must be 1-{MAX_CLIENT_ID_LENGTH} characters", field="client_id")
    return text


def validate_secret(secret: str) -> str:
    # Never echo any part of it.
    if not secret or not secret.strip():
        raise SisConnectionError("the client secret is empty", field="secret")
    return secret
