"""Erasure: who may, what stops it, what it covers, and what everything says afterwards.

One workspace for the module (the default policy pack installed, a table of people with
PII through an encrypted snapshot, a feature view, validation, training and a full bundle),
erased once by the ``erased`` fixture; every refusal test works on a small dataset of its
own, so no test depends on another's order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.audit import bundle, verification
from core.data import data_keys, encryption, features, snapshots, validation
from core.governance import inventory, policy
from core.identity import actors
from core.kernel.errors import (
    CheckFailedError,
    NotFoundError,
    PermissionDeniedError,
    UsageError,
)
from core.kernel.workspace import Workspace
from core.modelling import models, training
from core.privacy import erasure
from storage.bundle_verifier import receipt_problems
from tests.conftest import ROOT
from tests.core.test_pii import INTAKE, TRAIN, VIEW, VIEW_SQL, VIEW_SUITE, people, write
from tests.privacy.erasing import actions, hold, ledger_bytes, release, small_csv

PII = ["full_name", "email", "date_of_birth", "case_number"]
BASIS = "GDPR Art. 17(1)(b)"
DEFAULT = ROOT / "sample_data" / "policies" / "default"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from core.audit import admin

    root = tmp_path_factory.mktemp("erase")
    ws = admin.init(root / "ws", "alice")
    actors.add(ws, "alice", "dana", ["data-steward"])
    actors.add(ws, "alice", "sam", ["data-scientist"])
    actors.add(ws, "alice", "bob", ["auditor"])
    actors.add(ws, "alice", "olga", ["operator"])
    actors.add(ws, "alice", "pat", ["approver"])
    policy.install(ws, "alice", DEFAULT, reason="the default pack")
    csv, _ = people(root, rows=120, seed=11)
    raw, _ = snapshots.add(ws, "dana", csv, dataset="people", pii=PII, encrypt=True)
    validation.run(ws, "sam", raw.ref, write(root, "intake.toml", INTAKE))
    write(root, "people.sql", VIEW_SQL)
    view, _ = features.build(ws, "sam", write(root, "view.toml", VIEW))
    validation.run(ws, "sam", view.ref, write(root, "view_suite.toml", VIEW_SUITE))
    run = training.train(ws, "sam", write(root, "train.toml", TRAIN))
    models.register(ws, "sam", run.run_id, "repayment")
    models.sign(ws, "sam", "repayment@1")
    before = bundle.export(ws, "bob", "repayment@1", root / "before.zip", reason="audit")
    return {"ws": ws, "root": root, "raw": raw, "view": view, "before": before}


@pytest.fixture(scope="module")
def erased(world: dict[str, Any]) -> dict[str, Any]:
    ws: Workspace = world["ws"]
    raw, view = world["raw"], world["view"]
    keys = [
        json.loads(raw.encryption)["raw"]["id"],
        json.loads(raw.encryption)["parquet"]["id"],
        json.loads(view.encryption)["parquet"]["id"],
    ]
    assert all(data_keys.exists(ws, k) for k in keys)
    done = erasure.erase(ws, "dana", "people@1", reason="request REQ-2026-7", legal_basis=BASIS)
    return {**world, "done": done, "keys": keys}


def _fresh(world: dict[str, Any], name: str, *, encrypt: bool = False) -> str:
    ws: Workspace = world["ws"]
    snap, _ = snapshots.add(
        ws, "dana", small_csv(world["root"], name), dataset=name, pii=["customer_id"],
        encrypt=encrypt,
    )  # fmt: skip
    return snap.ref


def test_erasure_crypto_shreds_the_snapshot_and_its_view(erased: dict[str, Any]) -> None:
    ws: Workspace = erased["ws"]
    done = erased["done"]
    raw, view = erased["raw"], erased["view"]
    assert done.snapshots == [raw.ref, view.ref] and done.method == "crypto-shred"
    assert sorted(done.keys) == sorted(erased["keys"])
    assert not any(data_keys.exists(ws, k) for k in erased["keys"])
    copies = [raw.raw_digest, raw.parquet_digest, view.parquet_digest]
    assert sorted(done.objects) == sorted(copies)
    assert not any(ws.objects.exists(d) for d in copies)
    assert ws.objects.exists(raw.profile_digest)  # aggregates are kept, and said so
    assert done.models == ["repayment@1"] and done.remaining == []
    assert done.shredded.keys == 3 and done.shredded.objects == 3
    for snap in (raw, view):
        row = snapshots.show(ws, snap.ref)
        assert row.erased_seq == done.seq


def test_one_event_signed_by_the_eraser_names_the_receipt(erased: dict[str, Any]) -> None:
    ws: Workspace = erased["ws"]
    done = erased["done"]
    body = ws.ledger.entry(done.seq).decode()
    assert body["action"] == "data.erase" and body["actor"] == "dana"
    assert "~sig" in body and body["data"]["receipt_digest"] == done.receipt_digest
    assert [o["sha256"] for o in body["objects"]] == [done.receipt_digest]  # type: ignore[index]
    assert body["policy"]["gate"] == "erase" and body["policy"]["allow"] is True  # type: ignore[index]
    receipt = erasure.receipt(ws, done.seq)
    assert receipt_problems(receipt, done.seq, body) == []
    assert receipt["approved_by"]["actor"] == "dana"
    assert receipt["approved_by"]["policy"]["name"] == "default"
    assert receipt["why"] == {
        "reason": "request REQ-2026-7", "legal_basis": BASIS, "rule": "request", "as_of": None,
    }  # fmt: skip
    assert "no team ledger" in receipt["replicas"]
    # Who carried the data before: the reads (validate, feature, train), the full bundle.
    carried = {
        (c["action"], c.get("purpose") or c.get("data_level")) for c in receipt["carried_by"]
    }
    assert ("bundle.export", "full") in carried
    assert {("data.access", p) for p in ("validate", "feature", "train")} <= carried
    assert actions(ws).count("data.erase") == 1


def test_readers_of_an_erased_snapshot_get_a_clear_error(erased: dict[str, Any]) -> None:
    ws: Workspace = erased["ws"]
    root = erased["root"]
    with (
        pytest.raises(NotFoundError, match=r"erased at event #\d+"),
        encryption.open(ws, "sam", ["people@1"], "validate"),
    ):
        pass
    with pytest.raises(NotFoundError, match="erased"):
        validation.run(ws, "sam", "people@1", root / "intake.toml")
    with pytest.raises(NotFoundError, match="erased"):
        training.train(ws, "sam", root / "train.toml")


def test_erasing_again_records_nothing_and_says_so(erased: dict[str, Any]) -> None:
    ws: Workspace = erased["ws"]
    before = ledger_bytes(ws)
    again = erasure.erase(ws, "dana", "people@1", reason="again", legal_basis=BASIS)
    assert again.already and again.seq == erased["done"].seq
    assert again.shredded.keys == again.shredded.objects == 0 and again.remaining == []
    via_view = erasure.erase(ws, "dana", erased["view"].ref, reason="again", legal_basis=BASIS)
    assert via_view.already and via_view.seq == erased["done"].seq
    assert ledger_bytes(ws) == before


def test_audit_verify_passes_and_reports_the_erasure(erased: dict[str, Any]) -> None:
    report = verification.verify(erased["ws"])
    assert report.ok, report.failures
    assert "1 erasure: 3 objects erased" in report.erasures
    assert "3 data keys destroyed" in report.erasures


def test_the_inventory_flags_the_model_trained_on_erased_data(erased: dict[str, Any]) -> None:
    [line] = [x for x in inventory.inventory(erased["ws"]) if x.name == "repayment"]
    assert line.erased_data == [
        {"erasure": erased["done"].seq, "target": "snapshot:people@1", "versions": ["repayment@1"]}
    ]


def test_an_actor_without_an_erase_role_is_refused_and_nothing_is_recorded(
    world: dict[str, Any],
) -> None:
    ws: Workspace = world["ws"]
    ref = _fresh(world, "roles")
    before = ledger_bytes(ws)
    for who in ("sam", "olga", "bob", "pat"):
        with pytest.raises(PermissionDeniedError):
            erasure.erase(ws, who, ref, reason="x", legal_basis=BASIS)
    assert ledger_bytes(ws) == before
    assert snapshots.show(ws, ref).erased_seq is None


def test_bad_requests_are_refused_before_anything_is_recorded(world: dict[str, Any]) -> None:
    ws: Workspace = world["ws"]
    ref = _fresh(world, "badreq")
    before = ledger_bytes(ws)
    with pytest.raises(NotFoundError, match="no snapshot"):
        erasure.erase(ws, "dana", "nobody@3", reason="x", legal_basis=BASIS)
    with pytest.raises(UsageError, match="--reason"):
        erasure.erase(ws, "dana", ref, reason="  ", legal_basis=BASIS)
    with pytest.raises(UsageError, match="--legal-basis"):
        erasure.erase(ws, "dana", ref, reason="x", legal_basis="")
    with pytest.raises(UsageError, match="both --subject-column and --subject"):
        erasure.erase(ws, "dana", ref, reason="x", legal_basis=BASIS, subject="C-1")
    with pytest.raises(UsageError, match="not a date"):
        erasure.erase(ws, "dana", ref, reason="x", legal_basis=BASIS, as_of="soon")
    assert ledger_bytes(ws) == before


def test_a_legal_hold_blocks_the_erasure_until_it_is_lifted(world: dict[str, Any]) -> None:
    ws: Workspace = world["ws"]
    ref = _fresh(world, "held", encrypt=True)
    seq = hold(ws, "pat", "dataset:held", "litigation L-88")
    before = ledger_bytes(ws)
    with pytest.raises(CheckFailedError, match=rf"legal hold #{seq} .*litigation L-88"):
        erasure.erase(ws, "dana", ref, reason="x", legal_basis=BASIS)
    assert ledger_bytes(ws) == before  # neither an erasure nor a policy decision
    release(ws, "pat", seq, "dataset:held", "case closed")
    done = erasure.erase(ws, "dana", ref, reason="x", legal_basis=BASIS)
    assert done.snapshots == [ref] and not done.already


def test_a_hold_on_a_derived_view_blocks_erasing_its_input(world: dict[str, Any]) -> None:
    ws: Workspace = world["ws"]
    root: Path = world["root"]
    ref = _fresh(world, "viewheld")
    (root / "vh.sql").write_text("SELECT region, amount FROM raw")
    (root / "vh.toml").write_text(
        f'[view]\nname = "viewheld-features"\nsql = "vh.sql"\n[inputs]\nraw = "{ref}"\n'
    )
    view, _ = features.build(ws, "dana", root / "vh.toml")
    seq = hold(ws, "dana", f"snapshot:{view.ref}", "audit of the view")
    with pytest.raises(CheckFailedError, match=f"{view.ref} is under legal hold #{seq}"):
        erasure.erase(ws, "dana", ref, reason="x", legal_basis=BASIS)
    assert snapshots.show(ws, ref).erased_seq is None


def test_the_policy_refuses_an_undeclared_basis_and_records_the_denial(
    world: dict[str, Any],
) -> None:
    ws: Workspace = world["ws"]
    ref = _fresh(world, "policy")
    with pytest.raises(policy.PolicyDeniedError, match="is not one this policy accepts"):
        erasure.erase(ws, "dana", ref, reason="x", legal_basis="they asked nicely")
    last = ws.ledger.tail()
    assert last is not None
    body = last.decode()
    assert body["action"] == "policy.deny" and body["subjects"] == [f"snapshot:{ref}"]
    assert snapshots.show(ws, ref).erased_seq is None


def test_a_plaintext_snapshot_is_deleted_and_the_receipt_says_blocks_may_survive(
    world: dict[str, Any],
) -> None:
    ws: Workspace = world["ws"]
    ref = _fresh(world, "plain")
    snap = snapshots.show(ws, ref)
    done = erasure.erase(ws, "dana", ref, reason="x", legal_basis="GDPR Art. 17(1)(a)")
    assert done.method == "delete" and done.keys == []
    assert not ws.objects.exists(snap.raw_digest or "") and not ws.objects.exists(
        snap.parquet_digest
    )
    receipt = erasure.receipt(ws, done.seq)
    assert "may still hold old blocks" in receipt["method_note"]
    assert {o["method"] for o in receipt["what"]["objects"]} == {"delete"}


def test_the_same_bytes_in_another_dataset_are_erased_with_them(world: dict[str, Any]) -> None:
    """Content addressing makes them one object: keeping it for the other keeps the data."""
    ws: Workspace = world["ws"]
    csv = small_csv(world["root"], "twin", tag="twin")
    a, _ = snapshots.add(ws, "dana", csv, dataset="twin-a")
    b, _ = snapshots.add(ws, "dana", csv, dataset="twin-b")
    assert a.raw_digest == b.raw_digest
    done = erasure.erase(ws, "dana", a.ref, reason="x", legal_basis=BASIS)
    assert done.snapshots == [a.ref, b.ref]
    receipt = erasure.receipt(ws, done.seq)
    assert receipt["what"]["covered"][1] == {
        "snapshot": b.ref, "why": f"holds the same bytes as {a.ref}",
    }  # fmt: skip
    assert snapshots.show(ws, b.ref).erased_seq == done.seq


def test_free_text_that_looks_personal_is_warned_about(world: dict[str, Any]) -> None:
    ws: Workspace = world["ws"]
    ref = _fresh(world, "warned")
    done = erasure.erase(
        ws, "dana", ref, reason="asked by jo@example.org on +44 20 7946 0958", legal_basis=BASIS
    )
    assert any("an e-mail address and a phone number" in w for w in done.warnings)
    assert all("jo@example.org" not in w for w in done.warnings)  # never quoted back


def test_a_full_bundle_exported_before_carried_rows_only_as_digests(world: dict[str, Any]) -> None:
    """Encrypted rows never leave in a bundle (enc's rule); the receipt still lists it."""
    import zipfile

    names = zipfile.ZipFile(world["before"]["path"]).namelist()
    assert "data/people-1.digests.json" in names and "data/people-1.parquet" not in names


def test_a_bundle_after_the_erasure_verifies_under_the_policy(
    erased: dict[str, Any], tmp_path: Path
) -> None:
    """The erase gate's decision rides on the data.erase event, and the verifier asks it."""
    from storage.bundle_verifier import receipt_member

    out = tmp_path / "after.zip"
    bundle.export(erased["ws"], "bob", "repayment@1", out, reason="audit")
    report = bundle.verify(out)
    assert any("deletion receipt" in line for line in report["checked"])
    import zipfile

    assert receipt_member(erased["done"].seq) in zipfile.ZipFile(out).namelist()
