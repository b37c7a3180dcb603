"""Shared checks of a framework's hierarchy: parents first, no cycles, unique codes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from connectors.errors import FormatError


@dataclass(frozen=True, slots=True)
class Node:
    """A node before it becomes a FrameworkItem: `label` names it in error messages."""

    key: str
    parent_key: str | None
    label: str


def order_parents_first(nodes: Sequence[Node], *, system: str, parent_field: str) -> list[Node]:
    """`nodes` breadth-first from the roots, siblings in their given order; a cycle is a FormatError.

    Every `parent_key` must be the key of a node (the callers check that, naming their own field).
    """
    children: dict[str | None, list[Node]] = {}
    for node in nodes:
        children.setdefault(node.parent_key, []).append(node)
    ordered: list[Node] = []
    queue = list(children.get(None, []))
    while queue:
        node = queue.pop(0)
        ordered.append(node)
        queue.extend(children.get(node.key, []))
    if len(ordered) != len(nodes):
        reached = {node.key for node in ordered}
        stuck = next(node for node in nodes if node.key not in reached)
        raise FormatError(
            f"{stuck.label}: {parent_field} forms a cycle (the item is its own ancestor)",
            system=system,
            item=stuck.label,
            field=parent_field,
        )
    return ordered


def check_unique_codes(codes: Mapping[str, str], *, system: str, code_field: str) -> None:
    """`codes` maps each node's label to its code; two nodes with one code is a FormatError naming both."""
    seen: dict[str, str] = {}
    for label, code in codes.items():
        other = seen.get(code)
        if other is not None:
            raise FormatError(
                f"{label}: {code_field} {code!r} is already the code of {other}",
                system=system,
                item=label,
                field=code_field,
            )
        seen[code] = label
