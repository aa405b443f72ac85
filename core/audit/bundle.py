"""Audit bundles: one zip a regulator verifies on an air-gapped machine with nothing else.

``export`` gathers everything about one model version — the model and its signatures (DSSE
and OpenSSF), evidence, reports, the key list with statuses, lineage, the data (or only its
digests), and the ledger excerpt of every event about the model and its inputs with Merkle
inclusion proofs against a fresh signed checkpoint (and consistency proofs from every earlier
checkpoint) — plus a coverage table of what auditors look for, an EU AI Act Annex IV mapping,
``index.html``, ``VERIFY.md`` and ``verify.py`` (:mod:`storage.bundle_verifier`, verbatim).
A manifest of every member's SHA-256, size and media type is signed by the workspace key.

The zip is deterministic for a given ledger state: members in name order, fixed timestamps
and permissions, so exporting twice gives the same bytes. The file is put in place and made
durable, and then the export is recorded as a ``bundle.export`` event (who, what, data level,
why), so the next bundle carries it in its access log: an event never names a bundle that is
not there. ``verify`` runs the stand-alone verifier.

The members come from per-context collectors (:mod:`core.audit.bundle_collectors`); the zip
is written by :mod:`core.audit.bundle_zip`; ``VERIFY.md`` and ``index.html`` are rendered by
:mod:`core.audit.bundle_pages`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.audit import checkpoints, coverage, lineage
from core.audit.bundle_collectors import COLLECTORS
from core.audit.bundle_members import Bundling, Members, payload_sha256, payload_size
from core.audit.bundle_pages import index_html, verify_md
from core.audit.bundle_zip import check_output, write_zip
from core.audit.coverage import Coverage
from core.audit.events import BundleExported
from core.identity import keys as keys_mod
from core.identity.actors import needs
from core.identity.signing import envelope, pae
from core.kernel import command, kinds
from core.kernel.errors import IntegrityError, UsageError
from core.kernel.progress import NO_PROGRESS, Progress
from core.kernel.workspace import Session, Workspace
from core.modelling import models
from storage import bundle_verifier, failpoints
from storage.canonical import canonical_bytes
from storage.fsutil import fsync_dir
from storage.objects import hash_file

ROLES = ("admin", "auditor", "validator", "approver")


@dataclass(frozen=True)
class _Written:
    """A bundle written beside its final name, waiting for its export to be recorded."""

    bundling: Bundling
    partial: Path
    sha256: str
    members: int
    coverage: Coverage


def _gather(ws: Workspace, s: Session, ref: str, data: str) -> Bundling:
    """Fix what the bundle documents under one hold: the model, its inputs and evidence."""
    model = models.resolve(s.catalog, ref)
    run = models.resolve_run(s.catalog, model.run_id)
    cp, _ = checkpoints.sign_checkpoint(ws, s)
    edges = s.catalog.lineage(f"model:{model.ref}")
    snapshots = [
        s.catalog.snapshot(n.removeprefix("snapshot:"))
        for n in sorted({e.dst for e in edges} | {e.src for e in edges})
        if n.startswith("snapshot:")
    ]
    return Bundling(
        ws=ws,
        data_level=data,
        model=model,
        run=run,
        checkpoint=cp,
        key=checkpoints.workspace_key(s.catalog),
        keys=s.catalog.keys_of(),
        snapshots=snapshots,
        signatures=s.catalog.signatures(f"model:{model.ref}"),
        evaluations=s.catalog.evaluations(model.ref),
        validations=[v for snap in snapshots if snap for v in s.catalog.validations(snap.ref)],
        reproductions=s.catalog.reproductions(run.run_id),
        earlier=[c for c in checkpoints.checkpoints(ws) if c.size < cp.size],
        seqs=[],
    )


def _assemble(b: Bundling) -> tuple[Members, Coverage]:
    """Every member: the collectors', then what is derived from them all."""
    members = Members()
    for collect in COLLECTORS:
        collect(b, members)
    actions = [b.event_body(q)["action"] for q in b.seqs]
    table = coverage.build(
        members=set(members.items), actions=actions, reports=b.reports, data_level=b.data_level
    )
    members.add("coverage.json", canonical_bytes(table.to_json()), "application/json")
    members.add("coverage.md", table.markdown().encode(), "text/markdown")
    verifier = Path(bundle_verifier.__file__).read_bytes()
    members.add("verify.py", verifier, "text/x-python")
    members.add("VERIFY.md", verify_md(b.model.ref, b.key.key_id).encode(), "text/markdown")
    members.add("index.html", index_html(b.model.ref, members, table).encode(), "text/html")
    return members, table


def _write(b: Bundling, out: Path, progress: Progress) -> _Written:
    """Collect, sign the manifest and write the zip beside ``out`` (nothing is recorded)."""
    progress(0, None, "collecting evidence, reports and the ledger excerpt")
    b = dataclasses.replace(
        b, seqs=[q for q in _excerpt_seqs(b.ws, b.model.ref) if q <= b.checkpoint.size]
    )
    members, table = _assemble(b)
    listed = [
        {
            "path": p,
            "sha256": payload_sha256(d),
            "size": payload_size(d),
            "media_type": m,
            "ledger_object": lo,
        }
        for p, (d, m, lo) in sorted(members.items.items())
    ]
    manifest: dict[str, Any] = {
        "format": bundle_verifier.FORMAT,
        "model": b.model.ref,
        "workspace": b.ws.workspace_id,
        "exported_at": b.checkpoint.size,
        "data_level": b.data_level,
        "signed_by": b.key.key_id,
        "members": listed,
    }
    manifest_bytes = canonical_bytes(manifest)
    manifest_sig = keys_mod.sign_with(b.key, pae(bundle_verifier.MANIFEST_TYPE, manifest_bytes))
    manifest_env = canonical_bytes(
        envelope(bundle_verifier.MANIFEST_TYPE, manifest_bytes, b.key.key_id, manifest_sig)
    )
    partial = write_zip(out, members, manifest_bytes, manifest_env, progress)
    try:
        bundle_digest = hash_file(partial)  # streamed: a full-data bundle can be large
        progress(1, 1, "recording the export")  # the last point a caller may cancel
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return _Written(b, partial, bundle_digest, len(listed), table)


def export(
    ws: Workspace,
    actor: str,
    ref: str,
    out: Path,
    *,
    data: str = "full",
    reason: str = "",
    overwrite: bool = False,
    progress: Progress = NO_PROGRESS,
) -> dict[str, Any]:
    """Write a bundle for a model version and record the export (see the module docstring).

    The output path is checked first (not a folder; an existing file only with
    ``overwrite``), because after the export event is recorded nothing may fail.

    ``progress`` hears about each stage and about the bytes written; a caller may cancel from
    it up to the moment the export is recorded.
    """
    if data not in ("full", "hashes"):
        raise UsageError("--data must be full or hashes")
    check_output(out, overwrite)
    guard = needs(*ROLES, action="export bundles")
    with ws.session(actor) as s:
        guard(s)
        ref = models.resolve(s.catalog, ref).ref  # one exact version from here on
    progress(0, None, f"verifying {ref}")
    if not models.verify(ws, ref, actor).trusted:
        raise IntegrityError(
            f"refusing to export {ref}: it is not trusted",
            hint=f"`ledgerml model verify {ref}` says why.",
        )
    written: list[_Written] = []
    published = recording = False

    def write(b: Bundling) -> _Written:
        written.append(_write(b, out, progress))
        return written[0]

    def record(s: Session, w: _Written) -> _Written:
        nonlocal published, recording
        # The bundle is durable under its name before the event is appended: a kill between
        # the two leaves a bundle no event records (the command failed; run it again), never
        # a recorded export whose file is missing. The guards were re-checked just before.
        w.partial.replace(out)
        published = True
        fsync_dir(out.parent)
        failpoints.hit("export.before-event")
        recording = True  # from here the event may be durable: keep the file
        model = w.bundling.model
        exported = BundleExported(
            model=model.ref,
            data_level=data,
            bundle_sha256=w.sha256,
            members=w.members,
            checkpoint_size=w.bundling.checkpoint.size,
        )
        s.commit(kinds.new_event(actor, exported, [f"model:{model.ref}"], reason))
        failpoints.hit("export.after-event")
        return w

    try:
        done = command.run(
            ws,
            actor,
            guards=[guard],
            prepare=lambda s: _gather(ws, s, ref, data),
            compute=write,
            commit=record,
        )
    except BaseException:
        if written and not recording:  # refused or failed before the event: no bundle
            (out if published else written[0].partial).unlink(missing_ok=True)
        raise
    return {
        "path": str(out),
        "sha256": done.sha256,
        "members": done.members + 2,
        "checkpoint_size": done.bundling.checkpoint.size,
        "events": len(done.bundling.seqs),
        "coverage": done.coverage.to_json(),
    }


def _excerpt_seqs(ws: Workspace, model_ref: str) -> list[int]:
    """The ledger excerpt of a bundle.

    Every event about the model, its run, its inputs and their evidence, plus the events
    that give keys and actors their status and the earlier exports (the access log).
    """
    up = lineage.walk(ws, model_ref)
    down = lineage.walk(ws, model_ref, down=True)
    nodes = (
        {up.root}
        | {e.src for e in up.edges}
        | {e.dst for e in up.edges}
        | {e.src for e in down.edges}
    )
    wanted: set[int] = {e.seq for e in up.edges} | {e.seq for e in down.edges}
    # Bodies are canonical JSON, whose first member is always the action.
    always = tuple(b'{"action":"' + a.encode() + b'"' for a in kinds.always_in_bundle())
    for entry in ws.ledger.iter_entries():
        if entry.body.startswith(always):
            wanted.add(entry.seq)
            continue
        subjects = entry.decode().get("subjects", [])
        if isinstance(subjects, list) and nodes.intersection(map(str, subjects)):
            wanted.add(entry.seq)
    return sorted(wanted)


def verify(path: Path, *, previous: Path | None = None, key: Path | None = None) -> dict[str, Any]:
    """Verify a bundle with the stand-alone verifier (no workspace needed).

    Raises:
        IntegrityError: naming what failed.
        UsageError: if the earlier checkpoint or key file cannot be read.
    """
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    try:
        old = json.loads(previous.read_text()) if previous else None
        pinned = key.read_text() if key else None
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot read {previous or key}: {err}") from err
    try:
        return bundle_verifier.verify(str(path), old, pinned)
    except bundle_verifier.RejectedError as err:
        raise IntegrityError(f"bundle rejected: {err}") from err
