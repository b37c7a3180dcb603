"""Staff pages: competency frameworks, listed and imported from CASE 1.0 packages or CSV uploads."""

from __future__ import annotations

from flask import Blueprint, g, render_template, request
from sqlalchemy import func, select

from connectors.case import read_framework_file
from connectors.errors import FormatError
from lti_tool.frameworks import FrameworkImportError, ImportReport, import_framework
from lti_tool.lti.roles import AppRole
from lti_tool.models import CompetencyItem, Framework
from lti_tool.web.auth import require_launch
from lti_tool.web.session import db_session

bp = Blueprint("staff", __name__)

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# 422: the form is shown again with the problem; the request's transaction is rolled back (status >= 400).
UNPROCESSABLE = 422


def _render(
    *, report: ImportReport | None = None, error: str | None = None, status: int = 200
) -> tuple[str, int]:
    session = db_session()
    counts = (
        select(CompetencyItem.framework_id, func.count().label("item_count"))
        .group_by(CompetencyItem.framework_id)
        .subquery()
    )
    rows = session.execute(
        select(Framework, func.coalesce(counts.c.item_count, 0))
        .outerjoin(counts, counts.c.framework_id == Framework.id)
        .order_by(func.lower(Framework.title), Framework.id)
    ).all()
    page = render_template(
        "staff/frameworks.html",
        frameworks=[(framework, count) for framework, count in rows],
        report=report,
        error=error,
        session_token=g.get("session_token"),
    )
    return page, status


@bp.get("/staff/frameworks")
@require_launch(AppRole.STAFF)
def frameworks() -> tuple[str, int]:
    """The frameworks with their item counts, and the upload form."""
    return _render()


@bp.post("/staff/frameworks")
@require_launch(AppRole.STAFF)
def upload_framework() -> tuple[str, int]:
    """Import an uploaded .json (CASE 1.0 CFPackage) or .csv framework; show the report or the problem."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _render(error="Choose a .json or .csv file to upload.", status=UNPROCESSABLE)
    content = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        return _render(
            error=f"{upload.filename}: larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.",
            status=UNPROCESSABLE,
        )
    try:
        package = read_framework_file(upload.filename, content)
        report = import_framework(db_session(), package, dry_run=request.form.get("dry_run") == "1")
    except (FormatError, FrameworkImportError) as exc:
        return _render(error=f"{upload.filename}: {exc}", status=UNPROCESSABLE)
    return _render(report=report)
