"""`mastery-bridge export KIND --school S --period P [--out FILE|DIR]`: registrar exports of posted grades.

Where the files go:
- `--out DIR` (an existing directory, or a path without a suffix): every file plus MANIFEST.sha256;
- `--out FILE.zip`: one deterministic zip holding every file plus MANIFEST.sha256;
- `--out FILE` (another suffix) for a one-file export: that file, and FILE.sha256 beside it;
- no `--out` for a one-file export: the file's bytes to stdout (no manifest).
KIND `all` writes every kind from one read of the database, each in its own folder (`DIR/<kind>/`, or
`<kind>/` inside the zip) with its own manifest, rendering in `--jobs` processes (default: the cores).
Progress and warnings go to stderr; `--json` prints what was written (names, sizes, SHA-256) to stdout.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import click

from lti_tool.cli.core import CliContext, InputError, log, main, pass_context, transaction

__all__ = ["export"]

ALL = "all"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_bytes(data)
    temporary.replace(path)


def _place(files: dict[str, bytes], manifest: dict[str, bytes], out: Path | None) -> dict[str, bytes]:
    """Write the export; returns what was written, by path."""
    from connectors.exports import bundle_zip, manifest_bytes

    if out is None:
        if len(files) != 1:
            raise InputError(
                f"this export has {len(files)} files ({', '.join(sorted(files))}); give --out DIR or --out FILE.zip"
            )
        sys.stdout.buffer.write(next(iter(files.values())))
        sys.stdout.buffer.flush()
        return {}
    if out.is_dir() or not out.suffix:
        written = {str(out / name): data for name, data in manifest.items()}
    elif out.suffix == ".zip":
        written = {str(out): bundle_zip(manifest)}
    elif len(files) == 1:
        data = next(iter(files.values()))
        written = {str(out): data, f"{out}.sha256": manifest_bytes({out.name: data})}
    else:
        raise InputError(
            f"--out {out}: this export has {len(files)} files ({', '.join(sorted(files))}); give a directory "
            "or a .zip file"
        )
    for path, data in written.items():
        _write(Path(path), data)
    return written


@main.command("export")
@click.argument("kind", metavar="KIND")
@click.option("--school", "school_name", required=True, help="School sourcedId, id or name.")
@click.option("--period", "period_name", required=True, help="Grading period sourcedId, id or title.")
@click.option("--out", "out_path", type=click.Path(path_type=Path), help="A directory, a .zip, or a file.")
@click.option("--jobs", type=click.IntRange(1, 8), default=None,
              help="Processes rendering KIND all (default: the machine's cores, at most 8).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@pass_context
def export(
    context: CliContext,
    kind: str,
    school_name: str,
    period_name: str,
    out_path: Path | None,
    jobs: int | None,
    as_json: bool,
) -> None:
    """Export a school's posted grades for a period. KIND is one of: powerschool-storedgrades, oneroster-csv,
    grades-csv, grades-xlsx, transcript-pdf, ncaa, report-card-pdf, or all (every kind, --out DIR or .zip)."""
    # Imported here: the renderers (reportlab, XlsxWriter) cost ~1 s, and every other command would pay it.
    from lti_tool.exports import EXPORT_KINDS, ExportError, default_jobs, export_all, export_kind
    from lti_tool.registrar.errors import NotFoundError
    from lti_tool.registrar.lookup import resolve_period, resolve_school

    if as_json and out_path is None:
        raise InputError("--json describes the files written: give --out as well")
    if kind != ALL and kind not in EXPORT_KINDS:
        raise InputError(f"unknown export kind {kind!r}; the kinds are: {', '.join(EXPORT_KINDS)}, {ALL}")
    if kind == ALL and (out_path is None or (out_path.suffix and out_path.suffix != ".zip")):
        raise InputError("export all writes a folder per kind: give --out DIR or --out FILE.zip")
    with transaction(context) as session:
        try:
            school = resolve_school(session, school_name)
            period = resolve_period(session, school, period_name)

            def report(step: str) -> None:
                click.echo(f"export {kind}: {step}", err=True)

            if kind == ALL:
                results = export_all(session, school, period, jobs=jobs or default_jobs(), progress=report)
            else:
                results = {kind: export_kind(session, kind, school, period, progress=report)}
        except (NotFoundError, ExportError) as exc:
            raise InputError(str(exc)) from exc
        label = period.sourced_id or str(period.id)
    warnings = [warning for result in results.values() for warning in result.warnings]
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    if kind == ALL:
        files = {
            f"{name}/{file}": data for name, result in results.items() for file, data in result.files.items()
        }
        manifest = {
            f"{name}/{file}": data
            for name, result in results.items()
            for file, data in result.with_manifest().items()
        }
    else:
        files, manifest = dict(results[kind].files), results[kind].with_manifest()
    written = _place(files, manifest, out_path)
    log.info("export %s for period %s: %d file(s) written", kind, label, len(written) or len(files))
    if as_json:
        click.echo(
            json.dumps(
                {
                    "kind": kind,
                    "files": [
                        {"path": path, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                        for path, data in sorted(written.items())
                    ],
                    "warnings": warnings,
                },
                indent=2,
            )
        )
    elif written:
        for path in sorted(written):
            click.echo(path)
