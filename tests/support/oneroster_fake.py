"""The fake OneRoster server lives in `lti_tool.demo.sis` (so `make demo` can run it); re-exported for tests."""

from __future__ import annotations

from lti_tool.demo.sis import (
    DEFAULT_SCOPES,
    GRADEBOOK_V1P2,
    PREFIX,
    SCOPE_V1P1,
    SCOPE_V1P2,
    V1P1,
    V1P2,
    FakeOneRoster,
    Quirks,
    RunningServer,
    serve,
)

FakeServer = RunningServer

__all__ = [
    "DEFAULT_SCOPES",
    "GRADEBOOK_V1P2",
    "PREFIX",
    "SCOPE_V1P1",
    "SCOPE_V1P2",
    "V1P1",
    "V1P2",
    "FakeOneRoster",
    "FakeServer",
    "Quirks",
    "RunningServer",
    "serve",
]
