"""The WSGI entry point for production: `gunicorn lti_tool.wsgi:app` (settings from the environment)."""

from lti_tool.app import create_app

app = create_app()
