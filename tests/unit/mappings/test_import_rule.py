"""`mappings` imports the standard library and itself, nothing else (the import-linter contract's twin)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import mappings

PACKAGE = Path(mappings.__file__).parent


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_mappings_imports_only_the_standard_library() -> None:
    offenders = {
        f"{path.relative_to(PACKAGE)}: {root}"
        for path in PACKAGE.rglob("*.py")
        for root in _imported_roots(path)
        if root != "mappings" and root not in sys.stdlib_module_names
    }
    assert not offenders
