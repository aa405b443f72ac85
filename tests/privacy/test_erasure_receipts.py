"""Deletion receipts in bundles, checked offline; and what a forger cannot get past.

A plaintext pipeline (people, a feature view, a model) exported as a full bundle, erased,
exported again. The later bundle carries no row of the erased data, and every erasure's
receipt as ``privacy/receipt-<seq>.json``, which the stand-alone verifier checks against
the signed ``data.erase`` event. The attacks: a changed member (the manifest catches it); a
forged receipt by an insider who re-signs the manifest with their real key (the event's
signed digest catches it); a receipt left out, or one added for no erasure; each claim of a
receipt changed on its own; a receipt altered in the workspace's object store.
"""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from core.audit import bundle, verification
from core.data import features, snapshots
from core.identity import actors
from core.kernel.errors import IntegrityError
from core.kernel.workspace import Workspace
from core.modelling import models, training
from core.privacy import erasure
from storage import bundle_verifier
from storage.bundle_verifier import receipt_member, receipt_problems
from storage.canonical import canonical_bytes
from tests.core.test_bundle import members_of, resign, write_canonical
from tests.core.test_pii import TRAIN, VIEW, VIEW_SQL, people, write

PII = ["full_name", "email", "date_of_birth", "case_number"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from core.audit import admin
    from core.data import validation

    root = tmp_path_factory.mktemp("receipts")
    ws = admin.init(root / "ws", "alice")
    actors.add(ws, "alice", "dana", ["data-steward"])
    actors.add(ws, "alice", "sam", ["data-scientist"])
    actors.add(ws, "alice", "bob", ["auditor"])
    csv, _ = people(root, rows=120, seed=3)
    raw, _ = snapshots.add(ws, "dana", csv, dataset="people", pii=PII)
    write(root, "people.sql", VIEW_SQL)
    view, _ = features.build(ws, "sam", write(root, "view.toml", VIEW))
    suite = write(root, "suite.toml", '[suite]\nname = "people-features"\n[[checks]]\n'
                  'type = "row_count"\nmin = 1\n')  # fmt: skip
    validation.run(ws, "sam", view.ref, suite)
    run = training.train(ws, "sam", write(root, "train.toml", TRAIN))
    models.register(ws, "sam", run.run_id, "repayment")
    models.sign(ws, "sam", "repayment@1")
    bundle.export(ws, "bob", "repayment@1", root / "before.zip", reason="audit")
    done = erasure.erase(ws, "dana", "people@1", reason="REQ-1", legal_basis="GDPR Art. 17(1)(c)")
    bundle.export(ws, "bob", "repayment@1", root / "after.zip", reason="audit")
    return {"ws": ws, "root": root, "raw": raw, "view": view, "done": done}


def _rejected(path: Path) -> str:
    with pytest.raises(IntegrityError) as caught:
        bundle.verify(path)
    return caught.value.msg


def test_the_bundle_before_carried_the_rows_and_the_one_after_carries_none(
    world: dict[str, Any],
) -> None:
    before = zipfile.ZipFile(world["root"] / "before.zip").namelist()
    after = zipfile.ZipFile(world["root"] / "after.zip").namelist()
    assert "data/people-1.parquet" in before and "data/people-features-1.parquet" in before
    assert not [n for n in after if n.endswith(".parquet") and n.startswith("data/")]
    assert {"data/people-1.erased.json", "data/people-features-1.erased.json"} <= set(after)
    seq = world["done"].seq
    assert receipt_member(seq) in after
    erased = json.loads(
        zipfile.ZipFile(world["root"] / "after.zip").read("data/people-1.erased.json")
    )
    assert erased["erased_at"] == seq and erased["receipt"] == receipt_member(seq)


def test_the_receipt_verifies_offline(world: dict[str, Any]) -> None:
    report = bundle.verify(world["root"] / "after.zip")
    assert any(
        "1 deletion receipt is the one its signed data.erase event names" in line
        for line in report["checked"]
    )
    # The receipt lists the earlier full bundle among those that carried the data.
    receipt = json.loads(
        zipfile.ZipFile(world["root"] / "after.zip").read(receipt_member(world["done"].seq))
    )
    exports = [c for c in receipt["carried_by"] if c["action"] == "bundle.export"]
    assert [(c["data_level"], c["carried"]) for c in exports] == [("full", "rows")]


def test_a_changed_receipt_member_is_rejected(world: dict[str, Any], tmp_path: Path) -> None:
    entries = members_of(world["root"] / "after.zip")
    name = receipt_member(world["done"].seq)
    entries[name] = entries[name].replace(b"GDPR Art. 17(1)(c)", b"GDPR Art. 17(1)(e)")
    out = tmp_path / "changed.zip"
    write_canonical(out, entries)
    assert "was changed" in _rejected(out)


def _forged(world: dict[str, Any], tmp_path: Path, edit: Any) -> Path:
    """The bundle after ``edit(entries)``, its manifest re-signed by the exporter's own key."""
    entries = members_of(world["root"] / "after.zip")
    edit(entries)
    resign(world["ws"], entries)
    out = tmp_path / "forged.zip"
    write_canonical(out, entries)
    return out


def test_a_forged_receipt_under_a_re_signed_manifest_is_rejected(
    world: dict[str, Any], tmp_path: Path
) -> None:
    name = receipt_member(world["done"].seq)

    def kinder(entries: dict[str, bytes]) -> None:
        doc = json.loads(entries[name])
        doc["method"] = "crypto-shred"  # claim the stronger method
        entries[name] = canonical_bytes(doc)

    assert "is not named by any event" in _rejected(_forged(world, tmp_path, kinder))

    def kinder_and_unnamed(entries: dict[str, bytes]) -> None:
        kinder(entries)  # and no longer a ledger object, so no event need name its digest
        manifest = json.loads(entries["manifest.json"])
        for member in manifest["members"]:
            if member["path"] == name:
                member["ledger_object"] = False
        entries["manifest.json"] = canonical_bytes(manifest)

    forged = _forged(world, tmp_path, kinder_and_unnamed)
    assert "is not the receipt the signed event #" in _rejected(forged)


def test_a_receipt_left_out_or_added_is_rejected(world: dict[str, Any], tmp_path: Path) -> None:
    seq = world["done"].seq
    name = receipt_member(seq)

    def drop(entries: dict[str, bytes]) -> None:
        del entries[name]

    assert "has no receipt" in _rejected(_forged(world, tmp_path, drop))

    def add(entries: dict[str, bytes]) -> None:
        entries[receipt_member(seq - 1)] = entries[name]

    assert "is the receipt of no data.erase event" in _rejected(_forged(world, tmp_path, add))


CLAIMS = [
    ("event", lambda d: d.update(event=d["event"] + 1)),
    ("when", lambda d: d.update(when="2020-01-01T00:00:00.000000Z")),
    ("approved_by.actor", lambda d: d["approved_by"].update(actor="alice")),
    ("why.reason", lambda d: d["why"].update(reason="routine")),
    ("why.legal_basis", lambda d: d["why"].update(legal_basis="GDPR Art. 17(1)(e)")),
    ("why.rule", lambda d: d["why"].update(rule="retention 7y")),
    ("why.as_of", lambda d: d["why"].update(as_of="2030-01-01")),
    ("what.target", lambda d: d["what"].update(target="snapshot:other@1")),
    ("what.snapshots", lambda d: d["what"]["snapshots"].pop()),
    ("what.objects", lambda d: d["what"]["objects"].pop()),
    ("what.keys", lambda d: d["what"].update(keys=["dk-" + "0" * 32])),
    ("method", lambda d: d.update(method="crypto-shred")),
    ("models", lambda d: d.update(models=[])),
    ("carried_by", lambda d: d.update(carried_by=[])),
    ("subject", lambda d: d.update(subject={"column": "email"})),
    ("replaced_by", lambda d: d.update(replaced_by="people@9")),
    ("approved_by.policy", lambda d: d["approved_by"].update(policy={"gate": "erase"})),
]


@pytest.mark.parametrize(("claim", "edit"), CLAIMS, ids=[c for c, _ in CLAIMS])
def test_every_claim_of_a_receipt_must_equal_its_event(
    world: dict[str, Any], claim: str, edit: Any
) -> None:
    ws: Workspace = world["ws"]
    seq = world["done"].seq
    body = ws.ledger.entry(seq).decode()
    receipt = erasure.receipt(ws, seq)
    assert receipt_problems(receipt, seq, body) == []
    forged = copy.deepcopy(receipt)
    edit(forged)
    problems = receipt_problems(forged, seq, body)
    assert problems and problems[0].startswith(f"its {claim}")


def test_a_receipt_that_contradicts_its_own_copies_is_caught() -> None:
    body = {
        "ts": "t", "actor": "dana", "reason": "r",
        "data": {"target": "snapshot:x@1", "snapshots": ["x@1"], "method": "crypto-shred",
                 "legal_basis": "b", "rule": "request", "keys": [], "objects": ["aa"],
                 "models": [], "carried_by": [], "receipt_digest": "d"},
    }  # fmt: skip
    receipt = {
        "format": bundle_verifier.RECEIPT_FORMAT, "event": 5, "when": "t",
        "approved_by": {"actor": "dana", "policy": None},
        "why": {"reason": "r", "legal_basis": "b", "rule": "request", "as_of": None},
        "what": {"target": "snapshot:x@1", "snapshots": ["x@1"], "keys": [],
                 "objects": [{"sha256": "aa", "method": "delete"}]},
        "method": "crypto-shred", "models": [], "carried_by": [], "subject": None,
        "replaced_by": None,
    }  # fmt: skip
    assert receipt_problems(receipt, 5, body) == [
        "it says crypto-shred, but some copies were only deleted"
    ]
    receipt["what"]["objects"] = [{"sha256": "aa", "method": "crypto-shred", "key": "dk-x"}]  # type: ignore[index]
    assert receipt_problems(receipt, 5, body) == [
        "a copy it calls crypto-shredded names a key the event did not destroy"
    ]


def test_a_receipt_altered_in_the_object_store_fails_audit_verify(world: dict[str, Any]) -> None:
    ws: Workspace = world["ws"]
    path = ws.objects.path(world["done"].receipt_digest)
    original = path.read_bytes()
    try:
        path.write_bytes(original.replace(b"REQ-1", b"REQ-2"))
        report = verification.verify(ws)
        assert not report.ok
        assert any(world["done"].receipt_digest[:16] in f for f in report.failures)
    finally:
        path.write_bytes(original)
    assert verification.verify(ws).ok
