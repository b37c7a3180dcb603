"""A fake OneRoster 1.1 + 1.2 server (Flask on loopback): rostering reads, gradebook writes, switchable vendor quirks.

It answers in the official shapes (1.2 records stored as the rostering OpenAPI describes them; 1.1 users
get `role` + `orgs`), checks OAuth 2 bearer tokens and their scopes or OAuth 1.0a signatures written out
independently of the client's library, and misbehaves on request (`Quirks`) the way real SIS servers do.
Tests, benchmarks and `make demo` all run this same server.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import random
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from lti_tool.demo.sis.gradebook import (
    GRADEBOOK_COLLECTIONS_V1P1,
    GRADEBOOK_COLLECTIONS_V1P2,
    GradebookStore,
)
from lti_tool.demo.sis.wire import abort_with, imsx, json_response, page_of, quote_all, truncated

PREFIX = "/district-x/api"  # a vendor prefix: the client must be configured with it, never derive it
V1P1 = "/ims/oneroster/v1p1"
V1P2 = "/ims/oneroster/rostering/v1p2"
GRADEBOOK_V1P2 = "/ims/oneroster/gradebook/v1p2"
SCOPE_V1P1 = "https://purl.imsglobal.org/spec/or/v1p1/scope/"
SCOPE_V1P2 = "https://purl.imsglobal.org/spec/or/v1p2/scope/"
DEFAULT_SCOPES = (
    f"{SCOPE_V1P2}roster-core.readonly",
    f"{SCOPE_V1P2}roster-demographics.readonly",
    f"{SCOPE_V1P2}gradebook.readonly",
    f"{SCOPE_V1P2}gradebook.createput",
    f"{SCOPE_V1P1}roster-core.readonly",
    f"{SCOPE_V1P1}roster-demographics.readonly",
    f"{SCOPE_V1P1}gradebook.readonly",
    f"{SCOPE_V1P1}gradebook.createput",
)
COLLECTIONS = {
    "orgs": "orgs",
    "schools": "orgs",
    "academicSessions": "academicSessions",
    "terms": "academicSessions",
    "gradingPeriods": "academicSessions",
    "courses": "courses",
    "classes": "classes",
    "users": "users",
    "students": "users",
    "teachers": "users",
    "enrollments": "enrollments",
    "demographics": "demographics",
}
SINGULAR = {
    "orgs": "org",
    "academicSessions": "academicSession",
    "courses": "course",
    "classes": "class",
    "users": "user",
    "enrollments": "enrollment",
    "demographics": "demographics",
}


@dataclass
class Quirks:
    """Switchable misbehaviour; all off by default. Every quirk applies to rostering and gradebook calls."""

    no_paging_headers: bool = False
    max_limit: int | None = None  # clamp `limit` silently
    rate_limit_first: int = 0  # answer the first N API calls with 429 + Retry-After
    retry_after: str = "2"
    error_rate: float = 0.0  # random 500s, seeded
    seed: int = 7
    slow_first: int = 0  # the first N API calls sleep `slow_seconds`
    slow_seconds: float = 0.5
    drop_on_call: int | None = None  # API call number whose body is cut off mid-page (after a PUT is stored)
    lax_bodies: bool = (
        False  # send JSON booleans, extra fields, nulls, timestamps without offset; accept them too
    )
    hard_deletes: bool = False  # delete() removes records instead of marking them tobedeleted
    token_cookie: bool = False  # the token response sets a cookie every API call must carry
    # Academic session sourcedIds whose grading window is closed: grades for them are refused.
    grading_window_closed: set[str] = field(default_factory=set)


@dataclass
class FakeOneRoster:
    """Holds the district data (1.2 shapes), the gradebook and the credentials; `app` serves both versions."""

    client_id: str = "district-client"
    # Reserved characters exercise RFC 5849 key escaping; a test credential, not a secret.
    client_secret: str = "s3cret&key=+/"  # noqa: S105
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    token_lifetime: int = 3600
    oauth1_method: str = "HMAC-SHA256"
    quirks: Quirks = field(default_factory=Quirks)
    data: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    tokens_issued: int = 0
    gradebook: GradebookStore = field(default_factory=GradebookStore)
    _tokens: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)
    _cookie: str = field(default_factory=lambda: secrets.token_hex(8))
    _rng: random.Random = field(init=False)
    _nonces: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.quirks.seed)  # noqa: S311 - reproducible failures, not secrets
        self.app = self._build_app()

    # --- data -----------------------------------------------------------------------------------
    def add(self, collection: str, record: dict[str, Any]) -> None:
        """Store a rostering record (1.2 shape) in `collection`."""
        self.data.setdefault(collection, []).append(record)

    def delete(self, collection: str, sourced_id: str, *, when: str = "2026-02-01T00:00:00.000Z") -> None:
        """Mark a record tobedeleted, or remove it when the `hard_deletes` quirk is on."""
        records = self.data[collection]
        if self.quirks.hard_deletes:
            self.data[collection] = [r for r in records if r["sourcedId"] != sourced_id]
            return
        for r in records:
            if r["sourcedId"] == sourced_id:
                r["status"], r["dateLastModified"] = "tobedeleted", when

    @property
    def put_counts(self) -> Counter[str]:
        """Accepted PUTs per sourcedId (a resend of the same record counts again)."""
        return self.gradebook.put_counts

    def stored(self, collection: str, version: str = "1.2") -> dict[str, dict[str, Any]]:
        """The gradebook records held in `collection` ("lineItems", "results", ...) by sourcedId."""
        return self.gradebook.records(version, collection)

    # --- auth -----------------------------------------------------------------------------------
    def _token_endpoint(self) -> Response:
        auth = request.authorization
        if auth is not None and auth.type == "basic":
            client_id, secret = auth.username, auth.password
        else:
            client_id, secret = request.form.get("client_id"), request.form.get("client_secret")
        if request.form.get("grant_type") != "client_credentials":
            return json_response({"error": "unsupported_grant_type"}, 400)
        if client_id != self.client_id or secret != self.client_secret:
            return json_response({"error": "invalid_client"}, 401)
        asked = set((request.form.get("scope") or "").split())
        if not asked or not asked <= set(self.scopes):
            return json_response({"error": "invalid_scope"}, 400)
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._tokens[token] = (time.time() + self.token_lifetime, frozenset(asked))
            self.tokens_issued += 1
        response = json_response(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.token_lifetime,
                "scope": " ".join(sorted(asked)),
            }
        )
        if self.quirks.token_cookie:
            response.set_cookie("AWSALB", self._cookie)
        return response

    def revoke_tokens(self) -> None:
        """Forget every issued token; the next call with one gets 401."""
        self._tokens.clear()

    def _granted(self) -> frozenset[str] | None:
        """The scopes of the request's credentials (every scope for OAuth 1.0a); None if unauthorised."""
        header = request.headers.get("Authorization", "")
        if self.quirks.token_cookie and request.cookies.get("AWSALB") != self._cookie:
            return None
        if header.startswith("Bearer "):
            expires, scopes = self._tokens.get(header[7:], (0.0, frozenset()))
            return scopes if expires > time.time() else None
        if header.startswith("OAuth ") and request.path.startswith(PREFIX + V1P1):
            # OAuth 1.0a carries no scopes: a signed request may do whatever the key allows.
            return frozenset(self.scopes) if self._verify_oauth1(header) else None
        return None

    def _verify_oauth1(self, header: str) -> bool:
        """RFC 5849 §3.4 written out independently of the client's library."""
        oauth: dict[str, str] = {}
        for part in header[6:].split(","):
            key, _, value = part.strip().partition("=")
            oauth[unquote(key)] = unquote(value.strip('"'))
        if (
            oauth.get("oauth_consumer_key") != self.client_id
            or oauth.get("oauth_signature_method") != self.oauth1_method
        ):
            return False
        nonce = oauth.get("oauth_nonce", "")
        timestamp = oauth.get("oauth_timestamp", "0")
        if (
            not nonce
            or not timestamp.isdigit()
            or abs(time.time() - int(timestamp)) > 300
            or nonce in self._nonces
        ):
            return False
        self._nonces.add(nonce)
        params = list(request.args.items(multi=True))
        params += [(k, v) for k, v in oauth.items() if k not in ("oauth_signature", "realm")]
        normalized = "&".join(f"{k}={v}" for k, v in sorted((quote_all(k), quote_all(v)) for k, v in params))
        base_uri = f"{request.scheme}://{request.host}{request.path}"
        base = "&".join(quote_all(p) for p in (request.method.upper(), base_uri, normalized))
        digest = hashlib.sha256 if self.oauth1_method == "HMAC-SHA256" else hashlib.sha1
        key = f"{quote_all(self.client_secret)}&"
        expected = base64.b64encode(hmac.new(key.encode(), base.encode(), digest).digest()).decode()
        return hmac.compare_digest(expected, oauth.get("oauth_signature", ""))

    # --- API ------------------------------------------------------------------------------------
    def _build_app(self) -> Flask:
        app = Flask(__name__)
        app.add_url_rule(f"{PREFIX}/token", "token", self._token_endpoint, methods=["POST"])
        for version, prefix in (("1.1", V1P1), ("1.2", V1P2), ("1.2-gradebook", GRADEBOOK_V1P2)):
            app.add_url_rule(
                f"{PREFIX}{prefix}/<path:path>",
                f"api-{version}",
                lambda path, version=version: self._api(version, path),
                methods=["GET", "PUT"],
            )
        return app

    def _api(self, service: str, path: str) -> Response:
        with self._lock:
            self.calls.append(f"{request.method} {request.full_path}")
            number = len(self.calls)
        q = self.quirks
        if number <= q.slow_first:
            time.sleep(q.slow_seconds)
        granted = self._granted()
        if granted is None:
            return imsx(401, "unauthorisedrequest", "credentials refused")
        if number <= q.rate_limit_first:
            return imsx(429, "server_busy", "slow down", headers={"Retry-After": q.retry_after})
        if q.error_rate:
            with self._lock:
                is_failure = self._rng.random() < q.error_rate
            if is_failure:
                return imsx(500, "internal_server_error", "random failure")
        version = "1.1" if service == "1.1" else "1.2"
        parts = path.split("/")
        is_gradebook = (service == "1.2-gradebook" and parts[0] in GRADEBOOK_COLLECTIONS_V1P2) or (
            service == "1.1" and parts[0] in GRADEBOOK_COLLECTIONS_V1P1
        )
        try:
            if is_gradebook:
                body, status, headers = self.gradebook.handle(
                    version=version,
                    parts=parts,
                    granted=granted,
                    scope_prefix=SCOPE_V1P1 if version == "1.1" else SCOPE_V1P2,
                    quirks=q,
                )
            elif service != "1.2-gradebook" and parts[0] in COLLECTIONS and request.method == "GET":
                body, status, headers = self._rostering(version, parts)
            else:
                return imsx(404, "unknownobject", f"no endpoint {request.method} {path}")
        except HTTPException as exc:
            if exc.response is not None:
                return exc.response  # type: ignore[return-value]
            raise
        if q.drop_on_call == number:
            return truncated(body, headers, status)
        return Response(body, status=status, headers=headers, mimetype="application/json")

    def _rostering(self, version: str, parts: list[str]) -> tuple[str, int, dict[str, str]]:
        if len(parts) == 2:
            for record in self._records(version, parts[0]):
                if record["sourcedId"] == parts[1]:
                    return json.dumps({SINGULAR[COLLECTIONS[parts[0]]]: record}), 200, {}
            raise abort_with(imsx(404, "unknownobject", f"no {parts[0]} {parts[1]}"))
        if len(parts) != 1:
            raise abort_with(imsx(404, "unknownobject", f"no endpoint {'/'.join(parts)}"))
        body, headers = page_of(
            self._records(version, parts[0]),
            COLLECTIONS[parts[0]],
            max_limit=self.quirks.max_limit,
            has_paging_headers=not self.quirks.no_paging_headers,
        )
        return body, 200, headers

    def _records(self, version: str, path: str) -> list[dict[str, Any]]:
        key = COLLECTIONS[path]
        stored = self.data.get(key, [])
        if path == "schools":
            stored = [r for r in stored if r["type"] == "school"]
        elif path == "terms":
            stored = [r for r in stored if r["type"] == "term"]
        elif path == "gradingPeriods":
            stored = [r for r in stored if r["type"] == "gradingPeriod"]
        elif path in ("students", "teachers"):
            role = path[:-1]
            stored = [r for r in stored if role in _user_roles(r)]
        if version == "1.2" and not self.quirks.lax_bodies:
            # Served as stored: nothing below mutates a record, so large pulls copy nothing.
            return list(stored)
        return [self._shape(version, key, r) for r in stored]

    def _shape(self, version: str, key: str, record: dict[str, Any]) -> dict[str, Any]:
        """1.2 records as stored; 1.1 users get `role` + `orgs`; lax servers bend the spec."""
        out = copy.deepcopy(record)
        if version == "1.1" and key == "users":
            roles = out.pop("roles")
            out["role"] = roles[0]["role"]
            out["orgs"] = [r["org"] for r in roles]
        if self.quirks.lax_bodies:
            out = lax(out)
        return out


def lax(record: dict[str, Any]) -> dict[str, Any]:
    """`record` as a lax server sends it: JSON booleans, no UTC offset, an extra field, explicit nulls."""
    for flag in ("enabledUser", "primary"):
        if flag in record:
            record[flag] = record[flag] == "true"
    if isinstance(record.get("dateLastModified"), str):
        record["dateLastModified"] = record["dateLastModified"].removesuffix(".000Z")
    record["vendorExtra"] = {"anything": True}
    record.setdefault("identifier", None)
    return record


def _user_roles(record: dict[str, Any]) -> set[str]:
    if "roles" in record:
        return {r["role"] for r in record["roles"]}
    return {record["role"]}
