"""Wire helpers of the fake OneRoster server: imsx error bodies, the filter grammar, truncated responses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from flask import Response, request
from werkzeug.exceptions import HTTPException


def quote_all(text: str) -> str:
    """RFC 3986 percent-encoding with only unreserved characters left bare (RFC 5849 §3.6)."""
    return quote(text, safe="-._~")


def json_response(data: Any, status: int = 200) -> Response:
    """`data` as a JSON response."""
    return Response(json.dumps(data), status=status, mimetype="application/json")


def imsx(status: int, code_minor: str, description: str, headers: dict[str, str] | None = None) -> Response:
    """A 1.2 `imsx_StatusInfoDType` error body (gradebook OpenAPI `imsx_StatusInfoDType`)."""
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
    response = json_response(body, status)
    response.headers.update(headers or {})
    return response


class _Abort(HTTPException):
    """Carries a finished response out of a handler."""

    def __init__(self, response: Response) -> None:
        super().__init__(response=response)


def abort_with(response: Response) -> HTTPException:
    """An exception that makes the fake answer `response`."""
    return _Abort(response)


def truncated(body: str, headers: dict[str, str], status: int = 200) -> Response:
    """Promise the whole body, send half, and close: the client sees the connection drop mid-body."""
    data = body.encode()

    def half() -> Iterator[bytes]:
        yield data[: len(data) // 2]

    response = Response(half(), status=status, headers=headers, mimetype="application/json")
    response.headers["Content-Length"] = str(len(data))
    response.headers["Connection"] = "close"
    return response


def matches(record: dict[str, Any], raw: str) -> bool:
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
            outcome: bool = {
                "!=": have != want,
                ">=": have >= want,
                "<=": have <= want,
                "=": have == want,
                ">": have > want,
                "<": have < want,
                "~": want in have,
            }[op]
            return outcome
    raise ValueError(f"no operator in {text!r}")


def page_of(
    records: list[dict[str, Any]], key: str, *, max_limit: int | None, has_paging_headers: bool
) -> tuple[str, dict[str, str]]:
    """One page of `records` per the request's filter, sort, fields, limit and offset, with paging headers.

    Paging follows 1.2 rostering §3.3.1: `X-Total-Count` and a `Link: rel="next"` header, both left out
    when the `no_paging_headers` quirk is on; `max_limit` clamps `limit` without saying so.
    """
    raw_filter = request.args.get("filter")
    if raw_filter:
        try:
            records = [r for r in records if matches(r, raw_filter)]
        except ValueError as exc:
            raise abort_with(imsx(400, "invalid_filter_field", str(exc))) from exc
    if sort := request.args.get("sort"):
        records.sort(key=lambda r: str(r.get(sort, "")), reverse=request.args.get("orderBy") == "desc")
    try:
        limit = int(request.args.get("limit", "100"))
        offset = int(request.args.get("offset", "0"))
    except ValueError as exc:
        raise abort_with(imsx(400, "invalid_selection_field", "limit and offset must be integers")) from exc
    if max_limit:
        limit = min(limit, max_limit)
    page = records[offset : offset + limit]
    if fields := request.args.get("fields"):
        wanted = fields.split(",")
        page = [{k: v for k, v in r.items() if k in wanted} for r in page]
    headers: dict[str, str] = {}
    if has_paging_headers:
        headers["X-Total-Count"] = str(len(records))
        if offset + limit < len(records):
            args = request.args.to_dict()
            args.update(limit=str(limit), offset=str(offset + limit))
            query = "&".join(f"{quote_all(k)}={quote_all(v)}" for k, v in args.items())
            headers["Link"] = f'<{request.base_url}?{query}>; rel="next"'
    return json.dumps({key: page}), headers
