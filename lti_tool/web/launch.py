"""The LTI 1.3 launch endpoints: OIDC login initiation, the launch itself, and the deep-linking page.

Also the response headers every page of the tool needs inside a platform iframe.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from lti_tool.errors import LaunchError
from lti_tool.keys import current_signing_key
from lti_tool.lti.deep_linking import (
    DeepLinkingSettings,
    TaskLink,
    build_response_claims,
    require_resource_links,
    resource_link_item,
    sign_response,
)
from lti_tool.lti.hooks import refresh_roster
from lti_tool.lti.launch import LaunchForm, platform_origin_of_token, validate_launch
from lti_tool.lti.launch_record import record_launch
from lti_tool.lti.login import (
    STATE_MAX_AGE_SECONDS,
    begin_login,
    state_storage_key,
    storage_target_of,
)
from lti_tool.lti.platform_keys import PlatformKeyCache
from lti_tool.lti.registry import RegistryCache
from lti_tool.lti.roles import AppRole
from lti_tool.models import LtiRegistration, SchoolClass, utcnow
from lti_tool.policies import policy_from_row, policy_row_for_class
from lti_tool.registrations import tool_urls
from lti_tool.tasks import (
    FieldError,
    TaskDraft,
    create_task,
    find_class_tasks,
    list_class_tasks,
    list_indicator_choices,
    parse_ids,
    validate_task_draft,
)
from lti_tool.web.auth import (
    LaunchSession,
    current_launch,
    issue_session_token,
    launch_url_for,
    require_launch,
)
from lti_tool.web.session import app_state, db_session

bp = Blueprint("launch", __name__)
bp.add_app_template_global(launch_url_for)

_KEYS_EXTENSION = "mastery_bridge.platform_keys"
_REGISTRY_EXTENSION = "mastery_bridge.registry"
_keys_lock = threading.Lock()
STORAGE_FIELD = "mb_storage_state"
STORAGE_ATTEMPTED_FIELD = "mb_storage_attempted"
# A line item's scoreMaximum when the class has no grading policy: the top of the usual 1-4 scale.
DEFAULT_SCORE_MAXIMUM = Decimal(4)


def platform_keys(app: Flask | None = None) -> PlatformKeyCache:
    """The app's platform JWKS cache (one per app, created on first use)."""
    target = app or current_app
    with _keys_lock:
        cache = target.extensions.get(_KEYS_EXTENSION)
        if not isinstance(cache, PlatformKeyCache):
            cache = PlatformKeyCache()
            target.extensions[_KEYS_EXTENSION] = cache
    return cache


def registry(app: Flask | None = None) -> RegistryCache:
    """The app's cache of registrations and deployments (one per app, created on first use)."""
    target = app or current_app
    cache = target.extensions.get(_REGISTRY_EXTENSION)
    if isinstance(cache, RegistryCache):
        return cache
    with _keys_lock:
        cache = target.extensions.get(_REGISTRY_EXTENSION)
        if not isinstance(cache, RegistryCache):
            cache = RegistryCache()
            target.extensions[_REGISTRY_EXTENSION] = cache
    return cache


@bp.after_app_request
def _frameable(response: Response) -> Response:
    # Platforms show the tool in an iframe (LTI 1.3 Core §5.4.1, document_target iframe); Canvas frames it
    # from each school's own domain, not from the issuer, so any ancestor is allowed.
    response.headers.setdefault("Content-Security-Policy", "frame-ancestors *")
    # Launched pages carry the session token in their URLs: do not leak it to other sites.
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _set_state_cookie(response: BaseResponse, name: str, value: str, *, max_age: int) -> None:
    # Third-party context: SameSite=None needs Secure; Partitioned (CHIPS) keeps it usable where browsers
    # partition third-party cookies. Browsers that block them entirely use Platform Storage instead.
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/lti/",
        secure=True,
        httponly=True,
        samesite="None",
        partitioned=True,
    )


@bp.route("/lti/login", methods=["GET", "POST"])
def login() -> BaseResponse | tuple[str, int]:
    """OIDC login initiation (Security Framework §5.1.1.1), by GET or form POST."""
    settings = app_state().settings
    login_redirect = begin_login(
        db_session(),
        request.values.to_dict(),
        public_base_url=settings.public_base_url,
        secret_key=settings.secret_key,
        registry=registry(),
        now=utcnow(),
    )
    response: BaseResponse
    if login_redirect.storage_target is None:
        response = redirect(login_redirect.auth_url, code=302)
    else:
        # LTI Client Side postMessages: store the state in the platform first, then go to the auth URL.
        response = current_app.make_response(
            render_template("launch/login.html", login=login_redirect, page_class="launch-handoff")
        )
    _set_state_cookie(
        response, login_redirect.storage_key, login_redirect.signed_state, max_age=STATE_MAX_AGE_SECONDS
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _landing_url(launch_session: LaunchSession, token: str) -> str:
    if launch_session.deep_link_settings is not None:
        return url_for("launch.deep_link", mb_session=token)
    if AppRole.TEACHER in launch_session.roles and launch_session.class_id is not None:
        return url_for("teacher.grid", class_id=launch_session.class_id, mb_session=token)
    if AppRole.STUDENT in launch_session.roles:
        return url_for("student.student_progress", mb_session=token)
    if AppRole.STAFF in launch_session.roles:
        return url_for("home.staff", mb_session=token)
    return url_for("home.welcome", mb_session=token)


@bp.post("/lti/launch")
def launch() -> BaseResponse | tuple[str, int]:
    """The redirect_uri (Security Framework §5.1.1.3): validate the id_token, record the launch, land."""
    form = request.form
    state = form.get("state") or None
    id_token = form.get("id_token") or None
    cookie = request.cookies.get(state_storage_key(state)) if state else None
    stored = form.get(STORAGE_FIELD) or None
    storage_target = storage_target_of(state) if state else None
    session = db_session()
    if (
        state is not None
        and cookie is None
        and stored is None
        and storage_target is not None
        and id_token is not None
        and not form.get("error")
        and not form.get(STORAGE_ATTEMPTED_FIELD)
    ):
        # No cookie came back (third-party cookies blocked): fetch the state from Platform Storage, post again.
        return render_template(
            "launch/storage.html",
            id_token=id_token,
            state=state,
            storage_key=state_storage_key(state),
            storage_target=storage_target,
            platform_origin=platform_origin_of_token(session, id_token),
            page_class="launch-handoff",
        ), 200
    settings = app_state().settings
    now = utcnow()
    validated = validate_launch(
        session,
        LaunchForm(id_token=id_token, state=state, signed_state=cookie or stored, error=form.get("error")),
        secret_key=settings.secret_key,
        keys=platform_keys(),
        registry=registry(),
        now=now,
    )
    launch_session = LaunchSession.from_launch(record_launch(session, validated, now=now))
    if AppRole.TEACHER in launch_session.roles and launch_session.lti_context_id is not None:
        refresh_roster(session, launch_session.lti_context_id, secret_key=settings.secret_key, now=now)
    token = issue_session_token(launch_session)
    response = redirect(_landing_url(launch_session, token), code=303)
    if cookie is not None and state is not None:
        # One launch per state: the cookie has done its job.
        _set_state_cookie(response, state_storage_key(state), "", max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return response


# Deep Linking 2.0 content selection -------------------------------------------------------------------------
#
# CSRF: the tool sets no session cookie, so a cross-site form post carries no ambient authority. The POST is
# authorised only by the signed `mb_session` token, sent in a hidden field of the form the tool rendered; a
# forged form would have to know the teacher's token, which never leaves the tool's pages (Referrer-Policy
# same-origin). That token is the CSRF defence here, so the POST view must keep requiring it.


@dataclass(frozen=True, slots=True)
class _DeepLinkRequest:
    launch_session: LaunchSession
    settings: DeepLinkingSettings
    school_class: SchoolClass


def _deep_link_request(session: Session) -> _DeepLinkRequest:
    launch_session = current_launch()
    if launch_session.deep_link_settings is None:
        raise LaunchError("this session did not come from a deep-linking launch", status=403)
    settings = DeepLinkingSettings.from_claim(launch_session.deep_link_settings)
    require_resource_links(settings)
    school_class = (
        session.get(SchoolClass, launch_session.class_id) if launch_session.class_id is not None else None
    )
    if school_class is None:
        raise LaunchError("the deep-linking launch names no course context, so there is no class to add to")
    return _DeepLinkRequest(launch_session, settings, school_class)


def _render_picker(
    session: Session,
    request_: _DeepLinkRequest,
    *,
    draft: TaskDraft,
    errors: Sequence[FieldError] = (),
    choice: str = "",
    picked_ids: Collection[int] = (),
) -> str:
    return render_template(
        "launch/deep_link.html",
        settings=request_.settings,
        school_class=request_.school_class,
        tasks=list_class_tasks(session, request_.school_class.id),
        indicators=list_indicator_choices(session, request_.school_class),
        draft=draft,
        errors=list(errors),
        error_fields={error.field for error in errors},
        choice=choice,
        picked_ids=set(picked_ids),
        session_token=g.get("session_token", ""),
    )


def _score_maximum(session: Session, school_class: SchoolClass) -> Decimal:
    row = policy_row_for_class(session, school_class)
    return policy_from_row(row).scale.maximum if row is not None else DEFAULT_SCORE_MAXIMUM


@bp.get("/lti/deep-link")
@require_launch(AppRole.TEACHER)
def deep_link() -> str:
    """Content selection in a deep-linking launch (Deep Linking 2.0 §4.4): pick a task of the class or create one."""
    session = db_session()
    request_ = _deep_link_request(session)
    return _render_picker(session, request_, draft=TaskDraft(title=request_.settings.title or ""))


@bp.post("/lti/deep-link")
@require_launch(AppRole.TEACHER)
def submit_deep_link() -> tuple[str, int]:
    """Store the picked or new task, then send the platform an LtiDeepLinkingResponse (Deep Linking 2.0 §4.5)."""
    session = db_session()
    request_ = _deep_link_request(session)
    launch_session, settings, school_class = request_.launch_session, request_.settings, request_.school_class
    form = request.form
    choice = form.get("choice", "")
    draft = TaskDraft(
        title=form.get("title", ""),
        kind=form.get("kind", ""),
        indicator_ids=tuple(form.getlist("indicator_ids")),
        assigned_on=form.get("assigned_on", ""),
        description=form.get("description", ""),
    )
    now = utcnow()
    links: list[TaskLink]
    if choice == "existing":
        task_ids = parse_ids(form.getlist("task_id")) or ()
        tasks = find_class_tasks(session, school_class.id, task_ids)
        problem = None
        if not task_ids or len(tasks) != len(task_ids):
            problem = "Choose a task of this class to add."
        elif len(tasks) > 1 and not settings.accept_multiple:
            problem = "Your course accepts one task at a time: choose only one."
        if problem is not None:
            errors = [FieldError("task_id", problem)]
            return _render_picker(session, request_, draft=draft, errors=errors, choice=choice), 400
        links = [TaskLink(task.id, task.title) for task in tasks]
    elif choice == "new":
        allowed = {indicator.id for indicator in list_indicator_choices(session, school_class)}
        new_task, errors = validate_task_draft(draft, allowed_indicator_ids=allowed)
        if new_task is None:
            return _render_picker(session, request_, draft=draft, errors=errors, choice=choice), 400
        task = create_task(
            session, school_class.id, new_task, created_by_id=launch_session.person_id, now=now
        )
        links = [TaskLink(task.id, task.title)]
    else:
        abort(400, description=f"choice must be 'existing' or 'new', got {choice[:32]!r}")

    registration = session.get(LtiRegistration, launch_session.registration_id)
    if registration is None:
        raise LaunchError(f"registration {launch_session.registration_id} of this launch no longer exists")
    app_settings = app_state().settings
    score_maximum = _score_maximum(session, school_class)
    launch_url = tool_urls(app_settings.public_base_url).launch_url
    items = [
        resource_link_item(
            link, launch_url=launch_url, score_maximum=score_maximum, has_line_item=settings.accept_lineitem
        )
        for link in links
    ]
    claims = build_response_claims(
        settings,
        items,
        client_id=registration.client_id,
        platform_issuer=registration.issuer,
        deployment_id=launch_session.deployment_id,
        now=now,
    )
    response_jwt = sign_response(claims, current_signing_key(session, app_settings.secret_key, now=now))
    return render_template(
        "launch/deep_link_return.html",
        return_url=settings.deep_link_return_url,
        response_jwt=response_jwt,
        titles=[link.title for link in links],
    ), 200
