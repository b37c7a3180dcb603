"""The `mastery-bridge` command group, its shared context and helpers; subcommands live beside it."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from lti_tool.errors import ConfigError
from lti_tool.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


log = logging.getLogger("mastery_bridge")


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr, level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Alembic narrates every plugin and migration step at INFO; keep the CLI quiet unless debugging.
    if level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)


class CliContext:
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


pass_context = click.make_pass_decorator(CliContext, ensure=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mastery-bridge")
@click.pass_context
def main(ctx: click.Context) -> None:
    """mastery-bridge: mastery evidence in, legacy grades out."""
    ctx.ensure_object(CliContext)
    try:
        _configure_logging(load_settings().log_level)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


class InputError(click.ClickException):
    """Bad input: exit code 2, one message naming where."""

    exit_code = 2


# -- one transaction per database command ---------------------------------------------------------------------


@contextmanager
def transaction(context: CliContext) -> Iterator[Session]:
    """One transaction for the whole command: committed at the end, rolled back on any error."""
    from lti_tool.db import make_engine, make_session_factory

    engine = make_engine(context.settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            yield session
    finally:
        engine.dispose()
