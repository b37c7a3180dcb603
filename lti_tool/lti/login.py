"""OIDC third-party initiated login (1EdTech Security Framework §5.1.1.1–2) and the signed launch state.

The login issues a nonce (stored in `lti_nonces`) and a random `state`, and keeps both, bound together and
signed, in a `LoginState`. The browser holds that signed value in a cookie and, where the platform offers it,
in LTI Platform Storage; the launch accepts it from either and verifies it the same way.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from urllib.parse import urlencode, urlsplit

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import bindparam, insert
from sqlalchemy.orm import Session

from lti_tool.errors import LaunchError
from lti_tool.lti.registry import RegistrationRecord, RegistryCache
from lti_tool.models import LtiNonce, RegistrationStatus
from lti_tool.registrations import tool_urls

STATE_SALT = "mb-lti-state"
# The login-to-launch round trip is a few seconds; ten minutes also bounds how long a nonce stays usable.
STATE_MAX_AGE_SECONDS = 600
STATE_COOKIE_PREFIX = "mb_lti_state_"
# Built once: SQLAlchemy memoizes a statement object's cache key, so reusing it saves that work per login.
_INSERT_NONCE = insert(LtiNonce).values(value=bindparam("value"), issued_at=bindparam("now"), used_at=None)
# A state is `<random>` or `<random>.<storage target>`: the platform echoes it verbatim at launch, which is
# how the launch page knows which frame to ask for the stored value when the cookie did not survive.
_STORAGE_TARGET = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class LoginState:
    """What the launch must match: the state sent to the platform, its nonce, registration and target."""

    state: str
    nonce: str
    registration_id: int
    target_link_uri: str


@dataclass(frozen=True, slots=True)
class LoginRedirect:
    """The tool's answer to a login initiation: where to send the browser and what to remember."""

    auth_url: str
    state: str
    signed_state: str
    storage_key: str
    storage_target: str | None
    platform_origin: str


def state_storage_key(state: str) -> str:
    """The cookie name and the Platform Storage key of `state` (one per launch, so tabs never collide)."""
    return STATE_COOKIE_PREFIX + state.split(".", 1)[0]


def storage_target_of(state: str) -> str | None:
    """The `lti_storage_target` a state was issued with, or None."""
    _, _, target = state.partition(".")
    return target if target and _STORAGE_TARGET.match(target) else None


def origin_of(url: str) -> str:
    """scheme://host[:port] of `url`."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=STATE_SALT)


def sign_login_state(secret_key: str, login_state: LoginState) -> str:
    """The signed, timestamped form of `login_state` kept by the browser."""
    return _serializer(secret_key).dumps(asdict(login_state))


def read_login_state(secret_key: str, signed: str, *, max_age: int = STATE_MAX_AGE_SECONDS) -> LoginState:
    """Verify a signed login state (from the cookie or from Platform Storage alike)."""
    try:
        data = _serializer(secret_key).loads(signed, max_age=max_age)
    except SignatureExpired as exc:
        raise LaunchError("state expired: the login was more than 10 minutes ago") from exc
    except BadSignature as exc:
        raise LaunchError("state signature invalid") from exc
    try:
        return LoginState(
            state=str(data["state"]),
            nonce=str(data["nonce"]),
            registration_id=int(data["registration_id"]),
            target_link_uri=str(data["target_link_uri"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LaunchError("state payload malformed") from exc


def _find_registration(
    session: Session, registry: RegistryCache, issuer: str, client_id: str | None
) -> RegistrationRecord:
    registrations = registry.registrations_for_login(session, issuer, client_id)
    if not registrations:
        raise LaunchError(f"no registration for issuer {issuer!r} and client_id {client_id!r}")
    if len(registrations) > 1:
        raise LaunchError(f"issuer {issuer!r} has several registrations; the login must name its client_id")
    return registrations[0]


def require_active(registration: RegistrationRecord) -> None:
    """LaunchError (403) unless the registration was approved and is not disabled."""
    if registration.status != RegistrationStatus.ACTIVE:
        raise LaunchError(
            f"registration {registration.id} of issuer {registration.issuer!r} is {registration.status.value}",
            status=403,
        )


def begin_login(
    session: Session,
    params: Mapping[str, str],
    *,
    public_base_url: str,
    secret_key: str,
    registry: RegistryCache,
    now: datetime,
) -> LoginRedirect:
    """Answer a login initiation (§5.1.1.1) with the authentication request (§5.1.1.2); stores the nonce."""
    issuer = params.get("iss", "")
    login_hint = params.get("login_hint", "")
    target_link_uri = params.get("target_link_uri", "")
    for name, value in (("iss", issuer), ("login_hint", login_hint), ("target_link_uri", target_link_uri)):
        if not value:
            raise LaunchError(f"login initiation parameter {name} is missing")
    registration = _find_registration(session, registry, issuer, params.get("client_id") or None)
    require_active(registration)
    # §5.1.1.1: the tool must only redirect to its own URLs, never to whatever target_link_uri says.
    if origin_of(target_link_uri) != origin_of(public_base_url):
        raise LaunchError(f"target_link_uri {target_link_uri!r} is not a URL of this tool")

    nonce = secrets.token_urlsafe(32)
    # A Core INSERT on the session's connection: the ORM unit of work would cost more than the statement.
    session.connection().execute(_INSERT_NONCE, {"value": nonce, "now": now})
    state = secrets.token_urlsafe(32)
    storage_target = params.get("lti_storage_target") or None
    if storage_target is not None and not _STORAGE_TARGET.match(storage_target):
        storage_target = None
    if storage_target is not None:
        state = f"{state}.{storage_target}"
    signed_state = sign_login_state(
        secret_key,
        LoginState(
            state=state, nonce=nonce, registration_id=registration.id, target_link_uri=target_link_uri
        ),
    )
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": registration.client_id,
        "redirect_uri": tool_urls(public_base_url).launch_url,
        "login_hint": login_hint,
        "state": state,
        "nonce": nonce,
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    separator = "&" if "?" in registration.auth_login_url else "?"
    return LoginRedirect(
        auth_url=registration.auth_login_url + separator + urlencode(query),
        state=state,
        signed_state=signed_state,
        storage_key=state_storage_key(state),
        storage_target=storage_target,
        platform_origin=origin_of(registration.auth_login_url),
    )
