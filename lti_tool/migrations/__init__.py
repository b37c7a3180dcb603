"""Alembic migrations for the lti_tool models; run them with `mastery-bridge db upgrade`."""
