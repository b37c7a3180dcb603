"""The demo platform's keys and in-memory state: launches, tokens, line items and received scores."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import requests
from flask import current_app
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from lti_tool.demo.platform.claims import build_launch_claims
from lti_tool.demo.platform.config import DemoUser, PlatformConfig

EXTENSION_KEY = "demo_platform"
MESSAGE_RESOURCE_LINK = "LtiResourceLinkRequest"
MESSAGE_DEEP_LINKING = "LtiDeepLinkingRequest"


@dataclass(frozen=True, slots=True)
class LaunchIntent:
    """What a `lti_message_hint` stands for: who launches and which message they get."""

    user_id: str
    message_type: str


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An access token the platform handed out."""

    scopes: frozenset[str]
    expires_at: float


@dataclass(frozen=True, slots=True)
class StoredLineItem:
    """A line item as the platform keeps it."""

    number: int
    label: str
    score_maximum: Decimal
    resource_link_id: str | None = None
    resource_id: str | None = None
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class ReceivedScore:
    """One accepted score publication, for tests and the results service."""

    line_item: int
    user_id: str
    score_given: Decimal | None
    score_maximum: Decimal | None
    timestamp: datetime
    activity_progress: str
    grading_progress: str
    comment: str | None


@dataclass(slots=True)
class PlatformStore:
    """Everything the services mutate; guard every access with `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    line_items: dict[int, StoredLineItem] = field(default_factory=dict)
    next_line_item: int = 1
    scores: list[ReceivedScore] = field(default_factory=list)
    last_timestamps: dict[tuple[int, str], datetime] = field(default_factory=dict)
    deep_link_items: list[dict[str, Any]] = field(default_factory=list)


class DemoPlatform:
    """The demo LMS's keys and state; `create_platform_app` serves it, tests can drive it directly."""

    def __init__(self, config: PlatformConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        if config.private_key_pem is not None:
            base = RSAKey.import_key(config.private_key_pem)
            self.key = RSAKey.import_key(config.private_key_pem, {"kid": base.thumbprint()})
        else:
            self.key = RSAKey.generate_key(2048, auto_kid=True)
        self.store = PlatformStore()
        self.token_requests = 0
        self._lock = threading.Lock()
        self._intents: dict[str, LaunchIntent] = {}
        self._tokens: dict[str, IssuedToken] = {}
        self._assertion_ids: set[str] = set()
        self._deep_link_data: set[str] = set()
        self._tool_keys: KeySet | None = None
        self.registrations: list[dict[str, Any]] = []  # tool configurations received (dynamic registration)

    @property
    def key_id(self) -> str:
        """The `kid` of the platform's signing key."""
        return self.key.kid or ""

    def jwks(self) -> dict[str, Any]:
        """The public JWK set served at `/platform/jwks`."""
        public = self.key.as_dict(private=False)
        return {"keys": [{**public, "alg": "RS256", "use": "sig"}]}

    # Launches ------------------------------------------------------------------------------------

    def remember_launch(self, user_id: str, message_type: str) -> str:
        """A fresh opaque `lti_message_hint` for this launch."""
        hint = secrets.token_urlsafe(16)
        with self._lock:
            self._intents[hint] = LaunchIntent(user_id=user_id, message_type=message_type)
        return hint

    def launch_for_hint(self, hint: str) -> LaunchIntent | None:
        """The launch a `lti_message_hint` was issued for."""
        with self._lock:
            return self._intents.get(hint)

    def sign_id_token(
        self,
        claims_overrides: Mapping[str, Any] | None = None,
        *,
        user_id: str | None = None,
        message_type: str = MESSAGE_RESOURCE_LINK,
        nonce: str | None = None,
        omit: Collection[str] = (),
        header_overrides: Mapping[str, Any] | None = None,
        key: RSAKey | None = None,
    ) -> str:
        """A real RS256 id_token for `user_id` (default: the first learner), with claims overridden or omitted.

        Tests use `omit`, `claims_overrides`, `header_overrides` and `key` to craft bad tokens that
        still carry genuine signatures.
        """
        user = self._user(user_id)
        data = None
        if message_type == MESSAGE_DEEP_LINKING:
            data = secrets.token_urlsafe(12)
            with self._lock:
                self._deep_link_data.add(data)
        claims = build_launch_claims(
            self.config,
            user,
            message_type=message_type,
            nonce=nonce or secrets.token_urlsafe(16),
            now=int(self.clock()),
            deep_link_data=data,
        )
        claims.update(claims_overrides or {})
        for name in omit:
            claims.pop(name, None)
        header = {"alg": "RS256", "kid": self.key_id, "typ": "JWT", **(header_overrides or {})}
        return jwt.encode(header, claims, key or self.key)

    def is_deep_link_data(self, data: object) -> bool:
        """True when `data` was issued in a deep-linking request of this platform."""
        with self._lock:
            return isinstance(data, str) and data in self._deep_link_data

    def _user(self, user_id: str | None) -> DemoUser:
        if user_id is None:
            learners = [user for user in self.config.users if user.is_learner]
            if not learners:
                raise ValueError("the demo roster has no learner to sign an id_token for")
            return learners[0]
        user = self.config.find_user(user_id)
        if user is None:
            raise ValueError(f"user_id {user_id!r} is not in the demo roster")
        return user

    # Tokens ----------------------------------------------------------------------------------------

    def tool_keys(self, *, refresh: bool = False) -> KeySet:
        """The tool's public keys: the configured set, or fetched from `tool_jwks_url` and cached."""
        if self.config.tool_jwks is not None:
            return KeySet.import_key_set(dict(self.config.tool_jwks))  # type: ignore[arg-type]
        with self._lock:
            cached = self._tool_keys
        if cached is not None and not refresh:
            return cached
        url = self.config.tool_jwks_url or ""
        response = requests.get(url, timeout=5, headers={"Accept": "application/json"})
        response.raise_for_status()
        keys = KeySet.import_key_set(response.json())
        with self._lock:
            self._tool_keys = keys
        return keys

    def use_assertion_id(self, jti: str) -> bool:
        """Record a client assertion `jti`; False if it was seen before (replay)."""
        with self._lock:
            if jti in self._assertion_ids:
                return False
            self._assertion_ids.add(jti)
            return True

    def issue_token(self, scopes: frozenset[str]) -> str:
        """A new bearer token for `scopes`, counted in `token_requests`."""
        value = secrets.token_urlsafe(32)
        with self._lock:
            self.token_requests += 1
            self._tokens[value] = IssuedToken(scopes, self.clock() + self.config.token_lifetime_seconds)
        return value

    def token_scopes(self, value: str) -> frozenset[str] | None:
        """The scopes of a live token, or None for an unknown or expired one."""
        with self._lock:
            issued = self._tokens.get(value)
        if issued is None or issued.expires_at <= self.clock():
            return None
        return issued.scopes

    def new_resource_link_id(self) -> str:
        """A fresh resource link id for a deep-linked item."""
        return f"demo-link-{uuid.uuid4().hex[:12]}"

    def record_deep_link_items(self, items: list[dict[str, Any]]) -> None:
        """Keep deep-linked content items; an item with a `lineItem` gets a new line item (Deep Linking 2.0 §3.4.5)."""
        for item in items:
            line_item = item.get("lineItem")
            with self.store.lock:
                self.store.deep_link_items.append(item)
                if isinstance(line_item, dict) and item.get("type") == "ltiResourceLink":
                    maximum = line_item.get("scoreMaximum")
                    if isinstance(maximum, int | float) and not isinstance(maximum, bool) and maximum > 0:
                        self.add_line_item_locked(
                            label=str(line_item.get("label") or item.get("title") or "Deep-linked activity"),
                            score_maximum=Decimal(str(maximum)),
                            resource_link_id=self.new_resource_link_id(),
                            resource_id=_optional_str(line_item.get("resourceId")),
                            tag=_optional_str(line_item.get("tag")),
                        )

    def add_line_item_locked(
        self,
        *,
        label: str,
        score_maximum: Decimal,
        resource_link_id: str | None = None,
        resource_id: str | None = None,
        tag: str | None = None,
    ) -> StoredLineItem:
        """Create a line item; the caller holds `store.lock`."""
        number = self.store.next_line_item
        self.store.next_line_item += 1
        item = StoredLineItem(number, label, score_maximum, resource_link_id, resource_id, tag)
        self.store.line_items[number] = item
        return item

    def received_scores(self) -> list[ReceivedScore]:
        """Every accepted score, in arrival order."""
        with self.store.lock:
            return list(self.store.scores)


def current_platform() -> DemoPlatform:
    """The `DemoPlatform` of the app handling the current request."""
    platform = current_app.extensions[EXTENSION_KEY]
    if not isinstance(platform, DemoPlatform):
        raise TypeError(f"app.extensions[{EXTENSION_KEY!r}] is not a DemoPlatform")
    return platform


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None
