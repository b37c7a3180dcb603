"""The mastery-bridge test suite."""
