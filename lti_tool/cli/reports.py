"""`mastery-bridge reports`: school reports for leaders (the equity report), small groups suppressed."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Any

import click

from lti_tool.cli.core import CliContext, InputError, main, pass_context, transaction

if TYPE_CHECKING:
    from lti_tool.registrar.equity import Distribution, EquityReport

__all__ = ["render_equity", "reports"]


@main.group()
def reports() -> None:
    """School reports: proficiency distributions, progress and equity."""


def _cell(distribution: Distribution, index: int, suppressed: str) -> str:
    if distribution.counts is None:
        return suppressed
    return str(distribution.counts[index])


def render_equity(report: EquityReport) -> str:
    """The report as text: one block per class x indicator, one line per group and snapshot."""
    lines = [
        f"Equity report: {report.school_name}, as of {report.as_of.isoformat()} "
        f"(groups under {report.min_group_size} students suppressed)",
    ]
    if not report.has_demographics:
        lines.append("No demographics synced from the SIS: subgroups are not shown.")
    for row in report.rows:
        lines += [
            "",
            f"{row.class_title} ({row.course_code}), {row.indicator.code}: {row.indicator.statement}",
        ]
        header = ["group", "snapshot", *row.buckets, "mean"]
        lines.append("  " + " | ".join(header))
        for group in row.groups:
            for snapshot, distribution in zip(row.snapshots, group.distributions, strict=True):
                cells = [_cell(distribution, i, report.suppressed_text) for i in range(len(row.buckets))]
                mean = report.suppressed_text if distribution.is_suppressed else str(distribution.mean or "-")
                lines.append("  " + " | ".join([group.group, snapshot.title, *cells, mean]))
            if group.change is not None:
                lines.append(f"  {group.group}: mean change {group.change:+}")
    return "\n".join(lines)


def equity_json(report: EquityReport) -> dict[str, Any]:
    """The report as JSON; a suppressed distribution has `counts` and `mean` null and `suppressed` true."""
    return {
        "school": {"id": report.school_id, "name": report.school_name},
        "as_of": report.as_of.isoformat(),
        "min_group_size": report.min_group_size,
        "has_demographics": report.has_demographics,
        "rows": [
            {
                "class_id": row.class_id,
                "class_title": row.class_title,
                "course_code": row.course_code,
                "indicator": {
                    "code": row.indicator.code,
                    "statement": row.indicator.statement,
                    "case_identifier": row.indicator.case_identifier,
                },
                "buckets": list(row.buckets),
                "snapshots": [
                    {"key": s.key, "title": s.title, "end": s.end.isoformat()} for s in row.snapshots
                ],
                "groups": [
                    {
                        "dimension": group.dimension.value,
                        "group": group.group,
                        "suppressed": group.is_suppressed,
                        "change": None if group.change is None else str(group.change),
                        "distributions": [
                            {
                                # The size of a suppressed group is hidden too: it could be small.
                                "group_size": None if d.is_suppressed else d.group_size,
                                "counts": None if d.counts is None else list(d.counts),
                                "mean": None if d.mean is None else str(d.mean),
                            }
                            for d in group.distributions
                        ],
                    }
                    for group in row.groups
                ],
            }
            for row in report.rows
        ],
    }


@reports.command("equity")
@click.option("--school", required=True, help="School sourcedId, id or name.")
@click.option("--as-of", "as_of", default=None, help="Report date, YYYY-MM-DD (default: today).")
@click.option(
    "--min-group-size", type=int, default=10, show_default=True, help="Suppress groups smaller than this."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def reports_equity(
    context: CliContext, school: str, as_of: str | None, min_group_size: int, as_json: bool
) -> None:
    """Proficiency per indicator and class, over time and by subgroup, small groups suppressed."""
    from lti_tool.registrar.equity import school_equity_report
    from lti_tool.registrar.errors import NotFoundError
    from lti_tool.registrar.lookup import resolve_school

    day: date | None = None
    if as_of is not None:
        try:
            day = date.fromisoformat(as_of)
        except ValueError as exc:
            raise InputError(f"--as-of: {as_of!r} is not a date (YYYY-MM-DD)") from exc
    if min_group_size < 1:
        raise InputError(f"--min-group-size: must be at least 1 (got {min_group_size})")
    try:
        with transaction(context) as session:
            report = school_equity_report(
                session, resolve_school(session, school), as_of=day, min_group_size=min_group_size
            )
    except NotFoundError as exc:
        raise InputError(str(exc)) from exc
    click.echo(json.dumps(equity_json(report), indent=2) if as_json else render_equity(report))
