"""`mastery-bridge serve`: the tool on Werkzeug's development server."""

from __future__ import annotations

import click

from lti_tool.cli.core import CliContext, main, pass_context

# -- serve ----------------------------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@pass_context
def serve(context: CliContext, host: str, port: int) -> None:
    """Run the tool with Werkzeug's development server.

    Production runs gunicorn instead: `gunicorn lti_tool.wsgi:app` behind a TLS-terminating proxy.
    """
    from lti_tool.app import create_app

    create_app(context.settings).run(host=host, port=port, debug=context.settings.is_debug)
