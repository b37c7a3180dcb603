"""LTI endpoints that need no launch: the tool's JWKS and the Canvas developer-key configuration."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify

from lti_tool.keys import current_signing_key, published_jwks
from lti_tool.models import utcnow
from lti_tool.registrations import tool_urls
from lti_tool.web.session import app_state, db_session

bp = Blueprint("lti", __name__)

# Platforms cache the JWKS; five minutes keeps a rotation visible well inside any sane overlap.
JWKS_MAX_AGE_SECONDS = 300

TOOL_TITLE = "mastery-bridge"
TOOL_DESCRIPTION = "Mastery evidence in, legacy grades out: competency progress and translated grades."

# LTI AGS 2.0 §3.1 and NRPS 2.0 §2.1 scopes.
SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)


# The rule registered first (the lower decorator) is the one url_for builds: /lti/jwks.
@bp.get("/.well-known/jwks.json")
@bp.get("/lti/jwks")
def jwks() -> Response:
    """The tool's public keys (RFC 7517); creates the first signing key if there is none yet."""
    session = db_session()
    now = utcnow()
    document = published_jwks(session, now=now)
    if not document["keys"]:
        current_signing_key(session, app_state().settings.secret_key, now=now)
        document = published_jwks(session, now=now)
    response = jsonify(document)
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_SECONDS}"
    return response


@bp.get("/lti/config/canvas.json")
def canvas_config() -> Response:
    """A Canvas developer key "Paste JSON" configuration for LTI 1.3."""
    return jsonify(build_canvas_config(app_state().settings.public_base_url))


def build_canvas_config(public_base_url: str) -> dict[str, Any]:
    """The Canvas LTI 1.3 developer-key JSON for a tool served at `public_base_url`."""
    urls = tool_urls(public_base_url)

    def placement(name: str, message_type: str, **extra: str) -> dict[str, str]:
        target = urls.deep_link_url if message_type == "LtiDeepLinkingRequest" else urls.launch_url
        return {
            "placement": name,
            "message_type": message_type,
            "target_link_uri": target,
            "text": TOOL_TITLE,
            **extra,
        }

    return {
        "title": TOOL_TITLE,
        "description": TOOL_DESCRIPTION,
        "oidc_initiation_url": urls.login_url,
        "target_link_uri": urls.launch_url,
        "public_jwk_url": urls.jwks_url,
        "scopes": list(SCOPES),
        "extensions": [
            {
                "platform": "canvas.instructure.com",
                "domain": urlsplit(public_base_url).netloc,
                "tool_id": TOOL_TITLE,
                "privacy_level": "public",
                "settings": {
                    "text": TOOL_TITLE,
                    "placements": [
                        # "members": teachers and students of the course see the tab.
                        placement("course_navigation", "LtiResourceLinkRequest", visibility="members"),
                        placement("assignment_selection", "LtiDeepLinkingRequest"),
                        placement("link_selection", "LtiDeepLinkingRequest"),
                        placement("account_navigation", "LtiResourceLinkRequest", visibility="admins"),
                    ],
                },
            }
        ],
    }
