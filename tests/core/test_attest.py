"""Signed statements: valid, tampered, and signed before or after a revocation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.identity import attest, keys
from core.kernel.errors import KeyStoreError, NotFoundError, UsageError


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "validation-report.json"
    path.write_text('{"passed": true}')
    return path


def test_sign_and_verify_then_revoke(ws, report: Path) -> None:
    key, _ = keys.create(ws, "alice", owner="sam", label="sam-attest")
    att = attest.create(ws, "sam", report, reason="validation evidence")
    assert att.statement["subject"][0] == {
        "name": report.name,
        "digest": {"sha256": ws.objects.put_file(report)},
    }
    check = attest.verify(ws, att.envelope_digest[:12], file=report)
    assert check.ok and check.status == "active"
    keys.revoke(ws, "sam", key.key_id, reason="laptop stolen")
    after = attest.verify(ws, att.envelope_digest)
    assert after.ok and after.status == "signed-then-revoked"
    with pytest.raises(KeyStoreError, match="no longer signs"):
        attest.create(ws, "sam", report, key_ref=key.key_id)


def test_wrong_file_and_tampered_envelope(ws, report: Path, tmp_path: Path) -> None:
    keys.create(ws, "sam")
    att = attest.create(ws, "sam", report)
    other = tmp_path / "other.json"
    other.write_text('{"passed": false}')
    mismatch = attest.verify(ws, att.envelope_digest, file=other)
    assert not mismatch.ok and mismatch.status == "subject-mismatch"
    blob = ws.objects.path(att.envelope_digest)
    env = json.loads(blob.read_text())
    blob.chmod(0o644)
    blob.write_text(json.dumps({**env, "payloadType": "x"}))
    with pytest.raises(Exception, match="altered"):
        attest.verify(ws, att.envelope_digest)


def test_refusals(ws, report: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a readable file"):
        attest.create(ws, "sam", tmp_path / "missing.json")
    keys.create(ws, "bob")
    with pytest.raises(UsageError, match="belongs to 'bob'"):
        attest.create(ws, "sam", report, key_ref="bob-keyring")
    with pytest.raises(NotFoundError, match="no attestation"):
        attest.verify(ws, "ffff")
