"""LTI Dynamic Registration 1.0: read a platform's OpenID configuration, register the tool, store it pending.

The flow (1EdTech LTI Dynamic Registration 1.0, "LTI-DR" below, section 3): the platform opens
`/lti/register?openid_configuration=...&registration_token=...`; the tool fetches that configuration
("Platform OpenID Configuration"), checks it ("Issuer and OpenID Configuration URL Match"), posts its own
configuration to the platform's `registration_endpoint` with the token as a Bearer credential ("Tool
Registration"), and reads back its `client_id` and, when the platform sends one, the `deployment_id`
("Tool Configuration from the Platform"). The registration is stored `pending`: an
administrator activates it with `mastery-bridge platforms approve ID`, because this endpoint is public and
anyone can start a registration.

Deployments: Moodle returns a `deployment_id`, which is stored with the registration. Canvas does not; its
registration is stored without a deployment, and the administrator adds the deployment shown in Canvas with
`mastery-bridge platforms add` (same issuer, client_id and URLs, plus `--deployment-id`) before approving.
Launches naming an unknown deployment stay refused, so nothing launches until an administrator has acted.

Plain http: only for loopback hosts (localhost, 127.0.0.1, ::1) and only when the caller allows it (the app
in debug or testing mode). Everything else must be https, so the registration token and the platform's
endpoints never travel in the clear and the public endpoint cannot be pointed at internal addresses by IP.

No Flask here: the web layer passes the query values in and renders the result. Functions that touch the
database take a `Session` and never commit.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NotRequired, TypedDict
from urllib.parse import urlsplit, urlunsplit

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from connectors.lms.http import user_agent
from lti_tool.errors import RegistrationError
from lti_tool.models import (
    LtiDeployment,
    LtiRegistration,
    RegistrationSource,
    RegistrationStatus,
    utcnow,
)
from lti_tool.registrations import ToolUrls

# Final, so mypy takes them as literal TypedDict keys.
PLATFORM_CONFIGURATION: Final = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION: Final = "https://purl.imsglobal.org/spec/lti-tool-configuration"
CANVAS = "https://canvas.instructure.com/lti/"
CANVAS_PRIVACY_LEVEL: Final = "https://canvas.instructure.com/lti/privacy_level"
CANVAS_VISIBILITY: Final = "https://canvas.instructure.com/lti/visibility"
CANVAS_ACCOUNT_NAME = CANVAS + "account_name"

CLIENT_NAME = "mastery-bridge"
TOOL_DESCRIPTION = "Mastery evidence in, legacy grades out: competency progress and translated grades."
CLAIMS = ("iss", "sub", "name", "given_name", "family_name", "email")
RESOURCE_LINK = "LtiResourceLinkRequest"
DEEP_LINKING = "LtiDeepLinkingRequest"

# LTI AGS 2.0 §3.1 and NRPS 2.0 §2.1, in the spelling Moodle requires. lineitem.readonly is asked for too:
# a platform administrator who strips `lineitem` may still grant it, and reading line items is useful alone.
REQUESTED_SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)

# Both calls are interactive (an administrator waits): short timeouts, no retries, since the POST is not
# idempotent and the administrator can simply start again.
TIMEOUT_SECONDS = (3.05, 10.0)
MAX_DOCUMENT_BYTES = 1_000_000
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_MAX_ID_LENGTH = 255
_MAX_URL_LENGTH = 2048


class DynamicRegistrationError(RegistrationError):
    """A dynamic registration failed; `status` is the HTTP status to answer (400 ours/theirs, 502 upstream).

    The message names the field or URL at fault and never contains the registration token.
    """

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


LtiMessage = TypedDict(
    "LtiMessage",
    {
        "type": str,
        "target_link_uri": str,
        "label": str,
        "placements": NotRequired[list[str]],
        "https://canvas.instructure.com/lti/visibility": NotRequired[str],
    },
)
"""One entry of `messages` in the tool configuration (LTI-DR "LTI Message")."""

LtiToolConfiguration = TypedDict(
    "LtiToolConfiguration",
    {
        "domain": str,
        "target_link_uri": str,
        "description": str,
        "claims": list[str],
        "messages": list[LtiMessage],
        "https://canvas.instructure.com/lti/privacy_level": NotRequired[str],
    },
)
"""The `https://purl.imsglobal.org/spec/lti-tool-configuration` object (LTI-DR "Tool Configuration")."""

ToolRegistrationRequest = TypedDict(
    "ToolRegistrationRequest",
    {
        "application_type": str,
        "response_types": list[str],
        "grant_types": list[str],
        "initiate_login_uri": str,
        "redirect_uris": list[str],
        "client_name": str,
        "jwks_uri": str,
        "token_endpoint_auth_method": str,
        "scope": str,
        "https://purl.imsglobal.org/spec/lti-tool-configuration": LtiToolConfiguration,
    },
)
"""The body posted to the platform's registration_endpoint (LTI-DR "Tool Registration", OIDC Registration §2)."""


@dataclass(frozen=True, slots=True)
class SupportedMessage:
    """A message type the platform supports and the placements it offers for it."""

    type: str
    placements: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PlatformConfiguration:
    """The checked OpenID configuration of a platform (LTI-DR "Platform Configuration"); `document` verbatim."""

    openid_configuration_url: str
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    authorization_server: str | None
    product_family_code: str
    version: str
    scopes_supported: tuple[str, ...]
    messages_supported: tuple[SupportedMessage, ...]
    document: Mapping[str, Any]

    def supports_message(self, message_type: str) -> bool:
        """Whether the platform lists `message_type` in messages_supported."""
        return any(message.type == message_type for message in self.messages_supported)


@dataclass(frozen=True, slots=True)
class PlatformRegistration:
    """What the platform answered to the registration request (LTI-DR "Tool Configuration from the Platform")."""

    client_id: str
    deployment_id: str | None
    scope: str | None


@dataclass(frozen=True, slots=True)
class DynamicRegistrationResult:
    """The stored registration after a dynamic registration, for the confirmation page."""

    registration_id: int
    issuer: str
    client_id: str
    deployment_id: str | None
    status: RegistrationStatus
    product_family_code: str


def _without_query(url: str) -> str:
    # Platforms may put the registration token in the URL; messages and logs show scheme, host and path only.
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparsable URL)"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _is_loopback(host: str) -> bool:
    return host.lower() in _LOOPBACK_HOSTS


def _is_internal_address(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host.lower() == "localhost"
    return address.is_private or address.is_loopback or address.is_link_local or address.is_unspecified


def check_platform_url(field: str, value: object, *, allow_loopback_http: bool) -> str:
    """`value` as an absolute https URL (http on a loopback host when allowed); raise naming `field`."""
    if not isinstance(value, str) or not value.strip():
        raise DynamicRegistrationError(f"{field} is missing or not a string")
    url = value.strip()
    if len(url) > _MAX_URL_LENGTH:
        raise DynamicRegistrationError(f"{field} is longer than {_MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port  # raises ValueError for a port out of range, here rather than later
    except ValueError as exc:
        raise DynamicRegistrationError(f"{field} is not a valid URL: {_without_query(url)!r}") from exc
    if parts.scheme not in {"http", "https"} or not host:
        raise DynamicRegistrationError(f"{field} must be an absolute https URL, got {_without_query(url)!r}")
    if allow_loopback_http and _is_loopback(host):
        return url
    if parts.scheme != "https":
        raise DynamicRegistrationError(f"{field} must use https, got {_without_query(url)!r}")
    if _is_internal_address(host):
        raise DynamicRegistrationError(f"{field} points to an internal address: {_without_query(url)!r}")
    return url


def _require_string(document: Mapping[str, Any], field: str, *, where: str) -> str:
    value = document.get(field)
    if not isinstance(value, str) or not value.strip():
        raise DynamicRegistrationError(f"{where}: {field} is missing or not a string")
    return value.strip()


def _require_strings(document: Mapping[str, Any], field: str, *, where: str) -> tuple[str, ...]:
    value = document.get(field)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DynamicRegistrationError(f"{where}: {field} is missing or not a list of strings")
    return tuple(value)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    default_port = {"https": 443, "http": 80}.get(scheme)
    return scheme, (parts.hostname or "").lower(), parts.port or default_port


def parse_platform_configuration(
    document: Mapping[str, Any], *, openid_configuration_url: str, allow_loopback_http: bool
) -> PlatformConfiguration:
    """Check a platform's OpenID configuration (LTI-DR "Platform Configuration"); raise naming the field."""
    where = "platform OpenID configuration"

    def url(field: str) -> str:
        if field not in document:
            raise DynamicRegistrationError(f"{where}: {field} is missing")
        return check_platform_url(
            f"{where}: {field}", document[field], allow_loopback_http=allow_loopback_http
        )

    issuer = url("issuer")
    if len(issuer) > _MAX_ID_LENGTH:
        raise DynamicRegistrationError(f"{where}: issuer is longer than {_MAX_ID_LENGTH} characters")
    # LTI-DR "Issuer and OpenID Configuration URL Match": the issuer must match the scheme and host of the openid_configuration URL, so a
    # configuration served from one site cannot register the tool for another platform's issuer.
    if _origin(issuer) != _origin(openid_configuration_url):
        raise DynamicRegistrationError(
            f"{where}: issuer {issuer!r} does not match the scheme and host of the openid_configuration "
            f"URL {_without_query(openid_configuration_url)!r}"
        )
    endpoints = {
        field: url(field)
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")
    }
    scopes_supported = _require_strings(document, "scopes_supported", where=where)
    algorithms = _require_strings(document, "id_token_signing_alg_values_supported", where=where)
    if "RS256" not in algorithms:
        raise DynamicRegistrationError(
            f"{where}: id_token_signing_alg_values_supported does not include RS256 "
            "(LTI 1.3 Security Framework §5.1.3)"
        )
    authorization_server = document.get("authorization_server")
    if authorization_server is not None and (
        not isinstance(authorization_server, str) or len(authorization_server) > _MAX_URL_LENGTH
    ):
        raise DynamicRegistrationError(
            f"{where}: authorization_server is not a string of at most {_MAX_URL_LENGTH} characters"
        )
    lti = document.get(PLATFORM_CONFIGURATION)
    if not isinstance(lti, Mapping):
        raise DynamicRegistrationError(f"{where}: {PLATFORM_CONFIGURATION} is missing or not an object")
    lti_where = f"{where}: {PLATFORM_CONFIGURATION}"
    return PlatformConfiguration(
        openid_configuration_url=openid_configuration_url,
        issuer=issuer,
        authorization_endpoint=endpoints["authorization_endpoint"],
        token_endpoint=endpoints["token_endpoint"],
        jwks_uri=endpoints["jwks_uri"],
        registration_endpoint=endpoints["registration_endpoint"],
        authorization_server=authorization_server or None,
        product_family_code=_require_string(lti, "product_family_code", where=lti_where),
        version=_require_string(lti, "version", where=lti_where),
        scopes_supported=scopes_supported,
        messages_supported=_parse_messages_supported(lti.get("messages_supported"), where=lti_where),
        document=document,
    )


def _parse_messages_supported(value: object, *, where: str) -> tuple[SupportedMessage, ...]:
    if not isinstance(value, list):
        raise DynamicRegistrationError(f"{where}: messages_supported is missing or not a list")
    messages = []
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise DynamicRegistrationError(f"{where}: messages_supported[{index}] is not an object")
        message_type = _require_string(item, "type", where=f"{where}: messages_supported[{index}]")
        placements = item.get("placements") or []
        if not isinstance(placements, list):
            raise DynamicRegistrationError(f"{where}: messages_supported[{index}].placements is not a list")
        messages.append(SupportedMessage(message_type, tuple(str(placement) for placement in placements)))
    return tuple(messages)


def _read_body(response: requests.Response, *, what: str, url: str) -> bytes:
    # The URL came from an anonymous request: read at most MAX_DOCUMENT_BYTES.
    body = response.raw.read(MAX_DOCUMENT_BYTES + 1, decode_content=True)
    if len(body) > MAX_DOCUMENT_BYTES:
        raise DynamicRegistrationError(
            f"{what} at {_without_query(url)} is larger than {MAX_DOCUMENT_BYTES} bytes", status=502
        )
    return bytes(body)


def _read_json(response: requests.Response, *, what: str, url: str) -> Any:
    # Platforms label JSON in many ways (text/html, application/json;charset=..., none): parse the body
    # whatever the Content-Type says.
    body = _read_body(response, what=what, url=url)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise DynamicRegistrationError(f"{what} at {_without_query(url)} is not JSON", status=502) from exc


def _headers(registration_token: str | None, **extra: str) -> dict[str, str]:
    headers = {"User-Agent": user_agent(), "Accept": "application/json", **extra}
    if registration_token:
        # LTI-DR requires it on the registration POST; Canvas and Moodle also want it on the configuration GET.
        headers["Authorization"] = f"Bearer {registration_token}"
    return headers


def fetch_platform_configuration(
    http: requests.Session,
    openid_configuration_url: str,
    *,
    registration_token: str | None,
    allow_loopback_http: bool,
) -> PlatformConfiguration:
    """GET and check the platform's OpenID configuration (LTI-DR "Platform OpenID Configuration")."""
    url = check_platform_url(
        "openid_configuration", openid_configuration_url, allow_loopback_http=allow_loopback_http
    )
    what = "the platform OpenID configuration"
    try:
        response = http.get(
            url,
            headers=_headers(registration_token),
            timeout=TIMEOUT_SECONDS,
            allow_redirects=False,
            stream=True,
        )
    except requests.RequestException as exc:
        raise DynamicRegistrationError(
            f"could not fetch {what} from {_without_query(url)}: {type(exc).__name__}", status=502
        ) from exc
    with response:
        if response.status_code != 200:
            raise DynamicRegistrationError(
                f"{what} at {_without_query(url)} answered HTTP {response.status_code}", status=502
            )
        document = _read_json(response, what=what, url=url)
    if not isinstance(document, dict):
        raise DynamicRegistrationError(f"{what} at {_without_query(url)} is not a JSON object", status=502)
    return parse_platform_configuration(
        document, openid_configuration_url=url, allow_loopback_http=allow_loopback_http
    )


def _canvas_placement(name: str) -> str:
    return CANVAS + name


def build_tool_configuration(platform: PlatformConfiguration, urls: ToolUrls) -> ToolRegistrationRequest:
    """The tool's registration request for `platform` (LTI-DR "Tool Configuration"), tailored to its product.

    Scopes are the tool's wanted scopes that the platform lists in scopes_supported. Deep linking is
    offered only when the platform supports it. Placements: Moodle puts deep linking in "ContentArea";
    Canvas gets course navigation for the resource link, assignment and link selection for deep linking,
    and the public privacy level (else it sends no names or emails); other platforms get the placements
    they advertise from that same set, or none.
    """
    family = platform.product_family_code.lower()
    resource_link: LtiMessage = {
        "type": RESOURCE_LINK,
        "target_link_uri": urls.launch_url,
        "label": CLIENT_NAME,
    }
    deep_linking: LtiMessage = {
        "type": DEEP_LINKING,
        "target_link_uri": urls.deep_link_url,
        "label": CLIENT_NAME,
    }
    if family == "canvas":
        resource_link["placements"] = [_canvas_placement("course_navigation")]
        resource_link[CANVAS_VISIBILITY] = "members"
        deep_linking["placements"] = [
            _canvas_placement("assignment_selection"),
            _canvas_placement("link_selection"),
        ]
    elif family == "moodle":
        deep_linking["placements"] = ["ContentArea"]
    else:
        advertised = {
            placement
            for message in platform.messages_supported
            if message.type == DEEP_LINKING
            for placement in message.placements
        }
        if "ContentArea" in advertised:
            deep_linking["placements"] = ["ContentArea"]
    messages = [resource_link]
    if platform.supports_message(DEEP_LINKING):
        messages.append(deep_linking)
    tool_configuration: LtiToolConfiguration = {
        "domain": urlsplit(urls.launch_url).netloc,
        "target_link_uri": urls.launch_url,
        "description": TOOL_DESCRIPTION,
        "claims": list(CLAIMS),
        "messages": messages,
    }
    if family == "canvas":
        tool_configuration[CANVAS_PRIVACY_LEVEL] = "public"
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls.login_url,
        "redirect_uris": [urls.launch_url],
        "client_name": CLIENT_NAME,
        "jwks_uri": urls.jwks_url,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(granted_scopes(REQUESTED_SCOPES, platform.scopes_supported)),
        TOOL_CONFIGURATION: tool_configuration,
    }


def granted_scopes(wanted: Iterable[str], supported: Iterable[str]) -> list[str]:
    """The scopes of `wanted` that the platform lists in `supported`, in the order of `wanted`."""
    available = set(supported)
    return [scope for scope in wanted if scope in available]


def _identifier(value: object, field: str, *, where: str) -> str | None:
    # Some platforms send numeric ids; the spec says strings, and we store strings.
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise DynamicRegistrationError(f"{where}: {field} is not a string", status=502)
    text = str(value).strip()
    if not text:
        return None
    if len(text) > _MAX_ID_LENGTH:
        raise DynamicRegistrationError(
            f"{where}: {field} is longer than {_MAX_ID_LENGTH} characters", status=502
        )
    return text


def parse_registration_response(document: object, *, registration_endpoint: str) -> PlatformRegistration:
    """Read client_id and the optional deployment_id from the platform's answer (LTI-DR, OIDC Registration §3.2)."""
    where = f"the registration response of {_without_query(registration_endpoint)}"
    if not isinstance(document, Mapping):
        raise DynamicRegistrationError(f"{where} is not a JSON object", status=502)
    client_id = _identifier(document.get("client_id"), "client_id", where=where)
    if client_id is None:
        raise DynamicRegistrationError(f"{where}: client_id is missing", status=502)
    tool_configuration = document.get(TOOL_CONFIGURATION)
    deployment_id = None
    if isinstance(tool_configuration, Mapping):
        deployment_id = _identifier(
            tool_configuration.get("deployment_id"), f"{TOOL_CONFIGURATION}.deployment_id", where=where
        )
    scope = document.get("scope")
    return PlatformRegistration(
        client_id=client_id,
        deployment_id=deployment_id,
        scope=scope if isinstance(scope, str) else None,
    )


def _platform_error(response: requests.Response, url: str) -> str:
    # An OAuth error body (RFC 7591 §3.2.2) says why, e.g. invalid_client_metadata; nothing else is quoted.
    try:
        body = json.loads(_read_body(response, what="the error response", url=url))
    except (ValueError, DynamicRegistrationError):
        return ""
    if not isinstance(body, Mapping):
        return ""
    parts = [str(body[key])[:200] for key in ("error", "error_description") if body.get(key)]
    return f" ({': '.join(parts)})" if parts else ""


def post_tool_configuration(
    http: requests.Session,
    platform: PlatformConfiguration,
    tool_configuration: ToolRegistrationRequest,
    *,
    registration_token: str | None,
) -> PlatformRegistration:
    """POST the tool's configuration to the platform's registration_endpoint (LTI-DR "Tool Registration")."""
    url = platform.registration_endpoint
    try:
        response = http.post(
            url,
            data=json.dumps(tool_configuration),
            headers=_headers(registration_token, **{"Content-Type": "application/json"}),
            timeout=TIMEOUT_SECONDS,
            allow_redirects=False,
            stream=True,
        )
    except requests.RequestException as exc:
        raise DynamicRegistrationError(
            f"could not reach the platform registration_endpoint {_without_query(url)}: {type(exc).__name__}",
            status=502,
        ) from exc
    with response:
        if not 200 <= response.status_code < 300:
            raise DynamicRegistrationError(
                f"the platform refused the registration: {_without_query(url)} answered "
                f"HTTP {response.status_code}{_platform_error(response, url)}",
                status=502,
            )
        document = _read_json(response, what="the registration response", url=url)
    return parse_registration_response(document, registration_endpoint=url)


def _display_name(platform: PlatformConfiguration) -> str:
    lti = platform.document.get(PLATFORM_CONFIGURATION)
    account = lti.get(CANVAS_ACCOUNT_NAME) if isinstance(lti, Mapping) else None
    host = urlsplit(platform.issuer).netloc
    name = f"{platform.product_family_code} {account or host}"
    return name[:_MAX_ID_LENGTH]


def store_registration(
    session: Session,
    platform: PlatformConfiguration,
    registered: PlatformRegistration,
    *,
    now: datetime | None = None,
) -> LtiRegistration:
    """Create or update the registration of issuer + client_id from a dynamic registration.

    New registrations are `pending`. Registering again updates the row in place: endpoints, name,
    audience and platform_config follow the platform. An active registration whose endpoint URLs change
    goes back to `pending` (an administrator approves the new endpoints); a disabled one stays disabled.
    A returned deployment_id is added once.
    """
    urls = {
        "auth_login_url": platform.authorization_endpoint,
        "auth_token_url": platform.token_endpoint,
        "key_set_url": platform.jwks_uri,
    }
    registration = session.scalars(
        select(LtiRegistration)
        .where(LtiRegistration.issuer == platform.issuer, LtiRegistration.client_id == registered.client_id)
        .options(selectinload(LtiRegistration.deployments))
    ).one_or_none()
    if registration is None:
        registration = LtiRegistration(
            issuer=platform.issuer,
            client_id=registered.client_id,
            status=RegistrationStatus.PENDING,
            source=RegistrationSource.DYNAMIC,
            created_at=now or utcnow(),
            approved_at=None,
            deployments=[],
            **urls,
        )
        session.add(registration)
    else:
        is_moved = any(getattr(registration, field) != value for field, value in urls.items())
        if is_moved and registration.status == RegistrationStatus.ACTIVE:
            registration.status = RegistrationStatus.PENDING
            registration.approved_at = None
        for field, value in urls.items():
            setattr(registration, field, value)
    registration.name = _display_name(platform)
    registration.auth_audience = platform.authorization_server
    registration.platform_config = dict(platform.document)
    deployment_id = registered.deployment_id
    if deployment_id is not None and all(
        deployment.deployment_id != deployment_id for deployment in registration.deployments
    ):
        registration.deployments.append(LtiDeployment(deployment_id=deployment_id, is_active=True))
    session.flush()
    return registration


def register_with_platform(
    session: Session,
    http: requests.Session,
    *,
    openid_configuration_url: str,
    registration_token: str | None,
    urls: ToolUrls,
    allow_loopback_http: bool,
    now: datetime | None = None,
) -> DynamicRegistrationResult:
    """Run the whole registration: fetch and check, post, store pending. Nothing is stored on error."""
    platform = fetch_platform_configuration(
        http,
        openid_configuration_url,
        registration_token=registration_token,
        allow_loopback_http=allow_loopback_http,
    )
    registered = post_tool_configuration(
        http, platform, build_tool_configuration(platform, urls), registration_token=registration_token
    )
    registration = store_registration(session, platform, registered, now=now)
    return DynamicRegistrationResult(
        registration_id=registration.id,
        issuer=registration.issuer,
        client_id=registration.client_id,
        deployment_id=registered.deployment_id,
        status=registration.status,
        product_family_code=platform.product_family_code,
    )
