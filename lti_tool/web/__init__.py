"""Flask blueprints, one per surface, plus the request session and the error pages.

Import rule: may import the rest of `lti_tool`; nothing outside `lti_tool.app` imports `lti_tool.web`.
"""
