"""Audit bundles: one zip a regulator verifies on an air-gapped machine with nothing else.

``export`` gathers everything about one model version — the model and its signatures (DSSE
and OpenSSF), evidence, reports, the key list with statuses, lineage, the data (or only its
digests), and the ledger excerpt of every event about the model and its inputs with Merkle
inclusion proofs against a fresh signed checkpoint (and consistency proofs from every earlier
checkpoint) — plus a coverage table of what auditors look for, an EU AI Act Annex IV mapping,
``index.html``, ``VERIFY.md`` and ``verify.py`` (:mod:`storage.bundle_verifier`, verbatim).
A manifest of every member's SHA-256, size and media type is signed by the workspace key.

The zip is deterministic for a given ledger state: members in name order, fixed timestamps
and permissions, so exporting twice gives the same bytes. The export is then recorded as a
``bundle.export`` event (who, what, data level, why), so the next bundle carries it in its
access log. ``verify`` runs the stand-alone verifier.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.audit import trail as audit, coverage, lineage

from core.modelling import models
from core.identity import keys as keys_mod
from core.identity.actors import require
from core.kernel.errors import IntegrityError, UsageError
from core.kernel.events import Event
from core.kernel.paths import make_folder, output_error
from core.kernel.progress import NO_PROGRESS, Progress
from core.identity.signing import envelope, pae
from core.kernel.workspace import Workspace
from storage import bundle_verifier, merkle
from storage.canonical import canonical_bytes
from storage.objects import CHUNK, hash_file, sha256_hex

ROLES = ("admin", "auditor", "validator", "approver")


@dataclass(frozen=True)
class _Blob:
    """A stored object streamed into the zip and checked against its digest on the way.

    Large members (the model, full data) are never held in memory whole.
    """

    digest: str
    size: int
    file: Path


Payload = bytes | _Blob


def _sha256(data: Payload) -> str:
    return data.digest if isinstance(data, _Blob) else sha256_hex(data)


def _size(data: Payload) -> int:
    return data.size if isinstance(data, _Blob) else len(data)


@dataclass
class _Members:
    """Bundle members by path: content, media type, and whether the ledger names them."""

    items: dict[str, tuple[Payload, str, bool]] = field(default_factory=dict)

    def add(self, path: str, data: Payload, media_type: str, ledger_object: bool = False) -> None:
        self.items[path] = (data, media_type, ledger_object)

    def add_object(self, path: str, ws: Workspace, digest: str, media_type: str) -> None:
        """A ledger-named blob, streamed from the store when the zip is written."""
        if not ws.objects.exists(digest):  # its content is checked while it is written
            raise IntegrityError(f"cannot bundle {path}: {ws.objects.check(digest)}")
        file = ws.objects.path(digest)
        self.add(path, _Blob(digest, file.stat().st_size, file), media_type, True)


def _event_body(ws: Workspace, seq: int) -> dict[str, Any]:
    return ws.ledger.entry(seq).decode()


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
    always = (
        b'{"action":"key.',
        b'{"action":"workspace.init"',
        b'{"action":"actor.',
        b'{"action":"bundle.export"',
    )
    for entry in ws.ledger.iter_entries():
        if entry.body.startswith(always):
            wanted.add(entry.seq)
            continue
        subjects = entry.decode().get("subjects", [])
        if isinstance(subjects, list) and nodes.intersection(map(str, subjects)):
            wanted.add(entry.seq)
    return sorted(wanted)


def _latest_report(
    ws: Workspace, seqs: list[int], action: str, subject: str
) -> dict[str, Any] | None:
    found = None
    for seq in seqs:
        body = _event_body(ws, seq)
        if body["action"] == action and subject in body["subjects"]:
            found = body["data"]
    return found


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
    _check_output(out, overwrite)
    with ws.session(actor) as s:
        require(s, *ROLES, action="export bundles")
        ref = models.resolve(s.catalog, ref).ref  # one exact version from here on
    progress(0, None, f"verifying {ref}")
    if not models.verify(ws, ref, actor).trusted:
        raise IntegrityError(
            f"refusing to export {ref}: it is not trusted",
            hint=f"`ledgerml model verify {ref}` says why.",
        )
    with ws.session(actor) as s:
        model = models.resolve(s.catalog, ref)
        run = models.resolve_run(s.catalog, model.run_id)
        cp, _ = audit.sign_checkpoint(ws, s)
        key = audit.workspace_key(s.catalog)
        all_keys = s.catalog.keys_of()
        snapshots = [
            s.catalog.snapshot(n.removeprefix("snapshot:"))
            for n in sorted(
                {e.dst for e in s.catalog.lineage(f"model:{model.ref}")}
                | {e.src for e in s.catalog.lineage(f"model:{model.ref}")}
            )
            if n.startswith("snapshot:")
        ]
        signatures = s.catalog.signatures(f"model:{model.ref}")
        evaluations = s.catalog.evaluations(model.ref)
        validations = [v for snap in snapshots if snap for v in s.catalog.validations(snap.ref)]
        reproductions = s.catalog.reproductions(run.run_id)
        earlier = [c for c in audit.checkpoints(ws) if c.size < cp.size]
    progress(0, None, "collecting evidence, reports and the ledger excerpt")
    seqs = [q for q in _excerpt_seqs(ws, model.ref) if q <= cp.size]
    members = _Members()
    obj = ws.objects.read_verified
    folder = models.folder_name(model)
    members.add_object(
        f"model/{folder}/model.skops", ws, model.model_digest, "application/vnd.skops+zip"
    )
    for sig in signatures:
        members.add(
            f"signatures/model-{sig.seq}.dsse.json",
            obj(sig.envelope_digest),
            "application/vnd.dsse.envelope.v1+json",
            True,
        )
        if sig.openssf_digest:
            members.add(
                f"model/{folder}.sig",
                obj(sig.openssf_digest),
                "application/vnd.dev.sigstore.bundle.v0.3+json",
                True,
            )
    for ev in evaluations:
        members.add(
            f"evidence/evaluation-{ev.seq}.json",
            obj(ev.evidence_digest),
            "application/vnd.ledgerml.evaluation+json",
            True,
        )
        members.add(
            f"signatures/evaluation-{ev.seq}.dsse.json",
            obj(ev.envelope_digest),
            "application/vnd.dsse.envelope.v1+json",
            True,
        )
    for v in validations:
        members.add(
            f"evidence/validation-{v.seq}.json",
            obj(v.result_digest),
            "application/vnd.ledgerml.validation+json",
            True,
        )
    for r in reproductions:
        members.add(
            f"evidence/reproduction-{r.seq}.json",
            obj(r.result_digest),
            "application/vnd.ledgerml.reproduction+json",
            True,
        )
    run_data = _event_body(ws, run.seq)["data"]
    run_files = [
        ("spec.toml", run.spec_digest, "application/toml"),
        ("environment.json", run.environment_digest, "application/vnd.ledgerml.environment+json"),
        ("metrics.json", run_data["metrics_digest"], "application/vnd.ledgerml.metrics+json"),
    ]
    if data == "full":
        run_files.append(
            (
                "predictions.json",
                run_data["predictions_object"],
                "application/vnd.ledgerml.predictions+json",
            )
        )
    else:  # the test predictions are rows: labels and sensitive attributes of people
        members.add(
            f"evidence/run-{run.run_id}/predictions.digests.json",
            canonical_bytes(
                {
                    "run": run.run_id,
                    "predictions_object": run_data["predictions_object"],
                    "predictions_digest": run.predictions_digest,
                }
            ),
            "application/json",
        )
    for name, digest, media in run_files:
        members.add(f"evidence/run-{run.run_id}/{name}", obj(digest), media, True)
    data_sheets: list[str] = []
    for snap in snapshots:
        if snap is None:
            continue
        stem = snap.ref.replace("@", "-")
        members.add(
            f"evidence/profile-{stem}.json",
            obj(snap.profile_digest),
            "application/vnd.ledgerml.profile+json",
            True,
        )
        if data == "full":
            members.add_object(
                f"data/{stem}.parquet", ws, snap.parquet_digest, "application/vnd.apache.parquet"
            )
        else:
            members.add(
                f"data/{stem}.digests.json",
                canonical_bytes(
                    {
                        "snapshot": snap.ref,
                        "table_digest": snap.table_digest,
                        "raw_digest": snap.raw_digest,
                        "parquet_digest": snap.parquet_digest,
                        "rows": snap.rows,
                    }
                ),
                "application/json",
            )
        sheet = _latest_report(ws, seqs, "report.datasheet", f"snapshot:{snap.ref}")
        if sheet:
            members.add(
                f"reports/datasheet-{stem}.md", obj(sheet["markdown"]), "text/markdown", True
            )
            members.add(f"reports/datasheet-{stem}.html", obj(sheet["html"]), "text/html", True)
            data_sheets.append(snap.ref)
    reports_found: dict[str, bool] = {"datasheet": bool(data_sheets)}
    for action, name in (
        ("report.model_card", "model-card"),
        ("report.impact_assessment", "impact-assessment"),
    ):
        found = _latest_report(ws, seqs, action, f"model:{model.ref}")
        reports_found[name] = bool(found)
        if found:
            members.add(f"reports/{name}.md", obj(found["markdown"]), "text/markdown", True)
            members.add(f"reports/{name}.html", obj(found["html"]), "text/html", True)
    key_list = [
        {
            "key_id": k.key_id,
            "actor": k.actor,
            "purpose": k.purpose,
            "algorithm": k.algorithm,
            "status": k.status,
            "created_seq": k.created_seq,
            "status_seq": k.status_seq,
            "status_reason": k.status_reason,
            "public_pem": k.public_pem,
        }
        for k in all_keys
        if k.created_seq <= cp.size
    ]
    members.add("keys/keys.json", canonical_bytes(key_list), "application/json")
    for k in key_list:
        members.add(
            f"keys/{k['key_id']}.pem", str(k["public_pem"]).encode(), "application/x-pem-file"
        )
    walk = lineage.walk(ws, model.ref)
    members.add("lineage/tree.txt", (lineage.render_tree(walk) + "\n").encode(), "text/plain")
    members.add(
        "lineage/openlineage.jsonl",
        (lineage.dumps(lineage.openlineage(ws, walk)) + "\n").encode(),
        "application/x-ndjson",
    )
    lines = [ws.ledger.entry(q).line.decode() for q in seqs]
    leaves = ws.ledger.leaf_hashes(cp.size)
    proofs = {
        "checkpoint_size": cp.size,
        "inclusion": {
            str(q): [h.hex() for h in merkle.inclusion_proof(q - 1, leaves)] for q in seqs
        },
        "consistency": {
            str(c.size): [h.hex() for h in merkle.consistency_proof(c.size, leaves)]
            for c in earlier
        },
    }
    members.add("ledger/events.jsonl", ("\n".join(lines) + "\n").encode(), "application/x-ndjson")
    members.add("ledger/proofs.json", canonical_bytes(proofs), "application/json")
    members.add("ledger/checkpoint.json", canonical_bytes(cp.envelope), "application/json")
    actions = [_event_body(ws, q)["action"] for q in seqs]
    table = coverage.build(
        members=set(members.items), actions=actions, reports=reports_found, data_level=data
    )
    members.add("coverage.json", canonical_bytes(table), "application/json")
    members.add("coverage.md", coverage.render_markdown(table).encode(), "text/markdown")
    verifier = Path(bundle_verifier.__file__).read_bytes()
    members.add("verify.py", verifier, "text/x-python")
    members.add("VERIFY.md", _verify_md(model.ref, key.key_id).encode(), "text/markdown")
    members.add("index.html", _index_html(model.ref, members, table).encode(), "text/html")
    listed = [
        {"path": p, "sha256": _sha256(d), "size": _size(d), "media_type": m, "ledger_object": lo}
        for p, (d, m, lo) in sorted(members.items.items())
    ]
    manifest: dict[str, Any] = {
        "format": bundle_verifier.FORMAT,
        "model": model.ref,
        "workspace": ws.workspace_id,
        "exported_at": cp.size,
        "data_level": data,
        "signed_by": key.key_id,
        "members": listed,
    }
    manifest_bytes = canonical_bytes(manifest)
    manifest_sig = keys_mod.sign_with(key, pae(bundle_verifier.MANIFEST_TYPE, manifest_bytes))
    manifest_env = canonical_bytes(
        envelope(bundle_verifier.MANIFEST_TYPE, manifest_bytes, key.key_id, manifest_sig)
    )
    partial = _write_zip(out, members, manifest_bytes, manifest_env, progress)
    recording = False
    try:
        bundle_digest = hash_file(partial)  # streamed: a full-data bundle can be large
        progress(1, 1, "recording the export")  # the last point a caller may cancel
        # The export is recorded before the file appears under its name: no bundle without
        # its access-log entry.
        with ws.session(actor) as s:
            require(s, *ROLES, action="export bundles")
            recording = True  # from here the event may be durable: keep the file
            s.commit(
                Event(
                    actor,
                    "bundle.export",
                    [f"model:{model.ref}"],
                    {
                        "model": model.ref,
                        "data_level": data,
                        "bundle_sha256": bundle_digest,
                        "members": len(listed),
                        "checkpoint_size": cp.size,
                    },
                    reason,
                )
            )
    except BaseException:
        if not recording:
            partial.unlink(missing_ok=True)
        raise
    partial.replace(out)
    return {
        "path": str(out),
        "sha256": bundle_digest,
        "members": len(listed) + 2,
        "checkpoint_size": cp.size,
        "events": len(seqs),
        "coverage": table,
    }


def _check_output(out: Path, overwrite: bool) -> None:
    if out.is_dir():
        raise UsageError(
            f"{out} is a folder", hint=f"Name the bundle file, for example {out / 'bundle.zip'}."
        )
    if out.exists() and not overwrite:
        raise UsageError(
            f"{out} already exists",
            hint="Choose another name, or pass --overwrite to replace it.",
        )
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir() or not os.access(parent, os.W_OK):
                raise UsageError(f"cannot write into {parent}")
            break


def _write_zip(
    out: Path,
    members: _Members,
    manifest: bytes,
    manifest_env: bytes,
    progress: Progress = NO_PROGRESS,
) -> Path:
    """Write the canonical layout beside ``out``; return the partial file to publish.

    The layout is storage.bundle_verifier.canonical_info's, byte for byte.
    """
    make_folder(out.parent)
    tmp = out.with_name(out.name + ".partial")
    entries = {
        **{p: d for p, (d, _, _) in members.items.items()},
        bundle_verifier.MANIFEST: manifest,
        bundle_verifier.MANIFEST_SIG: manifest_env,
    }
    total, done = sum(_size(d) for d in entries.values()), 0
    try:
        handle = tmp.open("wb")
    except OSError as err:  # nothing is recorded yet: a place we cannot write is bad input
        raise output_error(out, err) from err
    try:
        with handle:
            stream = bundle_verifier.AppendOnly(handle)
            with zipfile.ZipFile(stream, "w") as archive:  # type: ignore[call-overload]
                for path in sorted(entries):
                    data = entries[path]
                    progress(done, total, f"writing {path}")
                    info, zip64 = bundle_verifier.canonical_info(path, _size(data))
                    with archive.open(info, "w", force_zip64=zip64) as dst:
                        if isinstance(data, bytes):
                            dst.write(data)
                        else:
                            _stream_blob(path, data, dst)
                    done += _size(data)
            handle.flush()
            os.fsync(handle.fileno())
        progress(total, total, "bundle written")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _stream_blob(path: str, blob: _Blob, dst: Any) -> None:
    """Copy a stored object into the zip in chunks, refusing it if its bytes changed."""
    digest, size = hashlib.sha256(), 0
    with blob.file.open("rb") as src:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
    if digest.hexdigest() != blob.digest or size != blob.size:
        raise IntegrityError(
            f"cannot bundle {path}: object sha256:{blob.digest} was altered in the store",
            hint="The object store was modified outside ledgerml; restore it from a backup.",
        )


def _verify_md(model_ref: str, key_id: str) -> str:
    return f"""# How to verify this bundle

This bundle documents model **{model_ref}**. Everything in it can be checked without
ledgerml and without network access.

## With the bundled verifier (Python 3.11+ and the `cryptography` package)

    unzip -p BUNDLE.zip verify.py > verify.py      # take the verifier out first
    python verify.py BUNDLE.zip [--checkpoint OLD_CHECKPOINT.json] [--key WORKSPACE_KEY.pem]

`verify.py` is short and meant to be read: it checks the archive is safe, the manifest's
signature, every member's SHA-256, the signed checkpoint, every ledger event's Merkle
inclusion proof, that every piece of evidence is named by an included event, and (with
`--checkpoint`) that the log only grew since a checkpoint you kept. `ledgerml bundle verify`
runs exactly the same code.

The workspace key that signs the manifest and the checkpoint has id `{key_id}`. Compare it
with the one the provider published, or pin it with `--key keys/{key_id}.pem` obtained from
a trusted channel: a bundle can only prove it is consistent with the key it names.

## With public tools

- Member hashes: unzip into an empty folder, then compare `sha256sum <member>` with the
  `sha256` of each entry of `manifest.json`.
- Manifest signature (ECDSA P-256): the signature covers
  `DSSEv1 <len(type)> <type> <len(manifest)> <manifest>` where type is
  `{bundle_verifier.MANIFEST_TYPE}`; write that to `msg`, base64-decode the `sig` of
  `manifest.dsse.json` to `sig.der`, then
  `openssl dgst -sha256 -verify keys/{key_id}.pem -signature sig.der msg`.
- The model's OpenSSF signature: `model_signing verify key model/<name> --signature
  model/<name>.sig --public_key keys/<signer key>.pem`.
- Ledger events: each line of `ledger/events.jsonl` hashes (SHA-256 of the line) to an entry
  hash; the RFC 6962 leaf is SHA-256(0x00 || entry hash); `ledger/proofs.json` holds the audit
  paths to the root signed in `ledger/checkpoint.json`.
"""


def _index_html(model_ref: str, members: _Members, table: dict[str, Any]) -> str:
    rows = "".join(
        f'<tr><td><a href="{html.escape(p)}">{html.escape(p)}</a></td><td>{html.escape(m)}'
        f"</td><td>{_size(d)}</td></tr>"
        for p, (d, m, _) in sorted(members.items.items())
    )
    cov = "".join(
        f"<tr><td>{html.escape(c['item'])}</td><td>{'yes' if c['files'] else '<b>MISSING</b>'}"
        f"</td><td>{html.escape(', '.join(c['files']))}</td></tr>"
        for c in table["auditors"]
    )
    annex = "".join(
        f"<tr><td>{html.escape(c['item'])}</td><td>{'yes' if c['files'] else '<b>GAP</b>'}"
        f"</td><td>{html.escape(', '.join(c['files']))}</td></tr>"
        for c in table["annex_iv"]
    )
    style = (
        "body{font:15px/1.5 system-ui,sans-serif;max-width:70rem;margin:2rem auto;"
        "padding:0 1rem}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #d0d7de;padding:.2rem .5rem;text-align:left}"
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Audit '
        f"bundle: {html.escape(model_ref)}</title><style>{style}</style></head><body>"
        f"<h1>Audit bundle: {html.escape(model_ref)}</h1><p>Verify it first: see "
        f'<a href="VERIFY.md">VERIFY.md</a>.</p><h2>What auditors look for</h2><table>'
        f"<tr><th>item</th><th>present</th><th>files</th></tr>{cov}</table>"
        f"<h2>EU AI Act Annex IV mapping</h2><table><tr><th>item</th><th>covered</th>"
        f"<th>files</th></tr>{annex}</table><h2>Members</h2><table><tr><th>path</th>"
        f"<th>media type</th><th>bytes</th></tr>{rows}</table></body></html>\n"
    )


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
