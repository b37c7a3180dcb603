"""Clients for the systems mastery-bridge does not own (SIS, LMS services, export formats).

Import rule: may import `mappings` and third-party HTTP/auth libraries; never Flask,
SQLAlchemy, Alembic, pylti1p3 or `lti_tool`.
"""
