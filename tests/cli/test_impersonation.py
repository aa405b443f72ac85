"""Acting as someone needs their secret: every state-changing command, run without it.

The matrix is enumerated from the CLI's command tree and the TUI's key bindings, so a new
command fails :func:`test_every_command_is_classified` until it is put in one of the tables
below. The victim is an actor holding every role whose key is protected by a passphrase;
the attacker has everything else: the same OS account and keyring, write access to the
workspace, the victim's name. Each attempt must exit 2 saying the identity is not proven, and
leave the ledger exactly as it was.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from app.cli import app, build
from core.identity.actors import ROLES
from tests.conftest import ROOT, run_cli

SAMPLE = ROOT / "sample_data" / "german-credit"
OPS = ROOT / "sample_data" / "operations"
VICTIM = "vera"

# Commands that change the workspace, with arguments that get them past parsing to their
# identity guard. ``{out}`` is a fresh path; ``{model}``, ``{run}`` and ``{key}`` are filled in
# from the workspace.
WRITES: dict[str, list[str]] = {
    "actor add": ["actor", "add", "mallory", "--role", "admin"],
    "actor grant": ["actor", "grant", "sam", "--role", "admin", "--reason", "x"],
    "actor revoke-role": ["actor", "revoke-role", "alice", "--role", "admin", "--reason", "x"],
    "actor suspend": ["actor", "suspend", "alice", "--reason", "x"],
    "actor resume": ["actor", "resume", "sam", "--reason", "x"],
    "actor remove": ["actor", "remove", "alice", "--reason", "x"],
    "approval import": ["approval", "import", "{out}", "--reason", "x"],
    "approve": ["approve", "{model}", "--for", "approved", "--role", "validator", "--reason", "x"],
    "attest create": ["attest", "create", str(SAMPLE / "german.data")],
    "audit checkpoint": ["audit", "checkpoint"],
    # The identity guard runs before the server is contacted (the workspace is not attached).
    "remote add": ["remote", "add", "origin", "postgresql://x@127.0.0.1:1/none"],
    "remote remove": ["remote", "remove"],
    "sync": ["sync"],
    "backup": ["backup", "{out}"],
    "config encrypt-pii": ["config", "encrypt-pii", "on"],
    "config witness add": ["config", "witness", "add", "{witness}"],
    "config witness remove": ["config", "witness", "remove", "{witness}"],
    "bundle export": ["bundle", "export", "{model}", "-o", "{out}"],
    "export": ["export", "{model}", "--format", "slsa", "--sign", "-o", "{out}"],  # --sign records
    "data erase": [
        "data",
        "erase",
        "german-credit@1",
        "--reason",
        "x",
        "--legal-basis",
        "GDPR Art. 17(1)(b)",
        "--yes",
    ],
    "deploy": ["deploy", "{model}", "--env", "staging", "--reason", "x"],
    "evaluate": ["evaluate", "{model}", "--suite", str(SAMPLE / "evaluation.toml")],
    "feature build": ["feature", "build", str(SAMPLE / "features.toml")],
    "finding add": [
        "finding",
        "add",
        "{model}",
        "--severity",
        "high",
        "--owner",
        "sam",
        "--title",
        "t",
        "--due",
        "2999-12-31",
        "--reason",
        "x",
    ],
    "finding update": ["finding", "update", "1", "--status", "remediated", "--reason", "x"],
    "hold add": ["hold", "add", "dataset:german-credit", "--reason", "x"],
    "hold remove": ["hold", "remove", "1", "--reason", "x"],
    "breakglass review": ["breakglass", "review", "1", "--reason", "x"],
    "key create": ["key", "create", "--actor", "sam", "--label", "extra"],
    "key revoke": ["key", "revoke", "{key}", "--reason", "x"],
    "key rotate": ["key", "rotate", "{key}"],
    "key recipient": ["key", "recipient"],
    "model export": ["model", "export", "{model}", "-o", "{out}"],
    "model promote": ["model", "promote", "{model}", "--to", "validated", "--reason", "x"],
    "model register": ["model", "register", "{run}", "--name", "other"],
    "model risk": [
        "model",
        "risk",
        "credit-risk",
        "--impact",
        "3",
        "--likelihood",
        "3",
        "--rationale",
        "x",
        "--reason",
        "x",
    ],
    "model sign": ["model", "sign", "{model}"],
    "pipeline run": ["pipeline", "run", str(SAMPLE / "pipeline.toml")],
    "policy install": [
        "policy",
        "install",
        str(ROOT / "sample_data" / "policies" / "default"),
        "--reason",
        "x",
    ],
    "report access": ["report", "access", "-o", "{out}"],
    "report minimisation": ["report", "minimisation", "-o", "{out}"],
    "data relink": [
        "data",
        "relink",
        "german-credit@1",
        "--column",
        "column00",
        "--value",
        "A11",
        "--reason",
        "x",
    ],
    "data pseudonym-key rotate": ["data", "pseudonym-key", "rotate", "--reason", "x"],
    "report datasheet": ["report", "datasheet", "german-credit@1", "-o", "{out}"],
    "report impact-assessment": [
        "report",
        "impact-assessment",
        "{model}",
        "--answers",
        str(SAMPLE / "impact_answers.toml"),
        "-o",
        "{out}",
    ],
    "report model-card": [
        "report",
        "model-card",
        "{model}",
        "--answers",
        str(SAMPLE / "model_card.toml"),
        "-o",
        "{out}",
    ],
    "report score-card": ["report", "score-card", "german-credit@1#column00", "-o", "{out}"],
    "reproduce": ["reproduce", "{run}"],
    "retention set": ["retention", "set", "dataset:german-credit", "7y", "--reason", "x"],
    "retention run": ["retention", "run", "--reason", "x"],
    "rollback": ["rollback", "--env", "staging", "--reason", "x"],
    "reveal": ["reveal", "german-credit@1", "column00", "--reason", "x"],
    "snapshot add": ["snapshot", "add", str(SAMPLE / "german.data"), "--dataset", "other"],
    "throttle": ["throttle", "--env", "staging", "--share", "0.5", "--reason", "x"],
    "train": ["train", str(SAMPLE / "train.toml")],
    "validate": ["validate", "german-credit@1", "--suite", str(SAMPLE / "raw_suite.toml")],
    "token add": ["token", "add", "sam", "--env", "staging", "--reason", "x"],
    "token revoke": ["token", "revoke", "tok-000000000000", "--reason", "x"],
    "slo set": ["slo", "set", str(OPS / "slo.toml"), "--env", "staging", "--reason", "x"],
    "playbook set": [
        "playbook",
        "set",
        str(OPS / "playbook.toml"),
        "--env",
        "staging",
        "--reason",
        "x",
    ],
    "monitor run": ["monitor", "run", "--env", "staging", "--reason", "x"],
    "incident open": ["incident", "open", "x", "--env", "staging", "--reason", "x"],
    "incident act": ["incident", "act", "1", "--note", "x", "--reason", "x"],
    "incident close": ["incident", "close", "1", "--reason", "x"],
    "report monitoring": ["report", "monitoring", "--env", "staging", "-o", "{out}"],
    "report incidents": ["report", "incidents", "--env", "staging", "-o", "{out}"],
    "report decisions": ["report", "decisions", "--env", "staging", "-o", "{out}"],
    "report retention": ["report", "retention", "-o", "{out}"],
    "withdraw": ["withdraw", "--env", "staging", "--reason", "x"],
    "waiver add": [
        "waiver",
        "add",
        "german-credit@1",
        "--suite",
        "german-credit-raw",
        "--reason",
        "x",
        "--expires",
        "2999-12-31",
    ],
}
# Writes that check their input (a file, a request id, a live deployment) before proving
# who acts: with this workspace they refuse on that, recording nothing either way.
INPUT_FIRST: dict[str, list[str]] = {
    "score": ["score", "--env", "staging", str(SAMPLE / "german.data"), "-o", "{out}"],
    "serve": ["serve", "--env", "staging", "--port", "0"],
    "decision override": ["decision", "override", "r-x", "--outcome", "approved", "--reason", "x"],
    "outcome add": ["outcome", "add", str(SAMPLE / "german.data"), "--reason", "x"],
}

# Commands that record nothing and sign nothing: reading, verifying, exporting files that
# carry existing signatures, making a key outside any workspace, founding a new workspace.
READS = {
    "actor list",
    "alerts",
    "breakglass list",
    "exceptions",
    "finding list",
    "hold list",
    "actor show",
    "approval request",
    "approval sign",
    "approvals list",
    "attest verify",
    "audit access",
    "audit log",
    "audit prove",
    "audit verify",
    "bundle verify",
    "config witness list",
    "data erasures",
    "data pseudonym-key list",
    "data receipt",
    "decision show",
    "decision verify",
    "deployments",
    "incident list",
    "incident show",
    "init",
    "inventory",
    "restore",
    "clone",  # makes a new replica: nobody acts until they act in it
    "retention show",
    "key export-public",
    "key generate",
    "key list",
    "key show",
    "lineage",
    "model history",
    "model list",
    "model show",
    "model verify",
    "monitor list",
    "monitor show",
    "pipeline runs",
    "playbook show",
    "policy check",
    "policy decisions",
    "policy list",
    "policy show",
    "policy test",
    "rebuild",
    "registry at",
    "snapshot diff",
    "snapshot list",
    "snapshot profile",
    "snapshot show",
    "slo show",
    "status",
    "token list",
    "tui",
    "waiver list",
}
# TUI actions that write, and the command whose core function (and guard) they call.
TUI_WRITES = {
    "checkpoint": "audit checkpoint",
    "sign_model": "model sign",
    "evaluate_model": "evaluate",
    "export_bundle": "bundle export",
    "add_snapshot": "snapshot add",
    "validate_snapshot": "validate",
    "train_model": "train",
    "approve_version": "approve",
    "reject_version": "approve",  # `approve --reject`
    "rollback_deployment": "rollback",
    "withdraw_deployment": "withdraw",
}
TUI_READS = {
    "tab",
    "refresh",
    "verify",
    "prove",
    "toggle_dark",
    "cancel_action",
    "quit",
    "focus_prompt",
    "help",
}


def _commands() -> list[str]:
    out: list[str] = []

    def walk(command: object, prefix: str) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, f"{prefix} {name}".strip())
        else:
            out.append(prefix)

    walk(get_command(build()), "")
    return sorted(out)


def test_every_command_is_classified() -> None:
    unclassified = set(_commands()) - set(WRITES) - set(INPUT_FIRST) - READS
    assert not unclassified, f"classify these commands in the impersonation matrix: {unclassified}"
    named = set(WRITES) | set(INPUT_FIRST) | READS
    assert not named - set(_commands()), "the matrix names a removed command"


def test_every_tui_action_is_classified() -> None:
    from app.tui.app import LedgerApp

    actions = {b.action.split("(")[0] for b in LedgerApp.BINDINGS}  # type: ignore[union-attr]
    assert actions == set(TUI_WRITES) | TUI_READS
    assert set(TUI_WRITES.values()) <= set(WRITES)


def _ledger_bytes(ws: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((ws / "ledger" / "segments").glob("*.log")))


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    """A workspace with a trained, signed model and a victim with every role."""
    from core.audit import admin
    from core.data import features, snapshots, validation
    from core.identity import actors, keys
    from core.identity.keys.backends import forget_unlocked
    from core.modelling import models, training

    root = tmp_path_factory.mktemp("impersonation")
    secret = root / "vera.secret"
    secret.write_text("correct horse battery staple\n")
    secret.chmod(0o600)
    ws = admin.init(root / "ws", "alice")
    actors.add(ws, "alice", "sam", ["data-scientist", "data-steward"])
    os.environ["LEDGERML_SECRET_FILE"] = str(secret)
    try:
        actors.add(ws, "alice", VICTIM, list(ROLES), backend="passphrase")
    finally:
        del os.environ["LEDGERML_SECRET_FILE"]
        forget_unlocked()
    snapshots.add(ws, "sam", SAMPLE / "german.data", dataset="german-credit")
    features.build(ws, "sam", SAMPLE / "features.toml")
    validation.run(ws, "alice", "german-credit-features", SAMPLE / "features_suite.toml")
    run = training.train(ws, "sam", SAMPLE / "train.toml")
    models.register(ws, "sam", run.run_id, "credit-risk")
    models.sign(ws, "sam", "credit-risk@1")
    vera_key = next(k.key_id for k in keys.list_keys(ws) if k.actor == VICTIM)
    refs = {"model": "credit-risk@1", "run": run.run_id, "key": vera_key[:16]}
    return ws.root, refs, secret


@pytest.mark.parametrize("command", sorted(WRITES))
def test_acting_without_the_secret_is_refused_and_records_nothing(
    team: tuple[Path, dict[str, str], Path], command: str, tmp_path: Path
) -> None:
    ws, refs, _ = team
    witness = tmp_path / "witness"
    witness.mkdir()
    args = [a.format(out=tmp_path / "out", witness=witness, **refs) for a in WRITES[command]]
    before = _ledger_bytes(ws)
    checkpoints = sorted((ws / "ledger" / "checkpoints").glob("*"))
    # In-process (the CLI's own runner): this process has never held vera's secret.
    result = CliRunner().invoke(app, ["--workspace", str(ws), "--as", VICTIM, *args])
    assert result.exit_code == 2, f"{command}: {result.output}"
    assert "Identity not proven" in result.output, result.output
    assert "passphrase" in result.output
    assert _ledger_bytes(ws) == before
    assert sorted((ws / "ledger" / "checkpoints").glob("*")) == checkpoints
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", sorted(INPUT_FIRST))
def test_input_first_writes_refuse_and_record_nothing(
    team: tuple[Path, dict[str, str], Path], command: str, tmp_path: Path
) -> None:
    ws, refs, _ = team
    args = [a.format(out=tmp_path / "out", **refs) for a in INPUT_FIRST[command]]
    before = _ledger_bytes(ws)
    result = CliRunner().invoke(app, ["--workspace", str(ws), "--as", VICTIM, *args])
    assert result.exit_code in (1, 2), f"{command}: {result.output}"
    assert _ledger_bytes(ws) == before
    assert not (tmp_path / "out").exists()


def test_a_wrong_passphrase_is_refused(
    team: tuple[Path, dict[str, str], Path], tmp_path: Path
) -> None:
    ws, _, _ = team
    wrong = tmp_path / "wrong"
    wrong.write_text("Tr0ub4dor&3\n")
    before = _ledger_bytes(ws)
    result = run_cli(
        "--workspace",
        str(ws),
        "--as",
        VICTIM,
        "audit",
        "checkpoint",
        env={"LEDGERML_SECRET_FILE": str(wrong)},
    )
    assert result.returncode == 2
    assert "passphrase of vera is wrong" in result.stderr
    assert _ledger_bytes(ws) == before


def test_with_the_secret_the_victim_can_act(
    team: tuple[Path, dict[str, str], Path], tmp_path: Path
) -> None:
    ws, _, secret = team
    copy = tmp_path / "ws"
    shutil.copytree(ws, copy)
    result = run_cli(
        "--workspace",
        str(copy),
        "--as",
        VICTIM,
        "actor",
        "grant",
        "sam",
        "--role",
        "auditor",
        "--reason",
        "audit duty",
        env={"LEDGERML_SECRET_FILE": str(secret)},
    )
    assert result.returncode == 0, result.stderr
    verify = run_cli("--workspace", str(copy), "--as", "alice", "audit", "verify")
    assert verify.returncode == 0, verify.stdout
