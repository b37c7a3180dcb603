"""`python -m lti_tool` runs the `mastery-bridge` CLI."""

from lti_tool.cli import main

main()
