"""Export renderers: an `ExportDataset` (typed records) in, files plus a SHA-256 manifest out.

Import rule: `mappings`, `connectors.oneroster_csv`, the standard library and the rendering libraries
(reportlab, XlsxWriter); never Flask, SQLAlchemy or `lti_tool`. Renderers are pure: no clock, no environment,
no network, so the same dataset gives the same bytes (tests compare golden files byte for byte).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

from connectors.exports.bundle import MANIFEST_NAME, ExportResult, bundle_zip, manifest_bytes
from connectors.exports.figures import StudentFigures, student_figures
from connectors.exports.ncaa import render_ncaa
from connectors.exports.oneroster import render_oneroster_csv
from connectors.exports.powerschool import render_powerschool_storedgrades, store_code, term_id
from connectors.exports.records import (
    ChartSeries,
    ExportClass,
    ExportCourse,
    ExportDataset,
    ExportGrade,
    ExportSchool,
    ExportSession,
    ExportStudent,
    HabitLevel,
    IndicatorLevel,
    IndicatorSource,
    ScaleLevel,
    SessionKind,
)
from connectors.exports.report_card import render_report_cards
from connectors.exports.tables import render_grades_csv, render_grades_xlsx
from connectors.exports.transcript import render_transcripts

__all__ = [
    "EXPORT_KINDS",
    "MANIFEST_NAME",
    "RENDERERS",
    "ChartSeries",
    "ExportClass",
    "ExportCourse",
    "ExportDataset",
    "ExportGrade",
    "ExportResult",
    "ExportSchool",
    "ExportSession",
    "ExportStudent",
    "HabitLevel",
    "IndicatorLevel",
    "IndicatorSource",
    "ScaleLevel",
    "SessionKind",
    "StudentFigures",
    "bundle_zip",
    "manifest_bytes",
    "render_export",
    "store_code",
    "student_figures",
    "term_id",
]

RENDERERS: Final[Mapping[str, Callable[[ExportDataset], ExportResult]]] = MappingProxyType(
    {
        "powerschool-storedgrades": render_powerschool_storedgrades,
        "oneroster-csv": render_oneroster_csv,
        "grades-csv": render_grades_csv,
        "grades-xlsx": render_grades_xlsx,
        "transcript-pdf": render_transcripts,
        "ncaa": render_ncaa,
        "report-card-pdf": render_report_cards,
    }
)
EXPORT_KINDS: Final = tuple(RENDERERS)


def render_export(kind: str, dataset: ExportDataset) -> ExportResult:
    """Render one export kind; an unknown kind raises ValueError naming the choices."""
    renderer = RENDERERS.get(kind)
    if renderer is None:
        raise ValueError(f"unknown export kind {kind!r}; choose one of {', '.join(EXPORT_KINDS)}")
    return renderer(dataset)
