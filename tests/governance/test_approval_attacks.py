"""Forged approvals and promotions: the gate does not count them, ``audit verify`` names them.

The insider has write access to the workspace folder and the same OS account (so, in these
tests, every actor's keyring entry). Each attack below is the cheapest way to fake a sign-off:
write the catalog row, or append an event properly signed by the insider's own key whose
content lies. The signature checks pass for the latter; the governance checks must not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from core.audit import verification
from core.governance import approvals, lifecycle, policy, statement
from core.governance.events import ModelApproved, ModelPromoted
from core.identity import keys as keys_mod
from core.identity.actors import needs
from core.identity.attest import DSSE_MEDIA_TYPE, signing_key
from core.identity.signing import (
    INTOTO_PAYLOAD_TYPE,
    canonical_payload,
    envelope,
    pae,
)
from core.identity.signing import statement as in_toto
from core.kernel.kinds import Payload, new_event
from core.kernel.rows import ApprovalRow
from tests.governance.conftest import SAMPLE, Gov

M = "credit-risk@1"


def _forge(gov: Gov, actor: str, payload: Payload, objects: list[Any] | None = None) -> int:
    """Append an event signed by ``actor``'s own key, bypassing the command's checks."""
    with gov.ws.session(actor) as s:
        needs(action="forge")(s)
        entry = s.commit(new_event(actor, payload, [f"model:{M}"], "forged", objects or []))
    return int(entry.seq)


def _envelope(gov: Gov, signer: str, **pred: Any) -> tuple[Any, str]:
    """A genuine envelope signed by ``signer``'s key over the given predicate fields."""
    ws = gov.ws
    with ws.session(signer) as s:
        from core.identity.signer import authority_of

        key = signing_key(s, None)
        digest = s.catalog.model(pred.get("model", M)).model_digest  # type: ignore[union-attr]
        body = {
            "workspace": authority_of(s).workspace_id,
            "model": M,
            "stage": "approved",
            "decision": "approve",
            "approver": signer,
            "role": "validator",
            "reason": "x",
            "conditions": [],
            "evidence": [],
            "policy": policy.in_force(s).digest,  # type: ignore[union-attr]
            "signed_at": "2026-12-01T00:00:00.000000Z",
            "request": None,
            **pred,
        }
        subject = pred.pop("subject_digest", digest)
        body.pop("subject_digest", None)
        doc = in_toto([(statement.subject_name(body["model"]), subject)],
                      statement.PREDICATE_TYPE, body)  # fmt: skip
        payload = canonical_payload(doc)
        sig = keys_mod.sign_with(key, pae(INTOTO_PAYLOAD_TYPE, payload))
        ref = s.put_blob(
            canonical_payload(envelope(INTOTO_PAYLOAD_TYPE, payload, key.key_id, sig)),
            DSSE_MEDIA_TYPE,
        )
    return ref, key.key_id


def _approved(ref: Any, key_id: str, digest: str, **data: Any) -> ModelApproved:
    fields: dict[str, Any] = {
        "model": M,
        "model_digest": digest,
        "stage": "approved",
        "decision": "approve",
        "role": "validator",
        "approver": "vic",
        "key_id": key_id,
        "envelope": ref.sha256,
        "policy": "",
        "evidence": [],
        "conditions": [],
    }
    fields.update(data)
    return ModelApproved(**fields)


def _digest(gov: Gov, ref: str = M) -> str:
    with gov.ws.session("") as s:
        row = s.catalog.model(ref)
    assert row is not None
    return row.model_digest


def _policy(gov: Gov) -> str:
    with gov.ws.session("") as s:
        bundle = policy.in_force(s)
    assert bundle is not None
    return bundle.digest


def _failures(gov: Gov) -> list[str]:
    report = verification.verify(gov.ws)
    return report.failures


def test_a_clean_governed_history_verifies(gov: Gov) -> None:
    lifecycle.promote(gov.ws, "sam", M, to="validated", reason="x")
    approvals.approve(gov.ws, "vic", M, reason="ok")
    approvals.approve(gov.ws, "tess", M, role="validator", reason="ok")
    approvals.approve(gov.ws, "cora", M, reason="fyi", reject=False)
    lifecycle.promote(gov.ws, "sam", M, to="approved", reason="go")
    assert _failures(gov) == []


def test_an_approval_row_written_into_the_catalog_counts_for_nothing(gov: Gov) -> None:
    real = approvals.approve(gov.ws, "vic", M, reason="ok")
    lifecycle.promote(gov.ws, "sam", M, to="validated", reason="x")
    # The insider copies vic's row as tess's (the second validator the tier needs).
    fake = real.as_dict() | {"seq": real.seq + 1000, "approver": "tess"}
    con = duckdb.connect(str(gov.root / "catalog.duckdb"))
    cols = ", ".join(ApprovalRow.COLUMNS)
    con.execute(
        f"INSERT INTO approvals ({cols}) VALUES ({', '.join('?' for _ in ApprovalRow.COLUMNS)})",
        [fake[c] for c in ApprovalRow.COLUMNS],
    )
    con.close()
    with pytest.raises(policy.PolicyDeniedError):
        lifecycle.promote(gov.ws, "sam", M, to="approved", reason="go")
    with gov.ws.session("") as s:
        deny = json.loads(s.catalog.events(action="policy.deny")[-1].body)["policy"]
    listing = {a["seq"]: a for a in deny["input"]["approvals"]["list"]}
    assert listing[real.seq + 1000]["counted"] is False
    assert "key of 'vic'" in listing[real.seq + 1000]["why_not"]
    assert any("approvals" in f for f in _failures(gov))


def test_an_event_in_another_approvers_name(gov: Gov) -> None:
    ref, key_id = _envelope(gov, "vic")
    seq = _forge(
        gov, "vic",
        _approved(ref, key_id, _digest(gov), approver="tess", policy=_policy(gov)),
        [ref],
    )  # fmt: skip
    failures = _failures(gov)
    assert any(f"event #{seq}" in f and "in 'tess'" in f for f in failures), failures


def test_an_approval_replayed_from_another_model(gov: Gov) -> None:
    from core.modelling import models, training

    spec = Path(gov.root.parent / "train.toml")
    spec.write_text((SAMPLE / "train.toml").read_text().replace("seed = 42", "seed = 7"))
    run = training.train(gov.ws, "sam", spec)
    models.register(gov.ws, "sam", run.run_id, "credit-risk")
    other = "credit-risk@2"
    assert _digest(gov, other) != _digest(gov)
    genuine = approvals.approve(gov.ws, "vic", M, reason="ok")
    # vic's real envelope for @1, recorded as an approval of @2 with @2's digest.
    payload = _approved(
        type("R", (), {"sha256": genuine.envelope_digest})(),
        genuine.key_id,
        _digest(gov, other),
        model=other,
        policy=_policy(gov),
    )
    with gov.ws.session("vic") as s:
        needs(action="forge")(s)
        raw = gov.ws.objects.read_verified(genuine.envelope_digest)
        obj = s.put_blob(raw, DSSE_MEDIA_TYPE)
        seq = s.commit(new_event("vic", payload, [f"model:{other}"], "forged", [obj])).seq
    failures = _failures(gov)
    assert any(f"event #{seq}" in f and "was signed for" in f for f in failures), failures


def test_an_approval_bound_to_another_digest(gov: Gov) -> None:
    old = "00" * 32
    ref, key_id = _envelope(gov, "vic", subject_digest=old)
    seq = _forge(gov, "vic", _approved(ref, key_id, old, policy=_policy(gov)), [ref])
    failures = _failures(gov)
    assert any(f"event #{seq}" in f and "registered one" in f for f in failures), failures


def test_an_import_signed_by_a_non_approver(gov: Gov) -> None:
    # alice may import; the statement is sam's own, claiming a validator role he lacks.
    ref, key_id = _envelope(gov, "sam", approver="sam")
    seq = _forge(
        gov, "alice",
        _approved(ref, key_id, _digest(gov), approver="sam", imported=True, policy=_policy(gov)),
        [ref],
    )  # fmt: skip
    failures = _failures(gov)
    assert any(f"event #{seq}" in f and "did not hold that role" in f for f in failures), failures


def test_a_relabelled_approval(gov: Gov) -> None:
    # vic signed a rejection; the event records an approval.
    ref, key_id = _envelope(gov, "vic", decision="reject")
    seq = _forge(gov, "vic", _approved(ref, key_id, _digest(gov), policy=_policy(gov)), [ref])
    failures = _failures(gov)
    assert any(f"event #{seq}" in f and "decision" in f for f in failures), failures


def test_a_promotion_that_counts_too_few_approvals(gov: Gov) -> None:
    lifecycle.promote(gov.ws, "sam", M, to="validated", reason="x")
    one = approvals.approve(gov.ws, "vic", M, reason="ok")
    move = ModelPromoted(M, _digest(gov), "validated", "approved", [one.seq])
    seq = _forge(gov, "sam", move)
    failures = _failures(gov)
    assert any(f"event #{seq}" in f and "without the approvals" in f for f in failures), failures


def test_tampered_envelope_bytes_count_for_nothing(gov: Gov) -> None:
    ws = gov.ws
    real = approvals.approve(ws, "vic", M, reason="ok")
    approvals.approve(ws, "tess", M, role="validator", reason="ok")
    lifecycle.promote(ws, "sam", M, to="validated", reason="x")
    blob = gov.root / "objects" / "sha256" / real.envelope_digest[:2] / real.envelope_digest[2:]
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes().replace(b'"sig":"', b'"sig":"AAAA', 1))
    with pytest.raises(policy.PolicyDeniedError):
        lifecycle.promote(ws, "sam", M, to="approved", reason="go")
    assert approvals.verify_approval(ws, real.seq) is not None
    failures = _failures(gov)
    assert any(real.envelope_digest[:16] in f for f in failures), failures
