"""Staff export page: pick an export kind, a school and a grading period; download the files as a zip.

The zip holds the export's files and MANIFEST.sha256 (`sha256sum -c` checks it). Bad choices and periods
with nothing posted show the form again with the problem (422), never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, g, render_template, request

from connectors.exports import bundle_zip
from lti_tool.exports import EXPORT_KINDS, ExportError, export_kind
from lti_tool.lti.roles import AppRole
from lti_tool.registrar.errors import NotFoundError
from lti_tool.registrar.lookup import (
    gradable_periods,
    list_schools,
    period_label,
    resolve_period,
    resolve_school,
)
from lti_tool.web.auth import require_launch
from lti_tool.web.session import db_session

bp = Blueprint("exports", __name__)

UNPROCESSABLE = 422
KIND_LABELS = {
    "powerschool-storedgrades": "PowerSchool stored grades import (tab-delimited)",
    "oneroster-csv": "OneRoster 1.2 gradebook CSV (zip)",
    "grades-csv": "Grades table (CSV)",
    "grades-xlsx": "Grades table (Excel)",
    "transcript-pdf": "Transcripts (PDF)",
    "ncaa": "NCAA core-course worksheets and conversion-scale letter",
    "report-card-pdf": "Progress reports with evidence charts (PDF)",
}


@dataclass(frozen=True, slots=True)
class PeriodChoice:
    """A period offered in the form: the value posted back and its label."""

    value: str
    label: str


def _render(*, error: str | None = None, status: int = 200) -> tuple[str, int]:
    session = db_session()
    schools = []
    for school in list_schools(session):
        periods = [
            PeriodChoice(period.sourced_id or str(period.id), period_label(period))
            for period in gradable_periods(session, school)
        ]
        schools.append((school.sourced_id or str(school.id), school.name, periods))
    page = render_template(
        "exports/index.html",
        kinds=[(kind, KIND_LABELS.get(kind, kind)) for kind in EXPORT_KINDS],
        schools=schools,
        chosen=request.form,
        error=error,
        session_token=g.get("session_token"),
    )
    return page, status


@bp.get("/staff/exports")
@require_launch(AppRole.STAFF)
def exports() -> tuple[str, int]:
    """The export form."""
    return _render()


@bp.post("/staff/exports")
@require_launch(AppRole.STAFF)
def download() -> Response | tuple[str, int]:
    """Build the chosen export and send it as a zip (files plus MANIFEST.sha256)."""
    kind = request.form.get("kind", "")
    if kind not in EXPORT_KINDS:
        return _render(error=f"Choose an export kind (got {kind!r}).", status=UNPROCESSABLE)
    session = db_session()
    try:
        school = resolve_school(session, request.form.get("school", ""))
        period = resolve_period(session, school, request.form.get("period", ""))
        result = export_kind(session, kind, school, period)
    except (NotFoundError, ExportError) as exc:
        return _render(error=str(exc), status=UNPROCESSABLE)
    name = f"{kind}-{school.sourced_id or school.id}-{period.sourced_id or period.id}.zip"
    response = Response(bundle_zip(result.with_manifest()), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["X-Export-Warnings"] = str(len(result.warnings))
    return response
