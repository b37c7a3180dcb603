"""The `mastery-bridge` command line: noun-verb subcommands; data to stdout, logs to stderr."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lti_tool.errors import ConfigError, MasteryBridgeError, RegistrationError
from lti_tool.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from lti_tool.models import LtiRegistration, ToolKey

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


# -- transactions for database commands ---------------------------------------------------------------------


@contextmanager
def _transaction(context: _Context) -> Iterator[Session]:
    """One transaction for the whole command: committed at the end, rolled back on any error."""
    from lti_tool.db import make_engine, make_session_factory

    engine = make_engine(context.settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            yield session
    finally:
        engine.dispose()


# -- platforms ------------------------------------------------------------------------------------------------


@main.group()
def platforms() -> None:
    """LTI 1.3 platforms (issuer + client_id) the tool accepts launches from."""


def _platform_row(registration: LtiRegistration) -> dict[str, Any]:
    return {
        "registration_id": registration.id,
        "issuer": registration.issuer,
        "client_id": registration.client_id,
        "name": registration.name,
        "status": str(registration.status),
        "source": str(registration.source),
        "deployment_ids": [deployment.deployment_id for deployment in registration.deployments],
        "auth_login_url": registration.auth_login_url,
        "auth_token_url": registration.auth_token_url,
        "key_set_url": registration.key_set_url,
    }


@platforms.command("add")
@click.option(
    "--issuer", required=True, help="The platform's issuer (iss), e.g. https://canvas.instructure.com."
)
@click.option("--client-id", required=True, help="The client_id the platform gave the tool.")
@click.option("--deployment-id", required=True, help="A deployment_id of the tool on that platform.")
@click.option("--login-url", required=True, help="The platform's OIDC authorization (login) endpoint.")
@click.option("--token-url", required=True, help="The platform's OAuth 2 token endpoint.")
@click.option("--jwks-url", required=True, help="The platform's public key set (JWKS) URL.")
@click.option("--name", default=None, help="A display name (default: the issuer).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def platforms_add(
    context: _Context,
    issuer: str,
    client_id: str,
    deployment_id: str,
    login_url: str,
    token_url: str,
    jwks_url: str,
    name: str | None,
    as_json: bool,
) -> None:
    """Register a platform, active at once; adds the deployment if issuer + client ID exist already."""
    from lti_tool.keys import current_signing_key
    from lti_tool.models import utcnow
    from lti_tool.registrations import add_platform, tool_urls

    # Option names as the user typed them, so the error points at the flag to fix.
    flags = {
        "auth_login_url": "--login-url",
        "auth_token_url": "--token-url",
        "key_set_url": "--jwks-url",
        "client_id": "--client-id",
        "deployment_id": "--deployment-id",
    }
    try:
        with _transaction(context) as session:
            registration = add_platform(
                session,
                issuer=issuer,
                client_id=client_id,
                deployment_id=deployment_id,
                auth_login_url=login_url,
                auth_token_url=token_url,
                key_set_url=jwks_url,
                name=name,
            )
            registration_id = registration.id
            # The platform will fetch our JWKS soon: make sure it has a key to find.
            current_signing_key(session, context.settings.secret_key, now=utcnow())
    except RegistrationError as exc:
        message = str(exc)
        for field, flag in flags.items():
            if message.startswith(field):
                message = f"{flag} ({field}){message[len(field) :]}"
                break
        raise InputError(message) from exc
    urls = tool_urls(context.settings.public_base_url)
    if as_json:
        click.echo(json.dumps({"registration_id": registration_id, **asdict(urls)}, indent=2))
        return
    click.echo(
        f"platform {registration_id} active: issuer {issuer}, client_id {client_id}, deployment {deployment_id}"
    )
    click.echo("enter these in the platform:")
    for key, value in asdict(urls).items():
        click.echo(f"  {key:<18} {value}")


@platforms.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def platforms_list(context: _Context, as_json: bool) -> None:
    """List registered platforms and their deployments."""
    from lti_tool.registrations import list_platforms

    with _transaction(context) as session:
        rows = [_platform_row(registration) for registration in list_platforms(session)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no platforms registered", err=True)
    for row in rows:
        deployments = ", ".join(row["deployment_ids"]) or "-"
        click.echo(
            f"{row['registration_id']:>4}  {row['status']:<9} {row['issuer']}  client_id={row['client_id']}  "
            f"deployments={deployments}  ({row['name']})"
        )


def _change_platform_status(context: _Context, registration_id: int, *, approve: bool) -> None:
    from lti_tool.registrations import approve_platform, disable_platform

    try:
        with _transaction(context) as session:
            if approve:
                registration = approve_platform(session, registration_id)
            else:
                registration = disable_platform(session, registration_id)
            status = str(registration.status)
    except RegistrationError as exc:
        raise InputError(str(exc)) from exc
    click.echo(f"platform {registration_id} is now {status}", err=True)


@platforms.command("approve")
@click.argument("registration_id", type=int)
@pass_context
def platforms_approve(context: _Context, registration_id: int) -> None:
    """Activate a pending or disabled platform registration."""
    _change_platform_status(context, registration_id, approve=True)


@platforms.command("disable")
@click.argument("registration_id", type=int)
@pass_context
def platforms_disable(context: _Context, registration_id: int) -> None:
    """Disable a platform registration: its launches are rejected."""
    _change_platform_status(context, registration_id, approve=False)


# -- keys -----------------------------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """The tool's signing keys (published at /lti/jwks)."""


def _key_row(tool_key: ToolKey, now: datetime) -> dict[str, Any]:
    from lti_tool.keys import is_published

    return {
        "kid": tool_key.kid,
        "created_at": tool_key.created_at.isoformat(),
        "retire_after": tool_key.retire_after.isoformat() if tool_key.retire_after else None,
        "is_active": tool_key.is_active,
        "is_published": is_published(tool_key, now=now),
    }


@keys.command("rotate")
@click.option(
    "--overlap-days",
    type=click.IntRange(min=0),
    default=7,
    show_default=True,
    help="Days the previous keys stay published after rotation.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def keys_rotate(context: _Context, overlap_days: int, as_json: bool) -> None:
    """Add a new signing key; the previous ones stop signing and stay published for the overlap."""
    from lti_tool.keys import rotate_keys
    from lti_tool.models import utcnow

    now = utcnow()
    with _transaction(context) as session:
        row = _key_row(
            rotate_keys(session, context.settings.secret_key, overlap=timedelta(days=overlap_days), now=now),
            now,
        )
    if as_json:
        click.echo(json.dumps(row, indent=2))
        return
    click.echo(row["kid"])
    click.echo(
        f"new signing key {row['kid']}; previous keys published for {overlap_days} more days", err=True
    )


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def keys_list(context: _Context, as_json: bool) -> None:
    """List the tool's keys, newest first."""
    from lti_tool.keys import list_tool_keys
    from lti_tool.models import utcnow

    now = utcnow()
    with _transaction(context) as session:
        rows = [_key_row(tool_key, now) for tool_key in list_tool_keys(session)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no keys yet; `mastery-bridge keys rotate` creates one", err=True)
    for row in rows:
        state = "signing" if row["is_active"] else ("published" if row["is_published"] else "retired")
        click.echo(
            f"{row['kid']}  {state:<9} created {row['created_at']}  retire_after {row['retire_after'] or '-'}"
        )


# -- serve ----------------------------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@pass_context
def serve(context: _Context, host: str, port: int) -> None:
    """Run the tool with Werkzeug's development server.

    Production runs gunicorn instead: `gunicorn lti_tool.wsgi:app` behind a TLS-terminating proxy.
    """
    from lti_tool.app import create_app

    create_app(context.settings).run(host=host, port=port, debug=context.settings.is_debug)


@demo.command("serve")
@click.option("--platform-port", default=5001, show_default=True, type=int, help="Port of the demo LMS.")
@pass_context
def demo_serve(context: _Context, platform_port: int) -> None:
    """Run the tool and the demo LMS side by side, registered and linked to the demo district.

    The LMS runs on http://localhost:PORT and frames the tool at MB_PUBLIC_BASE_URL (default
    http://127.0.0.1:5000): different sites, as in production.
    """
    from urllib.parse import urlsplit

    from werkzeug.serving import make_server

    from lti_tool.app import create_app
    from lti_tool.db import make_engine, make_session_factory, upgrade_database
    from lti_tool.demo.district import generate_district
    from lti_tool.demo.load import load_district
    from lti_tool.demo.platform.serve import PlatformServer
    from lti_tool.demo.stack import prepare_demo_stack

    settings = context.settings
    upgrade_database(settings.database_url)
    issuer = f"http://localhost:{platform_port}"
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            load_district(session, generate_district())
            stack = prepare_demo_stack(
                session, issuer, settings.public_base_url, secret_key=settings.secret_key
            )
    finally:
        engine.dispose()
    tool = urlsplit(settings.public_base_url)
    platform = PlatformServer(lambda _base: stack.platform, host="localhost", port=platform_port)
    tool_server = make_server(
        tool.hostname or "127.0.0.1", tool.port or 80, create_app(settings), threaded=True
    )
    platform.start()
    click.echo(f"demo LMS:  {issuer}/   <- open this, then press Launch beside a teacher")
    click.echo(f"tool:      {settings.public_base_url}/  (registration #{stack.registration_id})")
    click.echo("Ctrl-C stops both.", err=True)
    try:
        tool_server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopping", err=True)
    finally:
        tool_server.server_close()
        platform.stop()


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
    context: _Context, file: Path, org_id: int | None, dry_run: bool, as_json: bool
) -> None:
    """Import FILE (.json CASE CFPackage or .csv code,parent_code,kind,statement), updating in place."""
    from connectors.case import read_framework_file
    from connectors.errors import FormatError
    from lti_tool.frameworks import FrameworkImportError, import_framework

    try:
        package = read_framework_file(file.name, file.read_bytes())
        with _transaction(context) as session:
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
