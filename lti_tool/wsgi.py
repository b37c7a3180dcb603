"""The WSGI entry point for production: `gunicorn lti_tool.wsgi:app` (settings from the environment)."""

from lti_tool.app import create_app
from lti_tool.runtime import tune_garbage_collector

app = create_app()
tune_garbage_collector()
