"""Every error page of the tool: 4xx/5xx as HTML for browsers, JSON for clients that ask for it.

Views raise (`abort(404)`, `LaunchError`); they never build error pages themselves. Logs name the reason and
the path, never claims, names, emails or query strings (which may carry student data).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from lti_tool.errors import LaunchError

log = logging.getLogger("mastery_bridge.web")


def register_error_handlers(app: Flask) -> None:
    """Install the handlers on `app`."""
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(LaunchError, _handle_launch_error)
    app.register_error_handler(Exception, _handle_unexpected)


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def render_error(status: int, title: str, message: str) -> tuple[Response | str, int]:
    """The error response for `status`, in the format the client asked for."""
    if _wants_json():
        return jsonify({"error": {"status": status, "title": title, "message": message}}), status
    return render_template("error.html", status=status, title=title, message=message), status


def _handle_http_exception(exc: HTTPException) -> tuple[Response | str, int]:
    status = exc.code or 500
    return render_error(status, exc.name, exc.description or exc.name)


def _handle_launch_error(exc: LaunchError) -> tuple[Response | str, int]:
    # The reason is written by our launch code and names the failed check, not the token's contents.
    log.warning("launch rejected: %s (status %d, path %s)", exc.reason, exc.status, request.path)
    return render_error(exc.status, "Launch rejected", exc.reason)


def _handle_unexpected(exc: Exception) -> tuple[Response | str, int]:
    # The outermost edge: log with traceback, show nothing internal.
    if isinstance(exc, HTTPException):  # pragma: no cover - Flask routes these to the handler above
        return _handle_http_exception(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    error = InternalServerError()
    return render_error(500, error.name, "Something went wrong on our side. Please try again.")
