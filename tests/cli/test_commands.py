"""The CLI in-process (Typer's runner): output streams, JSON, exit codes, help."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from core.identity.signing import CHECKPOINT_PAYLOAD_TYPE, pae

runner = CliRunner()


def invoke(ws_path: Path, *args: str, actor: str = "alice") -> object:
    return runner.invoke(
        app, ["--workspace", str(ws_path), "--as", actor, *args], catch_exceptions=False
    )


@pytest.fixture
def cli_ws(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    result = invoke(path, "init", "--reason", "tests")
    assert result.exit_code == 0, result.output
    return path


def test_init_twice_is_refused(cli_ws: Path) -> None:
    result = invoke(cli_ws, "init")
    assert result.exit_code == 2
    assert "already exists" in result.stderr and "hint:" in result.stderr


def test_commands_on_a_missing_workspace_explain(tmp_path: Path) -> None:
    result = invoke(tmp_path / "nowhere", "status")
    assert result.exit_code == 2 and "ledgerml init" in result.stderr


def test_actor_flow_json_and_roles(cli_ws: Path) -> None:
    result = invoke(cli_ws, "actor", "add", "bob", "--role", "auditor", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["roles"] == ["auditor"]
    denied = invoke(cli_ws, "actor", "add", "eve", "--role", "admin", actor="bob")
    assert denied.exit_code == 2 and "lacks the role 'admin'" in denied.stderr
    listed = json.loads(invoke(cli_ws, "--json", "actor", "list").stdout)
    assert [a["name"] for a in listed] == ["alice", "bob"]
    shown = invoke(cli_ws, "actor", "show", "ghost")
    assert shown.exit_code == 2 and "no actor named 'ghost'" in shown.stderr


def test_key_commands_and_openssl_checks_a_checkpoint(cli_ws: Path, tmp_path: Path) -> None:
    created = json.loads(invoke(cli_ws, "key", "create", "--label", "spare", "--json").stdout)
    assert created["created"] and created["status"] == "active"
    assert invoke(cli_ws, "key", "show", created["key_id"][:12]).exit_code == 0
    cp = json.loads(invoke(cli_ws, "audit", "checkpoint", "--json").stdout)
    env = json.loads(Path(cp["path"]).read_text())
    signer = env["signatures"][0]["keyid"]  # the newest key of the actor who signed it
    assert signer == created["key_id"]
    pem = tmp_path / "signer.pem"
    assert invoke(cli_ws, "key", "export-public", signer[:16], "-o", str(pem)).exit_code == 0
    # An auditor checks the checkpoint signature with openssl alone.
    message = tmp_path / "message"
    message.write_bytes(pae(CHECKPOINT_PAYLOAD_TYPE, base64.b64decode(env["payload"])))
    sig = tmp_path / "sig.der"
    sig.write_bytes(base64.b64decode(env["signatures"][0]["sig"]))
    check = subprocess.run(
        ["openssl", "dgst", "-sha256", "-verify", str(pem), "-signature", str(sig), str(message)],
        capture_output=True,
        text=True,
    )
    assert check.stdout.strip() == "Verified OK", check.stderr
    revoked = invoke(cli_ws, "key", "revoke", created["key_id"][:12], "--reason", "lost")
    assert revoked.exit_code == 0 and "revoked at event" in revoked.stdout
    missing_reason = runner.invoke(app, ["--workspace", str(cli_ws), "key", "revoke", "abc"])
    assert missing_reason.exit_code == 2


def test_verify_exit_codes_and_json(cli_ws: Path) -> None:
    invoke(cli_ws, "audit", "checkpoint")
    ok = invoke(cli_ws, "audit", "verify", "--json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["ok"] is True
    seg = cli_ws / "ledger" / "segments" / "00000000.log"
    seg.write_bytes(seg.read_bytes().replace(b'"admin"', b'"auditor"'))
    bad = invoke(cli_ws, "audit", "verify")
    assert bad.exit_code == 3
    assert "INTEGRITY FAILURE (first bad event #1)" in bad.stdout


def test_log_prove_status_rebuild(cli_ws: Path) -> None:
    invoke(cli_ws, "actor", "add", "bob", "--role", "auditor", "--reason", "review")
    rows = json.loads(invoke(cli_ws, "audit", "log", "--json", "--action", "actor").stdout)
    assert [(r["action"], r["reason"]) for r in rows] == [("actor.add", "review")]
    assert invoke(cli_ws, "audit", "prove", "2").exit_code == 2  # no checkpoint yet
    invoke(cli_ws, "audit", "checkpoint")
    proof = json.loads(invoke(cli_ws, "audit", "prove", "2", "--json").stdout)
    assert proof["tree_size"] == 2 and proof["seq"] == 2
    status = json.loads(invoke(cli_ws, "status", "--json").stdout)
    assert status["ledger_head"] == 2 and status["verify"]["ok"] is True
    assert status["key_backends"]["keyring"] == "available"
    assert json.loads(invoke(cli_ws, "rebuild", "--json").stdout) == {"replayed": 2}


def test_every_command_has_help() -> None:
    from typer.main import get_command

    group = get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert command.help, name
        for sub_name, sub in getattr(command, "commands", {}).items():
            assert sub.help, f"{name} {sub_name}"
            assert runner.invoke(app, [name, sub_name, "--help"]).exit_code == 0


SAMPLE = Path(__file__).parents[2] / "sample_data" / "german-credit"


def test_data_commands_end_to_end(cli_ws: Path, tmp_path: Path) -> None:
    added = invoke(
        cli_ws,
        "snapshot",
        "add",
        str(SAMPLE / "german.data"),
        "--dataset",
        "german-credit",
        "--sensitive",
        "column08,column12",
        "--json",
    )
    assert added.exit_code == 0, added.output
    shown = json.loads(added.stdout)
    assert shown["ref"] == "german-credit@1" and shown["dialect"]["delimiter"] == " "
    assert len(shown["columns"]) == 21  # JSON, not JSON text inside JSON
    again = invoke(
        cli_ws, "snapshot", "add", str(SAMPLE / "german.data"), "--dataset", "german-credit"
    )
    assert again.exit_code == 0 and "already german-credit@1" in again.stderr
    ok = invoke(cli_ws, "validate", "german-credit@1", "--suite", str(SAMPLE / "raw_suite.toml"))
    assert ok.exit_code == 0 and "PASSED" in ok.stdout
    failing = tmp_path / "fail.toml"
    failing.write_text('[[checks]]\ntype = "row_count"\nmin = 5000\n')
    bad = invoke(cli_ws, "validate", "german-credit", "--suite", str(failing), "--json")
    assert bad.exit_code == 1 and json.loads(bad.stdout)["passed"] is False
    warn_only = tmp_path / "warn.toml"
    warn_only.write_text('[[checks]]\ntype = "row_count"\nmin = 5000\nseverity = "warn"\n')
    assert invoke(cli_ws, "validate", "german-credit", "--suite", str(warn_only)).exit_code == 0
    gated = invoke(cli_ws, "feature", "build", str(SAMPLE / "features.toml"))
    assert gated.exit_code == 1 and "suite 'fail' FAILED" in gated.output  # the gate
    # A laxer suite under the same name passes, but clears nothing: it is another suite.
    failing.write_text('[[checks]]\ntype = "row_count"\nmin = 1\n')
    assert invoke(cli_ws, "validate", "german-credit", "--suite", str(failing)).exit_code == 0
    still = invoke(cli_ws, "feature", "build", str(SAMPLE / "features.toml"))
    assert still.exit_code == 1 and "suite 'fail' FAILED" in still.output
    # An approver's signed waiver lets the view through, and is named.
    assert invoke(cli_ws, "actor", "add", "ada", "--role", "approver").exit_code == 0
    waived = invoke(
        cli_ws,
        "--as",
        "ada",
        "waiver",
        "add",
        "german-credit@1",
        "--suite",
        "fail",
        "--reason",
        "a sample, not the production feed",
        "--expires",
        "2999-01-01",
        "--scope",
        "view",
    )
    assert waived.exit_code == 0, waived.output
    built = invoke(cli_ws, "feature", "build", str(SAMPLE / "features.toml"))
    assert built.exit_code == 0 and "german-credit-features@1" in built.stdout
    profile = json.loads(
        invoke(cli_ws, "snapshot", "profile", "german-credit-features", "--json").stdout
    )
    assert profile["columns"]["sex"]["distinct"] == 2
    diff = json.loads(
        invoke(
            cli_ws, "snapshot", "diff", "german-credit@1", "german-credit-features@1", "--json"
        ).stdout
    )
    assert "sex" in diff["added"]
    report = invoke(
        cli_ws, "report", "datasheet", "german-credit-features", "-o", str(tmp_path / "out")
    )
    assert report.exit_code == 0 and (tmp_path / "out").is_dir()
    missing = invoke(cli_ws, "snapshot", "show", "german-credit@9")
    assert missing.exit_code == 2 and "Known versions: german-credit@1" in missing.stderr
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    refused = invoke(cli_ws, "snapshot", "add", str(empty), "--dataset", "x")
    assert refused.exit_code == 2 and "empty" in refused.stderr


def test_model_commands_end_to_end(cli_ws: Path, tmp_path: Path) -> None:
    for args in (
        ["snapshot", "add", str(SAMPLE / "german.data"), "--dataset", "german-credit"],
        ["feature", "build", str(SAMPLE / "features.toml")],
    ):
        assert invoke(cli_ws, *args).exit_code == 0
    refused = invoke(cli_ws, "train", str(SAMPLE / "train.toml"))
    assert refused.exit_code == 1 and "not validated" in refused.stderr
    assert (
        invoke(
            cli_ws,
            "validate",
            "german-credit-features",
            "--suite",
            str(SAMPLE / "features_suite.toml"),
        ).exit_code
        == 0
    )
    trained = invoke(cli_ws, "train", str(SAMPLE / "train.toml"), "--json")
    assert trained.exit_code == 0, trained.output
    run_id = json.loads(trained.stdout)["run_id"]
    assert (
        invoke(cli_ws, "model", "register", f"run:{run_id}", "--name", "credit-risk").exit_code == 0
    )
    unsigned = invoke(cli_ws, "model", "verify", "credit-risk@1")
    assert unsigned.exit_code == 3 and "NOT TRUSTED" in unsigned.stdout
    assert invoke(cli_ws, "model", "export", "credit-risk@1", "-o", str(tmp_path)).exit_code == 3
    assert invoke(cli_ws, "key", "create").exit_code == 0
    assert invoke(cli_ws, "model", "sign", "credit-risk@1", "--reason", "ok").exit_code == 0
    assert invoke(cli_ws, "model", "verify", "credit-risk@1").exit_code == 0
    exported = invoke(
        cli_ws, "model", "export", "credit-risk@1", "-o", str(tmp_path / "export"), "--json"
    )
    assert exported.exit_code == 0, exported.output
    paths = json.loads(exported.stdout)
    assert set(paths) == {"model", "signature", "public_key"}
    assert all(Path(p).exists() for p in paths.values())
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    blocked = invoke(cli_ws, "model", "export", "credit-risk@1", "-o", str(blocker))
    assert blocked.exit_code == 2 and "a file is where a folder is needed" in blocked.stderr
    shown = json.loads(invoke(cli_ws, "model", "show", "credit-risk", "--json").stdout)
    assert shown["status"] == "trusted" and shown["metrics"]["roc_auc"] > 0.7
    repro = invoke(cli_ws, "reproduce", run_id[:8], "--json")
    assert repro.exit_code == 0 and json.loads(repro.stdout)["passed"] is True
    tree = invoke(cli_ws, "lineage", "credit-risk@1")
    assert "[produced-by] run:" in tree.stdout and "[copy-of] sha256:b21f3d81" in tree.stdout
    ol = invoke(cli_ws, "lineage", "credit-risk@1", "--format", "openlineage")
    events = [json.loads(line) for line in ol.stdout.splitlines()]
    assert [(e["job"]["name"], e["eventType"]) for e in events] == [  # in time order
        (job, state)
        for job in ("intake.german-credit", "feature.german-credit-features", "train.credit-risk")
        for state in ("START", "COMPLETE")
    ]
    exported = invoke(cli_ws, "export", "credit-risk@1", "--format", "openlineage")
    assert ol.stdout == exported.stdout  # one implementation: the walk up is the export
    raw = invoke(cli_ws, "lineage", "german-credit@1", "--format", "openlineage")
    assert [json.loads(line)["job"]["name"] for line in raw.stdout.splitlines()] == [
        "intake.german-credit",
        "intake.german-credit",
    ]
    digest = "sha256:b21f3d81db8071257d5ff1deaeba1fd4303b62712e6fcc9715c7a86202cb5871"
    none = invoke(cli_ws, "lineage", digest, "--format", "openlineage")
    assert none.exit_code == 0 and none.stdout == "" and "no OpenLineage events" in none.stderr
    assert invoke(cli_ws, "lineage", "credit-risk@1", "--format", "dot", "--json").exit_code == 2
    down = json.loads(invoke(cli_ws, "lineage", "german-credit@1", "--down", "--json").stdout)
    assert any(e["src"] == "model:credit-risk@1" for e in down["edges"])
