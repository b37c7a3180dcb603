"""Liveness and readiness for load balancers and `make demo`."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from lti_tool.web.session import db_session

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """200 with {"status": "ok", "database": "ok"} once the database answers a SELECT 1."""
    db_session().execute(text("SELECT 1"))
    response = jsonify({"status": "ok", "database": "ok"})
    response.headers["Cache-Control"] = "no-store"
    return response
