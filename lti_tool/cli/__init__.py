"""The `mastery-bridge` command line: noun-verb subcommands; data to stdout, logs to stderr.

Importing this package registers every subcommand on `main` (one module per noun).
"""

from lti_tool.cli import (
    db,
    demo,
    export,
    frameworks,
    grades,
    lti,
    policies,
    reports,
    server,
    sis,
    translate,
    worker,
)
from lti_tool.cli.core import main

__all__ = [
    "db",
    "demo",
    "export",
    "frameworks",
    "grades",
    "lti",
    "main",
    "policies",
    "reports",
    "server",
    "sis",
    "translate",
    "worker",
]
