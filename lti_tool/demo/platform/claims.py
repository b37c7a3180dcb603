"""The claims of the id_tokens the demo platform issues (LTI 1.3 Core §5.3, §5.4; Deep Linking 2.0 §4.4)."""

from __future__ import annotations

from typing import Any

from lti_tool.demo.platform.config import CONTEXT_TYPE_COURSE_OFFERING, DemoUser, PlatformConfig

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
CLAIM_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
CLAIM_AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
CLAIM_DEEP_LINKING = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
ID_TOKEN_LIFETIME_SECONDS = 300

SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SCOPE_LINE_ITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINE_ITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
AGS_SCOPES = (SCOPE_LINE_ITEM, SCOPE_LINE_ITEM_READONLY, SCOPE_RESULT_READONLY, SCOPE_SCORE)
ALLOWED_SCOPES = frozenset((SCOPE_NRPS, *AGS_SCOPES))


def memberships_url(config: PlatformConfig) -> str:
    """The NRPS `context_memberships_url` of the demo course."""
    return config.url(f"/platform/api/contexts/{config.context.id}/memberships")


def line_items_url(config: PlatformConfig) -> str:
    """The AGS `lineitems` container URL of the demo course."""
    return config.url(f"/platform/api/contexts/{config.context.id}/lineitems")


def build_launch_claims(
    config: PlatformConfig,
    user: DemoUser,
    *,
    message_type: str,
    nonce: str,
    now: int,
    deep_link_data: str | None = None,
) -> dict[str, Any]:
    """Every claim of a resource-link or deep-linking launch for `user`."""
    context = config.context
    is_deep_link = message_type == "LtiDeepLinkingRequest"
    claims: dict[str, Any] = {
        "iss": config.issuer,
        "aud": config.client_id,
        "azp": config.client_id,
        "sub": user.user_id,
        "iat": now,
        "exp": now + ID_TOKEN_LIFETIME_SECONDS,
        "nonce": nonce,
        "name": user.name,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "email": user.email,
        LTI + "message_type": message_type,
        LTI + "version": "1.3.0",
        LTI + "deployment_id": config.deployment_id,
        LTI + "target_link_uri": config.deep_link_url if is_deep_link else config.launch_url,
        LTI + "roles": list(user.roles),
        LTI + "context": {
            "id": context.id,
            "label": context.label,
            "title": context.title,
            "type": [CONTEXT_TYPE_COURSE_OFFERING],
        },
        LTI + "tool_platform": {"guid": config.issuer, "name": "mastery-bridge demo LMS"},
        LTI + "launch_presentation": {"document_target": "iframe", "return_url": config.url("/")},
        LTI + "lis": {
            "person_sourcedid": user.lis_person_sourcedid,
            "course_section_sourcedid": context.course_section_sourcedid or context.id,
        },
        CLAIM_NRPS: {"context_memberships_url": memberships_url(config), "service_versions": ["2.0"]},
        CLAIM_AGS: {"scope": list(AGS_SCOPES), "lineitems": line_items_url(config)},
    }
    if is_deep_link:
        # Deep Linking 2.0 §4.4.1: no resource_link claim; the settings say where to return.
        claims[CLAIM_DEEP_LINKING] = {
            "deep_link_return_url": config.url("/platform/deep_link_return"),
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"],
            "accept_multiple": True,
            "auto_create": True,
            "data": deep_link_data,
        }
    else:
        claims[LTI + "resource_link"] = {"id": context.resource_link_id, "title": context.resource_link_title}
    return claims
