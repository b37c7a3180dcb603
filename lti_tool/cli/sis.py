"""`mastery-bridge sis`: SIS connections for IT staff: add, list, test, sync, push, status, identity reviews.

The client secret comes from MB_SIS_SECRET or a hidden prompt, never from an argument (arguments end up in
shell history and process lists); it is stored encrypted and never printed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click

from lti_tool.cli.core import CliContext, InputError, main, pass_context, transaction

if TYPE_CHECKING:
    from lti_tool.models import SisConnection
    from lti_tool.sis.checks import ConnectionCheck
    from lti_tool.sis.status import SisStatus

__all__ = ["sis", "sis_jobs"]

SECRET_ENV: Final = "MB_SIS_SECRET"  # noqa: S105 - the variable's name, not a secret
# Where each SisConnectionError field comes from on this command line, so the error names the flag.
FLAGS: Final = {
    "name": "NAME",
    "profile": "--profile",
    "base_url": "--base-url",
    "version": "--version",
    "auth": "--auth",
    "client_id": "--client-id",
    "secret": SECRET_ENV,
    "scopes": "--scope",
    "token_url": "--token-url",
    "token_auth_method": "--token-auth",
    "signature_method": "--signature",
    "course_map": "--course-map",
    "page_size": "--page-size",
    "timeout_seconds": "--timeout",
    "org": "--org",
}
TOKEN_AUTH: Final = {"basic": "client_secret_basic", "post": "client_secret_post"}


@main.group()
def sis() -> None:
    """Student information systems over OneRoster 1.1/1.2: connections, roster sync, grade push."""


def _input_error(exc: Exception) -> InputError:
    field = getattr(exc, "field", None)
    flag = FLAGS.get(field or "")
    return InputError(f"{flag}: {exc}" if flag else str(exc))


@contextmanager
def connection_errors() -> Iterator[None]:
    """Turn a connection error into exit code 2 naming the flag, a secret error into exit code 1."""
    from lti_tool.errors import SecretError
    from lti_tool.sis.connection import SisConnectionError

    try:
        yield
    except SisConnectionError as exc:
        raise _input_error(exc) from exc
    except SecretError as exc:
        raise click.ClickException(str(exc)) from exc


def _read_secret(*, prompt: str = "Client secret") -> str:
    secret = os.environ.get(SECRET_ENV)
    if secret is None:
        secret = click.prompt(prompt, hide_input=True, default="", show_default=False, err=True)
    if not secret.strip():
        raise InputError(
            f"{SECRET_ENV}: the client secret is empty; set {SECRET_ENV} or type it at the prompt"
        )
    return secret


def connection_row(connection: SisConnection) -> dict[str, Any]:
    """What `sis list` shows of a connection: never the secret."""
    from lti_tool.sis.connection import connection_options, scope_sets

    options = connection_options(connection)
    sets = scope_sets(connection)
    return {
        "id": connection.id,
        "name": connection.name,
        "profile": connection.profile,
        "version": connection.version.value,
        "auth": connection.auth.value,
        "base_url": connection.base_url,
        "token_url": options.token_url,
        "client_id": connection.client_id,
        "secret": "stored encrypted",
        "scopes": {
            "roster": list(sets.roster),
            "demographics": list(sets.demographics) if options.include_demographics else [],
            "gradebook": list(sets.gradebook),
        },
        "settings": options.to_json(),
        "org_id": connection.org_id,
        "is_enabled": connection.is_enabled,
    }


def echo_json(data: Any) -> None:
    """Print `data` as indented JSON on stdout."""
    click.echo(json.dumps(data, indent=2, default=str))


# -- add, update, list ----------------------------------------------------------------------------------------


def _profile_names() -> list[str]:
    from connectors.oneroster.profiles import profile_names

    return list(profile_names())


@sis.command("add")
@click.argument("name")
@click.option("--profile", required=True, help="Vendor profile, e.g. powerschool, aeries, generic-1.2.")
@click.option("--base-url", required=True, help="Base URL up to (not including) /ims/oneroster/...")
@click.option("--version", "version", type=click.Choice(["1.1", "1.2"]), default=None,
              help="OneRoster version (default: the profile's).")  # fmt: skip
@click.option("--auth", type=click.Choice(["oauth2", "oauth1"]), default=None,
              help="OAuth 2 client credentials or OAuth 1.0a (1.1 only); default: the profile's.")  # fmt: skip
@click.option("--client-id", required=True, help="The client id (OAuth 1.0a: consumer key) from the vendor.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="A scope as the vendor spells it; repeat. Default: the profile's.",
)
@click.option("--token-url", default=None, help="The OAuth 2 token endpoint (required with oauth2).")
@click.option("--token-auth", type=click.Choice(sorted(TOKEN_AUTH)), default=None,
              help="How to send the secret to the token endpoint (default: the profile's).")  # fmt: skip
@click.option("--signature", type=click.Choice(["HMAC-SHA1", "HMAC-SHA256"]), default=None,
              help="OAuth 1.0a signature method (default: the profile's).")  # fmt: skip
@click.option("--course-map", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="District course facts CSV (credits, level, NCAA) applied on every sync.")  # fmt: skip
@click.option("--demographics", is_flag=True, help="Also pull demographics (for equity reports).")
@click.option(
    "--page-size",
    type=click.IntRange(1, 10_000),
    default=None,
    help="Records per page (default: the profile's maximum).",
)
@click.option(
    "--timeout", type=click.FloatRange(1, 600), default=None, help="Seconds per HTTP call (default 30)."
)
@click.option("--org", default=None, help="sourcedId of the district or school this SIS serves.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def sis_add(context: CliContext, name: str, profile: str, base_url: str, version: str | None, auth: str | None,
            client_id: str, scopes: tuple[str, ...], token_url: str | None, token_auth: str | None,
            signature: str | None, course_map: Path | None, demographics: bool, page_size: int | None,
            timeout: float | None, org: str | None, as_json: bool) -> None:  # fmt: skip
    """Add an SIS connection NAME; the client secret comes from MB_SIS_SECRET or a hidden prompt."""
    from lti_tool.sis.connection import create_connection

    if profile not in _profile_names():
        raise InputError(f"--profile: {profile!r} is not known; choose one of {', '.join(_profile_names())}")
    if course_map is not None:
        _validate_course_map(course_map)
    secret = _read_secret()
    settings = {
        "token_url": token_url,
        "token_auth_method": TOKEN_AUTH[token_auth] if token_auth else None,
        "signature_method": signature,
        "course_map": str(course_map.resolve()) if course_map else None,
        "demographics": demographics or None,
        "page_size": page_size,
        "timeout_seconds": timeout,
    }
    with connection_errors(), transaction(context) as session:
        connection = create_connection(
            session, name=name, profile=profile, base_url=base_url, version=version, auth=auth,
            client_id=client_id, secret=secret, secret_key=context.settings, scopes=scopes,
            settings={k: v for k, v in settings.items() if v is not None}, org=org, actor=cli_actor(),
        )  # fmt: skip
        row = connection_row(connection)
    if as_json:
        echo_json(row)
        return
    _echo_rows([row])
    click.echo(f"added; check it with `mastery-bridge sis test {row['name']}`", err=True)


def _validate_course_map(path: Path) -> None:
    from lti_tool.errors import InputFileError
    from lti_tool.sis.course_map import CourseMap

    try:
        CourseMap.from_csv(path)
    except (InputFileError, ValueError) as exc:
        raise InputError(f"--course-map: {exc}") from exc


def cli_actor() -> str:
    """Who is acting, for audit rows: the login name of the shell user."""
    return f"cli:{os.environ.get('USER') or os.environ.get('USERNAME') or 'unknown'}"


@sis.command("update")
@click.argument("name")
@click.option("--base-url", default=None, help="New base URL.")
@click.option(
    "--version", "version", type=click.Choice(["1.1", "1.2"]), default=None, help="OneRoster version."
)
@click.option("--client-id", default=None, help="New client id.")
@click.option("--rotate-secret", is_flag=True, help="Replace the secret (from MB_SIS_SECRET or a prompt).")
@click.option("--scope", "scopes", multiple=True, help="Replace the scopes; repeat.")
@click.option("--default-scopes", is_flag=True, help="Forget configured scopes; use the profile's.")
@click.option("--token-url", default=None, help="New OAuth 2 token endpoint.")
@click.option(
    "--token-auth", type=click.Choice(sorted(TOKEN_AUTH)), default=None, help="Token endpoint auth."
)
@click.option(
    "--signature", type=click.Choice(["HMAC-SHA1", "HMAC-SHA256"]), default=None, help="OAuth 1.0a signature."
)
@click.option("--course-map", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="New course facts CSV.")  # fmt: skip
@click.option("--no-course-map", is_flag=True, help="Stop applying a course map.")
@click.option("--demographics/--no-demographics", default=None, help="Pull demographics or not.")
@click.option("--page-size", type=click.IntRange(1, 10_000), default=None, help="Records per page.")
@click.option("--timeout", type=click.FloatRange(1, 600), default=None, help="Seconds per HTTP call.")
@click.option("--org", default=None, help="sourcedId of the district or school this SIS serves.")
@click.option("--enable/--disable", "is_enabled", default=None, help="Switch syncs and pushes on or off.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def sis_update(context: CliContext, name: str, base_url: str | None, version: str | None, client_id: str | None,
               rotate_secret: bool, scopes: tuple[str, ...], default_scopes: bool, token_url: str | None,
               token_auth: str | None, signature: str | None, course_map: Path | None, no_course_map: bool,
               demographics: bool | None, page_size: int | None, timeout: float | None, org: str | None,
               is_enabled: bool | None, as_json: bool) -> None:  # fmt: skip
    """Change connection NAME; only the options given change."""
    from lti_tool.sis.connection import update_connection

    if scopes and default_scopes:
        raise InputError("--scope and --default-scopes contradict each other; give one")
    if course_map is not None:
        _validate_course_map(course_map)
    secret = _read_secret(prompt="New client secret") if rotate_secret else None
    settings: dict[str, Any] = {}
    if token_url is not None:
        settings["token_url"] = token_url
    if token_auth is not None:
        settings["token_auth_method"] = TOKEN_AUTH[token_auth]
    if signature is not None:
        settings["signature_method"] = signature
    if course_map is not None or no_course_map:
        settings["course_map"] = str(course_map.resolve()) if course_map else None
    if demographics is not None:
        settings["demographics"] = demographics or None
    if page_size is not None:
        settings["page_size"] = page_size
    if timeout is not None:
        settings["timeout_seconds"] = timeout
    extra: dict[str, Any] = {"org": org} if org is not None else {}
    with connection_errors(), transaction(context) as session:
        connection = update_connection(
            session, name, secret_key=context.settings, base_url=base_url, version=version,
            client_id=client_id, secret=secret, scopes=() if default_scopes else (scopes or None),
            settings=settings, is_enabled=is_enabled, actor=cli_actor(), **extra,
        )  # fmt: skip
        row = connection_row(connection)
    if as_json:
        echo_json(row)
        return
    _echo_rows([row])


def _echo_rows(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        state = "enabled" if row["is_enabled"] else "disabled"
        click.echo(
            f"{row['name']}  {row['profile']}  OneRoster {row['version']}  {row['auth']}  {state}\n"
            f"  base_url   {row['base_url']}\n"
            + (f"  token_url  {row['token_url']}\n" if row["token_url"] else "")
            + f"  client_id  {row['client_id']}  (secret {row['secret']})\n"
            f"  scopes     roster: {' '.join(row['scopes']['roster']) or '-'}\n"
            f"             gradebook: {' '.join(row['scopes']['gradebook']) or '-'}"
            + (
                f"\n             demographics: {' '.join(row['scopes']['demographics'])}"
                if row["scopes"]["demographics"]
                else ""
            )
        )


@sis.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def sis_list(context: CliContext, as_json: bool) -> None:
    """List SIS connections (never their secrets)."""
    from lti_tool.sis.connection import list_connections

    with connection_errors(), transaction(context) as session:
        rows = [connection_row(connection) for connection in list_connections(session)]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no SIS connections; add one with `mastery-bridge sis add`", err=True)
    _echo_rows(rows)


# -- test -----------------------------------------------------------------------------------------------------

VERDICT_MARK: Final = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}


def echo_check(report: ConnectionCheck) -> None:
    """One line per check: verdict, title, reason."""
    width = max(len(result.title) for result in report.results)
    for result in report.results:
        click.echo(f"{VERDICT_MARK[result.verdict.value]:<5} {result.title:<{width}}  {result.reason}")
    verdict = report.verdict.value
    click.echo(f"{report.connection}: {verdict}", err=True)


@sis.command("test")
@click.argument("name")
@click.option("--timeout", type=click.FloatRange(1, 120), default=10.0, show_default=True,
              help="Seconds to wait for each network step.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def sis_test(context: CliContext, name: str, timeout: float, as_json: bool) -> None:
    """Check connection NAME: reachability, auth, scopes, a sample page, clock skew. Exit 1 if any check fails."""
    from lti_tool.sis.checks import check_connection
    from lti_tool.sis.connection import get_connection

    with connection_errors(), transaction(context) as session:
        connection = get_connection(session, name)
        report = check_connection(connection, secret_key=context.settings, timeout=timeout)
    if as_json:
        echo_json(report.to_json())
    else:
        echo_check(report)
    if report.has_failures:
        raise SystemExit(1)


# -- status ---------------------------------------------------------------------------------------------------


def echo_status(status: SisStatus) -> None:
    """Connections, recent runs and failures as text."""
    if not status.connections:
        click.echo("no SIS connections; add one with `mastery-bridge sis add`", err=True)
    for c in status.connections:
        last = c.last_run
        ran = (
            f"last run {last.id} {last.kind} {last.status} at {last.started_at:%Y-%m-%d %H:%M}"
            if last
            else "never synced"
        )
        box = c.outbox
        click.echo(
            f"{c.name}  {'enabled' if c.is_enabled else 'disabled'}  {ran}  "
            f"outbox pending {box.pending} (retrying {box.retrying}), failed {box.failed}, delivered {box.delivered}"
            f"  open reviews {c.open_reviews}"
        )
    if status.runs:
        click.echo("\nruns:")
    for run in status.runs:
        dry = " (dry run)" if run.is_dry_run else ""
        click.echo(f"  {run.id:>5}  {run.connection}  {run.kind:<5} {run.status:<9}{dry}  {run.started_at:%Y-%m-%d %H:%M}"
                   f"  {len(run.warnings)} warnings, {len(run.errors)} errors")  # fmt: skip
        for collection, tally in run.collection_counts():
            counts = ", ".join(f"{key} {value}" for key, value in tally.items())
            click.echo(f"         {collection:<17} {counts}")
        for error in run.errors[:5]:
            click.echo(f"         error: {error}")
    if status.failures:
        click.echo("\nrecent delivery failures:")
    for failure in status.failures:
        click.echo(f"  message {failure.id}  {failure.connection}  {failure.topic}  {failure.status}, "
                   f"{failure.attempts} attempts: {failure.last_error}")  # fmt: skip


@sis.command("status")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def sis_status_command(context: CliContext, name: str | None, as_json: bool) -> None:
    """Last sync runs, outbox depth and recent failures (of NAME, or of every connection)."""
    from lti_tool.sis.connection import get_connection
    from lti_tool.sis.status import sis_status

    with connection_errors(), transaction(context) as session:
        connection = get_connection(session, name) if name else None
        status = sis_status(session, connection=connection)
    if as_json:
        echo_json(status.to_json())
        return
    echo_status(status)


# Registers `sync`, `push`, `reviews` and `resolve` on the group above (split out by the 400-line rule).
from lti_tool.cli import sis_jobs  # noqa: E402
