"""Error bodies from OneRoster servers read defensively: imsx flat, imsx wrapped, or ad hoc."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_DESCRIPTION = 200


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """What an error body said, as far as we could tell; every field may be missing."""

    code_major: str | None = None
    severity: str | None = None
    code_minor: str | None = None
    description: str | None = None

    def summary(self) -> str:
        """A short human line, e.g. `failure/invalid_filter_field: bad field`; empty if nothing was said."""
        parts = "/".join(p for p in (self.code_major, self.code_minor) if p)
        if self.description:
            return f"{parts}: {self.description}" if parts else self.description
        return parts


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()[:MAX_DESCRIPTION]
    return None


def _code_minor(value: Any) -> str | None:
    """`imsx_CodeMinor.imsx_codeMinorField[0].imsx_codeMinorFieldValue` (1.2), or a bare string."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, Mapping):
        fields = value.get("imsx_codeMinorField")
        if isinstance(fields, Mapping):
            fields = [fields]
        if isinstance(fields, list):
            for field in fields:
                if isinstance(field, Mapping):
                    found = _text(field.get("imsx_codeMinorFieldValue"))
                    if found:
                        return found
    return None


def _from_imsx(data: Mapping[str, Any]) -> StatusInfo:
    return StatusInfo(
        code_major=_text(data.get("imsx_codeMajor")),
        severity=_text(data.get("imsx_severity")),
        code_minor=_code_minor(data.get("imsx_CodeMinor") or data.get("imsx_codeMinor")),
        description=_text(data.get("imsx_description")),
    )


def _unwrap(data: Any) -> Mapping[str, Any] | None:
    """Find the imsx status object: flat, under `imsx_StatusInfo`, or first of `statusInfoSet` (1.1)."""
    if not isinstance(data, Mapping):
        return None
    if "imsx_codeMajor" in data:
        return data
    for key in ("imsx_StatusInfo", "imsx_statusInfo", "statusInfo"):
        inner = data.get(key)
        if isinstance(inner, Mapping):
            return _unwrap(inner)
    for key in ("statusInfoSet", "imsx_statusInfoSet"):
        inner = data.get(key)
        if isinstance(inner, Mapping):
            inner = inner.get("imsx_statusInfo") or inner.get("statusInfo")
        if isinstance(inner, list) and inner:
            return _unwrap(inner[0])
        if isinstance(inner, Mapping):
            return _unwrap(inner)
    return None


def parse_status_info(body: bytes | str) -> StatusInfo:
    """Whatever an error body says; never raises. Ad hoc bodies use `error`/`message`/`detail`."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        # HTML error pages from proxies say nothing useful.
        return StatusInfo() if text.lstrip().startswith("<") else StatusInfo(description=_text(text))
    imsx = _unwrap(data)
    if imsx is not None:
        return _from_imsx(imsx)
    if isinstance(data, Mapping):
        error = data.get("error")
        if isinstance(error, Mapping):
            return StatusInfo(code_minor=_text(error.get("code")), description=_text(error.get("message")))
        description = next(
            (
                _text(data.get(k))
                for k in ("error_description", "message", "detail", "title")
                if _text(data.get(k))
            ),
            None,
        )
        return StatusInfo(code_minor=_text(error), description=description)
    return StatusInfo()
