"""Bundle collectors: each context's contribution to an audit bundle.

A collector reads the facts in :class:`~core.audit.bundle_members.Bundling` and adds members;
:data:`COLLECTORS` runs them in order (the data collector finds data sheets before the
documents collector finds the model card, the order the coverage table lists reports). A
new kind of evidence adds one collector here and lists it. What is derived from all the
members (coverage, the index, the manifest) is added by :func:`core.audit.bundle.export`
after the collectors ran.
"""

from __future__ import annotations

import json
from typing import Any

from core.audit import lineage
from core.audit.bundle_governance import governance
from core.audit.bundle_members import Bundling, Collector, Members, add_recorded
from core.audit.bundle_operations import operations
from core.audit.bundle_privacy import privacy
from core.audit.bundle_retention import retention
from core.data import encryption, redaction
from core.kernel.errors import UsageError
from core.modelling import models
from storage import merkle
from storage.bundle_verifier import receipt_member
from storage.canonical import canonical_bytes

DSSE = "application/vnd.dsse.envelope.v1+json"


def _latest_report(b: Bundling, action: str, subject: str) -> dict[str, Any] | None:
    """The newest included event recording ``action`` about ``subject`` (its whole body)."""
    found = None
    for seq in b.seqs:
        body = b.event_body(seq)
        if body["action"] == action and subject in body["subjects"]:
            found = body
    return found


def modelling(b: Bundling, members: Members) -> None:
    """The model, its signatures (DSSE and OpenSSF), its run's files and reproductions.

    Raises:
        UsageError: for a hashes-only bundle of a model with PII inputs: the model and its
            evidence hold values of those columns, so "no row-level data" cannot be kept.
    """
    leaked = pii_inputs(b) if b.data_level != "full" else []
    if leaked:
        raise UsageError(
            f"{b.model.ref} uses PII columns as inputs ({', '.join(leaked)}): the model and "
            "its evidence hold their values, so a hashes-only bundle cannot leave them out",
            hint="Retrain without them, or export with --data full where the data may go.",
        )
    folder = models.folder_name(b.model)
    members.add_object(
        f"model/{folder}/model.skops", b.ws, b.model.model_digest, "application/vnd.skops+zip"
    )
    for sig in b.signatures:
        members.add(
            f"signatures/model-{sig.seq}.dsse.json", b.read(sig.envelope_digest), DSSE, True
        )
        if sig.openssf_digest:
            members.add(
                f"model/{folder}.sig",
                b.read(sig.openssf_digest),
                "application/vnd.dev.sigstore.bundle.v0.3+json",
                True,
            )
    for r in b.reproductions:
        members.add(
            f"evidence/reproduction-{r.seq}.json",
            b.read(r.result_digest),
            "application/vnd.ledgerml.reproduction+json",
            True,
        )
    run = b.run
    run_data = b.event_body(run.seq)["data"]
    run_files = [
        ("spec.toml", run.spec_digest, "application/toml"),
        ("environment.json", run.environment_digest, "application/vnd.ledgerml.environment+json"),
        ("metrics.json", run_data["metrics_digest"], "application/vnd.ledgerml.metrics+json"),
    ]
    if b.data_level == "full":
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
        members.add(f"evidence/run-{run.run_id}/{name}", b.read(digest), media, True)


def pii_inputs(b: Bundling) -> list[str]:
    """The model's input features that its training snapshot tags PII.

    The privacy check fails such a model, but the model itself holds values of those columns
    (an encoder's categories), and its evaluation evidence and reports explain individual
    rows by their feature values.
    """
    import tomllib

    spec = tomllib.loads(b.read(b.run.spec_digest).decode("utf-8"))
    features = spec.get("run", {}).get("features", [])
    pii = _pii_of(b).get(b.run.input_ref, [])
    return sorted(set(pii) & {str(f) for f in features})


def evidence(b: Bundling, members: Members) -> None:
    """The signed evaluation evidence."""
    for ev in b.evaluations:
        members.add(
            f"evidence/evaluation-{ev.seq}.json",
            b.read(ev.evidence_digest),
            "application/vnd.ledgerml.evaluation+json",
            True,
        )
        members.add(
            f"signatures/evaluation-{ev.seq}.dsse.json", b.read(ev.envelope_digest), DSSE, True
        )


def _pii_of(b: Bundling) -> dict[str, list[str]]:
    """Per bundled snapshot, its PII columns."""
    return {snap.ref: list(snap.pii) for snap in b.snapshots if snap is not None}


def _redacted_copy(original: bytes, redacted: dict[str, Any], digest: str) -> bytes | None:
    """A redacted document's bytes, or None when redaction changed nothing."""
    if canonical_bytes(json.loads(original)) == canonical_bytes(redacted):
        return None
    return canonical_bytes({**redacted, "redacted_from": f"sha256:{digest}"})


def data(b: Bundling, members: Members) -> None:
    """Validation results, and per input snapshot its profile, data (or digests), data sheet.

    A hashes-only bundle carries no value of a PII column: a validation result or a profile
    (of an older snapshot) holding one is replaced by a redacted copy (``*.redacted.json``,
    naming the digest it was redacted from; it is not a ledger object), and a recorded data
    sheet that quotes one is withheld with a note saying how to record a clean one.
    """
    hashes = b.data_level != "full"
    pii = _pii_of(b)
    every_pii = sorted({c for cols in pii.values() for c in cols})
    for v in b.validations:
        raw = b.read(v.result_digest)
        media = "application/vnd.ledgerml.validation+json"
        cleaned = (
            _redacted_copy(
                raw,
                redaction.redact_validation(json.loads(raw), pii.get(v.snapshot, every_pii)),
                v.result_digest,
            )
            if hashes
            else None
        )
        if cleaned is None:
            members.add(f"evidence/validation-{v.seq}.json", raw, media, True)
        else:
            members.add(f"evidence/validation-{v.seq}.redacted.json", cleaned, media)
    data_sheets: list[str] = []
    for snap in b.snapshots:
        if snap is None:
            continue
        stem = snap.ref.replace("@", "-")
        stored = b.read(snap.profile_digest)
        profile = json.loads(stored)
        cleaned = (
            _redacted_copy(stored, redaction.redact_profile(profile, snap.pii), snap.profile_digest)
            if hashes
            else None
        )
        media = "application/vnd.ledgerml.profile+json"
        if cleaned is None:
            members.add(f"evidence/profile-{stem}.json", stored, media, True)
        else:
            members.add(f"evidence/profile-{stem}.redacted.json", cleaned, media)
        # An encrypted snapshot's rows never leave in a bundle, not even as ciphertext: its
        # keys stay in the workspace's key store, so a copy could serve no reader, and after
        # an erasure it would be one more copy to account for. Its digests go instead.
        sealed = encryption.is_encrypted(snap)
        if snap.erased_seq is not None:  # its rows no longer exist: say so, carry none
            members.add(
                f"data/{stem}.erased.json",
                canonical_bytes(
                    {
                        "snapshot": snap.ref,
                        "erased_at": snap.erased_seq,
                        "receipt": receipt_member(snap.erased_seq),
                        "table_digest": snap.table_digest,
                        "raw_digest": snap.raw_digest,
                        "parquet_digest": snap.parquet_digest,
                        "rows": snap.rows,
                    }
                ),
                "application/json",
            )
        elif b.data_level == "full" and not sealed:
            members.add_object(
                f"data/{stem}.parquet", b.ws, snap.parquet_digest, "application/vnd.apache.parquet"
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
                        **({"encrypted_at_rest": encryption.SCHEME} if sealed else {}),
                    }
                ),
                "application/json",
            )
        sheet_event = _latest_report(b, "report.datasheet", f"snapshot:{snap.ref}")
        if sheet_event:
            sheet = sheet_event["data"]
            markdown, html = b.read(sheet["markdown"]), b.read(sheet["html"])
            leaked = redaction.pii_values(profile, snap.pii)
            if hashes and leaked and redaction.quotes_any([markdown, html], leaked):
                members.add(
                    f"reports/datasheet-{stem}.withheld.txt",
                    (
                        f"The data sheet recorded for {snap.ref} (sha256:{sheet['markdown']}) "
                        "quotes values of its PII columns, so this hashes-only bundle does "
                        "not carry it. Record a new one (`ledgerml report datasheet "
                        f"{snap.ref}`): data sheets no longer show PII values.\n"
                    ).encode(),
                    "text/plain",
                )
                continue
            add_recorded(b, members, f"datasheet-{stem}", sheet_event)
            data_sheets.append(snap.ref)
    b.reports["datasheet"] = bool(data_sheets)


def documents(b: Bundling, members: Members) -> None:
    """The latest model card and impact assessment recorded for the model, with their PDFs."""
    for action, name in (
        ("report.model_card", "model-card"),
        ("report.impact_assessment", "impact-assessment"),
    ):
        found = _latest_report(b, action, f"model:{b.model.ref}")
        b.reports[name] = bool(found)
        if found:
            add_recorded(b, members, name, found)


def identity(b: Bundling, members: Members) -> None:
    """The keys (with their certificates) and the actors, as of the checkpoint.

    The organisation key is listed too (purpose ``organisation``): the verifier checks every
    certificate under it, and an auditor who pins it (``--key``) anchors the whole bundle.
    """
    key_list = [
        {
            "key_id": k.key_id,
            "actor": k.actor,
            "purpose": k.purpose,
            "algorithm": k.algorithm,
            "label": k.label,
            "status": k.status,
            "created_seq": k.created_seq,
            "status_seq": k.status_seq,
            "status_reason": k.status_reason,
            "compromised_since": k.compromised_since,
            "certificate": b.certificate(k),
            "public_pem": k.public_pem,
        }
        for k in b.keys
        if k.created_seq <= b.checkpoint.size
    ]
    members.add("keys/keys.json", canonical_bytes(key_list), "application/json")
    for k in key_list:
        members.add(
            f"keys/{k['key_id']}.pem", str(k["public_pem"]).encode(), "application/x-pem-file"
        )
    actor_list = [
        {"name": a.name, "roles": list(a.roles), "status": a.status, "kind": a.kind, "demo": a.demo}
        for a in sorted(b.actors, key=lambda a: a.name)
        if a.created_seq <= b.checkpoint.size
    ]
    members.add("identity/actors.json", canonical_bytes(actor_list), "application/json")


def standard_exports(b: Bundling, members: Members) -> None:
    """The model's standard exports (CycloneDX, SLSA, Hugging Face card, OpenLineage).

    Derived from the ledger like the lineage files: not ledger objects, covered by the signed
    manifest. The SLSA statement is unsigned here; the manifest's signature covers it.
    """
    from core.audit import exports

    for path, done in exports.bundle_members(b.ws, b.model.ref, as_of=b.checkpoint.size):
        members.add(path, done.text.encode("utf-8"), done.media_type)


def audit(b: Bundling, members: Members) -> None:
    """Lineage, the ledger excerpt, its Merkle proofs and the signed checkpoint."""
    ws, cp = b.ws, b.checkpoint
    walk = lineage.walk(ws, b.model.ref)
    members.add("lineage/tree.txt", (lineage.render_tree(walk) + "\n").encode(), "text/plain")
    from core.audit.exports import openlineage

    events = openlineage.for_walk(ws, walk, as_of=cp.size)
    members.add(
        "lineage/openlineage.jsonl", openlineage.dumps(events).encode(), openlineage.MEDIA_TYPE
    )
    lines = [ws.ledger.entry(q).line.decode() for q in b.seqs]
    leaves = ws.ledger.leaf_hashes(cp.size)
    proofs = {
        "checkpoint_size": cp.size,
        "inclusion": {
            str(q): [h.hex() for h in merkle.inclusion_proof(q - 1, leaves)] for q in b.seqs
        },
        "consistency": {
            str(c.size): [h.hex() for h in merkle.consistency_proof(c.size, leaves)]
            for c in b.earlier
        },
    }
    members.add("ledger/events.jsonl", ("\n".join(lines) + "\n").encode(), "application/x-ndjson")
    members.add("ledger/proofs.json", canonical_bytes(proofs), "application/json")
    members.add("ledger/checkpoint.json", canonical_bytes(cp.envelope), "application/json")


COLLECTORS: tuple[Collector, ...] = (
    modelling,
    evidence,
    data,
    privacy,
    documents,
    governance,
    operations,
    retention,
    identity,
    standard_exports,
    audit,
)
"""Every collector, in the order they run."""
