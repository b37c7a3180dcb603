"""Registrar work: the pre-posting check, posting and locking grading periods, amendments, school reports.

Import rule: orchestration over lti_tool.models, lti_tool.grading and mappings; no Flask here, so the CLI
and the pages share it. Exports are assembled in lti_tool.exports and rendered in connectors.exports.
"""
