"""`mastery-bridge db`: create and migrate the database."""

from __future__ import annotations

import click

from lti_tool.cli.core import CliContext, main, pass_context

# -- db ---------------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Create and migrate the database."""


@db.command("upgrade")
@pass_context
def db_upgrade(context: CliContext) -> None:
    """Create the database or migrate it to the newest schema."""
    from lti_tool.db import upgrade_database

    revision = upgrade_database(context.settings.database_url)
    click.echo(f"database at revision {revision}", err=True)


@db.command("check")
@pass_context
def db_check(context: CliContext) -> None:
    """Fail when the models and the migrations disagree."""
    from lti_tool.db import check_database

    check_database(context.settings.database_url)
    click.echo("models and migrations agree", err=True)
