"""Validate an LTI 1.3 launch (LTI 1.3 Core §5; 1EdTech Security Framework §5.1.3).

`validate_launch` runs every check that needs no write and writes nothing; `lti_tool.lti.launch_record`'s
`record_launch` then makes the one-time checks (nonce unused, id_token not replayed) as the writes that
consume them and upserts person, context, class, enrollment and resource link, all in the caller's
transaction (a rejected launch rolls back, so it stores nothing).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.errors import LaunchError
from lti_tool.lti.adapter import MESSAGE_DEEP_LINKING, MESSAGE_RESOURCE_LINK, validate_message_claims
from lti_tool.lti.login import origin_of, read_login_state, require_active
from lti_tool.lti.platform_keys import PlatformKeyCache
from lti_tool.lti.registry import DeploymentRecord, RegistrationRecord, RegistryCache
from lti_tool.lti.roles import AppRole, RoleDecision, decide_roles
from lti_tool.models import LtiRegistration

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
CLAIM_DEEP_LINKING = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
ALLOWED_ALGORITHMS = ("RS256",)  # Security Framework §6.1
MAX_IAT_FUTURE_SECONDS = 60
MAX_IAT_AGE_SECONDS = 600


@dataclass(frozen=True, slots=True)
class LaunchForm:
    """What the platform's form post (and the tool's own state storage) delivered to the launch URL."""

    id_token: str | None
    state: str | None
    signed_state: str | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ValidatedLaunch:
    """A launch that passed every check; nothing of it is stored yet."""

    registration: RegistrationRecord
    deployment: DeploymentRecord
    claims: dict[str, Any]
    token_hash: str
    expires_at: datetime
    nonce: str
    message_type: str
    roles: RoleDecision


@dataclass(frozen=True, slots=True)
class AcceptedLaunch:
    """The outcome of a recorded launch: who, where, as what."""

    person_id: int
    registration_id: int
    deployment_id: str
    lti_context_id: int | None
    class_id: int | None
    roles: frozenset[AppRole]
    message_type: str
    resource_link_id: str | None
    deep_link_settings: dict[str, Any] | None


# Validation ----------------------------------------------------------------------------------------------


def _verify_token(id_token: str, registration: RegistrationRecord, keys: PlatformKeyCache) -> dict[str, Any]:
    try:
        header = jws.extract_compact(id_token.encode("ascii")).protected
    except (JoseError, ValueError, UnicodeError) as exc:
        raise LaunchError(f"id_token is not a compact JWS ({type(exc).__name__})") from exc
    alg = header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        raise LaunchError(f"id_token alg {alg!r} is not allowed (only {', '.join(ALLOWED_ALGORITHMS)})")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise LaunchError("id_token header has no kid")
    jwk = keys.key_for(registration.key_set_url, kid)
    try:
        key = RSAKey.import_key(jwk)
    except (JoseError, ValueError, TypeError) as exc:
        raise LaunchError(f"platform key {kid!r} is not a usable RSA key") from exc
    try:
        token = jwt.decode(id_token, key, algorithms=list(ALLOWED_ALGORITHMS))
    except (JoseError, ValueError) as exc:
        raise LaunchError(f"id_token signature invalid ({type(exc).__name__})") from exc
    return dict(token.claims)


def _number(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LaunchError(f"id_token claim {name} is missing or not a number")
    return int(value)


def _check_registered_claims(
    claims: Mapping[str, Any], registration: RegistrationRecord, now: datetime
) -> None:
    """Security Framework §5.1.3 steps 2–6 (iss, aud, azp, exp, iat)."""
    if claims.get("iss") != registration.issuer:
        raise LaunchError(f"iss {claims.get('iss')!r} is not the registered issuer {registration.issuer!r}")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or registration.client_id not in audiences:
        raise LaunchError(f"aud does not contain our client_id {registration.client_id!r}")
    azp = claims.get("azp")
    if len(audiences) > 1 and azp is None:
        raise LaunchError("aud has several audiences and azp is missing")
    if azp is not None and azp != registration.client_id:
        raise LaunchError(f"azp {azp!r} is not our client_id {registration.client_id!r}")
    timestamp = int(now.timestamp())
    if _number(claims, "exp") <= timestamp:
        raise LaunchError("id_token expired (exp is past)")
    iat = _number(claims, "iat")
    if iat > timestamp + MAX_IAT_FUTURE_SECONDS:
        raise LaunchError(f"iat is more than {MAX_IAT_FUTURE_SECONDS} s in the future")
    if iat < timestamp - MAX_IAT_AGE_SECONDS:
        raise LaunchError(f"iat is older than {MAX_IAT_AGE_SECONDS // 60} minutes")


def _check_nonce(claims: Mapping[str, Any], expected: str) -> None:
    """The nonce must be the one of this browser's login; `consume_nonce` then checks it against the store."""
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise LaunchError("nonce claim missing")
    if not hmac.compare_digest(nonce, expected):
        raise LaunchError("nonce was not issued by this tool for this login")


def _find_deployment(
    session: Session, registry: RegistryCache, registration: RegistrationRecord, claims: Mapping[str, Any]
) -> DeploymentRecord:
    deployment_id = claims.get(LTI + "deployment_id")
    if not isinstance(deployment_id, str) or not deployment_id:
        raise LaunchError("deployment_id claim missing")
    deployment = registry.deployment(session, registration.id, deployment_id)
    if deployment is None:
        raise LaunchError(f"deployment_id {deployment_id!r} is unknown for registration {registration.id}")
    if not deployment.is_active:
        raise LaunchError(f"deployment_id {deployment_id!r} is not active", status=403)
    return deployment


def _check_message(claims: Mapping[str, Any], target_link_uri: str) -> str:
    message_type = claims.get(LTI + "message_type")
    if not isinstance(message_type, str) or not message_type:
        raise LaunchError("message_type claim missing")
    if message_type not in (MESSAGE_RESOURCE_LINK, MESSAGE_DEEP_LINKING):
        raise LaunchError(f"message_type {message_type!r} is not supported")
    if claims.get(LTI + "version") != "1.3.0":
        raise LaunchError(f"version {claims.get(LTI + 'version')!r} is not 1.3.0")
    if not isinstance(claims.get(LTI + "roles"), list):
        raise LaunchError("roles claim missing or not a list")
    claimed_target = claims.get(LTI + "target_link_uri")
    if not isinstance(claimed_target, str) or not claimed_target:
        raise LaunchError("target_link_uri claim missing")
    if claimed_target != target_link_uri:
        raise LaunchError("target_link_uri differs from the one of the login initiation")
    validate_message_claims(message_type, claims)
    if message_type == MESSAGE_DEEP_LINKING:
        settings = claims.get(CLAIM_DEEP_LINKING)
        return_url = settings.get("deep_link_return_url") if isinstance(settings, dict) else None
        if not isinstance(return_url, str) or not return_url:
            raise LaunchError("deep_link_return_url missing from deep_linking_settings")
    context = claims.get(LTI + "context")
    if context is not None and (not isinstance(context, dict) or not isinstance(context.get("id"), str)):
        raise LaunchError("context claim has no id")
    return message_type


def platform_origin_of_token(session: Session, id_token: str) -> str:
    """The OIDC auth origin of the platform an (unverified) id_token names, for Platform Storage messages.

    Only used to address postMessages; the token itself is verified when the launch is posted again.
    """
    try:
        payload = json.loads(jws.extract_compact(id_token.encode("ascii")).payload)
    except (JoseError, ValueError, UnicodeError) as exc:
        raise LaunchError(f"id_token is not a compact JWS ({type(exc).__name__})") from exc
    issuer = payload.get("iss") if isinstance(payload, dict) else None
    aud = payload.get("aud") if isinstance(payload, dict) else None
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    registration = session.scalars(
        select(LtiRegistration).where(
            LtiRegistration.issuer == str(issuer), LtiRegistration.client_id.in_([str(a) for a in audiences])
        )
    ).first()
    if registration is None:
        raise LaunchError(f"no registration for issuer {issuer!r} and the id_token's aud")
    return origin_of(registration.auth_login_url)


def token_hash(id_token: str) -> str:
    """The SHA-256 of an id_token, as stored in `lti_token_replays`."""
    return hashlib.sha256(id_token.encode("utf-8")).hexdigest()


def validate_launch(
    session: Session,
    form: LaunchForm,
    *,
    secret_key: str,
    keys: PlatformKeyCache,
    registry: RegistryCache,
    now: datetime,
) -> ValidatedLaunch:
    """Run every check that needs no write; raise LaunchError naming the first that fails. Writes nothing.

    The checks against what is stored (id_token not replayed; nonce issued by us, unused and not expired)
    are made by `record_launch`, atomically with recording them, so they cost no extra round trip.
    """
    if form.error:
        # Security Framework §5.1.1.5 / OIDC Core §3.1.2.6: the platform answered with an error.
        raise LaunchError(f"platform returned error {form.error[:64]!r}", status=403)
    if not form.id_token:
        raise LaunchError("id_token missing from the launch")
    if not form.state:
        raise LaunchError("state missing from the launch")
    if not form.signed_state:
        raise LaunchError("state mismatched: no state cookie and no Platform Storage value for this state")
    login = read_login_state(secret_key, form.signed_state)
    if not hmac.compare_digest(login.state, form.state):
        raise LaunchError("state mismatched: it is not the state of this browser's login")
    registration = registry.registration(session, login.registration_id)
    if registration is None:
        raise LaunchError(f"registration {login.registration_id} of this login no longer exists")
    require_active(registration)

    claims = _verify_token(form.id_token, registration, keys)
    _check_registered_claims(claims, registration, now)
    _check_nonce(claims, login.nonce)
    deployment = _find_deployment(session, registry, registration, claims)
    message_type = _check_message(claims, login.target_link_uri)
    roles = decide_roles(claims[LTI + "roles"])
    if message_type == MESSAGE_DEEP_LINKING and AppRole.TEACHER not in roles.app_roles:
        raise LaunchError("deep linking is for instructors only", status=403)
    return ValidatedLaunch(
        registration=registration,
        deployment=deployment,
        claims=claims,
        token_hash=token_hash(form.id_token),
        expires_at=datetime.fromtimestamp(_number(claims, "exp"), UTC),
        nonce=login.nonce,
        message_type=message_type,
        roles=roles,
    )
