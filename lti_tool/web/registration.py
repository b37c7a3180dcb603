"""LTI Dynamic Registration: the page a platform opens to register the tool (pending until approved)."""

from __future__ import annotations

import logging
import secrets

from flask import Blueprint, Response, abort, current_app, make_response, render_template, request

from connectors.lms.http import new_session
from lti_tool.lti.dynamic_registration import DynamicRegistrationError, register_with_platform
from lti_tool.models import utcnow
from lti_tool.registrations import tool_urls
from lti_tool.web.session import app_state, db_session

bp = Blueprint("registration", __name__)
log = logging.getLogger("mastery_bridge.web")


def _content_security_policy(nonce: str) -> str:
    # Platforms show this page in an iframe (Canvas) or a popup (Moodle): any ancestor may frame it. The one
    # inline script, which tells the platform to close the registration window, runs by its nonce only.
    return (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self'; img-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors *"
    )


@bp.get("/lti/register")
def register() -> Response:
    """The registration initiation URL (LTI Dynamic Registration 1.0): register, store pending, close."""
    openid_configuration = request.args.get("openid_configuration", "").strip()
    if not openid_configuration:
        abort(
            400,
            description="The openid_configuration query parameter is missing: open this page from "
            "your platform's LTI Advantage registration screen.",
        )
    registration_token = request.args.get("registration_token", "").strip() or None
    settings = app_state().settings
    http = new_session()
    try:
        result = register_with_platform(
            db_session(),
            http,
            openid_configuration_url=openid_configuration,
            registration_token=registration_token,
            urls=tool_urls(settings.public_base_url),
            # Plain http to localhost only while developing or testing (see the module docstring).
            allow_loopback_http=settings.is_debug or current_app.testing,
            now=utcnow(),
        )
    except DynamicRegistrationError as exc:
        # The message names the field or URL (without its query string), never the token.
        log.warning("dynamic registration failed: %s (status %d)", exc, exc.status)
        abort(exc.status, description=str(exc))
    finally:
        http.close()
    log.info(
        "dynamic registration %d stored as %s for issuer %s",
        result.registration_id,
        result.status,
        result.issuer,
    )
    nonce = secrets.token_urlsafe(16)
    response = make_response(render_template("registration/registered.html", result=result, nonce=nonce))
    response.headers["Content-Security-Policy"] = _content_security_policy(nonce)
    response.headers["Cache-Control"] = "no-store"
    return response
