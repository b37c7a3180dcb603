"""Competency frameworks from files: 1EdTech CASE 1.0 packages (CFPackage JSON) and a plain CSV.

Import rule: standard library and `jsonschema` only (plus `connectors.errors`); never Flask, SQLAlchemy or
`lti_tool`. Everything returned is a frozen dataclass from `connectors.case.records`.
"""

from __future__ import annotations

from connectors.case.csv_file import parse_framework_csv
from connectors.case.package import parse_case_package
from connectors.case.read import read_framework_file
from connectors.case.records import (
    FrameworkDocument,
    FrameworkItem,
    FrameworkPackage,
    FrameworkSource,
    ItemKind,
    Rubric,
    RubricLevel,
)

__all__ = [
    "FrameworkDocument",
    "FrameworkItem",
    "FrameworkPackage",
    "FrameworkSource",
    "ItemKind",
    "Rubric",
    "RubricLevel",
    "parse_case_package",
    "parse_framework_csv",
    "read_framework_file",
]
