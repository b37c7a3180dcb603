"""An LTI 1.3 platform nobody on this team wrote (PyPI `lti1p3platform`), served over HTTP on loopback.

`lti1p3platform` is framework-neutral: it builds and signs launch messages, issues access tokens, answers
NRPS/AGS service calls as `Response(result, code)` values and validates deep-linking responses, but ships no
Flask adapter and no HTTP server. This module is that adapter, kept thin on purpose so the tests exercise
the library's behaviour, not ours. Where it deviates from the specs the adapter translates, and says so:

- Paging goes in the body (`{"content": [...], "next": url}` for AGS containers, `"next"` inside the NRPS
  container): the adapter moves `next` into a `Link: <url>; rel=next` header (NRPS 2.0 §2.4.2,
  AGS 2.0 §3.2.4) using the library's own `generate_next_link`, and unwraps AGS containers to the JSON
  array the spec defines.
- NRPS pages only when the request carries `limit`: the advertised memberships URL includes `?limit=`.
- Query parameters arrive as strings; the library adds 1 to `page`, so `page` and `limit` become ints here.
- The authorization endpoint does not check `redirect_uri` against the registration (it posts the id_token
  wherever the request says); the adapter refuses any other redirect_uri (Security Framework §5.1.1.2).
- Client assertions and deep-linking responses are verified for signature (tool JWKS, matched by kid and
  alg) and `exp`, but the library turns off the `aud` check and never looks at `iss`/`sub`/`jti`/`nonce`;
  the adapter records the decoded claims so tests can check what the tool sent.
"""

from __future__ import annotations

import importlib.resources
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, jsonify, render_template_string, request
from lti1p3platform.exceptions import (
    LineItemNotFoundException,
    LtiDeepLinkingResponseException,
    LtiException,
    MissingRequiredClaim,
    PreflightRequestValidationException,
    UnsupportedGrantType,
)
from lti1p3platform.lineitem import TLineItem
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.membership import Context
from lti1p3platform.message_launch import LaunchData, LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request, TRequest
from lti1p3platform.response import Response as LtiResponse
from lti1p3platform.response import generate_next_link
from lti1p3platform.score import TScore, UpdateScoreStatus
from lti1p3platform.service_connector import (
    AssignmentsGradesService,
    NamesRoleProvisioningService,
    TPage,
)
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
INSTRUCTOR = MEMBERSHIP + "Instructor"
LEARNER = MEMBERSHIP + "Learner"
RESOURCE_LINK_HINT = "resource-link"
DEEP_LINKING_HINT = "deep-linking"
# The library's own auto-posting form (its Jinja template), read as a file: importing its `templates`
# package would import the deprecated `pkg_resources`, which warnings-as-errors turns into a failure.
LAUNCH_FORM = (
    importlib.resources.files("lti1p3platform.framework").joinpath("templates/launch.html").read_text("utf-8")
)


@dataclass(frozen=True)
class PlatformUser:
    """One person of the platform's course."""

    user_id: str
    roles: tuple[str, ...]
    given_name: str
    family_name: str
    email: str

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"


def build_roster(*, student_count: int) -> tuple[PlatformUser, ...]:
    """One instructor and `student_count` learners (`student-01`, ...)."""
    teacher = PlatformUser("teacher-1", (INSTRUCTOR,), "Grace", "Hopper", "grace@school.example")
    students = tuple(
        PlatformUser(f"student-{n:02d}", (LEARNER,), "Learner", f"L{n:02d}", f"learner{n:02d}@school.example")
        for n in range(1, student_count + 1)
    )
    return (teacher, *students)


@dataclass
class ReceivedScore:
    """A score as the platform recorded it (the library's `TScore` body, timestamp parsed)."""

    line_item_id: str
    user_id: str
    body: dict[str, Any]
    timestamp: datetime


@dataclass
class PlatformStore:
    """What the platform remembers between requests: line items, scores and what the tool sent it."""

    line_items: dict[str, TLineItem] = field(default_factory=dict)
    scores: list[ReceivedScore] = field(default_factory=list)
    token_requests: int = 0
    jwks_requests: int = 0
    client_assertions: list[dict[str, Any]] = field(default_factory=list)
    membership_requests: list[str] = field(default_factory=list)
    deep_link_items: list[list[dict[str, Any]]] = field(default_factory=list)
    deep_link_responses: list[dict[str, Any]] = field(default_factory=list)


# lti1p3platform's abstract classes, filled in ----------------------------------------------------------------


class FlaskRequest(Request):  # type: ignore[misc]  # lti1p3platform is untyped (fenced in pyproject)
    """The library's request view of the current Flask request."""

    def build_metadata(self, request: Any) -> TRequest:
        query: dict[str, Any] = request.args.to_dict()
        for name in ("page", "limit"):  # the library does `page + 1`
            if name in query:
                query[name] = int(query[name])
        return {
            "method": request.method,
            "form_data": request.form.to_dict(),
            "get_data": query,
            "headers": request.headers,
            "content_type": request.content_type,
            "path": request.path,
            "json": request.get_json(force=True, silent=True),
        }


class PlatformConf(LTI1P3PlatformConfAbstract):  # type: ignore[misc]
    """Platform configuration holding the one registration of the tool under test."""

    def init_platform_config(self, **kwargs: Any) -> None:
        self._the_registration: Registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        return self._the_registration


class OidcLogin(OIDCLoginAbstract):  # type: ignore[misc]
    """Third-party login initiation (Security Framework §5.1.1.1): the URL to send the browser to."""

    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> str:
        return url


class MessageLaunch(LTIAdvantageMessageLaunchAbstract):  # type: ignore[misc]
    """The authorization response: a form auto-posting the signed id_token to the tool."""

    def __init__(self, flask_request: FlaskRequest, platform: IndependentPlatform) -> None:
        super().__init__(flask_request, platform.conf)
        self.platform = platform

    def prepare_launch(self, preflight_response: dict[str, Any]) -> None:
        platform = self.platform
        user = platform.user(preflight_response.get("login_hint", ""))
        self.set_user_data(user.user_id, list(user.roles), user.name, user.email)
        self.set_launch_context_claim(
            platform.context.id,
            ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
            platform.context.title,
            platform.context.label,
        )
        self.set_nrps(platform.memberships_url)
        self.set_ags(platform.line_items_url)
        if preflight_response.get("lti_message_hint") == DEEP_LINKING_HINT:
            self.set_dl(platform.url("/deep-link-return"), title="Add a task", extra_data={"opaque": "42"})
        else:
            self.set_resource_link_claim("rl-1", title="Mastery")

    def generate_launch_request(self) -> LaunchData:
        forged = self.platform.forged_signing_key
        if forged is None:
            return super().generate_launch_request()
        # Negative tests: the library's own signer, but with a key its JWKS does not publish.
        private_key_pem, kid = forged
        launch_message, state = self.get_launch_data()
        headers = {"kid": kid or Registration.get_jwk(private_key_pem)["kid"]}
        id_token = Registration.encode_and_sign(
            launch_message, private_key_pem, headers, expiration=self.id_token_expiration
        )
        return {"state": state, "id_token": id_token}

    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> str:
        return render_template_string(LAUNCH_FORM, **launch_data)


class Memberships(NamesRoleProvisioningService):  # type: ignore[misc]
    """NRPS 2.0 context memberships of the platform's course."""

    def __init__(self, flask_request: FlaskRequest, platform: IndependentPlatform) -> None:
        super().__init__(flask_request, platform.conf, platform.url(platform.memberships_path))
        self.platform = platform

    def get_context_by_id(self) -> Context:
        return self.platform.context

    def get_member_data_page(
        self, page: int = 1, limit: int | None = None, role: str | None = None, since: str | None = None
    ) -> TPage:
        members = [
            {
                "user_id": user.user_id,
                "roles": list(user.roles),
                "name": user.name,
                "given_name": user.given_name,
                "family_name": user.family_name,
                "email": user.email,
            }
            for user in self.platform.users
            if role is None or role in user.roles
        ]
        if limit is None:
            return {"content": members, "has_next": False}
        start = (page - 1) * limit
        return {"content": members[start : start + limit], "has_next": start + limit < len(members)}


class Grades(AssignmentsGradesService):  # type: ignore[misc]
    """AGS 2.0 line items and scores, kept in the platform's store."""

    def __init__(self, flask_request: FlaskRequest, platform: IndependentPlatform) -> None:
        super().__init__(flask_request, platform.conf, platform.line_items_url)
        self.platform = platform
        self.store = platform.store

    def find_lineitems(
        self,
        page: int = 1,
        limit: int | None = None,
        line_item_id: str | None = None,
        resource_link_id: str | None = None,
        resource_id: str | None = None,
        tag: str | None = None,
    ) -> TPage:
        wanted = {
            "id": line_item_id,
            "resourceLinkId": resource_link_id,
            "resourceId": resource_id,
            "tag": tag,
        }
        items = [
            item
            for item in self.store.line_items.values()
            if all(value is None or item.get(key) == value for key, value in wanted.items())
        ]
        if limit is None:
            return {"content": items, "has_next": False}
        start = (page - 1) * limit
        return {"content": items[start : start + limit], "has_next": start + limit < len(items)}

    def find_lineitem(self, line_item_id: str) -> TLineItem:
        item = self.store.line_items.get(self.platform.line_item_url(line_item_id))
        if item is None:
            raise LineItemNotFoundException(line_item_id)
        return item

    def create_lineitem(self, creation_data: TLineItem) -> TLineItem:
        url = self.platform.line_item_url(str(len(self.store.line_items) + 1))
        item: TLineItem = {**creation_data, "id": url}
        self.store.line_items[url] = item
        return item

    def update_lineitem(self, update_data: TLineItem) -> TLineItem:
        item = self.find_lineitem(update_data["id"])
        item.update({key: value for key, value in update_data.items() if key != "id"})
        return item

    def delete_lineitem(self, line_item_id: str) -> None:
        self.find_lineitem(line_item_id)
        del self.store.line_items[self.platform.line_item_url(line_item_id)]

    def update_score(self, line_item_id: str, score: TScore) -> UpdateScoreStatus:
        self.find_lineitem(line_item_id)
        user_id = str(score.get("userId"))
        if user_id not in {user.user_id for user in self.platform.users}:
            return UpdateScoreStatus.NOTAPPLIED
        timestamp = datetime.fromisoformat(str(score.get("timestamp")))
        earlier = [s for s in self.store.scores if (s.line_item_id, s.user_id) == (line_item_id, user_id)]
        # AGS 2.0 §3.4.5: a score not newer than the last one accepted is refused.
        if earlier and timestamp <= earlier[-1].timestamp:
            return UpdateScoreStatus.OLD_TIMESTAMP
        self.store.scores.append(ReceivedScore(line_item_id, user_id, dict(score), timestamp))
        return UpdateScoreStatus.SUCCESS if earlier else UpdateScoreStatus.CREATED

    def get_results(
        self, line_item_id: str, page: int = 1, limit: int | None = None, user_id: str | None = None
    ) -> TPage:
        raise LineItemNotFoundException(line_item_id)  # results are not used by the tool under test


# HTTP -----------------------------------------------------------------------------------------------------


def to_http(answer: LtiResponse) -> Response:
    """A library `Response` as HTTP: body paging moved to a `Link` header, AGS containers unwrapped."""
    result = answer.result
    headers: dict[str, str] = {}
    if isinstance(result, dict) and result.get("next"):
        headers["Link"] = generate_next_link(result["next"])
    if isinstance(result, dict) and "content" in result:
        body: Any = result["content"]  # AGS 2.0 §3.2: the container is a JSON array
    elif isinstance(result, dict):
        body = {key: value for key, value in result.items() if key != "next"}
    else:
        body = result
    if body is None:
        payload = jsonify(error=answer.message) if answer.code >= 400 else Response(status=answer.code)
    else:
        payload = jsonify(body)
        payload.mimetype = answer.media_type
    payload.status_code = answer.code
    payload.headers.update(headers)
    return payload


def create_platform_app(platform: IndependentPlatform) -> Flask:
    """The Flask app exposing `platform` (authorization, JWKS, token, NRPS, AGS, deep-link return)."""
    app = Flask(__name__)
    store = platform.store

    @app.errorhandler(LtiException)
    @app.errorhandler(jwt.PyJWTError)
    def refuse_token(error: Exception) -> tuple[Response, int]:
        # The library's bearer-token checks raise instead of answering 401.
        return jsonify(error="invalid_token", error_description=str(error)), 401

    @app.get("/initiate")
    def initiate() -> Response:
        login = OidcLogin(None, platform.conf)
        login.set_lti_message_hint(hint=request.args.get("message", RESOURCE_LINK_HINT))
        if request.args.get("message") == DEEP_LINKING_HINT:
            login.set_deeplinking_launch_url()
        return Response(status=302, headers={"Location": login.initiate_login(request.args["user_id"])})

    @app.get("/authorize")
    def authorize() -> Response | tuple[Response, int] | str:
        if request.args.get("redirect_uri") != platform.registration.get_launch_url():
            return jsonify(error="invalid_request", error_description="redirect_uri is not registered"), 400
        try:
            page: str = MessageLaunch(FlaskRequest(request), platform).lti_launch()
        except PreflightRequestValidationException:
            return jsonify(error="invalid_request"), 400
        return page

    @app.get("/jwks")
    def jwks() -> Response:
        store.jwks_requests += 1
        return jsonify(platform.conf.get_jwks())

    @app.post("/token")
    def token() -> Response | tuple[Response, int]:
        store.token_requests += 1
        try:
            granted = platform.conf.get_access_token(request.form.to_dict())
        except (MissingRequiredClaim, UnsupportedGrantType) as exc:
            return jsonify(error="invalid_request", error_description=type(exc).__name__), 400
        except (LtiException, jwt.PyJWTError) as exc:
            return jsonify(error="invalid_client", error_description=str(exc)), 401
        store.client_assertions.append(dict(platform.conf._jwt["body"]))
        return jsonify(granted)

    @app.get(platform.memberships_path)
    def memberships(context_id: str) -> Response:
        store.membership_requests.append(request.full_path)
        service = Memberships(FlaskRequest(request), platform)
        return to_http(service.handle_resp(service.handle_get_members))

    @app.route(platform.line_items_path, methods=["GET", "POST"])
    def line_items(context_id: str) -> Response:
        service = Grades(FlaskRequest(request), platform)
        handler = service.handle_get_lineitems if request.method == "GET" else service.handle_create_lineitem
        return to_http(service.handle_resp(handler))

    @app.get(f"{platform.line_items_path}/<line_item_id>")
    def line_item(context_id: str, line_item_id: str) -> Response:
        service = Grades(FlaskRequest(request), platform)
        return to_http(service.handle_resp(service.handle_get_lineitem, line_item_id=line_item_id))

    @app.post(f"{platform.line_items_path}/<line_item_id>/scores")
    def scores(context_id: str, line_item_id: str) -> Response:
        service = Grades(FlaskRequest(request), platform)
        return to_http(service.handle_resp(service.handle_update_score, line_item_id=line_item_id))

    @app.post("/deep-link-return")
    def deep_link_return() -> Response | tuple[Response, int]:
        try:
            items = platform.conf.validate_deeplinking_resp(request.form.to_dict())
        except (LtiException, LtiDeepLinkingResponseException, jwt.PyJWTError, KeyError) as exc:
            return jsonify(error=type(exc).__name__, error_description=str(exc)), 400
        store.deep_link_items.append(items)
        store.deep_link_responses.append(dict(platform.conf._jwt["body"]))
        return jsonify(content_items=items)

    return app


class _QuietRequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class IndependentPlatform:
    """lti1p3platform on a loopback werkzeug server (port 0) in a thread; use as a context manager.

    One request at a time (not threaded): the library keeps the JWT it is validating on the shared
    config object.
    """

    memberships_path = "/contexts/<context_id>/memberships"
    line_items_path = "/contexts/<context_id>/lineitems"

    def __init__(
        self,
        *,
        private_key_pem: str,
        tool_base_url: str,
        tool_jwks: dict[str, list[dict[str, Any]]] | None = None,
        users: Iterable[PlatformUser] | None = None,
        page_size: int = 3,
        client_id: str = "independent-client",
        deployment_id: str = "independent-deployment-1",
    ) -> None:
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, self._dispatch, request_handler=_QuietRequestHandler
        )
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self.issuer = self.base_url
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.users = tuple(users) if users is not None else build_roster(student_count=1)
        self.page_size = page_size
        self.context = Context(id="course-ind-1", label="SCI-8", title="Science 8")
        self.store = PlatformStore()
        self.forged_signing_key: tuple[str, str | None] | None = None
        tool = tool_base_url.rstrip("/")
        self.registration = (
            Registration()
            .set_iss(self.issuer)
            .set_client_id(client_id)
            .set_deployment_id(deployment_id)
            .set_launch_url(f"{tool}/lti/launch")
            .set_deeplink_launch_url(f"{tool}/lti/launch")
            .set_oidc_login_url(f"{tool}/lti/login")
            .set_platform_private_key(private_key_pem)
            .set_platform_public_key(public_pem_of(private_key_pem))
        )
        if tool_jwks is not None:
            self.registration.set_tool_key_set(tool_jwks)
        self.conf = PlatformConf(registration=self.registration)
        self.conf.get_registration()
        self.app = create_platform_app(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _dispatch(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self.app(environ, start_response)

    def url(self, path: str) -> str:
        return self.base_url + path.replace("<context_id>", self.context.id)

    @property
    def memberships_url(self) -> str:
        """The NRPS URL the launch advertises; `limit` is what makes the library page at all."""
        return f"{self.url(self.memberships_path)}?limit={self.page_size}"

    @property
    def line_items_url(self) -> str:
        return self.url(self.line_items_path)

    def line_item_url(self, line_item_id: str) -> str:
        return f"{self.line_items_url}/{line_item_id}"

    def user(self, user_id: str) -> PlatformUser:
        for user in self.users:
            if user.user_id == user_id:
                return user
        raise KeyError(f"no user {user_id!r} on the platform")

    def scores_for(self, line_item_url: str) -> Iterator[ReceivedScore]:
        number = line_item_url.rsplit("/", 1)[-1]
        return (score for score in self.store.scores if score.line_item_id == number)

    def start(self) -> IndependentPlatform:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> IndependentPlatform:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def new_private_key_pem() -> str:
    """A fresh 2048-bit RSA key in PKCS#8 PEM, the format the library signs with."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def public_pem_of(private_key_pem: str) -> str:
    key = serialization.load_pem_private_key(private_key_pem.encode("ascii"), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
