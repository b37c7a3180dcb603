"""Errors raised by the grade-translation core.

Tree::

    MappingError(ValueError)      bad input to a calculation (names the parameter and allowed range)
    └── PolicyError               a grading policy is malformed (names the key at fault)
"""

from __future__ import annotations


class MappingError(ValueError):
    """A calculation was asked something it cannot answer; the message names the parameter."""


class PolicyError(MappingError):
    """A grading policy document is invalid; the message names the key and the value."""
