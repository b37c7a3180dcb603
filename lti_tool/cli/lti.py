"""`mastery-bridge platforms` and `keys`: LTI registrations and the tool's signing keys."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from lti_tool.errors import RegistrationError

if TYPE_CHECKING:
    from lti_tool.models import LtiRegistration, ToolKey
from lti_tool.cli.core import CliContext, InputError, main, pass_context, transaction

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
    context: CliContext,
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
        with transaction(context) as session:
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
def platforms_list(context: CliContext, as_json: bool) -> None:
    """List registered platforms and their deployments."""
    from lti_tool.registrations import list_platforms

    with transaction(context) as session:
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


def _change_platform_status(context: CliContext, registration_id: int, *, approve: bool) -> None:
    from lti_tool.registrations import approve_platform, disable_platform

    try:
        with transaction(context) as session:
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
def platforms_approve(context: CliContext, registration_id: int) -> None:
    """Activate a pending or disabled platform registration."""
    _change_platform_status(context, registration_id, approve=True)


@platforms.command("disable")
@click.argument("registration_id", type=int)
@pass_context
def platforms_disable(context: CliContext, registration_id: int) -> None:
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
def keys_rotate(context: CliContext, overlap_days: int, as_json: bool) -> None:
    """Add a new signing key; the previous ones stop signing and stay published for the overlap."""
    from lti_tool.keys import rotate_keys
    from lti_tool.models import utcnow

    now = utcnow()
    with transaction(context) as session:
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
def keys_list(context: CliContext, as_json: bool) -> None:
    """List the tool's keys, newest first."""
    from lti_tool.keys import list_tool_keys
    from lti_tool.models import utcnow

    now = utcnow()
    with transaction(context) as session:
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
