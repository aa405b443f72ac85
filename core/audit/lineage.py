"""Lineage: what a record derives from (upstream) and what derives from it (downstream).

Every derivation is an edge in one table, written by the projector; a walk is one recursive
SQL query (:meth:`core.kernel.catalog.Catalog.lineage`). Nodes are typed names:
``sha256:<raw file>``, ``snapshot:name@N``, ``validation:<event>``, ``run:<id>``,
``model:name@N``, ``signature:<event>``, ``reproduction:<event>``. Exports: a readable tree,
JSON and Graphviz DOT here; a walk's OpenLineage events come from the one implementation of
that format, :func:`core.audit.exports.openlineage.for_walk`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.kernel.catalog import Catalog
from core.kernel.errors import NotFoundError
from core.kernel.rows import EdgeRow
from core.kernel.workspace import Workspace

PREFIXES = ("snapshot:", "model:", "run:", "validation:", "signature:", "sha256:", "reproduction:")


@dataclass(frozen=True)
class Lineage:
    """A walk from one node."""

    root: str
    direction: str
    edges: list[EdgeRow]

    @property
    def nodes(self) -> set[str]:
        """Every node the walk reached, its root included."""
        return {e.src for e in self.edges} | {e.dst for e in self.edges} | {self.root}

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "root": self.root,
            "direction": self.direction,
            "edges": [e.as_dict() for e in self.edges],
        }


def node_for(catalog: Catalog, ref: str) -> str:
    """Turn what a user typed into a lineage node name.

    Raises:
        NotFoundError: if no record and no lineage edge has that name.
    """
    if ref.startswith(PREFIXES):
        if _known(catalog, ref):
            return ref
        raise NotFoundError(
            f"nothing named {ref!r} is recorded",
            hint="Typed names: " + ", ".join(p + "…" for p in PREFIXES) + "; "
            "`ledgerml lineage NAME@N --json` lists the names around a record.",
        )
    if catalog.model(ref) is not None or ("@" not in ref and catalog.models(ref)):
        return f"model:{ref if '@' in ref else catalog.models(ref)[-1].ref}"
    if catalog.snapshot(ref) is not None:
        return f"snapshot:{ref}"
    if "@" not in ref and catalog.snapshots(ref):
        return f"snapshot:{catalog.snapshots(ref)[-1].ref}"
    if catalog.run(ref) is not None:
        return f"run:{catalog.run(ref).run_id}"  # type: ignore[union-attr]
    raise NotFoundError(
        f"nothing named {ref!r} has lineage",
        hint="Give name@version, a run id, or a typed name like snapshot:x@1.",
    )


def _known(catalog: Catalog, node: str) -> bool:
    """Whether a typed node names a record or an end of a lineage edge."""
    kind, _, name = node.partition(":")
    if kind == "snapshot" and catalog.snapshot(name) is not None:
        return True
    if kind == "model" and catalog.model(name) is not None:
        return True
    if kind == "run" and catalog.run(name) is not None:
        return True
    return bool(
        catalog.lineage(node, down=False, depth=1) or catalog.lineage(node, down=True, depth=1)
    )


def walk(
    ws: Workspace, ref: str, *, down: bool = False, depth: int = 50, actor: str = ""
) -> Lineage:
    """Upstream (default) or downstream edges from a record."""
    with ws.session(actor) as s:
        root = node_for(s.catalog, ref)
        edges = s.catalog.lineage(root, down=down, depth=depth)
    return Lineage(root, "downstream" if down else "upstream", edges)


def render_tree(lineage: Lineage) -> str:
    """An indented tree, one line per edge, relations in brackets."""
    down = lineage.direction == "downstream"
    children: dict[str, list[EdgeRow]] = {}
    for edge in lineage.edges:
        children.setdefault(edge.dst if down else edge.src, []).append(edge)
    lines = [lineage.root]

    def visit(node: str, prefix: str, seen: frozenset[str]) -> None:
        kids = children.get(node, [])
        for i, edge in enumerate(kids):
            last = i == len(kids) - 1
            child = edge.src if down else edge.dst
            arrow = f"[{edge.relation}]"
            lines.append(f"{prefix}{'└── ' if last else '├── '}{arrow} {child}")
            if child not in seen:
                visit(child, prefix + ("    " if last else "│   "), seen | {child})

    visit(lineage.root, "", frozenset({lineage.root}))
    return "\n".join(lines)


def render_dot(lineage: Lineage) -> str:
    """Graphviz DOT."""
    out = ["digraph lineage {", "  rankdir=LR;", "  node [shape=box, fontname=monospace];"]
    for edge in lineage.edges:
        out.append(f'  "{edge.src}" -> "{edge.dst}" [label="{edge.relation}"];')
    out.append("}")
    return "\n".join(out)
