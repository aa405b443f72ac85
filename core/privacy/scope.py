"""What one erasure covers: the snapshots, their copies and keys, and who held the data.

Erasing a snapshot erases every copy of its rows the workspace holds:

- the snapshot and every feature view derived from it, recursively (``derived-from`` edges
  of the lineage table: a view holds the rows it selected);
- any other snapshot holding *the same bytes* (the object store is content-addressed: a file
  ingested into two datasets is one object, so deleting it for one erases it for both, and
  keeping it for the other would keep the data);
- per snapshot its raw copy and its Parquet copy (crypto-shredded when encrypted: the data
  key is destroyed; deleted when not).

Kept, and said so in the receipt: the profile (counts and ranges; values of PII-tagged
columns are never profiled), validation results, the lineage and the events, and the test
predictions of runs trained on the data (labels, scores and coarse sensitive groups by row
number, never a PII-tagged column: training refuses one as a sensitive attribute). They are
the evidence of what was done with the data; with the rows gone they link to no one.

The scope also names the models trained on the covered snapshots (flagged in the
inventory), the production deployments serving them (the policy decides whether that
blocks the erasure), and every earlier event that carried the data out or showed it:
decryptions and data exports (``data.access``), reveals, and bundle exports of those models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from core.kernel.catalog import Catalog
from core.kernel.rows import SnapshotRow

CRYPTO_SHRED, DELETE = "crypto-shred", "delete"


@dataclass(frozen=True)
class Copy:
    """One stored copy of a covered snapshot's rows."""

    sha256: str
    snapshot: str
    role: str
    """``raw`` (the file as ingested) or ``parquet`` (the canonical copy)."""
    key: str | None
    """The data key's id when the copy is encrypted (then it is crypto-shredded)."""

    @property
    def method(self) -> str:
        """How this copy is made unreadable."""
        return CRYPTO_SHRED if self.key else DELETE

    def to_json(self) -> dict[str, Any]:
        """As the receipt lists it."""
        return {
            "sha256": self.sha256,
            "snapshot": self.snapshot,
            "copy": self.role,
            "method": self.method,
            **({"key": self.key} if self.key else {}),
        }


@dataclass
class Scope:
    """Everything one erasure of ``target`` covers (see the module docstring)."""

    target: SnapshotRow
    snapshots: list[SnapshotRow] = field(default_factory=list)
    why: dict[str, str] = field(default_factory=dict)
    copies: list[Copy] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    production: list[dict[str, Any]] = field(default_factory=list)
    carried: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)

    @property
    def refs(self) -> list[str]:
        """The covered snapshots, as ``name@N``."""
        return [s.ref for s in self.snapshots]

    @property
    def keys(self) -> list[str]:
        """The data keys to destroy."""
        return sorted({c.key for c in self.copies if c.key})

    @property
    def method(self) -> str:
        """The erasure's method: crypto-shred only when every copy was encrypted.

        One plaintext copy makes the whole erasure a deletion, whose blocks may survive on
        the disk: the receipt is never kinder than its weakest copy.
        """
        return CRYPTO_SHRED if self.copies and all(c.key for c in self.copies) else DELETE


def encryption_of(snap: SnapshotRow) -> dict[str, Any]:
    """The snapshot's recorded ``encryption`` (empty for a plaintext snapshot)."""
    if not snap.encryption:
        return {}
    value = json.loads(snap.encryption)
    return value if isinstance(value, dict) else {}


def copies_of(snap: SnapshotRow) -> list[Copy]:
    """The raw and Parquet copies of one snapshot, with their data keys if encrypted."""
    enc = encryption_of(snap)
    out = []
    for role, digest in (("raw", snap.raw_digest), ("parquet", snap.parquet_digest)):
        if digest:
            ref = enc.get(role)
            out.append(
                Copy(digest, snap.ref, role, str(ref["id"]) if isinstance(ref, dict) else None)
            )
    return out


def _derived(catalog: Catalog, ref: str) -> list[str]:
    rows = catalog.con.execute(
        "SELECT DISTINCT src FROM edges WHERE dst = ? AND relation = 'derived-from' "
        "AND starts_with(src, 'snapshot:') ORDER BY src",
        [f"snapshot:{ref}"],
    ).fetchall()
    return [str(r[0]).removeprefix("snapshot:") for r in rows]


def _same_bytes(catalog: Catalog, digests: list[str]) -> list[str]:
    if not digests:
        return []
    rows = catalog.con.execute(
        "SELECT ref FROM snapshots WHERE erased_seq IS NULL AND (list_contains(?, raw_digest) "
        "OR list_contains(?, parquet_digest)) ORDER BY ref",
        [digests, digests],
    ).fetchall()
    return [str(r[0]) for r in rows]


def covered(catalog: Catalog, target: SnapshotRow) -> tuple[list[SnapshotRow], dict[str, str]]:
    """The snapshots an erasure of ``target`` covers (not yet erased), and why each is."""
    why: dict[str, str] = {target.ref: "the erasure's target"}
    order = [target.ref]
    queue = [target.ref]
    while queue:
        ref = queue.pop(0)
        snap = catalog.snapshot(ref)
        if snap is None:
            continue
        found = [(v, f"a feature view derived from {ref}") for v in _derived(catalog, ref)]
        digests = [c.sha256 for c in copies_of(snap)]
        found += [(o, f"holds the same bytes as {ref}") for o in _same_bytes(catalog, digests)]
        for other, reason in found:
            if other not in why:
                why[other] = reason
                order.append(other)
                queue.append(other)
    rows = [catalog.snapshot(r) for r in order]
    live = [r for r in rows if r is not None and r.erased_seq is None]
    return live, {r.ref: why[r.ref] for r in live}


def models_of(catalog: Catalog, refs: list[str]) -> list[str]:
    """Every model version downstream of the snapshots (trained on them or their views)."""
    found: set[str] = set()
    for ref in refs:
        for edge in catalog.lineage(f"snapshot:{ref}", down=True):
            if edge.src.startswith("model:"):
                found.add(edge.src.removeprefix("model:"))
    return sorted(found, key=_version_order)


def _version_order(ref: str) -> tuple[str, int]:
    name, _, version = ref.partition("@")
    return name, int(version) if version.isdigit() else 0


def production_of(catalog: Catalog, models: list[str]) -> list[dict[str, Any]]:
    """The deployments serving production now whose model is one of ``models``."""
    if not models:
        return []
    rows = catalog.con.execute(
        "SELECT seq, deployment_id, env, arm, model FROM deployments WHERE ended_seq IS NULL "
        "AND env = 'production' AND list_contains(?, model) ORDER BY seq",
        [models],
    ).fetchall()
    return [
        {"deployment": str(r[1]), "env": str(r[2]), "arm": str(r[3]), "model": str(r[4]),
         "seq": int(r[0])}
        for r in rows
    ]  # fmt: skip


def carried_by(catalog: Catalog, refs: list[str], models: list[str]) -> list[dict[str, Any]]:
    """Earlier events that took the data out or showed it (the receipt's access history).

    Decryptions and data exports of a covered snapshot (``data.access``), reveals of its PII
    values (``data.reveal``), and bundle exports of a model trained on it (``bundle.export``:
    a ``full`` bundle carried the rows, a ``hashes`` one only their digests).
    """
    subjects = [f"snapshot:{r}" for r in refs] + [f"model:{m}" for m in models]
    if not subjects:
        return []
    rows = catalog.con.execute(
        "SELECT seq, ts, actor, action, body FROM events WHERE action IN "
        "('data.access', 'data.reveal', 'bundle.export') AND list_has_any(subjects, ?) "
        "ORDER BY seq",
        [subjects],
    ).fetchall()
    out = []
    for seq, ts, actor, action, body in rows:
        data = json.loads(body).get("data", {})
        entry: dict[str, Any] = {"seq": int(seq), "action": str(action), "actor": str(actor)}
        entry["ts"] = str(ts)
        if action == "bundle.export":
            if data.get("model") not in models:
                continue
            entry["model"] = data.get("model")
            entry["data_level"] = data.get("data_level")
            entry["carried"] = "rows" if data.get("data_level") == "full" else "digests only"
            entry["bundle_sha256"] = data.get("bundle_sha256")
        elif action == "data.access":
            if data.get("snapshot") not in refs:
                continue
            entry["snapshot"] = data.get("snapshot")
            entry["purpose"] = data.get("purpose")
            if data.get("target"):
                entry["target"] = data.get("target")
        else:
            if data.get("snapshot") not in refs:
                continue
            entry["snapshot"] = data.get("snapshot")
            entry["column"] = data.get("column")
        out.append(entry)
    return out


def kept_of(snaps: list[SnapshotRow], catalog: Catalog, models: list[str]) -> list[dict[str, Any]]:
    """What stays, and why (the receipt's honest remainder)."""
    kept: list[dict[str, Any]] = [
        {
            "sha256": s.profile_digest,
            "snapshot": s.ref,
            "what": "profile",
            "why": "counts and ranges; values of PII-tagged columns are never profiled",
        }
        for s in snaps
    ]
    for m in models:
        row = catalog.model(m)
        run = catalog.run(row.run_id) if row is not None else None
        body = catalog.event_bodies([run.seq]).get(run.seq) if run is not None else None
        data = json.loads(body).get("data", {}) if body else {}
        if data.get("predictions_object"):
            kept.append(
                {
                    "sha256": str(data["predictions_object"]),
                    "model": m,
                    "what": "test predictions of its training run",
                    "why": "model evidence: labels, scores and coarse sensitive groups by row "
                    "number; training refuses a PII-tagged sensitive attribute",
                }
            )
    return kept


def scope(catalog: Catalog, target: SnapshotRow) -> Scope:
    """Work out everything an erasure of ``target`` covers (reads the catalog only)."""
    snaps, why = covered(catalog, target)
    copies: dict[str, Copy] = {}
    for snap in snaps:
        for c in copies_of(snap):
            copies.setdefault(c.sha256, c)
    refs = [s.ref for s in snaps]
    models = models_of(catalog, refs)
    return Scope(
        target=target,
        snapshots=snaps,
        why=why,
        copies=list(copies.values()),
        models=models,
        production=production_of(catalog, models),
        carried=carried_by(catalog, refs, models),
        kept=kept_of(snaps, catalog, models),
    )
