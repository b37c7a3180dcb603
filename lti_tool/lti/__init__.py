"""The LTI 1.3 launch: OIDC login initiation, id_token validation, platform keys, roles and persistence.

Import rule: no Flask here (the web layer passes request values in and renders the results); pylti1p3 is
imported by `lti_tool.lti.adapter` only. Functions that touch the database take a `Session` and never commit.
"""
