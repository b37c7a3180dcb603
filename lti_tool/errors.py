"""Errors raised by the application layer.

Tree::

    MasteryBridgeError(Exception)
    ├── ConfigError            a required environment variable is missing or invalid
    ├── InputFileError         a user-supplied file is malformed (names file, line, column, value)
    ├── LaunchError            an LTI launch was rejected (carries the reason and HTTP status)
    ├── RegistrationError      a platform registration is invalid or unknown (names the field)
    └── SecretError            a secret stored at rest cannot be decrypted (names nothing secret)
"""

from __future__ import annotations


class MasteryBridgeError(Exception):
    """Root of the application's errors."""


class ConfigError(MasteryBridgeError):
    """Process configuration is missing or invalid; the message names the variable."""


class InputFileError(MasteryBridgeError):
    """A file given by the user cannot be read; says which file, line, column and value."""

    def __init__(
        self,
        message: str,
        *,
        file: str,
        line: int | None = None,
        column: str | None = None,
        value: str | None = None,
    ) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.column = column
        self.value = value

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        if self.column is not None:
            where += f", column {self.column!r}"
        text = f"{where}: {self.args[0]}"
        if self.value is not None:
            text += f" (got {self.value!r})"
        return text


class LaunchError(MasteryBridgeError):
    """An LTI launch was rejected; `reason` is logged, `status` is the 4xx returned."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class RegistrationError(MasteryBridgeError):
    """A platform registration cannot be added or changed; the message names the field and value."""


class SecretError(MasteryBridgeError):
    """A secret stored at rest cannot be decrypted: wrong MB_SECRET_KEY or damaged data.

    The message never includes the secret, the key or the ciphertext.
    """
