"""The demo platform's LTI Advantage services: OAuth 2 token endpoint, NRPS 2.0 and AGS 2.0."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from flask import Response, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry

from lti_tool.demo.platform.claims import (
    ALLOWED_SCOPES,
    SCOPE_LINE_ITEM,
    SCOPE_LINE_ITEM_READONLY,
    SCOPE_NRPS,
    SCOPE_RESULT_READONLY,
    SCOPE_SCORE,
    line_items_url,
    memberships_url,
)
from lti_tool.demo.platform.errors import PlatformRequestError
from lti_tool.demo.platform.state import DemoPlatform, ReceivedScore, StoredLineItem, current_platform

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MEDIA_MEMBERSHIP = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
MEDIA_LINE_ITEM = "application/vnd.ims.lis.v2.lineitem+json"
MEDIA_LINE_ITEM_CONTAINER = "application/vnd.ims.lis.v2.lineitemcontainer+json"
MEDIA_RESULT_CONTAINER = "application/vnd.ims.lis.v2.resultcontainer+json"
ACTIVITY_PROGRESS = frozenset({"Initialized", "Started", "InProgress", "Submitted", "Completed"})
GRADING_PROGRESS = frozenset({"FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"})


def _json_response(data: Any, mimetype: str, status: int = 200) -> Response:
    return Response(json.dumps(data, default=_number), status=status, mimetype=mimetype)


def _number(value: object) -> int | float:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _require_scope(*accepted: str) -> None:
    """Bearer token check (Security Framework §4.1): a live token holding one of `accepted`."""
    platform = current_platform()
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    scopes = platform.token_scopes(value.strip()) if scheme.lower() == "bearer" else None
    if scopes is None:
        raise PlatformRequestError(
            "missing, unknown or expired bearer token", status=401, error="invalid_token"
        )
    if not scopes.intersection(accepted):
        raise PlatformRequestError(
            "token lacks the scope this service needs", status=403, error="insufficient_scope"
        )


def _check_context(platform: DemoPlatform, context_id: str) -> None:
    if context_id != platform.config.context.id:
        raise PlatformRequestError(f"unknown context {context_id!r}", status=404, error="not_found")


def _read_json() -> dict[str, Any]:
    try:
        body = json.loads(request.get_data(as_text=True), parse_float=Decimal)
    except ValueError as exc:
        raise PlatformRequestError("the request body is not JSON") from exc
    if not isinstance(body, dict):
        raise PlatformRequestError("the request body is not a JSON object")
    return body


def _decimal(value: object, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise PlatformRequestError(f"{name} must be a number, got {value!r}")
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise PlatformRequestError(f"{name} must be a number, got {value!r}") from exc


# OAuth 2 token endpoint ----------------------------------------------------------------------------


def token() -> Response:
    """client_credentials with a JWT client assertion (Security Framework §4.1; RFC 7523 §2.2, §3)."""
    platform = current_platform()
    config = platform.config
    form = request.form
    if form.get("grant_type") != "client_credentials":
        raise PlatformRequestError("grant_type must be client_credentials", error="unsupported_grant_type")
    if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
        raise PlatformRequestError(
            "client_assertion_type must be jwt-bearer", error="invalid_client", status=401
        )
    assertion = form.get("client_assertion", "")
    try:
        try:
            decoded = jwt.decode(assertion, platform.tool_keys(), algorithms=["RS256"])
        except JoseError:
            # The tool may have rotated its key since we cached its JWKS.
            decoded = jwt.decode(assertion, platform.tool_keys(refresh=True), algorithms=["RS256"])
        JWTClaimsRegistry(
            now=lambda: int(platform.clock()),
            leeway=30,
            iss={"essential": True, "value": config.client_id},
            sub={"essential": True, "value": config.client_id},
            aud={"essential": True, "value": config.token_url},
            exp={"essential": True},
            jti={"essential": True},
        ).validate(decoded.claims)
    except (JoseError, ValueError) as exc:
        raise PlatformRequestError(
            f"client assertion refused: {type(exc).__name__}", status=401, error="invalid_client"
        ) from exc
    if not platform.use_assertion_id(str(decoded.claims["jti"])):
        raise PlatformRequestError(
            "client assertion jti was already used", status=401, error="invalid_client"
        )
    granted = frozenset(form.get("scope", "").split()) & ALLOWED_SCOPES
    if not granted:
        raise PlatformRequestError("none of the requested scopes is allowed", error="invalid_scope")
    body = {
        "access_token": platform.issue_token(granted),
        "token_type": "Bearer",
        "expires_in": config.token_lifetime_seconds,
        "scope": " ".join(sorted(granted)),
    }
    response = _json_response(body, "application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


# NRPS 2.0 -------------------------------------------------------------------------------------------


def memberships(context_id: str) -> Response:
    """NRPS 2.0 membership container, paged with `limit`/`page` and `Link: rel="next"` (§2.4.2)."""
    _require_scope(SCOPE_NRPS)
    platform = current_platform()
    config = platform.config
    _check_context(platform, context_id)
    limit, page = _paging(config.nrps_page_size)
    role = request.args.get("role")
    users = [
        u for u in config.users if role is None or any(r == role or r.endswith("#" + role) for r in u.roles)
    ]
    start = (page - 1) * limit
    chunk = users[start : start + limit]
    body = {
        "id": memberships_url(config),
        "context": {"id": config.context.id, "label": config.context.label, "title": config.context.title},
        "members": [
            {
                "status": "Active",
                "user_id": user.user_id,
                "roles": list(user.roles),
                "name": user.name,
                "given_name": user.given_name,
                "family_name": user.family_name,
                "email": user.email,
                "lis_person_sourcedid": user.lis_person_sourcedid,
            }
            for user in chunk
        ],
    }
    response = _json_response(body, MEDIA_MEMBERSHIP)
    if start + limit < len(users):
        extra = {"role": role} if role else {}
        response.headers["Link"] = (
            f'<{memberships_url(config)}?{urlencode({**extra, "limit": limit, "page": page + 1})}>; rel="next"'
        )
    return response


def _paging(default_limit: int) -> tuple[int, int]:
    try:
        limit = int(request.args.get("limit", default_limit))
        page = int(request.args.get("page", 1))
    except ValueError as exc:
        raise PlatformRequestError("limit and page must be integers") from exc
    if limit < 1 or page < 1:
        raise PlatformRequestError("limit and page must be positive")
    return limit, page


# AGS 2.0 line items -------------------------------------------------------------------------------------


def _line_item_url(platform: DemoPlatform, number: int) -> str:
    url = f"{line_items_url(platform.config)}/{number}"
    query = platform.config.line_item_query
    return f"{url}?{query}" if query else url


def _line_item_json(platform: DemoPlatform, item: StoredLineItem) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": _line_item_url(platform, item.number),
        "label": item.label,
        "scoreMaximum": item.score_maximum,
    }
    optional = {"resourceLinkId": item.resource_link_id, "resourceId": item.resource_id, "tag": item.tag}
    body.update({name: value for name, value in optional.items() if value is not None})
    return body


def _line_item_fields(body: dict[str, Any]) -> dict[str, Any]:
    label = body.get("label")
    if not isinstance(label, str) or not label.strip():
        raise PlatformRequestError("label is required")
    maximum = _decimal(body.get("scoreMaximum"), "scoreMaximum")
    if maximum <= 0:
        raise PlatformRequestError("scoreMaximum must be positive")
    fields: dict[str, Any] = {"label": label, "score_maximum": maximum}
    for key, name in (("resourceLinkId", "resource_link_id"), ("resourceId", "resource_id"), ("tag", "tag")):
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise PlatformRequestError(f"{key} must be a string")
        fields[name] = value
    return fields


def line_items(context_id: str) -> Response:
    """GET lists line items (AGS 2.0 §3.2.4); POST creates one (§3.2.5) and refuses an `id` like Schoology."""
    platform = current_platform()
    _check_context(platform, context_id)
    if request.method == "POST":
        _require_scope(SCOPE_LINE_ITEM)
        body = _read_json()
        if "id" in body:
            raise PlatformRequestError("a new line item must not carry an id")
        fields = _line_item_fields(body)
        with platform.store.lock:
            item = platform.add_line_item_locked(**fields)
        return _json_response(_line_item_json(platform, item), MEDIA_LINE_ITEM, status=201)
    _require_scope(SCOPE_LINE_ITEM, SCOPE_LINE_ITEM_READONLY)
    filters = {name: request.args.get(name) for name in ("resource_link_id", "resource_id", "tag")}
    with platform.store.lock:
        items = list(platform.store.line_items.values())
    selected = [
        item
        for item in items
        if all(value is None or getattr(item, name) == value for name, value in filters.items())
    ]
    return _json_response([_line_item_json(platform, item) for item in selected], MEDIA_LINE_ITEM_CONTAINER)


def _stored_item(platform: DemoPlatform, context_id: str, item_id: int) -> StoredLineItem:
    _check_context(platform, context_id)
    query = platform.config.line_item_query
    if query and request.query_string.decode() != query:
        # Moodle-style URLs: a client that dropped the query would hit the wrong tool type.
        raise PlatformRequestError(
            f"line item URL must keep its query {query!r}", status=404, error="not_found"
        )
    with platform.store.lock:
        item = platform.store.line_items.get(item_id)
    if item is None:
        raise PlatformRequestError(f"unknown line item {item_id}", status=404, error="not_found")
    return item


def line_item(context_id: str, item_id: int) -> Response:
    """GET, PUT or DELETE one line item (AGS 2.0 §3.2.6–8)."""
    platform = current_platform()
    if request.method == "GET":
        _require_scope(SCOPE_LINE_ITEM, SCOPE_LINE_ITEM_READONLY)
        item = _stored_item(platform, context_id, item_id)
        return _json_response(_line_item_json(platform, item), MEDIA_LINE_ITEM)
    _require_scope(SCOPE_LINE_ITEM)
    item = _stored_item(platform, context_id, item_id)
    if request.method == "DELETE":
        with platform.store.lock:
            platform.store.line_items.pop(item_id, None)
        return Response(status=204)
    body = _read_json()
    if "id" in body and body["id"] != _line_item_url(platform, item_id):
        raise PlatformRequestError("the id in the body does not match the URL")
    updated = replace(item, **_line_item_fields(body))
    with platform.store.lock:
        platform.store.line_items[item_id] = updated
    return _json_response(_line_item_json(platform, updated), MEDIA_LINE_ITEM)


# AGS 2.0 scores and results ---------------------------------------------------------------------------


def scores(context_id: str, item_id: int) -> Response:
    """Accept a score (AGS 2.0 §3.4): learners only (422, like Canvas), strictly newer timestamps (409, like Moodle)."""
    _require_scope(SCOPE_SCORE)
    platform = current_platform()
    item = _stored_item(platform, context_id, item_id)
    body = _read_json()
    user_id = body.get("userId")
    if not isinstance(user_id, str) or not user_id:
        raise PlatformRequestError("userId is required")
    user = platform.config.find_user(user_id)
    if user is None or not user.is_learner:
        raise PlatformRequestError(
            "userId is not a learner in this context", status=422, error="unprocessable"
        )
    activity, grading = body.get("activityProgress"), body.get("gradingProgress")
    if activity not in ACTIVITY_PROGRESS or grading not in GRADING_PROGRESS:
        raise PlatformRequestError("activityProgress or gradingProgress is missing or unknown")
    timestamp = _timestamp(body.get("timestamp"))
    given = None if body.get("scoreGiven") is None else _decimal(body["scoreGiven"], "scoreGiven")
    maximum = None if body.get("scoreMaximum") is None else _decimal(body["scoreMaximum"], "scoreMaximum")
    if given is not None:
        if maximum is None or maximum <= 0:
            raise PlatformRequestError("scoreMaximum must be a positive number when scoreGiven is present")
        if given < 0 or (given > maximum and not platform.config.allow_score_above_maximum):
            raise PlatformRequestError("scoreGiven must be between 0 and scoreMaximum")
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise PlatformRequestError("comment must be a string")
    key = (item.number, user_id)
    with platform.store.lock:
        last = platform.store.last_timestamps.get(key)
        if last is not None and timestamp <= last:
            raise PlatformRequestError(
                "timestamp is not newer than the last score", status=409, error="conflict"
            )
        platform.store.last_timestamps[key] = timestamp
        platform.store.scores.append(
            ReceivedScore(item.number, user_id, given, maximum, timestamp, activity, grading, comment)
        )
    return _json_response(
        {"resultUrl": f"{line_items_url(platform.config)}/{item.number}/results"}, "application/json"
    )


def _timestamp(value: object) -> datetime:
    if not isinstance(value, str):
        raise PlatformRequestError("timestamp is required")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise PlatformRequestError(f"timestamp {value!r} is not ISO 8601") from exc
    if moment.utcoffset() is None:
        raise PlatformRequestError(f"timestamp {value!r} has no UTC offset")
    return moment


def results(context_id: str, item_id: int) -> Response:
    """The latest result per learner for a line item (AGS 2.0 §3.3), optionally for one `user_id`."""
    _require_scope(SCOPE_RESULT_READONLY)
    platform = current_platform()
    item = _stored_item(platform, context_id, item_id)
    wanted = request.args.get("user_id")
    latest: dict[str, ReceivedScore] = {}
    for score in platform.received_scores():
        if score.line_item == item.number and (wanted is None or score.user_id == wanted):
            latest[score.user_id] = score
    base = f"{line_items_url(platform.config)}/{item.number}"
    body = []
    for user_id, score in latest.items():
        entry: dict[str, Any] = {
            "id": f"{base}/results/{user_id}",
            "scoreOf": _line_item_url(platform, item.number),
            "userId": user_id,
        }
        if score.grading_progress == "FullyGraded" and score.score_given is not None:
            entry["resultScore"] = score.score_given
            entry["resultMaximum"] = score.score_maximum
        if score.comment is not None:
            entry["comment"] = score.comment
        body.append(entry)
    return _json_response(body, MEDIA_RESULT_CONTAINER)
