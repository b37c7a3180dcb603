"""What a renderer returns: named files plus a SHA-256 manifest, and a deterministic zip of them.

The manifest is `MANIFEST.sha256` in the format `sha256sum` writes and `sha256sum -c MANIFEST.sha256`
checks: one line per file, `<64 hex digits><two spaces><name>`, sorted by name.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from connectors.oneroster_csv import neutralise

__all__ = [
    "MANIFEST_NAME",
    "ExportResult",
    "bundle_zip",
    "decimal_text",
    "manifest_bytes",
    "neutralise",
    "single_line",
]

MANIFEST_NAME: Final = "MANIFEST.sha256"
# 1980-01-01 is the earliest time a zip entry can carry; a fixed value makes the bytes reproducible.
_ZIP_TIMESTAMP: Final = (1980, 1, 1, 0, 0, 0)


def manifest_bytes(files: Mapping[str, bytes]) -> bytes:
    """`sha256sum` lines for `files`, sorted by name (UTF-8, LF line ends)."""
    lines = [f"{hashlib.sha256(files[name]).hexdigest()}  {name}\n" for name in sorted(files)]
    return "".join(lines).encode("utf-8")


@dataclass(frozen=True, slots=True)
class ExportResult:
    """An export: its data files by name, the checksum manifest over them, and warnings for the registrar.

    Warnings say what could not be exported and why (counts only, never a student's name or id), e.g.
    "2 grades left out: the student has no SIS student number".
    """

    kind: str
    files: Mapping[str, bytes]
    warnings: tuple[str, ...] = ()

    @property
    def manifest(self) -> bytes:
        """The `MANIFEST.sha256` text over `files`."""
        return manifest_bytes(self.files)

    def with_manifest(self) -> dict[str, bytes]:
        """The files plus `MANIFEST.sha256`, as written to a directory or a zip."""
        return {**self.files, MANIFEST_NAME: self.manifest}


def bundle_zip(files: Mapping[str, bytes], *, compresslevel: int = 9) -> bytes:
    """A zip of `files` with sorted entries, a fixed timestamp and fixed permissions: same files, same bytes.

    Entries are deflated at `compresslevel` (zlib's 0-9; any fixed level gives reproducible bytes).
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever platform writes it, so the bytes match
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name], compresslevel=compresslevel)
    return buffer.getvalue()


def decimal_text(value: Decimal | None) -> str:
    """A Decimal as plain text without an exponent ("" for None): 3.670 stays 3.670, 1E+1 becomes 10."""
    return "" if value is None else format(value, "f")


def single_line(text: str | None) -> str:
    """`text` with tabs and line breaks turned into spaces (tab-delimited files have no quoting)."""
    if not text:
        return ""
    return " ".join(text.replace("\t", " ").replace("\r", " ").replace("\n", " ").split())
