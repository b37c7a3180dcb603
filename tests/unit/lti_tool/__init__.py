"""Unit tests of the lti_tool package."""
