"""Errors of the registrar work.

Tree::

    MasteryBridgeError
    └── RegistrarError               a registrar action cannot be done as asked
        ├── NotFoundError(LookupError)   a school, period or posted grade named by the user does not exist
        ├── PostingRefusedError      the pre-posting check has blocking issues (e.g. the period is posted)
        └── AmendmentError           an amendment is invalid (no reason, unknown letter, not the current row)

Messages name the value at fault and where it came from, never a student's name or email.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lti_tool.errors import MasteryBridgeError

if TYPE_CHECKING:
    from lti_tool.registrar.precheck import PrepostCheck


class RegistrarError(MasteryBridgeError):
    """Root of the registrar's errors."""


class NotFoundError(RegistrarError, LookupError):
    """A school, grading period or posted grade named by the user does not exist; lists the choices."""


class PostingRefusedError(RegistrarError):
    """Posting was refused; `check` carries the pre-posting check whose blocking issues say why."""

    def __init__(self, message: str, check: PrepostCheck | None = None) -> None:
        super().__init__(message)
        self.check = check


class AmendmentError(RegistrarError):
    """An amendment cannot be made as asked; the message names the field."""
