"""The mastery-bridge application: Flask app, database models, migrations, CLI and orchestration.

Import rule: may import `connectors` and `mappings`; nothing imports `lti_tool`.
pylti1p3 is imported in one module only.
"""
