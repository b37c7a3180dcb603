"""`mastery-bridge demo`: the demo district, its report, and the demo LMS beside the tool."""

from __future__ import annotations

from pathlib import Path

import click

from lti_tool.cli.core import CliContext, main, pass_context

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
def demo_load(context: CliContext, seed: int, student_count: int) -> None:
    """Load the demo district into the database (once)."""
    from lti_tool.db import make_engine, make_session_factory
    from lti_tool.demo.district import generate_district
    from lti_tool.demo.load import load_district, register_demo_sis

    engine = make_engine(context.settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            summary = load_district(session, generate_district(seed=seed, student_count=student_count))
            connection, is_new = register_demo_sis(session, secret_key=context.settings)
            sis_name, sis_url = connection.name, connection.base_url
    finally:
        engine.dispose()
    if is_new:
        click.echo(f"registered SIS connection {sis_name!r} for the demo SIS at {sis_url}", err=True)
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
def demo_report(context: CliContext) -> None:
    """Print the demo school's snapshot grades for a few students, with one grade explained."""
    from lti_tool.db import make_engine, make_session_factory
    from lti_tool.demo.report import render_demo_report

    engine = make_engine(context.settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            click.echo(render_demo_report(session, "RHS"))
    finally:
        engine.dispose()


@demo.command("serve")
@click.option("--platform-port", default=5001, show_default=True, type=int, help="Port of the demo LMS.")
@pass_context
def demo_serve(context: CliContext, platform_port: int) -> None:
    """Run the tool and the demo LMS side by side, registered and linked to the demo district.

    The LMS runs on http://localhost:PORT and frames the tool at MB_PUBLIC_BASE_URL (default
    http://127.0.0.1:5000): different sites, as in production. The demo SIS (a fake OneRoster 1.2
    server with the same district) answers at http://127.0.0.1:5002 for the `demo` SIS connection.
    """
    from urllib.parse import urlsplit

    from werkzeug.serving import make_server

    from lti_tool.app import create_app
    from lti_tool.db import make_engine, make_session_factory, upgrade_database
    from lti_tool.demo.district import generate_district
    from lti_tool.demo.load import load_district, register_demo_sis
    from lti_tool.demo.platform.serve import PlatformServer
    from lti_tool.demo.stack import prepare_demo_stack, start_demo_sis

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
            sis_url = register_demo_sis(session, secret_key=settings)[0].base_url
    finally:
        engine.dispose()
    tool = urlsplit(settings.public_base_url)
    platform = PlatformServer(lambda _base: stack.platform, host="localhost", port=platform_port)
    tool_server = make_server(
        tool.hostname or "127.0.0.1", tool.port or 80, create_app(settings), threaded=True
    )
    try:
        sis_server = start_demo_sis()
    except OSError as exc:
        tool_server.server_close()
        raise click.ClickException(f"cannot serve the demo SIS at {sis_url}: {exc.strerror or exc}") from exc
    platform.start()
    click.echo(f"demo LMS:  {issuer}/   <- open this, then press Launch beside a teacher")
    click.echo(f"tool:      {settings.public_base_url}/  (registration #{stack.registration_id})")
    click.echo(f"demo SIS:  {sis_server.base_url}  (try `.venv/bin/mastery-bridge sis sync demo`)")
    click.echo("Ctrl-C stops all three.", err=True)
    try:
        tool_server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopping", err=True)
    finally:
        tool_server.server_close()
        platform.stop()
        sis_server.stop()
