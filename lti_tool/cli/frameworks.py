"""`mastery-bridge frameworks`: import competency frameworks (CASE 1.0 or CSV)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from lti_tool.cli.core import CliContext, InputError, main, pass_context, transaction

# -- frameworks ---------------------------------------------------------------------------------------------


@main.group()
def frameworks() -> None:
    """Competency frameworks: CASE 1.0 packages (.json) and framework CSVs."""


@frameworks.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--org-id", type=int, default=None, help="The org (row id) that owns the framework.")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_context
def frameworks_import(
    context: CliContext, file: Path, org_id: int | None, dry_run: bool, as_json: bool
) -> None:
    """Import FILE (.json CASE CFPackage or .csv code,parent_code,kind,statement), updating in place."""
    from connectors.case import read_framework_file
    from connectors.errors import FormatError
    from lti_tool.frameworks import FrameworkImportError, import_framework

    try:
        package = read_framework_file(file.name, file.read_bytes())
        with transaction(context) as session:
            report = import_framework(session, package, org_id=org_id, dry_run=dry_run)
    except (FormatError, FrameworkImportError) as exc:
        raise InputError(f"{file}: {exc}") from exc
    if as_json:
        click.echo(json.dumps(asdict(report), indent=2))
        return
    prefix = "would import" if dry_run else "imported"
    click.echo(
        f"{prefix} {report.title!r} ({report.source}, framework {report.framework_id}): "
        f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged"
    )
    for change in report.changes:
        fields = f" ({', '.join(change.fields)})" if change.fields else ""
        click.echo(f"  {change.action:<8} {change.entity:<17} {change.key}{fields}")
    if report.kept:
        click.echo(f"  kept, not in the file: {', '.join(report.kept)}")
