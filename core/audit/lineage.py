"""Lineage: what a record derives from (upstream) and what derives from it (downstream).

Every derivation is an edge in one table, written by the projector; a walk is one recursive
SQL query (:meth:`core.kernel.catalog.Catalog.lineage`). Nodes are typed names:
``sha256:<raw file>``, ``snapshot:name@N``, ``validation:<event>``, ``run:<id>``,
``model:name@N``, ``signature:<event>``, ``reproduction:<event>``. Exports: a readable tree,
JSON, Graphviz DOT, and OpenLineage RunEvents (one per training run and feature build) whose
dataset versions are the real table and artifact digests.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from core.kernel.catalog import Catalog
from core.kernel.errors import NotFoundError
from core.kernel.rows import EdgeRow
from core.kernel.workspace import Workspace

PREFIXES = ("snapshot:", "model:", "run:", "validation:", "signature:", "sha256:", "reproduction:")
PRODUCER = "https://github.com/ledgerml/ledgerml"
NAMESPACE = "ledgerml"
_NAMESPACE = uuid.UUID("6f1d7c1e-6a61-4c1e-9f0e-6c65646765ee")


@dataclass(frozen=True)
class Lineage:
    """A walk from one node."""

    root: str
    direction: str
    edges: list[EdgeRow]

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


def openlineage(ws: Workspace, lineage: Lineage, actor: str = "") -> list[dict[str, Any]]:
    """OpenLineage RunEvents for the training runs and feature builds in the walk."""
    nodes = {e.src for e in lineage.edges} | {e.dst for e in lineage.edges} | {lineage.root}
    events = []
    with ws.session(actor) as s:
        for node in sorted(nodes):
            if node.startswith("run:"):
                run = s.catalog.run(node)
                if run is None:
                    continue
                snap = s.catalog.snapshot(run.input_ref)
                models = [m for m in s.catalog.models() if m.run_id == run.run_id]
                events.append(
                    _run_event(
                        f"train.{run.name}",
                        run.run_id,
                        run.created_at,
                        [(run.input_ref, snap.table_digest if snap else run.input_table_digest)],
                        [(m.ref.split("@")[0], m.model_digest) for m in models]
                        or [(run.name, run.model_digest)],
                    )
                )
            elif node.startswith("snapshot:"):
                snap = s.catalog.snapshot(node.removeprefix("snapshot:"))
                if snap is None or snap.kind != "feature":
                    continue
                inputs = [
                    e.dst.removeprefix("snapshot:")
                    for e in s.catalog.edges_from(node)
                    if e.relation == "derived-from"
                ]
                sources = [
                    (ref, s.catalog.snapshot(ref).table_digest)  # type: ignore[union-attr]
                    for ref in inputs
                    if s.catalog.snapshot(ref) is not None
                ]
                events.append(
                    _run_event(
                        f"feature.{snap.dataset}",
                        snap.ref,
                        snap.created_at,
                        sources,
                        [(snap.dataset, snap.table_digest)],
                    )
                )
    return sorted(events, key=lambda e: (e["eventTime"], e["job"]["name"]))  # time order


def _datasets(kind: Any, pairs: list[tuple[str, str]]) -> list[Any]:
    from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet

    return [
        kind(
            namespace=NAMESPACE,
            name=name.split("@")[0],
            facets={
                "version": DatasetVersionDatasetFacet(
                    datasetVersion=f"sha256:{version}", producer=PRODUCER
                )
            },
        )
        for name, version in pairs
    ]


def _run_event(
    job: str, key: str, when: str, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]]
) -> dict[str, Any]:
    """One COMPLETE RunEvent as plain data.

    Built with openlineage-python's typed classes (which check the time and the run id) and
    turned into data by its own serialiser, so the shape follows the library's spec version.
    """
    from openlineage.client.event_v2 import (
        InputDataset,
        Job,
        OutputDataset,
        Run,
        RunEvent,
        RunState,
    )
    from openlineage.client.serde import Serde

    event = RunEvent(
        eventType=RunState.COMPLETE,
        eventTime=when,
        producer=PRODUCER,
        run=Run(runId=str(uuid.uuid5(_NAMESPACE, key))),
        job=Job(namespace=NAMESPACE, name=job),
        inputs=_datasets(InputDataset, inputs),
        outputs=_datasets(OutputDataset, outputs),
    )
    return Serde.to_dict(event)


def dumps(events: list[dict[str, Any]]) -> str:
    """OpenLineage events as JSON Lines (one RunEvent per line)."""
    return "\n".join(json.dumps(e, sort_keys=True) for e in events)
