"""Errors raised by connectors.

Tree::

    ConnectorError(Exception)         something went wrong talking to another system
    ├── ConnectorUnavailableError     network failure, timeout, 429 or 5xx; retryable
    ├── ConnectorAuthError            credentials refused or a token could not be obtained
    ├── ConnectorResponseError        the system answered, but not with what we can use
    └── FormatError(ValueError)       a file in a format we read (CASE package, framework CSV) is invalid;
                                      names the item (identifier or line) and the field
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Root of every connector error; carries the system, URL and HTTP status when known."""

    def __init__(
        self, message: str, *, system: str, url: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.system = system
        self.url = url
        self.status = status

    def __str__(self) -> str:
        where = f" ({self.system}"
        if self.url:
            where += f" {self.url}"
        if self.status is not None:
            where += f" HTTP {self.status}"
        return f"{self.args[0]}{where})"


class ConnectorUnavailableError(ConnectorError):
    """The system could not be reached or asked us to come back later; safe to retry."""


class ConnectorAuthError(ConnectorError):
    """The system refused our credentials, or no token could be obtained."""


class ConnectorResponseError(ConnectorError):
    """The system answered with something we cannot use (bad status or malformed body)."""


class FormatError(ConnectorError, ValueError):
    """A file in a format we read is invalid; `item` names the item (identifier or line), `field` the field."""

    def __init__(
        self, message: str, *, system: str, item: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message, system=system)
        self.item = item
        self.field = field

    def __str__(self) -> str:
        return f"{self.args[0]} ({self.system})"
