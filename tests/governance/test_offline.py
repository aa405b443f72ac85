"""Approvals signed off the machine: request, sign with no workspace, import (and attacks)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from core.governance import approvals, lifecycle, offline
from core.identity.keys.lifecycle import REQUEST_TYPE
from core.kernel.errors import IntegrityError, PermissionDeniedError, UsageError
from tests.conftest import run_cli
from tests.governance.conftest import Gov

M = "credit-risk@1"


def _request(gov: Gov, tmp_path: Path, stage: str = "approved") -> Path:
    return offline.request(gov.ws, "alice", M, stage=stage, out=tmp_path / "req.json")


def _edited(req: Path, tmp_path: Path, **changes: object) -> Path:
    doc = json.loads(req.read_bytes())
    doc.update(changes)
    out = tmp_path / "edited.json"
    out.write_text(json.dumps(doc))
    return out


def _key_file(gov: Gov, actor: str, tmp_path: Path) -> Path:
    """The key request file an actor kept from `key generate` (rebuilt from the ledger)."""
    with gov.ws.session("") as s:
        from core.identity.signer import authority_of

        key = authority_of(s).signing_key(actor)
    assert key is not None
    path = tmp_path / f"{actor}.key.json"
    path.write_text(
        json.dumps(
            {
                "type": REQUEST_TYPE,
                "key_id": key.key_id,
                "algorithm": key.algorithm,
                "backend": key.backend,
                "handle": key.handle,
                "public_pem": key.public_pem,
            }
        )
    )
    return path


def _events(gov: Gov) -> int:
    return int(gov.ws.ledger.head()[0])


def test_request_sign_without_a_workspace_import_and_count(gov: Gov, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["--workspace", str(gov.root), "--as", "alice", "approval", "request", M,
         "--for", "approved", "-o", str(tmp_path / "req.json")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    req = tmp_path / "req.json"
    doc = json.loads(req.read_bytes())
    with gov.ws.session("") as s:
        model = s.catalog.model(M)
    assert model is not None and doc["model_digest"] == model.model_digest
    assert doc["roles"] == ["validator"] and doc["k"] == 2
    assert "sam" not in doc["approvers"] and "bot" not in doc["approvers"]
    assert {"vic", "tess", "cora", "dora", "sec"} <= set(doc["approvers"])
    # The approver's own machine: no workspace anywhere (run_cli starts in the repository).
    before = _events(gov)
    signed = run_cli(
        "--as", "vic", "approval", "sign", str(req), "-o", str(tmp_path / "vic.json"),
        "--reason", "reviewed offline", "--condition", "not for under 21s",
        env={"LEDGERML_WORKSPACE": str(tmp_path / "nowhere")},
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    assert _events(gov) == before  # signing recorded nothing
    env = json.loads((tmp_path / "vic.json").read_bytes())
    assert env["payloadType"] == "application/vnd.in-toto+json"
    result = CliRunner().invoke(
        app,
        ["--workspace", str(gov.root), "--as", "alice", "--json", "approval", "import",
         str(tmp_path / "vic.json"), "--reason", "by courier"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)
    assert (row["approver"], row["recorded_by"], row["role"]) == ("vic", "alice", "validator")
    assert row["conditions"] == ["not for under 21s"]
    assert approvals.verify_approval(gov.ws, int(row["seq"])) is None
    # Imported twice: recorded once.
    again = offline.import_approval(gov.ws, "alice", tmp_path / "vic.json", "again")
    assert again.seq == row["seq"]
    # It counts like an approval given on the workstation.
    approvals.approve(gov.ws, "tess", M, role="validator", reason="ok")
    lifecycle.promote(gov.ws, "sam", M, to="validated", reason="x")
    promoted = lifecycle.promote(gov.ws, "sam", M, to="approved", reason="go")
    assert int(row["seq"]) in json.loads(promoted.approvals)


def test_a_tampered_envelope_is_refused(gov: Gov, tmp_path: Path) -> None:
    out = offline.sign(_request(gov, tmp_path), tmp_path / "a.json", approver="vic",
                       role=None, reason="ok")  # fmt: skip
    env = json.loads(out.read_bytes())
    doc = json.loads(base64.b64decode(env["payload"]))
    doc["predicate"]["conditions"] = []  # drop a condition... or here, relabel the stage
    doc["predicate"]["stage"] = "validated"
    env["payload"] = base64.b64encode(json.dumps(doc).encode()).decode()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(env))
    before = _events(gov)
    with pytest.raises(IntegrityError, match="does not verify"):
        offline.import_approval(gov.ws, "alice", bad, "x")
    assert _events(gov) == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("workspace", "another-workspace", "replayed"),
        ("model_digest", "00" * 32, "recorded digest"),
        ("policy", {"digest": "sha256:" + "11" * 32}, "policy"),
    ],
)
def test_a_genuine_signature_over_the_wrong_facts_is_refused(
    gov: Gov, tmp_path: Path, field: str, value: object, message: str
) -> None:
    # The request file is not signed: an insider edits it and the approver signs in good
    # faith. The import holds the signed statement to this workspace's own facts.
    req = _edited(_request(gov, tmp_path), tmp_path, **{field: value})
    out = offline.sign(req, tmp_path / "a.json", approver="vic", role=None, reason="ok")
    with pytest.raises(IntegrityError, match=message):
        offline.import_approval(gov.ws, "alice", out, "x")


def test_signed_with_someone_elses_key_or_role_or_by_a_developer(gov: Gov, tmp_path: Path) -> None:
    from core.identity import actors

    req = _request(gov, tmp_path)
    # A data scientist may not import approvals at all.
    good = offline.sign(req, tmp_path / "g.json", approver="vic", role=None, reason="ok")
    with pytest.raises(PermissionDeniedError, match="lacks the role"):
        offline.import_approval(gov.ws, "sam", good, "x")
    # cora claims the approval but signs with vic's key (both on this test account).
    forged = offline.sign(
        req, tmp_path / "f.json", approver="cora", role="compliance", reason="x",
        key_ref=str(_key_file(gov, "vic", tmp_path)),
    )  # fmt: skip
    with pytest.raises(IntegrityError, match="key of 'vic'"):
        offline.import_approval(gov.ws, "alice", forged, "x")
    # cora signs with her own key as a validator, a role she does not hold: the request
    # names her roles, so signing refuses; an edited request gets past that, the import not.
    with pytest.raises(PermissionDeniedError, match="does not hold the role"):
        offline.sign(req, tmp_path / "u.json", approver="cora", role="validator", reason="x")
    doc = json.loads(req.read_bytes())
    doc["approvers"]["cora"]["roles"] = ["validator"]
    usurp = offline.sign(
        _edited(req, tmp_path, approvers=doc["approvers"]), tmp_path / "u.json",
        approver="cora", role="validator", reason="x",
    )  # fmt: skip
    with pytest.raises(PermissionDeniedError, match="did not hold that role"):
        offline.import_approval(gov.ws, "alice", usurp, "x")
    # sam trained it; granted validator later, his offline approval is still refused.
    actors.change(gov.ws, "alice", "sam", "grant", "also validates", role="validator")
    mine = offline.sign(
        req, tmp_path / "s.json", approver="sam", role="validator", reason="x",
        key_ref=str(_key_file(gov, "sam", tmp_path)),
    )  # fmt: skip
    with pytest.raises(PermissionDeniedError, match="separation of duties"):
        offline.import_approval(gov.ws, "alice", mine, "x")


def test_bad_files(gov: Gov, tmp_path: Path) -> None:
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    with pytest.raises(UsageError, match="cannot read the approval request"):
        offline.sign(junk, tmp_path / "o.json", approver="vic", role=None, reason="x")
    with pytest.raises(UsageError, match="cannot read the signed approval"):
        offline.import_approval(gov.ws, "alice", junk, "x")
    with pytest.raises(UsageError, match="names no key"):
        offline.sign(_request(gov, tmp_path), tmp_path / "o.json", approver="nobody",
                     role=None, reason="x")  # fmt: skip
    with pytest.raises(UsageError, match="cannot approve for stage"):
        offline.request(gov.ws, "alice", M, stage="production", out=tmp_path / "r.json")
    assert not (tmp_path / "o.json").exists()
