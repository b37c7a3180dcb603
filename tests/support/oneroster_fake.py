"""A fake OneRoster 1.1 + 1.2 rostering server (Flask on loopback) with switchable vendor quirks."""

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
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from flask import Flask, Response, abort, request
from werkzeug.serving import make_server

PREFIX = "/district-x/api"  # a vendor prefix: the client must be configured with it, never derive it
V1P1 = "/ims/oneroster/v1p1"
V1P2 = "/ims/oneroster/rostering/v1p2"
COLLECTIONS = {
    "orgs": "orgs",
    "schools": "orgs",
    "academicSessions": "academicSessions",
    "terms": "academicSessions",
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
    """Switchable misbehaviour; all off by default."""

    no_paging_headers: bool = False
    max_limit: int | None = None  # clamp `limit` silently
    rate_limit_first: int = 0  # answer the first N API calls with 429 + Retry-After
    retry_after: str = "2"
    error_rate: float = 0.0  # random 500s, seeded
    seed: int = 7
    slow_first: int = 0  # the first N API calls sleep `slow_seconds`
    slow_seconds: float = 0.5
    drop_on_call: int | None = None  # API call number whose body is cut off mid-page
    lax_bodies: bool = False  # JSON booleans, extra fields, nulls, timestamps without offset
    hard_deletes: bool = False  # delete() removes records instead of marking them tobedeleted
    token_cookie: bool = False  # the token response sets a cookie every API call must carry


@dataclass
class FakeOneRoster:
    """Holds the district data (1.2 shapes) and the credentials; `app` serves both versions."""

    client_id: str = "district-client"
    client_secret: str = "s3cret&key=+/"  # reserved characters exercise RFC 5849 key escaping
    scopes: tuple[str, ...] = ("https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly",)
    token_lifetime: int = 3600
    oauth1_method: str = "HMAC-SHA256"
    quirks: Quirks = field(default_factory=Quirks)
    data: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    tokens_issued: int = 0
    _tokens: dict[str, float] = field(default_factory=dict)
    _cookie: str = field(default_factory=lambda: secrets.token_hex(8))
    _rng: random.Random = field(init=False)
    _nonces: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.quirks.seed)
        self.app = self._build_app()

    # --- data -----------------------------------------------------------------------------------
    def add(self, collection: str, record: dict[str, Any]) -> None:
        self.data.setdefault(collection, []).append(record)

    def delete(self, collection: str, sourced_id: str, *, when: str = "2026-02-01T00:00:00.000Z") -> None:
        records = self.data[collection]
        if self.quirks.hard_deletes:
            self.data[collection] = [r for r in records if r["sourcedId"] != sourced_id]
            return
        for r in records:
            if r["sourcedId"] == sourced_id:
                r["status"], r["dateLastModified"] = "tobedeleted", when

    # --- auth -----------------------------------------------------------------------------------
    def _token_endpoint(self) -> Response:
        auth = request.authorization
        if auth is not None and auth.type == "basic":
            client_id, secret = auth.username, auth.password
        else:
            client_id, secret = request.form.get("client_id"), request.form.get("client_secret")
        if request.form.get("grant_type") != "client_credentials":
            return _json({"error": "unsupported_grant_type"}, 400)
        if client_id != self.client_id or secret != self.client_secret:
            return _json({"error": "invalid_client"}, 401)
        asked = set((request.form.get("scope") or "").split())
        if not asked or not asked <= set(self.scopes):
            return _json({"error": "invalid_scope"}, 400)
        token = secrets.token_urlsafe(16)
        self._tokens[token] = time.time() + self.token_lifetime
        self.tokens_issued += 1
        response = _json(
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
        self._tokens.clear()

    def _is_authorized(self) -> bool:
        header = request.headers.get("Authorization", "")
        if self.quirks.token_cookie and request.cookies.get("AWSALB") != self._cookie:
            return False
        if header.startswith("Bearer "):
            return self._tokens.get(header[7:], 0) > time.time()
        if header.startswith("OAuth ") and request.path.startswith(PREFIX + V1P1):
            return self._verify_oauth1(header)
        return False

    def _verify_oauth1(self, header: str) -> bool:
        """RFC 5849 §3.4 written out independently of the client's library."""
        oauth = {}
        for part in header[6:].split(","):
            key, _, value = part.strip().partition("=")
            oauth[unquote(key)] = unquote(value.strip('"'))
        if (
            oauth.get("oauth_consumer_key") != self.client_id
            or oauth.get("oauth_signature_method") != self.oauth1_method
        ):
            return False
        nonce = oauth.get("oauth_nonce", "")
        if (
            not nonce
            or nonce in self._nonces
            or abs(time.time() - int(oauth.get("oauth_timestamp", "0"))) > 300
        ):
            return False
        self._nonces.add(nonce)
        params = [(k, v) for k, v in request.args.items(multi=True)]
        params += [(k, v) for k, v in oauth.items() if k not in ("oauth_signature", "realm")]

        def esc(s: str) -> str:
            return quote(s, safe="-._~")

        normalized = "&".join(f"{k}={v}" for k, v in sorted((esc(k), esc(v)) for k, v in params))
        base_uri = f"{request.scheme}://{request.host}{request.path}"
        base = "&".join(esc(p) for p in ("GET", base_uri, normalized))
        digest = hashlib.sha256 if self.oauth1_method == "HMAC-SHA256" else hashlib.sha1
        key = f"{esc(self.client_secret)}&"
        expected = base64.b64encode(hmac.new(key.encode(), base.encode(), digest).digest()).decode()
        return hmac.compare_digest(expected, oauth.get("oauth_signature", ""))

    # --- API ------------------------------------------------------------------------------------
    def _build_app(self) -> Flask:
        app = Flask(__name__)
        app.add_url_rule(f"{PREFIX}/token", "token", self._token_endpoint, methods=["POST"])
        for version, prefix in (("1.1", V1P1), ("1.2", V1P2)):
            app.add_url_rule(
                f"{PREFIX}{prefix}/<path:path>",
                f"api-{version}",
                lambda path, version=version: self._api(version, path),
            )
        return app

    def _api(self, version: str, path: str) -> Response:
        self.calls.append(request.full_path)
        number = len(self.calls)
        q = self.quirks
        if number <= q.slow_first:
            time.sleep(q.slow_seconds)
        if not self._is_authorized():
            return _imsx(401, "unauthorisedrequest", "credentials refused")
        if number <= q.rate_limit_first:
            return _imsx(429, "server_busy", "slow down", headers={"Retry-After": q.retry_after})
        if q.error_rate and self._rng.random() < q.error_rate:
            return _imsx(500, "internal_server_error", "random failure")
        parts = path.split("/")
        if parts[0] not in COLLECTIONS:
            abort(404)
        if len(parts) == 2:
            return self._single(version, parts[0], parts[1])
        body, headers = self._collection(version, parts[0])
        if q.drop_on_call == number:
            return _truncated(body, headers)
        return Response(body, headers=headers, mimetype="application/json")

    def _records(self, version: str, path: str) -> list[dict[str, Any]]:
        key = COLLECTIONS[path]
        records = [self._shape(version, key, r) for r in self.data.get(key, [])]
        if path == "schools":
            records = [r for r in records if r["type"] == "school"]
        elif path == "terms":
            records = [r for r in records if r["type"] == "term"]
        elif path in ("students", "teachers"):
            role = path[:-1]
            records = [r for r in records if role in _user_roles(r)]
        return records

    def _single(self, version: str, path: str, sourced_id: str) -> Response:
        for record in self._records(version, path):
            if record["sourcedId"] == sourced_id:
                return _json({SINGULAR[COLLECTIONS[path]]: record})
        return _imsx(404, "unknownobject", f"no {path} {sourced_id}")

    def _collection(self, version: str, path: str) -> tuple[str, dict[str, str]]:
        records = self._records(version, path)
        raw_filter = request.args.get("filter")
        if raw_filter:
            try:
                records = [r for r in records if _matches(r, raw_filter)]
            except ValueError as exc:
                abort(_imsx(400, "invalid_filter_field", str(exc)))
        if sort := request.args.get("sort"):
            records.sort(key=lambda r: str(r.get(sort, "")), reverse=request.args.get("orderBy") == "desc")
        limit = int(request.args.get("limit", "100"))
        if self.quirks.max_limit:
            limit = min(limit, self.quirks.max_limit)
        offset = int(request.args.get("offset", "0"))
        page = records[offset : offset + limit]
        if fields := request.args.get("fields"):
            wanted = fields.split(",")
            page = [{k: v for k, v in r.items() if k in wanted} for r in page]
        headers: dict[str, str] = {}
        if not self.quirks.no_paging_headers:
            headers["X-Total-Count"] = str(len(records))
            if offset + limit < len(records):
                args = request.args.to_dict()
                args.update(limit=str(limit), offset=str(offset + limit))
                query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in args.items())
                headers["Link"] = f'<{request.base_url}?{query}>; rel="next"'
        return json.dumps({COLLECTIONS[path]: page}), headers

    def _shape(self, version: str, key: str, record: dict[str, Any]) -> dict[str, Any]:
        """1.2 records as stored; 1.1 users get `role` + `orgs`; lax servers bend the spec."""
        out = copy.deepcopy(record)
        if version == "1.1" and key == "users":
            roles = out.pop("roles")
            out["role"] = roles[0]["role"]
            out["orgs"] = [r["org"] for r in roles]
        if self.quirks.lax_bodies:
            for flag in ("enabledUser", "primary"):
                if flag in out:
                    out[flag] = out[flag] == "true"
            out["dateLastModified"] = out["dateLastModified"].removesuffix(".000Z")
            out["vendorExtra"] = {"anything": True}
            out.setdefault("identifier", None)
        return out


def _user_roles(record: dict[str, Any]) -> set[str]:
    if "roles" in record:
        return {r["role"] for r in record["roles"]}
    return {record["role"]}


def _matches(record: dict[str, Any], raw: str) -> bool:
    """Evaluate our subset of the filter grammar: one or two predicates, one logical operator."""
    for logical, combine in ((" AND ", all), (" OR ", any)):
        if logical in raw:
            return combine(_predicate(record, p) for p in raw.split(logical))
    return _predicate(record, raw)


def _predicate(record: dict[str, Any], text: str) -> bool:
    for op in ("!=", ">=", "<=", "=", ">", "<", "~"):
        name, found, value = text.partition(op)
        if found:
            if not (value.startswith("'") and value.endswith("'")):
                raise ValueError(f"value not quoted in {text!r}")
            want, have = value[1:-1], record.get(name.strip())
            if isinstance(have, dict):
                have = have.get("sourcedId")
            if have is None:
                raise ValueError(f"unknown filter field {name.strip()!r}")
            have = str(have)
            return {
                "!=": have != want,
                ">=": have >= want,
                "<=": have <= want,
                "=": have == want,
                ">": have > want,
                "<": have < want,
                "~": want in have,
            }[op]
    raise ValueError(f"no operator in {text!r}")


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")


def _imsx(status: int, code_minor: str, description: str, headers: dict[str, str] | None = None) -> Response:
    """A 1.2 `imsx_StatusInfoDType` error body."""
    body = {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [
                {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": code_minor}
            ]
        },
    }
    response = _json(body, status)
    response.headers.update(headers or {})
    return response


def _truncated(body: str, headers: dict[str, str]) -> Response:
    """Promise the whole body, send half, and close: the client sees the connection drop mid-page."""
    data = body.encode()

    def half() -> Iterator[bytes]:
        yield data[: len(data) // 2]

    response = Response(half(), headers=headers, mimetype="application/json")
    response.headers["Content-Length"] = str(len(data))
    response.headers["Connection"] = "close"
    return response


class FakeServer:
    """Runs a `FakeOneRoster` on 127.0.0.1 in a thread; `base_url` includes the vendor prefix."""

    def __init__(self, fake: FakeOneRoster) -> None:
        self.fake = fake
        self._server = make_server("127.0.0.1", 0, fake.app, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}{PREFIX}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join()
