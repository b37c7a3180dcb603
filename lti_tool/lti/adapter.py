"""The only module that imports pylti1p3: its per-message-type claim validators, fenced behind one function.

pylti1p3 checks `sub`, `version`, the presence of `roles`, `resource_link.id` for resource-link launches and
the deep-linking settings' `accept_types` / presentation targets. Its gaps are closed in `lti_tool.lti.launch`
(signature, kid, alg, iss, aud/azp, exp/iat, nonce, state, replay, deployment, target_link_uri, and
`deep_link_return_url`, which pylti1p3 does not check although its error message names it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pylti1p3.exception import LtiException
from pylti1p3.message_validators.deep_link import DeepLinkMessageValidator
from pylti1p3.message_validators.resource_message import ResourceMessageValidator

from lti_tool.errors import LaunchError

MESSAGE_RESOURCE_LINK = "LtiResourceLinkRequest"
MESSAGE_DEEP_LINKING = "LtiDeepLinkingRequest"

_VALIDATORS = {
    MESSAGE_RESOURCE_LINK: ResourceMessageValidator(),
    MESSAGE_DEEP_LINKING: DeepLinkMessageValidator(),
}
SUPPORTED_MESSAGE_TYPES = frozenset(_VALIDATORS)


def validate_message_claims(message_type: str, claims: Mapping[str, Any]) -> None:
    """Run pylti1p3's validator for `message_type` on verified `claims`; LaunchError naming what failed."""
    validator = _VALIDATORS.get(message_type)
    if validator is None:
        raise LaunchError(f"message_type {message_type!r} is not supported")
    try:
        validator.validate(dict(claims))
    except LtiException as exc:
        raise LaunchError(f"{message_type} claims invalid: {exc}") from exc
    except (AttributeError, TypeError) as exc:
        # pylti1p3 calls .get() on claims it assumes are objects; a string there is a malformed message.
        raise LaunchError(f"{message_type} claims malformed ({type(exc).__name__})") from exc
