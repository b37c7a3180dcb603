"""`mastery-bridge policies`: the shipped grading policies and their conversion scales."""

from __future__ import annotations

import json

import click

from lti_tool.cli.core import main
from lti_tool.errors import MasteryBridgeError

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
