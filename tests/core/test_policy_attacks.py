"""An insider against the policy: bad bundles, the wrong installer, hand edits, forged decisions.

The threat is the project's: someone with write access to the workspace folder and the same
OS account, holding their own actor secret (so able to sign events as themselves). Each test
is one attack; each must be refused by the command or reported by ``audit verify``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from core.audit import verification
from core.governance import policy
from core.governance.policy import PolicyDeniedError, PolicyError
from core.identity import actors, signer
from core.identity.keys.backends import forget_unlocked
from core.kernel.errors import IdentityError, PermissionDeniedError
from core.kernel.events import Event
from core.kernel.kinds import new_event
from core.kernel.workspace import Workspace
from core.modelling import models
from core.modelling.events import ModelRegistered
from storage.ledger import GENESIS
from tests.core.test_policy import BLOCK_CASES, BLOCK_REGO, DEFAULT, build_team, write_bundle

Lines = list[tuple[int, bytes]]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A workspace under the default pack with credit-risk@1 registered (allowed); a strict
    bundle (it blocks the name "blocked") stored but not in force; vera, an admin whose key
    needs a passphrase this process does not have."""
    root = tmp_path_factory.mktemp("policy-attacks")
    ws, run_id = build_team(root / "ws")
    secret = root / "vera.secret"
    secret.write_text("correct horse battery staple\n")
    secret.chmod(0o600)
    os.environ["LEDGERML_SECRET_FILE"] = str(secret)
    try:
        actors.add(ws, "alice", "vera", ["admin"], backend="passphrase")
    finally:
        del os.environ["LEDGERML_SECRET_FILE"]
        forget_unlocked()
    strict = write_bundle(root / "strict", BLOCK_REGO, BLOCK_CASES, name="strict")
    strict_bundle, _ = policy.install(ws, "alice", strict, "try the strict bundle")
    default, _ = policy.install(ws, "alice", DEFAULT, "adopt the default pack")
    row, _ = models.register(ws, "sam", run_id, "credit-risk")
    info = {
        "run": run_id,
        "strict": strict,
        "strict_digest": strict_bundle.digest,
        "default_digest": default.digest,
        "register_seq": row.seq,
    }
    return ws.root, info


@pytest.fixture
def ws(base: tuple[Path, dict[str, Any]], tmp_path: Path) -> Workspace:
    """A private copy of the base workspace (attacks damage it)."""
    copy = tmp_path / "ws"
    shutil.copytree(base[0], copy)
    signer.forget()
    return Workspace.open(copy)


@pytest.fixture
def info(base: tuple[Path, dict[str, Any]]) -> dict[str, Any]:
    return base[1]


def _size(ws: Workspace) -> int:
    return ws.ledger.head()[0]


def _objects(ws: Workspace) -> set[Path]:
    return set((ws.root / "objects").rglob("*"))


def _verify(ws: Workspace) -> verification.VerifyReport:
    signer.forget()
    return verification.verify(Workspace.open(ws.root))


def _sealed_as(ws: Workspace, actor: str, event: Event) -> bytes:
    """An event signed with ``actor``'s real key, as an insider holding their secret could."""
    with ws.session(actor) as s:
        sig = signer.prove(s, signer.authority_of(s))
    return sig.seal(event)


def _forge_register(
    ws: Workspace, info: dict[str, Any], actor: str, name: str, member: dict[str, Any] | None
) -> int:
    """Append a ``model.register`` of the real run under ``name``, signed by ``actor``."""
    with ws.session() as s:
        digest = s.catalog.run(info["run"]).model_digest  # type: ignore[union-attr]
    payload = ModelRegistered(name, 1, info["run"], digest)
    ev = new_event(actor, payload, [f"model:{name}@1", f"run:{info['run']}"], "forged")
    ev = dataclasses.replace(ev, policy=member)
    [entry] = ws.ledger.append([_sealed_as(ws, actor, ev)])
    signer.forget()
    return entry.seq


def _real_decision(ws: Workspace, info: dict[str, Any]) -> dict[str, Any]:
    member = ws.ledger.entry(info["register_seq"]).decode()["policy"]
    assert isinstance(member, dict) and member["allow"] is True
    return member


def _as(member: dict[str, Any], name: str) -> dict[str, Any]:
    """The decision re-aimed at ``name@1`` (its subject and model ref)."""
    doc = json.loads(json.dumps(member))
    doc["input"]["subject"] = f"model:{name}@1"
    doc["input"]["model"] |= {"ref": f"{name}@1", "name": name}
    return doc


def _failures(report: verification.VerifyReport) -> str:
    assert not report.ok
    return "\n".join(report.failures)


# ---- installing --------------------------------------------------------------------------


def test_a_policy_that_fails_to_compile_is_refused_and_records_nothing(
    ws: Workspace, tmp_path: Path
) -> None:
    broken = write_bundle(
        tmp_path / "broken",
        'deny contains msg if {\n\tinput.gate == "register"\n\tmsg := \n}\n',
        BLOCK_CASES,
    )
    before, objects = _size(ws), _objects(ws)
    with pytest.raises(PolicyError, match=r"does not compile \(module rules\.rego\)"):
        policy.install(ws, "alice", broken, "try a broken one")
    assert _size(ws) == before and _objects(ws) == objects


def test_a_bundle_whose_fixture_fails_is_refused(ws: Workspace, tmp_path: Path) -> None:
    never = 'deny contains msg if {\n\tinput.gate == "never"\n\tmsg := "never"\n}\n'
    lax = write_bundle(tmp_path / "lax", never, BLOCK_CASES)  # the deny case fails
    before, objects = _size(ws), _objects(ws)
    with pytest.raises(PolicyError, match=r"1 fixture fails, first cases\.toml:blocked"):
        policy.install(ws, "alice", lax, "allow everything")
    assert _size(ws) == before and _objects(ws) == objects


def test_a_bundle_without_a_deny_rule_is_refused(ws: Workspace, tmp_path: Path) -> None:
    empty = write_bundle(tmp_path / "empty", "", BLOCK_CASES)
    with pytest.raises(PolicyError, match=r"defines no data\.ledgerml\.gate\.deny rule"):
        policy.install(ws, "alice", empty, "no rules at all")


def test_a_bundle_without_fixtures_is_refused(ws: Workspace, tmp_path: Path) -> None:
    untested = write_bundle(tmp_path / "untested", BLOCK_REGO, "")
    with pytest.raises(PolicyError, match="no fixtures"):
        policy.install(ws, "alice", untested, "trust me")


def test_a_non_admin_cannot_install_a_policy(ws: Workspace, info: dict[str, Any]) -> None:
    before = _size(ws)
    for who in ("sam", "val"):
        with pytest.raises(PermissionDeniedError, match="install policies"):
            policy.install(ws, who, info["strict"], "mine is better")
    assert _size(ws) == before


def test_an_admins_name_without_their_secret_installs_nothing(
    ws: Workspace, info: dict[str, Any]
) -> None:
    before = _size(ws)
    with pytest.raises(IdentityError, match="passphrase"):
        policy.install(ws, "vera", info["strict"], "as vera")
    assert _size(ws) == before
    assert policy.load_dir(DEFAULT).digest == info["default_digest"]
    with ws.session() as s:
        assert policy.in_force(s).digest == info["default_digest"]  # type: ignore[union-attr]


# ---- the catalog is not the authority ----------------------------------------------------


def test_a_hand_edited_policies_table_does_not_change_the_policy_in_force(
    ws: Workspace, info: dict[str, Any]
) -> None:
    policy.install(ws, "alice", info["strict"], "back to strict")
    ws_root = ws.root
    con = duckdb.connect(str(ws_root / "catalog.duckdb"))
    # the insider makes the table say the (laxer) default pack came back, and later
    con.execute(
        "INSERT INTO policies VALUES (999999, ?, 'default', '1', '[]', '2030-01-01', 'alice')",
        [info["default_digest"]],
    )
    con.execute("UPDATE policies SET digest = ? WHERE name = 'strict'", [info["default_digest"]])
    con.close()
    ws = Workspace.open(ws_root)
    before = _size(ws)
    with pytest.raises(PolicyDeniedError, match="blocked by name"):
        models.register(ws, "sam", info["run"], "blocked")
    denied = ws.ledger.entry(before + 1).decode()
    assert denied["policy"]["bundle"] == info["strict_digest"]  # type: ignore[index]
    assert "policies" in _failures(_verify(ws))


# ---- forged and doctored decisions -------------------------------------------------------


def test_an_allow_under_another_bundle_is_reported(ws: Workspace, info: dict[str, Any]) -> None:
    """sam signs a register whose decision names the strict bundle, not the one in force."""
    member = _as(_real_decision(ws, info), "other") | {"bundle": info["strict_digest"]}
    seq = _forge_register(ws, info, "sam", "other", member)
    report = _verify(ws)
    assert f"event #{seq} (model.register) carries a decision of policy sha256:" in _failures(
        report
    )
    assert "was in force there" in _failures(report)


def test_a_forged_allow_the_bundle_would_deny_is_reported(
    ws: Workspace, info: dict[str, Any]
) -> None:
    """Under the strict bundle, sam signs a register of "blocked" claiming it was allowed."""
    policy.install(ws, "alice", info["strict"], "strict again")
    member = _as(_real_decision(ws, info), "blocked") | {"bundle": info["strict_digest"]}
    seq = _forge_register(ws, info, "sam", "blocked", member)
    text = _failures(_verify(ws))
    assert f"event #{seq} (model.register) records allow from policy strict 1" in text
    assert "re-evaluated gives deny: blocked@1 is blocked by name" in text


def test_a_governed_action_with_its_decision_stripped_is_reported(
    ws: Workspace, info: dict[str, Any]
) -> None:
    """sam signs a register with no decision at all: the gate was bypassed."""
    seq = _forge_register(ws, info, "sam", "bypass", None)
    report = _verify(ws)
    assert f"event #{seq} (model.register) was recorded while policy" in _failures(report)
    assert "carries no decision of its register gate" in _failures(report)
    assert report.first_bad_event == seq


def test_an_export_recorded_without_its_decision_is_reported(ws: Workspace) -> None:
    """An export event (indexed only, no catalog table) written past the gate by alice."""
    from core.audit.events import BundleExported

    payload = BundleExported("credit-risk@1", "full", "ab" * 32, 10, 5)
    ev = new_event("alice", payload, ["model:credit-risk@1"], "past the gate")
    [entry] = ws.ledger.append([_sealed_as(ws, "alice", ev)])
    signer.forget()
    text = _failures(_verify(ws))
    assert f"event #{entry.seq} (bundle.export) was recorded while policy" in text
    assert "carries no decision of its export gate" in text


def test_a_decision_of_another_gate_is_reported(ws: Workspace, info: dict[str, Any]) -> None:
    member = _as(_real_decision(ws, info), "relabel")
    member["gate"] = member["input"]["gate"] = "export"
    seq = _forge_register(ws, info, "sam", "relabel", member)
    assert f"event #{seq} (model.register) carries a decision of the export gate" in _failures(
        _verify(ws)
    )


def test_a_decision_copied_from_another_actor_is_reported(
    ws: Workspace, info: dict[str, Any]
) -> None:
    """alice (admin, may register) reuses sam's allow decision on her own event."""
    seq = _forge_register(ws, info, "alice", "copied", _as(_real_decision(ws, info), "copied"))
    assert f"event #{seq} (model.register) carries a decision about another actor" in _failures(
        _verify(ws)
    )


def test_a_decision_copied_from_another_model_is_reported(
    ws: Workspace, info: dict[str, Any]
) -> None:
    seq = _forge_register(ws, info, "sam", "elsewhere", _real_decision(ws, info))
    assert f"event #{seq} (model.register) carries a decision about another subject" in _failures(
        _verify(ws)
    )


def test_a_decision_edited_after_signing_breaks_its_signature(
    ws: Workspace, info: dict[str, Any]
) -> None:
    """The insider edits the recorded input (tier 1 to tier 3) and redoes the hash chain."""
    seq = info["register_seq"]
    _rewrite(ws, lambda lines: [(n, _edit_tier(b) if n == seq else b) for n, b in lines])
    report = _verify(ws)
    assert report.first_bad_event == seq
    assert f"event #{seq}" in _failures(report)


def test_a_recorded_denial_verifies_and_a_doctored_one_does_not(
    ws: Workspace, info: dict[str, Any]
) -> None:
    policy.install(ws, "alice", info["strict"], "strict again")
    before = _size(ws)
    with pytest.raises(PolicyDeniedError):
        models.register(ws, "sam", info["run"], "blocked")
    assert _size(ws) == before + 1  # the refusal is in the ledger although the command failed
    assert _verify(ws).ok
    with ws.session() as s:
        assert s.catalog.models("blocked") == []
    # a refusal re-signed with its reasons emptied does not re-evaluate to the same answer
    body = ws.ledger.entry(before + 1).decode()
    member = dict(body["policy"])  # type: ignore[arg-type]
    ev = new_event(
        "sam",
        policy_denied(str(member["gate"]), str(member["input"]["subject"])),
        [str(member["input"]["subject"])],
        "",
    )
    seq = ws.ledger.append(
        [_sealed_as(ws, "sam", dataclasses.replace(ev, policy=member | {"reasons": []}))]
    )[0].seq
    assert f"event #{seq} (policy.deny) records deny from policy strict 1" in _failures(_verify(ws))


def policy_denied(gate: str, subject: str) -> Any:
    from core.governance.events import PolicyDenied

    return PolicyDenied(gate, subject)


def _edit_tier(body: bytes) -> bytes:
    assert b'"tier":1,' in body
    return body.replace(b'"tier":1,', b'"tier":3,', 1)


def _rewrite(ws: Workspace, edit: Callable[[Lines], Lines]) -> None:
    """Replace the ledger with ``edit`` of its bodies, every hash chained afresh."""
    bodies = edit([(e.seq, e.body) for e in ws.ledger.iter_entries()])
    prev = GENESIS
    out = []
    for seq, body in bodies:
        line = b"%d %s %s" % (seq, prev.encode(), body)
        out.append(line + b"\n")
        prev = hashlib.sha256(line).hexdigest()
    [segment] = sorted((ws.root / "ledger" / "segments").glob("*.log"))
    segment.write_bytes(b"".join(out))
    signer.forget()
