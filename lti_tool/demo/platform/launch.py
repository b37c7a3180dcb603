"""Platform side of an LTI 1.3 launch: home page, OIDC login initiation, authorization, JWKS, deep-link return."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from flask import Response, redirect, render_template_string, request, url_for
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry
from werkzeug.wrappers import Response as BaseResponse

from lti_tool.demo.platform.claims import LTI
from lti_tool.demo.platform.errors import PlatformRequestError
from lti_tool.demo.platform.pages import AUTO_POST_FORM, DEEP_LINK_DONE_PAGE, HOME_PAGE, LAUNCH_PAGE
from lti_tool.demo.platform.state import MESSAGE_DEEP_LINKING, MESSAGE_RESOURCE_LINK, current_platform

CLAIM_CONTENT_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
CLAIM_DL_DATA = "https://purl.imsglobal.org/spec/lti-dl/claim/data"


def _page_error(message: str) -> PlatformRequestError:
    return PlatformRequestError(message, is_api=False)


def home() -> str:
    """The course page: every teacher and student with a Launch button."""
    config = current_platform().config
    teachers = [user for user in config.users if user.is_instructor]
    students = [user for user in config.users if user.is_learner]
    staff = [user for user in config.users if user.is_administrator]
    groups = [("Teachers", teachers), ("Students", students)] + ([("Staff", staff)] if staff else [])
    return render_template_string(HOME_PAGE, context=config.context, groups=groups)


def launch_page(user_id: str) -> str:
    """The platform page framing the tool for `user_id`; also answers platform-storage postMessages."""
    config = current_platform().config
    user = config.find_user(user_id)
    if user is None:
        raise _page_error(f"unknown user {user_id!r}")
    message_type = request.args.get("message_type", MESSAGE_RESOURCE_LINK)
    initiate_url = url_for("demo_platform.initiate", user_id=user_id, message_type=message_type)
    return render_template_string(
        LAUNCH_PAGE,
        user=user,
        context=config.context,
        initiate_url=initiate_url,
        tool_origin=config.tool_origin,
    )


def initiate() -> BaseResponse | str:
    """Third-party initiated login (Security Framework §5.1.1.1; LTI 1.3 Core §4.1), by GET or POST."""
    platform = current_platform()
    config = platform.config
    user_id = request.args.get("user_id", "")
    message_type = request.args.get("message_type", MESSAGE_RESOURCE_LINK)
    if config.find_user(user_id) is None:
        raise _page_error(f"unknown user {user_id!r}")
    if message_type not in (MESSAGE_RESOURCE_LINK, MESSAGE_DEEP_LINKING):
        raise _page_error(f"unsupported message_type {message_type!r}")
    target = config.deep_link_url if message_type == MESSAGE_DEEP_LINKING else config.launch_url
    params = {
        "iss": config.issuer,
        "login_hint": user_id,
        "target_link_uri": target,
        "lti_message_hint": platform.remember_launch(user_id, message_type),
        "client_id": config.client_id,
        "lti_deployment_id": config.deployment_id,
        # LTI Client Side postMessages: the tool's frame talks to this page, its parent.
        "lti_storage_target": "_parent",
    }
    method = request.args.get("method", config.login_initiation_method).upper()
    if method == "POST":
        return render_template_string(
            AUTO_POST_FORM, title="Launching…", action=config.tool_login_url, fields=list(params.items())
        )
    separator = "&" if "?" in config.tool_login_url else "?"
    return redirect(config.tool_login_url + separator + urlencode(params))


def authorize() -> str:
    """OIDC authentication endpoint (Security Framework §5.1.1.2–3): validate, then form-post the id_token."""
    platform = current_platform()
    config = platform.config
    values = request.values
    if values.get("client_id") != config.client_id:
        raise _page_error(f"unknown client_id {values.get('client_id')!r}")
    redirect_uri = values.get("redirect_uri", "")
    if redirect_uri not in config.tool_redirect_urls:
        raise _page_error(f"redirect_uri {redirect_uri!r} is not registered for this tool")
    expected = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
    }
    for name, value in expected.items():
        if values.get(name) != value:
            raise _page_error(f"{name} must be {value!r}, got {values.get(name)!r}")
    nonce = values.get("nonce")
    if not nonce:
        raise _page_error("nonce is missing")
    intent = platform.launch_for_hint(values.get("lti_message_hint", ""))
    if intent is None:
        raise _page_error("lti_message_hint is unknown or missing")
    if values.get("login_hint") != intent.user_id:
        raise _page_error("login_hint does not match the launch this lti_message_hint was issued for")
    id_token = platform.sign_id_token(user_id=intent.user_id, message_type=intent.message_type, nonce=nonce)
    fields = [("id_token", id_token)]
    if "state" in values:
        fields.append(("state", values["state"]))
    return render_template_string(AUTO_POST_FORM, title="Launching…", action=redirect_uri, fields=fields)


def jwks() -> Response:
    """The platform's public keys (Security Framework §6.3), cacheable for `jwks_max_age_seconds`."""
    platform = current_platform()
    response = Response(json.dumps(platform.jwks()), mimetype="application/json")
    response.headers["Cache-Control"] = f"public, max-age={platform.config.jwks_max_age_seconds}"
    return response


def deep_link_return() -> str:
    """Receive an LtiDeepLinkingResponse (Deep Linking 2.0 §4.5), record its items, confirm."""
    platform = current_platform()
    config = platform.config
    token = request.form.get("JWT", "")
    if not token:
        raise _page_error("the JWT form field is missing")
    try:
        decoded = jwt.decode(token, platform.tool_keys(), algorithms=["RS256"])
        JWTClaimsRegistry(
            now=lambda: int(platform.clock()),
            leeway=30,
            iss={"essential": True, "value": config.client_id},
            aud={"essential": True, "value": config.issuer},
            exp={"essential": True},
            iat={"essential": True},
        ).validate(decoded.claims)
    except (JoseError, ValueError) as exc:
        raise _page_error(f"the deep linking response JWT is invalid: {type(exc).__name__}") from exc
    claims = decoded.claims
    checks = {
        LTI + "message_type": "LtiDeepLinkingResponse",
        LTI + "version": "1.3.0",
        LTI + "deployment_id": config.deployment_id,
    }
    for name, value in checks.items():
        if claims.get(name) != value:
            raise _page_error(f"claim {name} must be {value!r}")
    if not platform.is_deep_link_data(claims.get(CLAIM_DL_DATA)):
        raise _page_error("the data claim does not echo a deep linking request of this platform")
    items = claims.get(CLAIM_CONTENT_ITEMS, [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise _page_error("content_items is not a list of objects")
    platform.record_deep_link_items(items)
    return render_template_string(DEEP_LINK_DONE_PAGE, items=items, context=config.context)
