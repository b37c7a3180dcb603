"""Landing pages after a launch, one per role (placeholders the role-specific surfaces will replace)."""

from __future__ import annotations

from flask import Blueprint, render_template

from lti_tool.lti.roles import AppRole
from lti_tool.web.auth import require_launch

bp = Blueprint("home", __name__)


@bp.get("/staff")
@require_launch(AppRole.STAFF)
def staff() -> str:
    """The staff overview (placeholder)."""
    return render_template("home/staff.html")


@bp.get("/home")
@require_launch()
def welcome() -> str:
    """Where a launch without a course role lands."""
    return render_template("home/welcome.html")
