"""After the launch: a short-lived signed session token carried by the page, never a third-party cookie.

The token travels as `?mb_session=` on links, a hidden `mb_session` form field, or `Authorization: Bearer`.
Views declare who may see them with `@require_launch("teacher")` and read the launch with `current_launch()`;
templates build links with `launch_url_for(endpoint, **values)`.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, ParamSpec, TypeVar

from flask import abort, g, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from lti_tool.lti.launch import AcceptedLaunch
from lti_tool.lti.roles import AppRole
from lti_tool.web.session import app_state

SESSION_SALT = "mb-session"
SESSION_MAX_AGE_SECONDS = 2 * 3600
SESSION_PARAM = "mb_session"

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class LaunchSession:
    """Who launched, from where and as what; `deployment_id` and `resource_link_id` are the platform's ids,
    `registration_id`, `lti_context_id` and `class_id` are row ids of this tool's database."""

    person_id: int
    registration_id: int
    deployment_id: str
    lti_context_id: int | None
    class_id: int | None
    roles: frozenset[AppRole]
    message_type: str
    resource_link_id: str | None
    deep_link_settings: dict[str, Any] | None = field(default=None, hash=False)
    launch_id: str = ""

    @classmethod
    def from_launch(cls, launch: AcceptedLaunch) -> LaunchSession:
        """A new session (with a fresh launch_id) for an accepted launch."""
        return cls(**asdict(launch), launch_id=uuid.uuid4().hex)

    def has_role(self, *roles: str) -> bool:
        """True when the session holds any of `roles`."""
        return any(role in self.roles for role in roles)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(app_state().settings.secret_key, salt=SESSION_SALT)


def issue_session_token(launch_session: LaunchSession) -> str:
    """The signed, timestamped token for `launch_session`."""
    payload = asdict(launch_session)
    payload["roles"] = sorted(role.value for role in launch_session.roles)
    return _serializer().dumps(payload)


def read_session_token(token: str, *, max_age: int = SESSION_MAX_AGE_SECONDS) -> LaunchSession | None:
    """The session in `token`, or None when it is forged, malformed or older than `max_age` seconds."""
    try:
        payload = _serializer().loads(token, max_age=max_age)
        payload["roles"] = frozenset(AppRole(role) for role in payload["roles"])
        return LaunchSession(**payload)
    except (BadSignature, KeyError, TypeError, ValueError):
        return None


def _token_from_request() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.form.get(SESSION_PARAM) or request.args.get(SESSION_PARAM) or None


def _load_session() -> LaunchSession:
    cached = g.get("launch_session")
    if isinstance(cached, LaunchSession):
        return cached
    token = _token_from_request()
    launch_session = read_session_token(token) if token else None
    if launch_session is None:
        abort(
            401, description="Your session is missing or has expired. Open the tool again from your course."
        )
    g.launch_session = launch_session
    g.session_token = token
    return launch_session


def current_launch() -> LaunchSession:
    """The LaunchSession of this request (401 if the request carries no valid token)."""
    return _load_session()


def require_launch(*roles: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a view: 401 without a valid session token, 403 unless it holds one of `roles` (if any)."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            launch_session = _load_session()
            if roles and not launch_session.has_role(*roles):
                abort(403, description="This page is not available for your role in this course.")
            return view(*args, **kwargs)

        return wrapper

    return decorate


def launch_url_for(endpoint: str, **values: Any) -> str:
    """`url_for` that carries the current session token, for links and form actions in launched pages."""
    token = g.get("session_token")
    if isinstance(token, str):
        values[SESSION_PARAM] = token
    return url_for(endpoint, **values)
