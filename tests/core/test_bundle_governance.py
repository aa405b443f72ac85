"""Bundles carry governance, and the stand-alone verifier re-checks it offline.

A real workspace: sam trains, registers and signs ``credit-risk@1``; vic (validator) tiers it
and evaluates it; vic and cora (compliance) approve it with their own keys; it is promoted
to validated and then approved under a test policy (tier 2: two distinct people, one of them
a validator). The bundle an auditor receives must carry every approval envelope, the policy
bundle in force, the version's lifecycle history and its decisions, and ``bundle verify``
must reject, with a sentence naming what is wrong, every forgery an insider with write
access and the same OS account (so: the keyring) can make: a replayed approval, one signed
by a key not the approver's, one bound to an older build, one by the model's developer, a
promotion short of its k-of-n, an edited policy member, a decision naming another bundle,
a governed event without its decision, a risk tier lowered by hand, a stage move the
lifecycle forbids (a retired version brought back), a break-glass by a role the policy does
not let break glass, a decision whose recorded input (actor, roles, digest, tier, stage,
evidence) is not what the bundled ledger says.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from core.audit import bundle
from core.identity import signer
from core.identity.signing import INTOTO_PAYLOAD_TYPE, canonical_payload, envelope, pae, statement
from core.kernel.events import Event, ObjectRef
from core.kernel.workspace import Workspace
from storage import bundle_verifier
from tests.core.test_bundle import members_of, resign, write_canonical

SAMPLE = Path(__file__).parents[2] / "sample_data" / "german-credit"

POLICY_TOML = """\
[bundle]
name = "bundle-governance-test"
version = "1"

[governance]
untiered = 1
evidence_change = "void"
break_glass_roles = ["admin"]

[[governance.bands]]
min_score = 1
tier = 2

[[governance.bands]]
min_score = 15
tier = 1

[[governance.tiers]]
tier = 1
k = 3
roles = ["validator", "compliance", "data-owner"]
approval_valid_days = 365
grace_days = 30
revalidate_days = 365
evidence_max_age_days = 180

[[governance.tiers]]
tier = 2
k = 2
roles = ["validator"]
approval_valid_days = 365
grace_days = 30
revalidate_days = 730
evidence_max_age_days = 365
"""

POLICY_REGO = """\
package ledgerml.gate

import rego.v1

deny contains msg if {
	input.gate == "approve"
	input.request.decision == "approve"
	some d in input.model.developers
	d == input.actor.name
	msg := sprintf("%s developed %s and may not approve it", [input.actor.name, input.model.ref])
}

deny contains msg if {
	input.gate == "promote"
	input.request.to_stage == "approved"
	not input.request.break_glass
	not input.approvals.check.ok
	msg := "the approvals do not meet the tier's k-of-n rule"
}
"""

POLICY_CASES = """\
[[case]]
name = "self-approval is refused"
gate = "approve"
input.actor.name = "sam"
input.model = { ref = "m@1", developers = ["sam"] }
input.request.decision = "approve"
allow = false
reason = "may not approve"

[[case]]
name = "an independent approval passes"
gate = "approve"
input.actor.name = "vic"
input.model = { ref = "m@1", developers = ["sam"] }
input.request.decision = "approve"
allow = true

[[case]]
name = "approved needs the check"
gate = "promote"
input = { request = { to_stage = "approved" }, approvals = { check = { ok = false } } }
allow = false
reason = "k-of-n"

[[case]]
name = "break glass skips the check"
gate = "promote"
input.request = { to_stage = "approved", break_glass = true }
input.approvals = { check = { ok = false } }
allow = true
"""


def write_policy(folder: Path) -> Path:
    """The test policy as a folder, the way an admin hands it to ``policy install``."""
    (folder / "tests").mkdir(parents=True)
    (folder / "bundle.toml").write_text(POLICY_TOML)
    (folder / "gate.rego").write_text(POLICY_REGO)
    (folder / "tests" / "cases.toml").write_text(POLICY_CASES)
    return folder


@dataclasses.dataclass
class Stage:
    """The governed workspace before cora's approval, ready for export, and its bundle."""

    half: Path
    ready: Path
    bundle: Path


@pytest.fixture(autouse=True)
def _no_trusted_keys(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tester's own trusted-keys file must not anchor the bundles under test."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Stage:
    """Train once; keep a copy before cora's approval; approve, promote and export."""
    from core.audit import admin
    from core.data import features, snapshots, validation
    from core.documents import modelcard
    from core.evidence import evaluation
    from core.governance import approvals, lifecycle, policy, risk
    from core.identity import actors
    from core.modelling import models, training

    root = tmp_path_factory.mktemp("bundlegov")
    ws = admin.init(root / "ws", "alice", reason="test")
    for name, roles in (
        ("sam", ["data-scientist", "data-steward", "validator"]),  # develops; holds validator
        ("vic", ["validator"]),
        ("cora", ["compliance"]),
        ("audrey", ["auditor"]),
    ):
        actors.add(ws, "alice", name, roles)
    snapshots.add(ws, "sam", SAMPLE / "german.data", dataset="german-credit")
    features.build(ws, "sam", SAMPLE / "features.toml")
    validation.run(ws, "sam", "german-credit-features", SAMPLE / "features_suite.toml")
    run = training.train(ws, "sam", SAMPLE / "train.toml")
    models.register(ws, "sam", run.run_id, "credit-risk")
    models.sign(ws, "sam", "credit-risk@1")
    models.register(ws, "sam", run.run_id, "scorecard")  # another model, the same bytes
    policy.install(ws, "alice", write_policy(root / "policy"), reason="governance test policy")
    risk.assess(
        ws, "vic", "credit-risk", impact=2, likelihood=3, rationale="consumer credit", reason="r"
    )
    evaluation.evaluate(ws, "vic", "credit-risk@1", SAMPLE / "evaluation.toml")
    approvals.approve(ws, "vic", "credit-risk@1", reason="challenger evaluation holds")
    approvals.approve(ws, "vic", "scorecard@1", reason="for the replay test")
    lifecycle.promote(ws, "vic", "credit-risk@1", to="validated", reason="validated")
    half = root / "half"
    shutil.copytree(ws.root, half)
    approvals.approve(
        ws,
        "cora",
        "credit-risk@1",
        role="compliance",
        reason="fair lending review",
        conditions=["not for applicants under 21"],
    )
    lifecycle.promote(ws, "vic", "credit-risk@1", to="approved", reason="two approvals")
    modelcard.write_card(
        ws,
        "vic",
        "credit-risk@1",
        root / "reports",
        answers_path=SAMPLE / "model_card.toml",
        pdf=True,  # recorded once here, not rendered again by each of this file's exports
    )
    ready = root / "ready"
    shutil.copytree(ws.root, ready)
    out = root / "credit-risk-1.zip"
    bundle.export(ws, "audrey", "credit-risk@1", out, reason="audit")
    return Stage(half, ready, out)


# ---- helpers: what an insider with the workspace folder and the keyring can do ------------


def _events(ws: Workspace) -> list[tuple[int, dict[str, Any]]]:
    return [(e.seq, e.decode()) for e in ws.ledger.iter_entries()]


def _find(ws: Workspace, action: str, **data: Any) -> tuple[int, dict[str, Any]]:
    """The last event of ``action`` whose data has the given fields."""
    found = [
        (q, b)
        for q, b in _events(ws)
        if b["action"] == action and all(b["data"].get(k) == v for k, v in data.items())
    ]
    assert found, (action, data)
    return found[-1]


def _key(ws: Workspace, actor: str) -> Any:
    with ws.session() as s:
        return next(
            k
            for k in reversed(s.catalog.keys_of(actor))
            if k.purpose == "actor" and k.status == "active"
        )


def _signed_approval(
    ws: Workspace, signer_name: str, *, subject: str, digest: str, predicate: dict[str, Any]
) -> tuple[ObjectRef, str]:
    """An approval envelope signed with ``signer_name``'s real key, stored as a blob."""
    from core.identity import keys

    key = _key(ws, signer_name)
    payload = canonical_payload(
        statement([(subject, digest)], "https://ledgerml.dev/approval/v1", predicate)
    )
    sig = keys.sign_with(key, pae(INTOTO_PAYLOAD_TYPE, payload))
    raw = canonical_payload(envelope(INTOTO_PAYLOAD_TYPE, payload, key.key_id, sig))
    digest_of = ws.objects.put_bytes(raw)
    return ObjectRef(digest_of, len(raw), "application/vnd.dsse.envelope.v1+json"), key.key_id


def _predicate(ws: Workspace, seq: int) -> dict[str, Any]:
    """The predicate a real approval's approver signed."""
    data = dict(ws.ledger.entry(seq).decode()["data"])
    doc = json.loads(
        base64.b64decode(json.loads(ws.objects.read_verified(data["envelope"]))["payload"])
    )
    return dict(doc["predicate"])


def _append(ws: Workspace, actor: str, event: Event) -> None:
    """Seal ``event`` with ``actor``'s real key and append it at the ledger's tail."""
    last = list(ws.ledger.iter_entries())[-1].decode()
    event = dataclasses.replace(event, auth=tuple(last["auth"]))  # type: ignore[arg-type]
    with ws.session(actor) as s:
        sig = signer.prove(s, signer.authority_of(s))
    ws.ledger.append([sig.seal(event)])
    signer.forget()


def _forged_bundle(source: Path, tmp: Path, forge: Any) -> Path:
    """Copy the workspace, let ``forge`` append events, and export a bundle of it."""
    copy = tmp / "ws"
    shutil.copytree(source, copy)
    signer.forget()
    forge(Workspace.open(copy))
    signer.forget()
    out = tmp / "forged.zip"
    bundle.export(Workspace.open(copy), "audrey", "credit-risk@1", out, reason="audit")
    return out


def _rejected(path: Path) -> str:
    with pytest.raises(bundle_verifier.RejectedError) as caught:
        bundle_verifier.verify(str(path))
    return str(caught.value)


def _approval_event(
    ws: Workspace,
    *,
    approver: str,
    role: str,
    signer_name: str | None = None,
    digest: str | None = None,
    subject: str = "model:credit-risk@1",
    signed: dict[str, Any] | None = None,
) -> tuple[str, Event]:
    """A model.approve of credit-risk@1 as an insider writes it: cora's real one, altered.

    ``signed`` overrides fields of the predicate the key signs (the event keeps its own).
    """
    seq, real = _find(ws, "model.approve", approver="cora")
    pred = _predicate(ws, seq) | {"approver": approver, "role": role} | (signed or {})
    model_digest = digest or real["data"]["model_digest"]
    ref, key_id = _signed_approval(
        ws, signer_name or approver, subject=subject, digest=model_digest, predicate=pred
    )
    data = real["data"] | {
        "approver": approver,
        "role": role,
        "envelope": ref.sha256,
        "key_id": key_id,
        "model_digest": model_digest,
    }
    event = Event(
        approver,
        "model.approve",
        real["subjects"],
        data,
        "forged",
        [ref],
        policy=real["policy"],
    )
    return approver, event


# ---- the honest bundle ------------------------------------------------------------------


def test_the_bundle_carries_approvals_policy_history_and_decisions(staged: Stage) -> None:
    ws = Workspace.open(staged.ready)
    members = members_of(staged.bundle)
    vic, _ = _find(ws, "model.approve", approver="vic", model="credit-risk@1")
    cora, cora_event = _find(ws, "model.approve", approver="cora")
    other, _ = _find(ws, "model.approve", model="scorecard@1")
    risk, _ = _find(ws, "model.risk")
    install, installed = _find(ws, "policy.install")
    # Each approval's envelope, byte for byte as the approver's key signed it.
    assert members[f"signatures/approval-{cora}.dsse.json"] == ws.objects.read_verified(
        cora_event["data"]["envelope"]
    )
    assert f"signatures/approval-{vic}.dsse.json" in members
    assert f"signatures/approval-{other}.dsse.json" not in members  # another model's
    # The policy bundle in force, as stored: its bytes hash to the installed digest.
    digest = installed["data"]["digest"]
    policy_raw = members[f"policy/{digest.removeprefix('sha256:')}.json"]
    assert "sha256:" + bundle_verifier._sha256(policy_raw) == digest
    # The excerpt carries the risk tier (a record about the name) and every governance event.
    seqs = {
        int(line.split(" ", 1)[0]) for line in members["ledger/events.jsonl"].decode().splitlines()
    }
    assert {vic, cora, risk, install} <= seqs and other not in seqs
    history = json.loads(members["governance/history.json"])
    assert history["model"] == "credit-risk@1" and history["stage"] == "approved"
    whats = [
        (e["what"], e.get("approver") or e.get("to_stage") or e.get("tier"))
        for e in history["events"]
    ]
    assert whats == [
        ("risk", 2),
        ("approve", "vic"),
        ("promote", "validated"),
        ("approve", "cora"),
        ("promote", "approved"),
    ]
    cora_entry = next(e for e in history["events"] if e.get("approver") == "cora")
    assert cora_entry["conditions"] == ["not for applicants under 21"]
    assert cora_entry["policy"] == digest and cora_entry["allow"] is True
    decisions = json.loads(members["governance/decisions.json"])
    assert {d["gate"] for d in decisions} == {"risk", "approve", "promote"}
    assert all(d["bundle"] == digest and d["allow"] for d in decisions)


def test_the_honest_bundle_verifies_with_its_governance_rechecked(staged: Stage) -> None:
    report = bundle.verify(staged.bundle)
    assert report["exit_code"] == 1  # unanchored: no organisation key pinned here
    checked = "\n".join(report["checked"])
    assert "2 approvals of credit-risk@1 by cora, vic verify: each signed" in checked
    assert "meets tier 2's rule" in checked and "2 distinct people (cora, vic)" in checked
    assert "each name the policy bundle in force" in checked
    assert (
        "2 promotions of credit-risk@1 replay as allowed moves from candidate to approved"
        in checked
    )
    assert "decision inputs agree with the bundled ledger" in checked
    assert "not checkable" not in checked
    gov = report["governance"]
    assert gov["stage"] == "approved"
    assert [(a["approver"], a["role"]) for a in gov["approvals"]] == [
        ("vic", "validator"),
        ("cora", "compliance"),
    ]
    assert [p["to_stage"] for p in gov["promotions"]] == ["validated", "approved"]


def _run_verify_py(path: Path, tmp: Path) -> Any:
    """The stand-alone verifier, a trusted copy (this installation's), in a fresh process."""
    import subprocess
    import sys

    script = tmp / "verify.py"
    script.write_bytes(Path(bundle_verifier.__file__).read_bytes())
    return subprocess.run([sys.executable, str(script), str(path)], capture_output=True, text=True)


def test_the_bundled_verify_py_reaches_the_same_verdict(staged: Stage, tmp_path: Path) -> None:
    assert members_of(staged.bundle)["verify.py"] == Path(bundle_verifier.__file__).read_bytes()
    done = _run_verify_py(staged.bundle, tmp_path)
    assert done.returncode == bundle_verifier.EXIT_UNANCHORED, done.stdout + done.stderr
    assert "ok  2 approvals of credit-risk@1 by cora, vic verify: each signed" in done.stdout


# ---- tampered bundles (the manifest re-signed by an insider holding the exporter's key) ---


def _tampered(staged: Stage, tmp: Path, edit: Any) -> Path:
    entries = members_of(staged.bundle)
    edit(entries)
    resign(Workspace.open(staged.ready), entries)
    out = tmp / "tampered.zip"
    write_canonical(out, entries)
    return out


def _unflag(entries: dict[str, bytes], prefix: str) -> None:
    """Mark members as not ledger evidence, so the manifest stops asking for an event."""
    manifest = json.loads(entries["manifest.json"])
    for m in manifest["members"]:
        if m["path"].startswith(prefix):
            m["ledger_object"] = False
    entries["manifest.json"] = json.dumps(manifest).encode()


def test_an_approval_envelope_swapped_for_another_models_is_rejected(
    staged: Stage, tmp_path: Path
) -> None:
    ws = Workspace.open(staged.ready)
    cora, _ = _find(ws, "model.approve", approver="cora")
    _, other = _find(ws, "model.approve", model="scorecard@1")
    member = f"signatures/approval-{cora}.dsse.json"
    replayed = ws.objects.read_verified(other["data"]["envelope"])

    def swap(entries: dict[str, bytes]) -> None:
        entries[member] = replayed

    assert "is not named by any event" in _rejected(_tampered(staged, tmp_path, swap))

    # The insider also unflags the member as ledger evidence: the approval check still holds.
    def swap_and_unflag(entries: dict[str, bytes]) -> None:
        entries[member] = replayed
        _unflag(entries, member)

    why = _rejected(_tampered(staged, tmp_path, swap_and_unflag))
    assert f"approval #{cora} (cora as compliance" in why
    assert "is not the envelope the event recorded" in why and "swapped" in why


def test_an_edited_policy_member_is_rejected(staged: Stage, tmp_path: Path) -> None:
    def lower_k(entries: dict[str, bytes]) -> None:
        [name] = [n for n in entries if n.startswith("policy/")]
        doc = json.loads(entries[name])
        for tier in doc["data"]["tiers"]:
            tier["k"] = 1
        entries[name] = json.dumps(doc).encode()

    assert "is not named by any event" in _rejected(_tampered(staged, tmp_path, lower_k))

    def lower_k_and_unflag(entries: dict[str, bytes]) -> None:
        lower_k(entries)
        _unflag(entries, "policy/")

    why = _rejected(_tampered(staged, tmp_path, lower_k_and_unflag))
    assert "policy/" in why and "was edited" in why and "the ledger installed" in why


def test_a_removed_approval_envelope_is_rejected(staged: Stage, tmp_path: Path) -> None:
    ws = Workspace.open(staged.ready)
    vic, _ = _find(ws, "model.approve", approver="vic", model="credit-risk@1")

    def drop(entries: dict[str, bytes]) -> None:
        del entries[f"signatures/approval-{vic}.dsse.json"]

    why = _rejected(_tampered(staged, tmp_path, drop))
    assert f"approval #{vic} (vic as validator" in why and "is not in the bundle" in why


# ---- forged ledgers (events sealed with the actors' real keys, then a real export) --------


def test_an_approval_replayed_from_another_model_is_rejected(staged: Stage, tmp_path: Path) -> None:
    def forge(ws: Workspace) -> None:
        _, other = _find(ws, "model.approve", model="scorecard@1")
        data = other["data"] | {"model": "credit-risk@1"}  # scorecard's envelope, relabelled
        subjects = [s for s in other["subjects"] if not s.startswith("model:")]
        event = Event(
            "vic",
            "model.approve",
            [*subjects, "model:credit-risk@1"],
            data,
            "replayed",
            [ObjectRef(data["envelope"], 0, "application/vnd.dsse.envelope.v1+json")],
            policy=other["policy"],
        )
        _append(ws, "vic", event)

    why = _rejected(_forged_bundle(staged.ready, tmp_path, forge))
    assert "signed it for 'model:scorecard@1', not model:credit-risk@1" in why
    assert "replayed approval" in why


def test_a_genuine_approval_copied_to_the_tail_is_rejected(staged: Stage, tmp_path: Path) -> None:
    # The insider cannot sign as cora, but can copy cora's real, signed approval event to a
    # new number (the signature covers the body, not its place) and re-chain after it.
    replayed: list[int] = []  # the original and the copy

    def forge(ws: Workspace) -> None:
        seq, _ = _find(ws, "model.approve", approver="cora")
        ws.ledger.append([ws.ledger.entry(seq).body])
        replayed.extend([seq, ws.ledger.head()[0]])

    why = _rejected(_forged_bundle(staged.ready, tmp_path, forge))
    _, copy = replayed
    assert f"event #{copy} is dated" in why and f"not later than event #{copy - 1}" in why
    assert "replayed copy of an earlier signed event" in why


def test_an_approval_signed_by_a_key_not_the_approvers_is_rejected(
    staged: Stage, tmp_path: Path
) -> None:
    def forge(ws: Workspace) -> None:  # vic signs a "cora" approval with his own key
        actor, event = _approval_event(ws, approver="cora", role="compliance", signer_name="vic")
        _append(ws, actor, event)

    why = _rejected(_forged_bundle(staged.ready, tmp_path, forge))
    assert "(cora as compliance" in why and "of 'vic' (actor), not cora's own key" in why


def test_an_approval_whose_signature_does_not_verify_is_rejected(
    staged: Stage, tmp_path: Path
) -> None:
    def forge(ws: Workspace) -> None:  # signed by vic, but the event names cora's key
        actor, event = _approval_event(ws, approver="cora", role="compliance", signer_name="vic")
        raw = json.loads(ws.objects.read_verified(event.data["envelope"]))
        raw["signatures"][0]["keyid"] = _key(ws, "cora").key_id
        blob = canonical_payload(raw)
        digest = ws.objects.put_bytes(blob)
        data = event.data | {"envelope": digest, "key_id": _key(ws, "cora").key_id}
        ref = ObjectRef(digest, len(blob), "application/vnd.dsse.envelope.v1+json")
        _append(ws, actor, dataclasses.replace(event, data=data, objects=[ref]))

    why = _rejected(_forged_bundle(staged.ready, tmp_path, forge))
    assert "(cora as compliance" in why and "the signature does not verify" in why


def test_an_approval_bound_to_an_older_digest_is_rejected(staged: Stage, tmp_path: Path) -> None:
    older = "ab" * 32

    def forge(ws: Workspace) -> None:
        actor, event = _approval_event(ws, approver="cora", role="compliance", digest=older)
        _append(ws, actor, event)

    why = _rejected(_forged_bundle(staged.ready, tmp_path, forge))
    assert "is bound to build abababababababab…" in why
    assert "approves nothing here" in why


def test_an_approval_by_the_models_developer_is_rejected(staged: Stage, tmp_path: Path) -> None:
    # sam trained, registered and signed credit-risk@1, and holds the validator role: the
    # approve command (policy) refuses him, so the insider writes the event himself.
    def forge(ws: Workspace) -> None:
        actor, event = _approval_event(ws, approver="sam", role="validator")
        _append(ws, actor, event)

    path = _forged_bundle(staged.ready, tmp_path, forge)
    why = _rejected(path)
    assert "(sam as validator" in why and "sam developed credit-risk@1" in why
    assert "separation of duties" in why
    # The auditor's own copy of verify.py, run with nothing but Python, says the same.
    done = _run_verify_py(path, tmp_path)
    assert done.returncode == bundle_verifier.EXIT_REJECTED
    assert done.stdout.startswith("REJECTED: ") and "sam developed credit-risk@1" in done.stdout


def test_an_approval_by_someone_without_the_role_is_rejected(staged: Stage, tmp_path: Path) -> None:
    # audrey (an auditor) signs an approval "as compliance" with her own key, and vic, who
    # may import approvals signed off the machine, records it. (Recorded by audrey herself,
    # the workstation refuses it: her roles do not allow the event.)
    def forge(ws: Workspace) -> None:
        _, event = _approval_event(ws, approver="audrey", role="compliance")
        imported = dataclasses.replace(event, actor="vic", data=event.data | {"imported": True})
        _append(ws, "vic", imported)

    why = _rejected(_forged_bundle(staged.ready, tmp_path, forge))
    assert "(audrey as compliance" in why
    assert "audrey did not hold the role 'compliance'" in why and "(held: auditor)" in why


def test_a_promotion_short_of_k_of_n_is_rejected(staged: Stage, tmp_path: Path) -> None:
    # Before cora approved: vic's approval alone, and a promotion to approved forged with a
    # copy of a real allow decision.
    def forge(ws: Workspace) -> None:
        vic, _ = _find(ws, "model.approve", approver="vic", model="credit-risk@1")
        _, real = _find(ws, "model.promote", to_stage="validated")
        data = real["data"] | {
            "from_stage": "validated",
            "to_stage": "approved",
            "approvals": [vic],
        }
        _append(
            ws,
            "vic",
            Event(
                "vic",
                "model.promote",
                real["subjects"],
                data,
                "one is enough",
                policy=real["policy"],
            ),
        )

    why = _rejected(_forged_bundle(staged.half, tmp_path, forge))
    assert "to approved does not meet tier 2's approval rule under the bundled policy" in why
    assert "1 of the 2 distinct people tier 2 needs have approved" in why


def test_a_decision_naming_another_bundle_is_rejected(staged: Stage, tmp_path: Path) -> None:
    def forge(ws: Workspace) -> None:
        _, real = _find(ws, "model.promote", to_stage="approved")
        decision = real["policy"] | {"bundle": "sha256:" + "0" * 64, "allow": False}
        event = Event(
            "vic",
            "policy.deny",
            ["model:credit-risk@1"],
            {"gate": "promote", "subject": "model:credit-risk@1"},
            "refused",
            policy=decision,
        )
        _append(ws, "vic", event)

    why = _rejected(_forged_bundle(staged.ready, tmp_path, forge))
    assert "records a decision under policy bundle 0000000000000000…" in why
    assert "but the bundle in force then was" in why


def test_a_governed_event_without_its_decision_is_rejected(staged: Stage, tmp_path: Path) -> None:
    def forge(ws: Workspace) -> None:  # a risk tier recorded around the gate
        _, real = _find(ws, "model.risk")
        data = real["data"] | {"tier": 2, "impact": 1, "likelihood": 1}
        _append(ws, "vic", Event("vic", "model.risk", real["subjects"], data, "quietly"))

    why = _rejected(_forged_bundle(staged.ready, tmp_path, forge))
    assert "(model.risk) was recorded while policy" in why and "bypassed the policy gate" in why


def test_the_coverage_rows_for_approvals_name_them(staged: Stage) -> None:
    members = members_of(staged.bundle)
    table = json.loads(members["coverage.json"])
    rows = {r["item"]: r["files"] for r in table["auditors"]}
    approvals = sorted(n for n in members if n.startswith("signatures/approval-"))
    assert len(approvals) == 2
    for item in (
        "Model registry entry with metrics, artifacts and approval stamps",
        "History of tests, approvals and deployment timestamps",
    ):
        assert set(approvals) | {"governance/history.json"} <= set(rows[item]), item
        [events] = [f for f in rows[item] if f.startswith("ledger/events.jsonl (")]
        assert "model.approve" in events and "model.promote" in events, item
    assert not any("approval stamps" in n for n in table["notes"])
    # Deployments are the operations issue's: that gap stays said.
    assert any(n.startswith("No deployment timestamps are recorded") for n in table["notes"])
    annex = {r["item"]: r["files"] for r in table["annex_iv"]}
    assert set(approvals) <= set(annex["2(e). Human-oversight measures"])


def test_the_model_card_carries_the_sign_off(staged: Stage) -> None:
    members = members_of(staged.bundle)
    ws = Workspace.open(staged.ready)
    card = members["reports/model-card.md"].decode()
    block = card[card.index("## Sign-off") : card.index("## Gaps")]
    vic, _ = _find(ws, "model.approve", approver="vic", model="credit-risk@1")
    cora, _ = _find(ws, "model.approve", approver="cora")
    promoted, _ = _find(ws, "model.promote", to_stage="approved")
    assert f"Stage now: **approved (promotion #{promoted} by vic" in block
    assert f"counting approvals #{vic}, #{cora}" in block
    rows = [line for line in block.splitlines() if line.startswith("| #")]
    assert len(rows) == 2
    cora_key = _key(ws, "cora").key_id[:16]
    assert rows[1].startswith(f"| #{cora} |")
    for cell in ("cora", "APPROVED", "compliance", "approved", f"{cora_key}…"):
        assert f"| {cell} |" in rows[1], cell
    assert "| not for applicants under 21 | verifies |" in rows[1]
    assert "No approval recorded" not in block
    html = members["reports/model-card.html"].decode()
    assert "<h2>Sign-off</h2>" in html and f'<td data-label="key">{cora_key}…</td>' in html


def test_a_card_shows_a_forged_approval_row_as_not_verifying(staged: Stage, tmp_path: Path) -> None:
    import duckdb

    from core.documents import modelcard

    copy = tmp_path / "ws"
    shutil.copytree(staged.half, copy)
    ws = Workspace.open(copy)
    vic, _ = _find(ws, "model.approve", approver="vic", model="credit-risk@1")
    with duckdb.connect(str(ws.catalog_path)) as con:  # an insider edits the catalog
        con.execute("UPDATE approvals SET role = 'compliance' WHERE seq = ?", [vic])
    context = modelcard.card_context(Workspace.open(copy), "credit-risk@1", {})
    [row] = context.signoff
    assert row["role"] == "compliance" and row["signature"].startswith("DOES NOT VERIFY")
    assert context.stage.startswith("validated (promotion #")


def _export(root: Path, tmp: Path) -> Path:
    out = tmp / "out.zip"
    bundle.export(Workspace.open(root), "audrey", "credit-risk@1", out, reason="audit")
    return out


def test_a_break_glass_promotion_verifies_and_says_so(staged: Stage, tmp_path: Path) -> None:
    from core.governance import lifecycle

    copy = tmp_path / "ws"
    shutil.copytree(staged.half, copy)
    signer.forget()
    lifecycle.promote(
        Workspace.open(copy),
        "alice",
        "credit-risk@1",
        to="approved",
        reason="outage",
        break_glass=True,
    )
    report = bundle.verify(_export(copy, tmp_path))
    checked = "\n".join(report["checked"])
    assert "to approved was BREAK-GLASS: it counts no approvals and needs a review" in checked
    assert report["governance"]["promotions"][-1]["break_glass"] is True
    # alice is an admin, whom the policy lets break glass: the replay accepts it.
    assert "each break-glass by a role the policy in force allowed" in checked


def test_a_rejection_travels_in_the_bundle_and_blocks_nothing_it_should_not(
    staged: Stage, tmp_path: Path
) -> None:
    from core.governance import approvals

    copy = tmp_path / "ws"
    shutil.copytree(staged.half, copy)
    signer.forget()
    row = approvals.approve(
        Workspace.open(copy),
        "cora",
        "credit-risk@1",
        role="compliance",
        reason="gaps",
        reject=True,
    )
    path = _export(copy, tmp_path)
    report = bundle.verify(path)
    assert [a["decision"] for a in report["governance"]["approvals"]] == ["approve", "reject"]
    history = json.loads(members_of(path)["governance/history.json"])
    assert history["stage"] == "validated"
    assert ("reject", "cora") in [(e["what"], e.get("approver")) for e in history["events"]]
    assert f"signatures/approval-{row.seq}.dsse.json" in members_of(path)


def test_a_risk_tier_lowered_by_hand_is_rejected(staged: Stage, tmp_path: Path) -> None:
    # impact 5 x likelihood 4 = 20 is tier 1 (three approvers) under the policy; the insider
    # records tier 2 (two), with the real risk event's allow decision copied on.
    def forge(ws: Workspace) -> None:
        _, real = _find(ws, "model.risk")
        data = real["data"] | {"impact": 5, "likelihood": 4, "tier": 2}
        _append(
            ws,
            "vic",
            Event("vic", "model.risk", real["subjects"], data, "lower", policy=real["policy"]),
        )

    why = _rejected(_forged_bundle(staged.ready, tmp_path, forge))
    assert "records tier 2, but impact 5 x likelihood 4 is tier 1" in why


def test_an_approval_row_written_into_the_catalog_never_reaches_a_bundle(
    staged: Stage, tmp_path: Path
) -> None:
    import duckdb

    copy = tmp_path / "ws"
    shutil.copytree(staged.half, copy)
    ws = Workspace.open(copy)
    vic, _ = _find(ws, "model.approve", approver="vic", model="credit-risk@1")
    with duckdb.connect(str(ws.catalog_path)) as con:  # cora "approves" without signing
        con.execute(
            "INSERT INTO approvals SELECT 9999 AS seq, * EXCLUDE (seq) REPLACE "
            "('cora' AS approver, 'compliance' AS role) FROM approvals WHERE seq = ?",
            [vic],
        )
    path = _export(copy, tmp_path)
    members = members_of(path)
    assert "signatures/approval-9999.dsse.json" not in members
    report = bundle.verify(path)
    assert [a["approver"] for a in report["governance"]["approvals"]] == ["vic"]
    assert report["governance"]["stage"] == "validated"


def test_a_refused_self_approval_travels_in_the_bundle_as_a_denial(
    staged: Stage, tmp_path: Path
) -> None:
    from core.governance import approvals
    from core.governance.policy import PolicyDeniedError

    copy = tmp_path / "ws"
    shutil.copytree(staged.half, copy)
    signer.forget()
    with pytest.raises(PolicyDeniedError, match="sam developed credit-risk@1"):
        approvals.approve(Workspace.open(copy), "sam", "credit-risk@1", reason="mine")
    denied, _ = _find(Workspace.open(copy), "policy.deny")
    path = _export(copy, tmp_path)
    history = json.loads(members_of(path)["governance/history.json"])
    [entry] = [e for e in history["events"] if e["what"] == "deny"]
    assert entry["seq"] == denied and entry["actor"] == "sam" and entry["gate"] == "approve"
    assert entry["allow"] is False and "may not approve" in entry["reasons"][0]
    report = bundle.verify(path)  # a recorded refusal is evidence, not a fault
    assert [a["approver"] for a in report["governance"]["approvals"]] == ["vic"]


def test_an_approval_signed_off_the_machine_verifies_and_counts(
    staged: Stage, tmp_path: Path
) -> None:
    from core.governance import lifecycle, offline

    copy = tmp_path / "ws"
    shutil.copytree(staged.half, copy)
    signer.forget()
    req = offline.request(Workspace.open(copy), "vic", "credit-risk@1", stage="approved",
                          out=tmp_path / "req.json")  # fmt: skip
    signed = offline.sign(req, tmp_path / "cora.json", approver="cora", role="compliance",
                          reason="reviewed on the air-gapped laptop")  # fmt: skip
    row = offline.import_approval(Workspace.open(copy), "vic", signed, "carried over on a stick")
    lifecycle.promote(Workspace.open(copy), "vic", "credit-risk@1", to="approved", reason="two")
    path = _export(copy, tmp_path)
    report = bundle.verify(path)
    gov = report["governance"]
    assert (gov["approvals"][-1]["approver"], gov["approvals"][-1]["seq"]) == ("cora", row.seq)
    assert gov["stage"] == "approved"
    assert "2 distinct people (cora, vic)" in "\n".join(report["checked"])
    history = json.loads(members_of(path)["governance/history.json"])
    assert [e["imported"] for e in history["events"] if e["what"] == "approve"] == [False, True]


def test_an_approval_replayed_from_another_workspace_is_rejected(
    staged: Stage, tmp_path: Path
) -> None:
    def forge(ws: Workspace) -> None:  # cora's genuine signature, made for another workspace
        actor, event = _approval_event(
            ws, approver="cora", role="compliance", signed={"workspace": "elsewhere"}
        )
        _append(ws, actor, event)

    why = _rejected(_forged_bundle(staged.ready, tmp_path, forge))
    assert "was signed for workspace 'elsewhere', not this one" in why


def test_an_approval_relabelled_after_signing_is_rejected(staged: Stage, tmp_path: Path) -> None:
    def forge(ws: Workspace) -> None:  # cora signed a rejection; the event says approve
        actor, event = _approval_event(
            ws, approver="cora", role="compliance", signed={"decision": "reject"}
        )
        _append(ws, actor, event)

    why = _rejected(_forged_bundle(staged.ready, tmp_path, forge))
    assert "the event records decision 'approve', the approver signed 'reject'" in why


def test_a_policy_changed_midway_is_carried_whole(staged: Stage, tmp_path: Path) -> None:
    # vic approved under the test policy; the admin then installs the default pack, under
    # which cora approves and vic promotes. The bundle carries both policy bundles, and each
    # check reads the one in force at its own position.
    from core.governance import approvals, lifecycle, policy

    copy = tmp_path / "ws"
    shutil.copytree(staged.half, copy)
    signer.forget()
    default = Path(__file__).parents[2] / "sample_data" / "policies" / "default"
    installed, _ = policy.install(Workspace.open(copy), "alice", default, reason="the pack")
    approvals.approve(Workspace.open(copy), "cora", "credit-risk@1", role="compliance",
                      reason="fair lending review")  # fmt: skip
    lifecycle.promote(Workspace.open(copy), "vic", "credit-risk@1", to="approved", reason="ok")
    path = _export(copy, tmp_path)
    policies = sorted(n for n in members_of(path) if n.startswith("policy/"))
    assert len(policies) == 2 and f"policy/{installed.digest[7:]}.json" in policies
    report = bundle.verify(path)
    assert f"under policy {installed.digest[7:23]}…" in "\n".join(report["checked"])
    assert report["governance"]["stage"] == "approved"
    # The default pack's decisions are told the same facts: each input agrees with the ledger.
    assert "decision inputs agree with the bundled ledger" in "\n".join(report["checked"])


# ---- the lifecycle replayed, and each decision's input against the bundled ledger ---------


def _promote_event(
    ws: Workspace,
    actor: str,
    *,
    like: str,
    stage: str,
    data: dict[str, Any],
    request: dict[str, Any],
    edit: Any = None,
) -> Event:
    """A ``model.promote`` of credit-risk@1 as an insider writes it: the real promotion to
    ``like`` with ``data`` changed, its allow decision copied with the input told the stage
    ``stage`` and the ``request`` (so that, unless ``edit`` alters the input further, the
    decision's input is what the ledger says at the forged event's position)."""
    _, real = _find(ws, "model.promote", to_stage=like)
    decision = copy.deepcopy(real["policy"])
    decision["input"]["model"]["stage"] = stage
    decision["input"]["request"] = decision["input"].get("request", {}) | request
    if edit is not None:
        edit(decision["input"])
    return Event(
        actor, "model.promote", real["subjects"], real["data"] | data, "forged", policy=decision
    )


def _retired(source: Path, tmp: Path) -> Path:
    """A copy of ``source`` where vic, through the workstation, retired credit-risk@1."""
    from core.governance import lifecycle

    copy_root = tmp / "retired"
    shutil.copytree(source, copy_root)
    signer.forget()
    lifecycle.promote(Workspace.open(copy_root), "vic", "credit-risk@1", to="retired", reason="old")
    signer.forget()
    return copy_root


@pytest.mark.parametrize(
    ("came", "expected"),
    [
        # The attack found: the lifecycle row of the retirement deleted from the catalog, the
        # version promoted again: the event says "validated -> approved".
        ("validated", "starts from validated, but the bundled promotions before it leave"),
        # Honest about where it starts, but retired is final.
        ("retired", "is not an allowed move: from retired the lifecycle allows nothing"),
    ],
)
def test_a_retired_version_brought_back_is_rejected(
    staged: Stage, tmp_path: Path, came: str, expected: str
) -> None:
    def forge(ws: Workspace) -> None:
        event = _promote_event(
            ws,
            "vic",
            like="approved",
            stage=came,
            data={"from_stage": came, "to_stage": "approved"},
            request={"from_stage": came},
        )
        _append(ws, "vic", event)

    path = _forged_bundle(_retired(staged.ready, tmp_path), tmp_path, forge)
    why = _rejected(path)
    assert "promotion #" in why and f"of credit-risk@1 ({came} -> approved)" in why
    assert expected in why
    if came == "validated":
        assert "leave credit-risk@1 retired" in why
    done = _run_verify_py(path, tmp_path)
    assert done.returncode == bundle_verifier.EXIT_REJECTED and expected in done.stdout


def test_an_honest_retirement_verifies(staged: Stage, tmp_path: Path) -> None:
    report = bundle.verify(_export(_retired(staged.ready, tmp_path), tmp_path))
    assert report["exit_code"] == 1 and report["governance"]["stage"] == "retired"
    assert "3 promotions of credit-risk@1 replay as allowed moves from candidate to retired" in (
        "\n".join(report["checked"])
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"from_stage": "approved", "to_stage": "validated"},
            "(approved -> validated) is not an allowed move: from approved the lifecycle "
            "allows retired",
        ),
        (
            {"from_stage": "validated", "to_stage": "approved"},
            "(validated -> approved) starts from validated, but the bundled promotions "
            "before it leave credit-risk@1 approved",
        ),
        (
            {"from_stage": "approved", "to_stage": "retired", "model_digest": "ab" * 32},
            "(approved -> retired) moves build abababababababab…, not credit-risk@1's "
            "registered digest",
        ),
    ],
)
def test_a_stage_move_the_lifecycle_forbids_is_rejected(
    staged: Stage, tmp_path: Path, data: dict[str, Any], expected: str
) -> None:
    def forge(ws: Workspace) -> None:
        request = {k: v for k, v in data.items() if k != "model_digest"}
        event = _promote_event(
            ws, "vic", like="approved", stage="approved", data=data, request=request
        )
        _append(ws, "vic", event)

    assert expected in _rejected(_forged_bundle(staged.ready, tmp_path, forge))


def test_a_break_glass_by_a_role_not_allowed_to_is_rejected(staged: Stage, tmp_path: Path) -> None:
    # vic (validator) may promote, and the workstation refuses him break-glass (the policy's
    # break_glass_roles is ["admin"]); he writes the event himself, with a real decision.
    def forge(ws: Workspace) -> None:
        move = {"from_stage": "validated", "to_stage": "approved"}
        event = _promote_event(
            ws,
            "vic",
            like="validated",
            stage="validated",
            data=move | {"approvals": [], "break_glass": True},
            request=move | {"break_glass": True},
        )
        _append(ws, "vic", event)

    path = _forged_bundle(staged.half, tmp_path, forge)
    why = _rejected(path)
    assert "(validated -> approved) was BREAK-GLASS by vic, who may not break glass" in why
    assert "allows it to admin, and vic held validator at event #" in why
    done = _run_verify_py(path, tmp_path)
    assert done.returncode == bundle_verifier.EXIT_REJECTED and "may not break glass" in done.stdout


def _evidence(inp: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(e for e in inp["model"]["evidence"] if e["kind"] == kind)


def _forged_retirement(staged: Stage, tmp: Path, edit: Any) -> Path:
    """vic's retirement of credit-risk@1 written by hand, its decision's input ``edit``-ed."""

    def forge(ws: Workspace) -> None:
        move = {"from_stage": "approved", "to_stage": "retired"}
        event = _promote_event(
            ws,
            "vic",
            like="approved",
            stage="approved",
            data=move | {"approvals": []},
            request=move,
            edit=edit,
        )
        _append(ws, "vic", event)

    return _forged_bundle(staged.ready, tmp, forge)


def test_evidence_the_bundle_cannot_check_is_said_not_checkable(
    staged: Stage, tmp_path: Path
) -> None:
    # A kind of evidence this verifier does not know: neither a pass nor a silent one.
    def edit(inp: dict[str, Any]) -> None:
        inp["model"]["evidence"].append({"kind": "attestation", "seq": 1, "digest": "00"})

    report = bundle.verify(_forged_retirement(staged, tmp_path, edit))
    assert report["exit_code"] == 1
    [line] = [c for c in report["checked"] if "decision inputs agree" in c]
    assert "not checkable here: event #" in line
    assert "evidence of kind 'attestation' is not checkable here" in line


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (None, None),  # the forged retirement with a faithful input verifies: the control
        (
            lambda inp, train: _evidence(inp, "evaluation").update(seq=train),
            "lists evaluation evidence #{train}, but event #{train} is a train.run, not a "
            "model.evaluate",
        ),
        (
            lambda inp, train: _evidence(inp, "validation").update(digest="cd" * 32),
            "lists validation evidence #",
        ),
        (
            lambda inp, train: _evidence(inp, "evaluation").update(seq=99999),
            "lists evaluation evidence #99999, which is not an earlier event of the bundled ledger",
        ),
        (
            lambda inp, train: inp["actor"].update(roles=["admin", "validator"]),
            "was told vic holds ['admin', 'validator'], but the bundled authority events give "
            "vic ['validator']",
        ),
        (lambda inp, train: inp["actor"].update(name="alice"), "was told the actor is 'alice'"),
        (
            lambda inp, train: inp["model"].update(tier=1),
            "was told credit-risk is tier 1, but the newest bundled model.risk before it says "
            "tier 2",
        ),
        (
            lambda inp, train: inp["model"].update(stage="validated"),
            "was told credit-risk@1 is 'validated', but the bundled promotions before it "
            "leave it approved",
        ),
        (lambda inp, train: inp["model"].update(digest="ef" * 32), "digest is efefefefefefefef…"),
    ],
)
def test_a_decision_told_what_the_ledger_does_not_say_is_rejected(
    staged: Stage, tmp_path: Path, edit: Any, expected: str | None
) -> None:
    # vic retires credit-risk@1 with an allow decision whose input the catalog fed: an
    # evidence row inserted by hand, a role, a tier, a stage or a digest that is not the
    # ledger's. The decision is recorded as made; what it was told must be true.
    train, _ = _find(Workspace.open(staged.ready), "train.run")
    path = _forged_retirement(
        staged, tmp_path, None if edit is None else lambda inp: edit(inp, train)
    )
    if expected is None:
        report = bundle.verify(path)
        assert report["exit_code"] == 1 and report["governance"]["stage"] == "retired"
        assert "decision inputs agree with the bundled ledger" in "\n".join(report["checked"])
        return
    why = _rejected(path)
    assert why.startswith("the decision of event #") and "(model.promote)" in why
    assert expected.format(train=train) in why


def test_a_decision_fed_an_evidence_row_inserted_in_the_catalog_is_rejected(
    staged: Stage, tmp_path: Path
) -> None:
    # The attack found, through the workstation itself: an insider copies the evaluation's
    # catalog row under the training run's event number, so the gate's facts list a second
    # "evaluation" that is really a train.run; vic then retires the version for real.
    import duckdb

    from core.governance import lifecycle

    root = tmp_path / "ws"
    shutil.copytree(staged.ready, root)
    ws = Workspace.open(root)
    train, _ = _find(ws, "train.run")
    with duckdb.connect(str(ws.catalog_path)) as con:
        con.execute(
            "INSERT INTO evaluations SELECT ? AS seq, * EXCLUDE (seq) FROM evaluations "
            "WHERE model = 'credit-risk@1'",
            [train],
        )
    signer.forget()
    lifecycle.promote(Workspace.open(root), "vic", "credit-risk@1", to="retired", reason="old")
    signer.forget()
    _, retired = _find(Workspace.open(root), "model.promote", to_stage="retired")
    listed = [(e["kind"], e["seq"]) for e in retired["policy"]["input"]["model"]["evidence"]]
    assert ("evaluation", train) in listed  # the policy was told it
    why = _rejected(_export(root, tmp_path))
    assert f"lists evaluation evidence #{train}, but event #{train} is a train.run" in why


def test_a_refused_registration_is_not_compared_with_the_version(
    staged: Stage, tmp_path: Path
) -> None:
    # A refused registration was told of a would-be version (another run's digest, its
    # evidence), whose ref the registration that later succeeded may reuse: an honest
    # bundle with one verifies, and the line says only its actor was compared.
    def forge(ws: Workspace) -> None:
        _, real = _find(ws, "model.promote", to_stage="approved")
        decision = real["policy"] | {
            "gate": "register",
            "allow": False,
            "reasons": ["the run's validation failed"],
            "input": {
                "actor": {
                    "name": "sam",
                    "roles": ["data-scientist", "data-steward", "validator"],
                    "kind": "person",
                },
                "model": {
                    "ref": "credit-risk@1",
                    "digest": "ab" * 32,
                    "stage": "candidate",
                    "tier": 1,
                    "tier_assessed": False,
                    "evidence": [],
                },
            },
        }
        data = {"gate": "register", "subject": "model:credit-risk@1"}
        _append(ws, "sam", Event("sam", "policy.deny", ["model:credit-risk@1"], data, "refused",
                                 policy=decision))  # fmt: skip

    report = bundle.verify(_forged_bundle(staged.ready, tmp_path, forge))
    assert report["exit_code"] == 1
    [line] = [c for c in report["checked"] if "decision inputs agree" in c]
    assert "(a refused registration) decided on a version never registered" in line


def test_the_verifier_replays_the_workstations_moves() -> None:
    # Restated in the stand-alone verifier (standard library only): the two must not drift.
    from core.governance import lifecycle

    assert bundle_verifier.MOVES == lifecycle.MOVES
