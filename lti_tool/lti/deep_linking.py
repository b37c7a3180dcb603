"""Deep Linking 2.0: read the request's deep_linking_settings and build the signed LtiDeepLinkingResponse.

Pure apart from the nonce's randomness: the caller passes the clock, the signing key and the URLs.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from lti_tool.errors import LaunchError
from lti_tool.keys import SIGNING_ALG, SigningKey

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
CLAIM_CONTENT_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
CLAIM_DATA = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
MESSAGE_DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"
CONTENT_ITEM_RESOURCE_LINK = "ltiResourceLink"
RESPONSE_LIFETIME_SECONDS = 300
LINE_ITEM_TAG = "mastery-bridge"


@dataclass(frozen=True, slots=True)
class DeepLinkingSettings:
    """The `deep_linking_settings` claim of an LtiDeepLinkingRequest (Deep Linking 2.0 §4.4.1).

    `accept_multiple` defaults to False when absent (one item is always acceptable); `accept_lineitem`
    defaults to True, since the spec lets a platform that does not say simply ignore line items.
    `data` is the opaque value to echo, kept as whatever JSON value the platform sent.
    """

    deep_link_return_url: str
    accept_types: tuple[str, ...]
    accept_multiple: bool
    accept_lineitem: bool
    has_data: bool
    data: Any = None
    title: str | None = None

    @classmethod
    def from_claim(cls, claim: Mapping[str, Any]) -> DeepLinkingSettings:
        """Parse the claim as stored with the launch session; LaunchError names a missing or bad member."""
        return_url = claim.get("deep_link_return_url")
        if not isinstance(return_url, str) or not return_url:
            raise LaunchError("deep_linking_settings has no deep_link_return_url")
        accept_types = claim.get("accept_types")
        if not isinstance(accept_types, list) or not all(isinstance(kind, str) for kind in accept_types):
            raise LaunchError("deep_linking_settings.accept_types is missing or not a list of strings")
        title = claim.get("title")
        return cls(
            deep_link_return_url=return_url,
            accept_types=tuple(accept_types),
            accept_multiple=claim.get("accept_multiple") is True,
            accept_lineitem=claim.get("accept_lineitem") is not False,
            has_data=claim.get("data") is not None,
            data=claim.get("data"),
            title=title if isinstance(title, str) and title else None,
        )

    @property
    def accepts_resource_links(self) -> bool:
        """True when the platform takes `ltiResourceLink` items, the only kind this tool returns."""
        return CONTENT_ITEM_RESOURCE_LINK in self.accept_types


def require_resource_links(settings: DeepLinkingSettings) -> None:
    """Raise LaunchError (400) unless the platform accepts `ltiResourceLink` content items."""
    if not settings.accepts_resource_links:
        offered = ", ".join(settings.accept_types) or "nothing"
        raise LaunchError(
            "the platform asked for content of type "
            f"{offered}; mastery-bridge can only add tasks as {CONTENT_ITEM_RESOURCE_LINK} items"
        )


@dataclass(frozen=True, slots=True)
class TaskLink:
    """A task to place in the course as an LTI resource link."""

    task_id: int
    title: str


def _json_number(value: Decimal) -> int | float:
    # JSON has one number type; platforms (and the demo LMS) expect 4, not "4" or 4.0, for whole numbers.
    return int(value) if value == value.to_integral_value() else float(value)


def resource_link_item(
    link: TaskLink, *, launch_url: str, score_maximum: Decimal, has_line_item: bool
) -> dict[str, Any]:
    """The `ltiResourceLink` content item (Deep Linking 2.0 §3.1) that launches `link`'s task.

    `custom.task_id` comes back in every launch of the link, which is how the tool binds the platform's
    resource link to the task. The line item asks the platform to create a gradebook column.
    """
    item: dict[str, Any] = {
        "type": CONTENT_ITEM_RESOURCE_LINK,
        "title": link.title,
        "url": launch_url,
        "custom": {"task_id": str(link.task_id)},
    }
    if has_line_item:
        item["lineItem"] = {
            "scoreMaximum": _json_number(score_maximum),
            "label": link.title,
            "resourceId": f"task-{link.task_id}",
            "tag": LINE_ITEM_TAG,
        }
    return item


def build_response_claims(
    settings: DeepLinkingSettings,
    items: Sequence[Mapping[str, Any]],
    *,
    client_id: str,
    platform_issuer: str,
    deployment_id: str,
    now: datetime,
    nonce: str | None = None,
) -> dict[str, Any]:
    """The claims of the LtiDeepLinkingResponse (Deep Linking 2.0 §4.5): the tool is `iss`, the platform `aud`.

    `data` is echoed only when the request carried it (§4.5.2). More than one item needs `accept_multiple`.
    """
    require_resource_links(settings)
    if len(items) > 1 and not settings.accept_multiple:
        raise LaunchError(
            f"the platform accepts one content item, not {len(items)} (accept_multiple is false)"
        )
    issued_at = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": client_id,
        "aud": platform_issuer,
        "iat": issued_at,
        "exp": issued_at + RESPONSE_LIFETIME_SECONDS,
        "nonce": nonce or secrets.token_urlsafe(24),
        LTI + "message_type": MESSAGE_DEEP_LINKING_RESPONSE,
        LTI + "version": "1.3.0",
        LTI + "deployment_id": deployment_id,
        CLAIM_CONTENT_ITEMS: [dict(item) for item in items],
    }
    if settings.has_data:
        claims[CLAIM_DATA] = settings.data
    return claims


def sign_response(claims: Mapping[str, Any], signing_key: SigningKey) -> str:
    """The compact RS256 JWT of `claims`, its header naming the key's kid (Security Framework §6)."""
    key = RSAKey.import_key(signing_key.private_key_pem)
    header = {"alg": SIGNING_ALG, "kid": signing_key.kid, "typ": "JWT"}
    return jwt.encode(header, dict(claims), key)
