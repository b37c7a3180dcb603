"""Read a framework file by its name: `.json` is a CASE CFPackage, `.csv` a framework CSV."""

from __future__ import annotations

from pathlib import PurePath

from connectors.case.csv_file import parse_framework_csv
from connectors.case.package import parse_case_package
from connectors.case.records import FrameworkPackage
from connectors.errors import FormatError


def read_framework_file(filename: str, content: bytes) -> FrameworkPackage:
    """The framework in `content`; a CSV framework is titled after the file name (without extension)."""
    path = PurePath(filename)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return parse_case_package(content)
    if suffix == ".csv":
        return parse_framework_csv(content, title=path.stem)
    raise FormatError(
        f"{filename}: is neither .json (CASE 1.0 CFPackage) nor .csv (code,parent_code,kind,statement)",
        system="framework file",
        item=filename,
        field=None,
    )
