"""Validate an LTI 1.3 launch (LTI 1.3 Core §5; 1EdTech Security Framework §5.1.3) and record what it says.

`validate_launch` runs every check and writes nothing; `record_launch` then consumes the nonce, remembers the
id_token against replay and upserts person, context, class, enrollment and resource link, all in the caller's
transaction (a rejected launch rolls back, so it stores nothing).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar, cast

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lti_tool.errors import LaunchError
from lti_tool.lti.adapter import MESSAGE_DEEP_LINKING, MESSAGE_RESOURCE_LINK, validate_message_claims
from lti_tool.lti.login import STATE_MAX_AGE_SECONDS, origin_of, read_login_state, require_active
from lti_tool.lti.platform_keys import PlatformKeyCache
from lti_tool.lti.roles import AppRole, RoleDecision, decide_roles
from lti_tool.models import (
    Course,
    Enrollment,
    IdentifierSource,
    LtiContext,
    LtiDeployment,
    LtiNonce,
    LtiRegistration,
    LtiResourceLink,
    LtiTokenReplay,
    Org,
    OrgType,
    Person,
    PersonIdentifier,
    SchoolClass,
    Task,
)

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
CLAIM_DEEP_LINKING = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
ALLOWED_ALGORITHMS = ("RS256",)  # Security Framework §6.1
MAX_IAT_FUTURE_SECONDS = 60
MAX_IAT_AGE_SECONDS = 600

T = TypeVar("T")


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

    registration: LtiRegistration
    deployment: LtiDeployment
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


def _verify_token(id_token: str, registration: LtiRegistration, keys: PlatformKeyCache) -> dict[str, Any]:
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


def _check_registered_claims(claims: Mapping[str, Any], registration: LtiRegistration, now: datetime) -> None:
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


def _check_nonce(session: Session, claims: Mapping[str, Any], expected: str, now: datetime) -> None:
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise LaunchError("nonce claim missing")
    if not hmac.compare_digest(nonce, expected):
        raise LaunchError("nonce was not issued by this tool for this login")
    row = session.scalars(select(LtiNonce).where(LtiNonce.value == nonce)).one_or_none()
    if row is None:
        raise LaunchError("nonce was not issued by this tool")
    if row.used_at is not None:
        raise LaunchError("nonce already used")
    if row.issued_at < now - timedelta(seconds=STATE_MAX_AGE_SECONDS):
        raise LaunchError("nonce expired")


def _find_deployment(
    session: Session, registration: LtiRegistration, claims: Mapping[str, Any]
) -> LtiDeployment:
    deployment_id = claims.get(LTI + "deployment_id")
    if not isinstance(deployment_id, str) or not deployment_id:
        raise LaunchError("deployment_id claim missing")
    deployment = session.scalars(
        select(LtiDeployment).where(
            LtiDeployment.registration_id == registration.id, LtiDeployment.deployment_id == deployment_id
        )
    ).one_or_none()
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
    session: Session, form: LaunchForm, *, secret_key: str, keys: PlatformKeyCache, now: datetime
) -> ValidatedLaunch:
    """Run every launch check; raise LaunchError naming the first that fails. Writes nothing."""
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
    registration = session.get(LtiRegistration, login.registration_id)
    if registration is None:
        raise LaunchError(f"registration {login.registration_id} of this login no longer exists")
    require_active(registration)

    claims = _verify_token(form.id_token, registration, keys)
    _check_registered_claims(claims, registration, now)
    digest = token_hash(form.id_token)
    if session.scalars(select(LtiTokenReplay.id).where(LtiTokenReplay.token_hash == digest)).first():
        raise LaunchError("id_token replayed: it was already accepted once")
    _check_nonce(session, claims, login.nonce, now)
    deployment = _find_deployment(session, registration, claims)
    message_type = _check_message(claims, login.target_link_uri)
    roles = decide_roles(claims[LTI + "roles"])
    if message_type == MESSAGE_DEEP_LINKING and AppRole.TEACHER not in roles.app_roles:
        raise LaunchError("deep linking is for instructors only", status=403)
    return ValidatedLaunch(
        registration=registration,
        deployment=deployment,
        claims=claims,
        token_hash=digest,
        expires_at=datetime.fromtimestamp(_number(claims, "exp"), UTC),
        nonce=login.nonce,
        message_type=message_type,
        roles=roles,
    )


# Persistence ----------------------------------------------------------------------------------------------


def _get_or_create(session: Session, find: Callable[[], T | None], make: Callable[[], T]) -> T:
    """`find()`, else insert `make()` in a SAVEPOINT; a concurrent insert of the same row wins and is reused."""
    found = find()
    if found is not None:
        return found
    try:
        with session.begin_nested():
            created = make()
            session.add(created)
    except IntegrityError:
        found = find()
        if found is None:
            raise
        return found
    return created


def _text(value: object, limit: int) -> str | None:
    return value.strip()[:limit] or None if isinstance(value, str) else None


def _consume(session: Session, launch: ValidatedLaunch, now: datetime) -> None:
    result = cast(
        "CursorResult[Any]",
        session.execute(
            update(LtiNonce)
            .where(LtiNonce.value == launch.nonce, LtiNonce.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        # A concurrent launch with the same nonce got here first.
        raise LaunchError("nonce already used")
    try:
        with session.begin_nested():
            session.add(
                LtiTokenReplay(token_hash=launch.token_hash, seen_at=now, expires_at=launch.expires_at)
            )
    except IntegrityError as exc:
        raise LaunchError("id_token replayed: it was already accepted once") from exc


def _upsert_person(session: Session, issuer: str, claims: Mapping[str, Any], now: datetime) -> Person:
    sub = str(claims["sub"])[:255]
    given = _text(claims.get("given_name"), 255)
    family = _text(claims.get("family_name"), 255)
    if given is None and family is None:
        given = _text(claims.get("name"), 255)
    email = _text(claims.get("email"), 320)

    def find() -> Person | None:
        return session.scalars(
            select(Person)
            .join(PersonIdentifier)
            .where(
                PersonIdentifier.source == IdentifierSource.LTI,
                PersonIdentifier.system == issuer,
                PersonIdentifier.value == sub,
            )
        ).one_or_none()

    def make() -> Person:
        person = Person(given_name=given or "", family_name=family or "", email=email, created_at=now)
        person.identifiers.append(PersonIdentifier(source=IdentifierSource.LTI, system=issuer, value=sub))
        return person

    person = _get_or_create(session, find, make)
    # Names and email are optional claims (privacy settings); keep what we knew when they are absent.
    if given is not None:
        person.given_name = given
    if family is not None:
        person.family_name = family
    if email is not None:
        person.email = email
    return person


def _default_org(session: Session, registration: LtiRegistration) -> Org:
    sourced_id = f"lti-registration-{registration.id}"
    return _get_or_create(
        session,
        lambda: session.scalars(select(Org).where(Org.sourced_id == sourced_id)).one_or_none(),
        lambda: Org(sourced_id=sourced_id, name=registration.name[:255], type=OrgType.SCHOOL),
    )


def _new_class(session: Session, launch: ValidatedLaunch, context: Mapping[str, Any]) -> SchoolClass:
    org_id = launch.deployment.org_id or _default_org(session, launch.registration).id
    label = _text(context.get("label"), 64)
    code = label or str(context["id"])[:64]
    title = _text(context.get("title"), 255) or label or str(context["id"])[:255]
    course = _get_or_create(
        session,
        lambda: session.scalars(
            select(Course).where(Course.org_id == org_id, Course.code == code)
        ).one_or_none(),
        lambda: Course(org_id=org_id, code=code, title=title, credits=Decimal("0")),
    )
    school_class = SchoolClass(course_id=course.id, org_id=org_id, title=title)
    session.add(school_class)
    session.flush()
    return school_class


CLAIM_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
CLAIM_AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"


def _remember_services(row: LtiContext, claims: Mapping[str, Any]) -> None:
    """Keep the context's NRPS and AGS endpoints (NRPS 2.0 §3.6.1, AGS 2.0 §3.4) for later syncs."""
    nrps = claims.get(CLAIM_NRPS)
    if isinstance(nrps, dict) and isinstance(nrps.get("context_memberships_url"), str):
        row.memberships_url = nrps["context_memberships_url"][:2048]
    ags = claims.get(CLAIM_AGS)
    if isinstance(ags, dict):
        if isinstance(ags.get("lineitems"), str):
            row.line_items_url = ags["lineitems"][:2048]
        scopes = ags.get("scope")
        if isinstance(scopes, list):
            row.ags_scopes = [str(scope)[:255] for scope in scopes][:10]


def _upsert_context(session: Session, launch: ValidatedLaunch) -> LtiContext | None:
    context = launch.claims.get(LTI + "context")
    if not isinstance(context, dict):
        return None
    context_id = str(context["id"])[:255]
    registration_id = launch.registration.id
    row = _get_or_create(
        session,
        lambda: session.scalars(
            select(LtiContext).where(
                LtiContext.registration_id == registration_id, LtiContext.context_id == context_id
            )
        ).one_or_none(),
        lambda: LtiContext(registration_id=registration_id, context_id=context_id),
    )
    row.title = _text(context.get("title"), 255) or row.title
    _remember_services(row, launch.claims)
    if row.class_id is None:
        row.class_id = _new_class(session, launch, context).id
    session.flush()
    return row


def _upsert_enrollment(session: Session, class_id: int, person_id: int, launch: ValidatedLaunch) -> None:
    role = launch.roles.enrollment_role
    if role is None:
        return
    enrollment = _get_or_create(
        session,
        lambda: session.scalars(
            select(Enrollment).where(
                Enrollment.class_id == class_id, Enrollment.person_id == person_id, Enrollment.role == role
            )
        ).one_or_none(),
        lambda: Enrollment(class_id=class_id, person_id=person_id, role=role, is_active=True),
    )
    enrollment.is_active = True


def _upsert_resource_link(session: Session, context: LtiContext, resource_link_id: str) -> LtiResourceLink:
    return _get_or_create(
        session,
        lambda: session.scalars(
            select(LtiResourceLink).where(
                LtiResourceLink.lti_context_id == context.id,
                LtiResourceLink.resource_link_id == resource_link_id,
            )
        ).one_or_none(),
        lambda: LtiResourceLink(lti_context_id=context.id, resource_link_id=resource_link_id),
    )


def _link_custom_task(
    session: Session, link: LtiResourceLink, claims: Mapping[str, Any], class_id: int | None
) -> None:
    """Bind the resource link to the task named by custom `task_id` (set by our Deep Linking response).

    Only a task of the launch's own class counts: a link copied into another course keeps its custom
    parameters but must not reach the original class's task, so it is then left as it was.
    """
    custom = claims.get(LTI + "custom")
    raw = custom.get("task_id") if isinstance(custom, dict) else None
    if class_id is None or not isinstance(raw, str) or not (raw.isascii() and raw.isdigit()):
        return
    task = session.get(Task, int(raw))
    if task is not None and task.class_id == class_id:
        link.task_id = task.id


def record_launch(session: Session, launch: ValidatedLaunch, *, now: datetime) -> AcceptedLaunch:
    """Consume the nonce, record the id_token against replay, upsert everything the launch tells us."""
    _consume(session, launch, now)
    claims = launch.claims
    person = _upsert_person(session, launch.registration.issuer, claims, now)
    session.flush()
    context = _upsert_context(session, launch)
    class_id = context.class_id if context is not None else None
    if class_id is not None:
        _upsert_enrollment(session, class_id, person.id, launch)
    resource_link = claims.get(LTI + "resource_link")
    resource_link_id = (
        str(resource_link["id"])[:255]
        if launch.message_type == MESSAGE_RESOURCE_LINK and isinstance(resource_link, dict)
        else None
    )
    if context is not None and resource_link_id is not None:
        link = _upsert_resource_link(session, context, resource_link_id)
        _link_custom_task(session, link, claims, class_id)
    settings = claims.get(CLAIM_DEEP_LINKING)
    session.flush()
    return AcceptedLaunch(
        person_id=person.id,
        registration_id=launch.registration.id,
        deployment_id=launch.deployment.deployment_id,
        lti_context_id=context.id if context is not None else None,
        class_id=class_id,
        roles=launch.roles.app_roles,
        message_type=launch.message_type,
        resource_link_id=resource_link_id,
        deep_link_settings=dict(settings)
        if launch.message_type == MESSAGE_DEEP_LINKING and isinstance(settings, dict)
        else None,
    )
