"""The official OneRoster 1.2 gradebook OpenAPI (../shared/specs), loaded once, and request-body validators."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

GRADEBOOK_SPEC = (
    Path(__file__).resolve().parents[2].parent
    / "shared/specs/oneroster-1.2/gradebookservice_openapi3_v1p0.yaml"
)


def fix_boolean_enums(node: Any) -> Any:
    """The YAML declares string flags as `enum: [true, false]` unquoted; they are the strings "true"/"false"."""
    if isinstance(node, dict):
        fixed = {key: fix_boolean_enums(value) for key, value in node.items()}
        if isinstance(fixed.get("enum"), list):
            fixed["enum"] = [
                ("true" if member else "false") if isinstance(member, bool) else member
                for member in fixed["enum"]
            ]
        return fixed
    if isinstance(node, list):
        return [fix_boolean_enums(item) for item in node]
    return node


@cache
def gradebook_spec() -> dict[str, Any]:
    """The gradebook OpenAPI document with the flag enums fixed; fails loudly when the file is missing."""
    if not GRADEBOOK_SPEC.exists():
        raise FileNotFoundError(f"OneRoster gradebook OpenAPI not found at {GRADEBOOK_SPEC}")
    loaded: dict[str, Any] = fix_boolean_enums(yaml.safe_load(GRADEBOOK_SPEC.read_text(encoding="utf-8")))
    return loaded


def request_validator(spec: dict[str, Any], path: str) -> jsonschema.Draft4Validator:
    """A Draft 4 validator for the JSON body of PUT `path`, with `#/components/...` refs resolved in `spec`."""
    schema = spec["paths"][path]["put"]["requestBody"]["content"]["application/json"]["schema"]
    return jsonschema.Draft4Validator({**schema, "components": spec["components"]})


def body_errors(path: str, body: object) -> list[str]:
    """Every schema violation of `body` as a PUT `path` body, each naming where it is."""
    validator = request_validator(gradebook_spec(), path)
    errors = sorted(validator.iter_errors(body), key=lambda error: list(error.absolute_path))
    return [f"{list(e.absolute_path)}: {e.message}" for e in errors]
