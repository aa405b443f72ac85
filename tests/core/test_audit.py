"""Verification against every kind of change made outside ledgerml, on real workspaces."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from core.audit import checkpoints, log, proofs, verification
from core.identity import keys
from core.kernel.errors import IntegrityError, NotFoundError, PermissionDeniedError
from core.kernel.workspace import Workspace
from tests.conftest import copy_workspace


def segment(ws: Workspace) -> Path:
    return ws.ledger.segment_path(0)


def rewrite_lines(ws: Workspace, edit) -> None:  # type: ignore[no-untyped-def]
    path = segment(ws)
    lines = path.read_bytes().splitlines(keepends=True)
    edit(lines)
    path.write_bytes(b"".join(lines))


@pytest.fixture(scope="module")
def busy_template(ws_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``ws`` workspace with two more keys and a checkpoint between them."""
    root = tmp_path_factory.mktemp("busy") / "ws"
    ws = copy_workspace(ws_template, root)
    keys.create(ws, "alice", owner="sam", label="sam-sign", reason="sign")
    checkpoints.checkpoint(ws, "alice")
    keys.create(ws, "alice", owner="sam", label="spare", reason="spare key")
    return root


@pytest.fixture
def busy_ws(busy_template: Path, ws_path: Path) -> Workspace:
    """A private copy of ``busy_template``: every test here edits its workspace."""
    return copy_workspace(busy_template, ws_path)


def test_clean_workspace_verifies_and_reports_the_unanchored_tail(busy_ws: Workspace) -> None:
    report = verification.verify(busy_ws)
    assert report.ok, report.failures
    assert report.events == 5 and report.anchored == 4 and report.unanchored == 1
    assert report.objects_checked == 6 and report.catalog == "consistent"
    assert any("#5..#5 are not covered" in n for n in report.notes)
    checkpoints.checkpoint(busy_ws, "alice")
    assert verification.verify(busy_ws).unanchored == 0


def test_checkpoint_needs_admin_or_auditor_and_is_idempotent(busy_ws: Workspace) -> None:
    with pytest.raises(PermissionDeniedError, match="'admin' or 'auditor'"):
        checkpoints.checkpoint(busy_ws, "sam")
    first, created = checkpoints.checkpoint(busy_ws, "bob")
    again, created_again = checkpoints.checkpoint(busy_ws, "alice")
    assert created and not created_again and first.root == again.root


@pytest.mark.parametrize(
    ("name", "edit", "bad_event"),
    [
        ("edit", lambda ls: ls.__setitem__(1, ls[1].replace(b'"bob"', b'"eve"')), 2),
        ("delete", lambda ls: ls.__delitem__(2), 3),
        ("insert", lambda ls: ls.insert(2, ls[1]), 3),
        ("reorder", lambda ls: ls.__setitem__(slice(1, 3), [ls[2], ls[1]]), 2),
    ],
)
def test_naive_edits_name_the_first_bad_event(busy_ws: Workspace, name, edit, bad_event) -> None:
    rewrite_lines(busy_ws, edit)
    report = verification.verify(busy_ws)
    assert not report.ok, name
    assert report.first_bad_event == bad_event, (name, report.failures)


def test_a_rechained_rewrite_is_caught_by_checkpoint_and_catalog(busy_ws: Workspace) -> None:
    """An attacker who recomputes every hash after editing event 2 still fails."""
    import hashlib

    lines = segment(busy_ws).read_bytes().splitlines()
    prev = "0" * 64
    out = []
    for line in lines:
        seq, _, body = line.split(b" ", 2)
        body = body.replace(b'"roles":["auditor"]', b'"roles":["admin"]')
        new = b"%s %s %s" % (seq, prev.encode(), body)
        prev = hashlib.sha256(new).hexdigest()
        out.append(new + b"\n")
    segment(busy_ws).write_bytes(b"".join(out))
    report = verification.verify(busy_ws)
    assert not report.ok
    assert report.first_bad_event == 2  # bob's actor.add no longer matches alice's signature
    assert any("does not match its content" in f for f in report.failures)


def test_swapped_object_is_caught(busy_ws: Workspace) -> None:
    digest = busy_ws.objects.digests()[0]
    path = busy_ws.objects.path(digest)
    path.chmod(0o644)
    path.write_bytes(b"-----BEGIN PUBLIC KEY-----\nswapped\n")
    report = verification.verify(busy_ws)
    assert not report.ok
    assert any(digest[:16] in f and "hashes to" in f for f in report.failures)


def test_rollback_behind_an_external_checkpoint(busy_ws: Workspace, tmp_path: Path) -> None:
    checkpoints.checkpoint(busy_ws, "alice")
    kept = tmp_path / "kept.json"
    shutil.copy(sorted(busy_ws.checkpoints_dir.glob("*.json"))[-1], kept)
    rewrite_lines(busy_ws, lambda ls: ls.__delitem__(slice(4, None)))
    for cp in busy_ws.checkpoints_dir.glob("*.json"):
        if checkpoints.read_checkpoint(cp).size > 4:
            cp.unlink()  # the attacker also removes the workspace's own newer checkpoint
    busy_ws.catalog_path.unlink()  # …and the catalog that remembers event 5
    report = verification.verify(busy_ws, external=[kept])
    assert not report.ok
    assert any("rolled back" in f for f in report.failures)
    assert verification.verify(busy_ws).ok  # without the external copy nothing can tell


def test_forged_checkpoint_signature_is_rejected(busy_ws: Workspace) -> None:
    path = sorted(busy_ws.checkpoints_dir.glob("*.json"))[0]
    env = json.loads(path.read_text())
    env["signatures"][0]["sig"] = env["signatures"][0]["sig"][::-1]
    path.write_text(json.dumps(env))
    report = verification.verify(busy_ws)
    assert not report.ok and any("checkpoint at size 4" in f for f in report.failures)


def test_hand_edited_catalog_is_caught(busy_ws: Workspace) -> None:
    con = duckdb.connect(str(busy_ws.catalog_path))
    con.execute("UPDATE actors SET roles = ['admin'] WHERE name = 'bob'")
    con.close()
    report = verification.verify(busy_ws)
    assert not report.ok and any("actors table differs" in f for f in report.failures)


def _own_key(ws: Workspace, actor: str):  # type: ignore[no-untyped-def]
    return next(
        k for k in keys.list_keys(ws, owner=actor) if k.purpose == "actor" and k.status == "active"
    )


def test_checkpoints_signed_by_a_retired_key_stay_valid(busy_ws: Workspace) -> None:
    old = _own_key(busy_ws, "alice")
    keys.rotate(busy_ws, "alice", old.key_id, reason="yearly")
    keys.revoke(busy_ws, "alice", old.key_id, reason="retired")
    report = verification.verify(busy_ws)
    assert report.ok, report.failures
    assert report.checkpoints[0].detail == "valid, signed by alice"


def test_a_key_compromised_before_a_checkpoint_voids_it(busy_ws: Workspace) -> None:
    old = _own_key(busy_ws, "alice")
    keys.rotate(busy_ws, "alice", old.key_id, reason="laptop stolen")
    keys.revoke(
        busy_ws, "alice", old.key_id, reason="stolen", compromised_since="2000-01-01T00:00:00Z"
    )
    report = verification.verify(busy_ws)
    assert not report.ok
    assert any("compromised since 2000-01-01" in f for f in report.failures), report.failures


def test_key_rotation_keeps_checkpoints_flowing(busy_ws: Workspace) -> None:
    old = _own_key(busy_ws, "alice")
    keys.rotate(busy_ws, "alice", old.key_id, reason="yearly")
    cp, _ = checkpoints.checkpoint(busy_ws, "alice")
    assert cp.key_id != old.key_id
    assert verification.verify(busy_ws).ok


def test_the_organisation_key_signs_no_checkpoint_and_its_rotation_certifies(
    busy_ws: Workspace,
) -> None:
    org = next(k for k in keys.list_keys(busy_ws) if k.purpose == "organisation")
    keys.rotate(busy_ws, "alice", org.key_id, reason="yearly ceremony")
    keys.create(busy_ws, "alice", owner="bob", label="bob-second")  # certified by the new key
    report = verification.verify(busy_ws)
    assert report.ok, report.failures
    with pytest.raises(PermissionDeniedError, match="lacks the role 'admin'"):
        keys.rotate(busy_ws, "bob", org.key_id)


def test_inclusion_proof_round_trip_and_tamper(busy_ws: Workspace) -> None:
    doc = proofs.prove(busy_ws, 2)
    public = {k.key_id: k.public_pem for k in keys.list_keys(busy_ws)}
    proofs.verify_proof(doc, public)
    forged = dict(doc, line=doc["line"].replace("bob", "eve"))
    with pytest.raises(IntegrityError, match="does not hash"):
        proofs.verify_proof(forged, public)
    with pytest.raises(NotFoundError, match="no checkpoint covers event #5"):
        proofs.prove(busy_ws, 5)
    with pytest.raises(NotFoundError, match="no event #99"):
        proofs.prove(busy_ws, 99)


def test_log_filters(busy_ws: Workspace) -> None:
    assert [e.action for e in log.log(busy_ws, action="key")] == ["key.create", "key.create"]
    assert [e.seq for e in log.log(busy_ws, actor="alice")] == [1, 2, 3, 4, 5]
    assert [e.seq for e in log.log(busy_ws, subject="actor:sam")] == [3, 4, 5]
    assert [e.seq for e in log.log(busy_ws, subject="actor:bob")] == [2]
    assert [e.seq for e in log.log(busy_ws, limit=2)] == [4, 5]
    assert log.log(busy_ws, since="2999-01-01") == []
    assert len(log.log(busy_ws, since="1d")) == 5
    with pytest.raises(Exception, match="cannot read --since"):
        log.log(busy_ws, since="last tuesday")


def test_gate_tables_edited_in_the_catalog_are_caught(busy_ws: Workspace) -> None:
    from core.identity import actors

    actors.add(busy_ws, "alice", "val", ["validator"])
    con = duckdb.connect(str(busy_ws.catalog_path))
    con.execute("UPDATE actors SET roles = ['admin'] WHERE name = 'val'")
    con.close()
    report = verification.verify(busy_ws)
    assert not report.ok and "actors" in report.catalog


def test_a_rechained_malformed_event_is_reported_not_raised(busy_ws: Workspace) -> None:
    import hashlib

    size, head = busy_ws.ledger.head()
    line = b'%d %s {"action":"key.revoke"}' % (size + 1, head.encode())
    with busy_ws.ledger.segment_path(0).open("ab") as handle:
        handle.write(line + b"\n")
    assert hashlib.sha256(line).hexdigest()  # the chain itself is valid
    report = verification.verify(busy_ws)
    assert not report.ok and any("unknown format" in f for f in report.failures)
    with pytest.raises(IntegrityError, match="malformed"):
        log.log(busy_ws)


def test_init_refuses_a_ledger_whose_config_was_removed(busy_ws: Workspace) -> None:
    from core.audit import admin
    from core.kernel.errors import UsageError

    (busy_ws.root / "config.toml").unlink()
    with pytest.raises(UsageError, match=r"config\.toml is missing"):
        admin.init(busy_ws.root, "mallory")
