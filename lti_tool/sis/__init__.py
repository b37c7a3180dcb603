"""SIS sync orchestration: connections, roster pulls, identity matching, the grade outbox and its worker.

Import rule: this package joins the database (lti_tool.models) to connectors.oneroster and
connectors.oneroster_csv; it never imports Flask, so the CLI, the web pages and the job queue share it.
"""
