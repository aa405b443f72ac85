"""The access log: who read sensitive data, and who exported it, when and why.

Every read and export is already a signed event; this module only answers the question
from them. The entries are derived by :func:`storage.bundle_verifier.access_log`, the very
function the stand-alone verifier runs over a bundle's events, so ``ledgerml audit access``,
``ledgerml report access`` and a bundle's ``privacy/access-log.json`` say the same thing
about the same events, and the bundle member cannot be edited without the bundle failing.

What is recorded:

- ``data.access``: an encrypted snapshot decrypted (for training, validation, a view, a
  profile…: :mod:`core.data.encryption`), or a pseudonym re-linked
  (:func:`core.data.pseudonyms.relink`);
- ``data.reveal``: the top values of a PII column shown (:mod:`core.data.reveal`; the TUI's
  reveal goes through the same function);
- ``bundle.export``: an audit bundle written, with the snapshots whose rows it carries when
  it carries data (``--data full``);
- ``model.export``: a model file written out (``model export``): no rows, but derived from
  them (an encoder's categories are values of its inputs).

What cannot be recorded, said plainly: reads of a *plaintext* snapshot's objects by anyone
with the workspace's OS account (the files are readable; only encrypted snapshots make
reading need a key); anything done with an exported bundle once it has left (an auditor on
an air-gapped machine reads it without ledgerml); and, on one OS account, the keyring that
unwraps the keys is shared by every actor of that account (:mod:`core.data.data_keys`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core.kernel.workspace import Workspace
from storage.bundle_verifier import ACCESS_ACTIONS, access_log

FORMAT = "ledgerml/access-log/v1"
"""The ``format`` of a bundle's ``privacy/access-log.json``."""


@dataclass(frozen=True)
class AccessEntry:
    """One read or export: the fields of :func:`storage.bundle_verifier.access_log`."""

    seq: int
    ts: str
    actor: str
    action: str
    purpose: str
    snapshots: list[str] | None
    columns: list[str] | None
    target: str | None
    data_level: str | None
    bundle_sha256: str | None
    reason: str

    @classmethod
    def of(cls, entry: dict[str, Any]) -> AccessEntry:
        """An entry as the shared derivation returns it."""
        return cls(**{k: entry.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]

    @property
    def what(self) -> str:
        """What was read or exported, in words."""
        if self.action == "model.export":
            return f"model file of {(self.target or '').removeprefix('model:')} (no rows)"
        if self.action == "bundle.export":
            model = (self.target or "").removeprefix("model:")
            if self.data_level != "full":
                return f"bundle of {model}, hashes only (no rows)"
            rows = (
                ", ".join(self.snapshots)
                if self.snapshots is not None
                else "rows not listed (an export recorded before exports listed them)"
            )
            return f"bundle of {model} with the rows of {rows or 'no snapshot'}"
        shown = ", ".join(self.snapshots or [])
        if self.columns:
            noun = "column" if len(self.columns) == 1 else "columns"
            shown += f" ({noun} {', '.join(self.columns)})"
        if self.action == "data.reveal":
            shown += ": top values shown"
        if self.target:
            shown += f" for {self.target}"
        return shown

    def to_json(self) -> dict[str, Any]:
        """The entry as ``--json`` prints it (the shared fields, and ``what``)."""
        return {**{k: getattr(self, k) for k in self.__dataclass_fields__}, "what": self.what}


def _bodies(ws: Workspace, actor: str, since: str | None, by: str | None) -> list[tuple[int, Any]]:
    """The read and export events, oldest first, from the event index and their bodies."""
    with ws.session(actor) as s:
        rows = [
            r
            for action in ACCESS_ACTIONS
            for r in s.catalog.events(action=action, since=since, actor=by)
            if r.action == action
        ]
    return sorted((r.seq, json.loads(r.body)) for r in rows)


def entries(
    ws: Workspace,
    actor: str = "",
    *,
    since: str | None = None,
    by: str | None = None,
    snapshot: str | None = None,
) -> list[AccessEntry]:
    """The access log, oldest first, filtered by time, actor and snapshot.

    ``since`` takes what ``audit log --since`` takes (a date, a time, an age such as 7d);
    ``snapshot`` a snapshot reference: entries that read it or exported its rows.

    Raises:
        UsageError: for an unreadable ``since``.
        NotFoundError: for an unknown snapshot.
    """
    from core.kernel.since import parse_since

    bound = parse_since(since) if since else None
    wanted = None
    if snapshot is not None:
        from core.data.snapshots import resolve

        with ws.session(actor) as s:
            wanted = resolve(s.catalog, snapshot).ref
    found = [AccessEntry.of(e) for e in access_log(_bodies(ws, actor, bound, by))]
    if wanted is not None:
        found = [e for e in found if wanted in (e.snapshots or [])]
    return found


def bundle_document(events: Iterable[tuple[int, dict[str, Any]]], as_of: int) -> dict[str, Any]:
    """A bundle's ``privacy/access-log.json``: the entries of its ledger excerpt."""
    return {"format": FORMAT, "as_of": as_of, "entries": access_log(list(events))}


def touching(ws: Workspace, refs: Sequence[str], actor: str = "") -> list[int]:
    """The events that read the given snapshots or took their rows out, oldest first.

    For an erasure receipt ("which earlier bundles and exports carried the data"). An old
    full-data export that did not list its snapshots counts when the model it bundled was
    trained on one of them (its lineage); a hashes-only export carried no rows.
    """
    wanted = set(refs)
    out = []
    for entry in entries(ws, actor):
        if entry.snapshots is not None:
            if wanted.intersection(entry.snapshots):
                out.append(entry.seq)
            continue
        if entry.action == "bundle.export" and entry.data_level == "full":
            with ws.session(actor) as s:
                edges = s.catalog.lineage(entry.target or "")
            nodes = {e.dst for e in edges} | {e.src for e in edges}
            if any(f"snapshot:{ref}" in nodes for ref in wanted):
                out.append(entry.seq)
    return out
