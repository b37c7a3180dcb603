"""The pure grade-translation core: evidence -> proficiency -> letter -> GPA.

Import rule: the standard library only. No I/O, no clock, no environment, no globals;
a policy is a value passed in. Nothing here imports `connectors` or `lti_tool`.
"""
