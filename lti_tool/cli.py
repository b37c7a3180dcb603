"""The `mastery-bridge` command line: noun-verb subcommands; data to stdout, logs to stderr."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from lti_tool.errors import ConfigError, MasteryBridgeError
from lti_tool.settings import Settings, load_settings

log = logging.getLogger("mastery_bridge")


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr, level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Alembic narrates every plugin and migration step at INFO; keep the CLI quiet unless debugging.
    if level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)


class _Context:
    """Lazily loaded settings shared by subcommands."""

    def __init__(self) -> None:
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings()
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from exc
        return self._settings


pass_context = click.make_pass_decorator(_Context, ensure=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mastery-bridge")
@click.pass_context
def main(ctx: click.Context) -> None:
    """mastery-bridge: mastery evidence in, legacy grades out."""
    ctx.ensure_object(_Context)
    try:
        _configure_logging(load_settings().log_level)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


# -- db ---------------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Create and migrate the database."""


@db.command("upgrade")
@pass_context
def db_upgrade(context: _Context) -> None:
    """Create the database or migrate it to the newest schema."""
    from lti_tool.db import upgrade_database

    revision = upgrade_database(context.settings.database_url)
    click.echo(f"database at revision {revision}", err=True)


@db.command("check")
@pass_context
def db_check(context: _Context) -> None:
    """Fail when the models and the migrations disagree."""
    from lti_tool.db import check_database

    check_database(context.settings.database_url)
    click.echo("models and migrations agree", err=True)


# -- policies -----------------------------------------------------------------------------------------


@main.group()
def policies() -> None:
    """Grading policies shipped with mastery-bridge."""


@policies.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def policies_list(as_json: bool) -> None:
    """List the shipped grading policies."""
    from mappings import load_shipped_policy, shipped_policy_names

    rows = []
    for name in shipped_policy_names():
        policy = load_shipped_policy(name)
        rows.append({"name": name, "version": policy.version, "description": policy.description})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['name']:<24} {row['version']:<10} {row['description']}")


@policies.command("scale")
@click.argument("policy")
def policies_scale(policy: str) -> None:
    """Print a policy's conversion scale as Markdown (for a school profile or the NCAA)."""
    from lti_tool.translate import resolve_policy
    from mappings import render_conversion_scale

    try:
        click.echo(render_conversion_scale(resolve_policy(policy)))
    except MasteryBridgeError as exc:
        raise click.ClickException(str(exc)) from exc


# -- translate ------------------------------------------------------------------------------------------


class InputError(click.ClickException):
    """Bad input: exit code 2, one message naming where."""

    exit_code = 2


@main.command()
@click.option("--policy", "policy_name", required=True, help="A shipped policy name or a policy .toml file.")
@click.option(
    "--evidence", "evidence_path", required=True, type=click.Path(path_type=Path), help="evidence.csv"
)
@click.option("--periods", "periods_path", required=True, type=click.Path(path_type=Path), help="periods.csv")
@click.option(
    "--courses", "courses_path", type=click.Path(path_type=Path), help="courses.csv (credits, levels, NCAA)"
)
@click.option(
    "--out", "out_path", type=click.Path(path_type=Path), help="Write grades here (default: stdout)."
)
@click.option("--gpa", "gpa_path", type=click.Path(path_type=Path), help="Write GPA figures here.")
@click.option("--explain", is_flag=True, help="Print a plain-words explanation of each grade to stdout.")
@click.option("--student", "students", multiple=True, help="Only explain these students (repeatable).")
def translate(
    policy_name: str,
    evidence_path: Path,
    periods_path: Path,
    courses_path: Path | None,
    out_path: Path | None,
    gpa_path: Path | None,
    explain: bool,
    students: tuple[str, ...],
) -> None:
    """Translate evidence into period grades, final grades, GPA and NCAA figures, offline."""
    import csv

    from lti_tool import translate as tr
    from mappings import render_explanation

    try:
        policy = tr.resolve_policy(policy_name)
        courses = tr.read_courses(courses_path) if courses_path else None
        evidence = tr.read_evidence(evidence_path, courses)
        periods = tr.read_periods(periods_path)
        result = tr.translate(policy, evidence, periods, courses, periods_file=str(periods_path))
    except MasteryBridgeError as exc:
        raise InputError(str(exc)) from exc
    outputs: list[tuple[Path, tuple[str, ...], list[list[str]]]] = []
    if out_path:
        outputs.append((out_path, tr.GRADES_HEADER, list(tr.grade_rows(result.grades))))
    if gpa_path:
        outputs.append((gpa_path, tr.GPA_HEADER, list(tr.gpa_rows(result.gpas))))
    tr.write_csv_files(outputs)
    if not out_path and not explain:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(tr.GRADES_HEADER)
        writer.writerows(tr.grade_rows(result.grades))
    if explain:
        wanted = set(students)
        for grade in result.grades:
            if wanted and grade.student_id not in wanted:
                continue
            course = result.courses.get(grade.course_id)
            click.echo(f"Student {grade.student_id}")
            click.echo(
                render_explanation(grade, course_title=course.title if course else None, policy=policy)
            )
            click.echo()
    log.info(
        "translated %d evidence rows into %d grades for %d students with policy %s %s",
        len(evidence),
        len(result.grades),
        len(result.gpas),
        policy.name,
        policy.version,
    )


# -- demo -------------------------------------------------------------------------------------------------


@main.group()
def demo() -> None:
    """The demo district."""


@demo.command("files")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--seed", default=2026, show_default=True)
@click.option("--students", "student_count", default=120, show_default=True)
def demo_files(folder: Path, seed: int, student_count: int) -> None:
    """Write the demo district as evidence.csv, periods.csv and courses.csv for `translate`."""
    from lti_tool.demo.district import generate_district
    from lti_tool.demo.files import write_translate_inputs

    district = generate_district(seed=seed, student_count=student_count)
    paths = write_translate_inputs(district, folder)
    for path in paths:
        click.echo(str(path))


@demo.command("load")
@click.option("--seed", default=2026, show_default=True)
@click.option("--students", "student_count", default=120, show_default=True)
@pass_context
def demo_load(context: _Context, seed: int, student_count: int) -> None:
    """Load the demo district into the database (once)."""
    from lti_tool.db import make_engine, make_session_factory
    from lti_tool.demo.district import generate_district
    from lti_tool.demo.load import load_district

    engine = make_engine(context.settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            summary = load_district(session, generate_district(seed=seed, student_count=student_count))
    finally:
        engine.dispose()
    if summary.was_loaded_before:
        click.echo("demo district already loaded; nothing changed", err=True)
    else:
        click.echo(
            f"loaded demo district: {summary.students} students, {summary.classes} classes, "
            f"{summary.evidence} pieces of evidence",
            err=True,
        )


@demo.command("report")
@pass_context
def demo_report(context: _Context) -> None:
    """Print the demo school's snapshot grades for a few students, with one grade explained."""
    from lti_tool.db import make_engine, make_session_factory
    from lti_tool.demo.report import render_demo_report

    engine = make_engine(context.settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            click.echo(render_demo_report(session, "RHS"))
    finally:
        engine.dispose()
