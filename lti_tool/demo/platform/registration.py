"""Platform side of LTI Dynamic Registration 1.0, Moodle-style: openid-configuration and a registration endpoint.

The demo LMS answers registrations with its configured client_id and deployment_id, so a tool that
registered itself can launch straight after an administrator approves it.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from lti_tool.demo.platform.errors import PlatformRequestError
from lti_tool.demo.platform.state import current_platform

REGISTRATION_TOKEN = "demo-registration-token"  # noqa: S105 - a published demo value, not a secret
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
SCOPES = (
    "openid",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)


def openid_configuration() -> Response:
    """The platform's OpenID configuration (Dynamic Registration 1.0 §3.4)."""
    config = current_platform().config
    return jsonify(
        {
            "issuer": config.issuer,
            "authorization_endpoint": config.url("/platform/authorize"),
            "token_endpoint": config.token_url,
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "jwks_uri": config.url("/platform/jwks"),
            "registration_endpoint": config.url("/platform/register"),
            "scopes_supported": list(SCOPES),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["iss", "aud", "sub", "name", "given_name", "family_name", "email"],
            PLATFORM_CONFIGURATION: {
                "product_family_code": "demo-lms",
                "version": "1.0",
                "messages_supported": [
                    {"type": "LtiResourceLinkRequest"},
                    {"type": "LtiDeepLinkingRequest", "placements": ["ContentArea"]},
                ],
            },
        }
    )


def register() -> tuple[Response, int]:
    """Accept a tool registration (Dynamic Registration 1.0 §3.5) and answer with client and deployment ids."""
    platform = current_platform()
    if request.headers.get("Authorization") != f"Bearer {REGISTRATION_TOKEN}":
        raise PlatformRequestError("registration token missing or wrong", status=401, error="invalid_token")
    body: Any = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get(TOOL_CONFIGURATION), dict):
        raise PlatformRequestError(
            f"the body must be JSON with {TOOL_CONFIGURATION}", error="invalid_client_metadata"
        )
    if body.get("redirect_uris") != list(platform.config.tool_redirect_urls):
        raise PlatformRequestError(
            "redirect_uris do not match this course's tool", error="invalid_redirect_uri"
        )
    platform.registrations.append(body)
    answer = {
        **body,
        "client_id": platform.config.client_id,
        TOOL_CONFIGURATION: {**body[TOOL_CONFIGURATION], "deployment_id": platform.config.deployment_id},
    }
    return jsonify(answer), 200
