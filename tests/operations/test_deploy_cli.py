"""The deployment commands through the real CLI: round trips, time travel, refusals.

Every refusal is checked twice: the exit code and message a user sees, and the ledger left
exactly as it was (or, for a policy denial, grown by the one ``policy.deny`` attempt).
"""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from app.cli import app
from tests.operations.conftest import SAMPLE, V1, V2, Ops


def cli(ops: Ops, *args: str) -> Any:
    return CliRunner().invoke(app, ["--workspace", str(ops.root), *args])


def _head(ops: Ops) -> int:
    return int(ops.ws.ledger.head()[0])


def _last_action(ops: Ops) -> str:
    with ops.ws.session("") as s:
        return str(s.catalog.events()[-1].action)


def _live(ops: Ops, *args: str) -> list[tuple[str, str, str]]:
    out = cli(ops, "--json", "deployments", *args)
    assert out.exit_code == 0, out.output
    return [(d["env"], d["arm"], d["model"]) for d in json.loads(out.output)["deployments"]]


def test_deploy_canary_rollback_throttle_withdraw_and_time_travel(ops: Ops) -> None:
    first = cli(ops, "--as", "opal", "deploy", V1, "--env", "production", "--reason", "go live")
    assert first.exit_code == 0, first.output
    text = " ".join(first.output.split())
    assert f"deployed {V1} to production as live" in text
    # the conditions that travel with it, and which of them scoring can enforce
    assert "enforced by scoring: not for applicants under 21 [where age_years >= 21]" in text
    assert "recorded, not enforced" in text and "reviewed yearly" in text
    after_first = _head(ops)
    canary = cli(ops, "--as", "opal", "deploy", V2, "--env", "production", "--strategy",
                 "canary", "--share", "0.1", "--reason", "try v2")  # fmt: skip
    assert canary.exit_code == 0 and "10% of requests" in canary.output, canary.output
    assert _live(ops) == [("production", "live", V1), ("production", "canary", V2)]
    promoted = cli(ops, "--as", "opal", "deploy", V2, "--env", "production", "--reason", "v2")
    assert promoted.exit_code == 0 and "out of service" in promoted.output
    assert _live(ops) == [("production", "live", V2)]
    # what was live then, by event number and by time (a time before anything: nothing)
    assert _live(ops, "--at", f"#{after_first}") == [("production", "live", V1)]
    assert _live(ops, "--at", "2000-01-01") == []
    assert cli(ops, "deployments", "--at", "yesterday-ish").exit_code == 2
    back = cli(ops, "--as", "opal", "rollback", "--env", "production", "--reason", "v2 drifts")
    assert back.exit_code == 0 and f"restored {V1}" in back.output, back.output
    assert _live(ops, "--env", "production") == [("production", "live", V1)]
    throttled = cli(ops, "--as", "opal", "throttle", "--env", "production", "--share", "0.25",
                    "--reason", "drift: answer a quarter")  # fmt: skip
    assert throttled.exit_code == 0 and "25%" in throttled.output
    now = json.loads(cli(ops, "--json", "deployments").output)["deployments"]
    assert now[0]["throttle"] == 0.25
    both = cli(ops, "--as", "opal", "throttle", "--env", "production", "--share", "0.5",
               "--lift", "--reason", "x")  # fmt: skip
    assert both.exit_code == 2
    assert cli(ops, "--as", "opal", "throttle", "--env", "production", "--lift",
               "--reason", "fixed").exit_code == 0  # fmt: skip
    out = cli(ops, "--as", "opal", "withdraw", "--env", "production", "--arm", "live",
              "--reason", "stop")  # fmt: skip
    assert out.exit_code == 0 and "withdrew" in out.output
    assert _live(ops) == []
    history = json.loads(cli(ops, "--json", "deployments", "--history").output)
    assert [(d["model"], d["strategy"]) for d in history] == [
        (V1, "direct"), (V2, "canary"), (V2, "direct"), (V1, "rollback"),
    ]  # fmt: skip
    assert all(d["ended_seq"] for d in history)


def test_refusals_are_clear_and_record_nothing(ops: Ops) -> None:
    from core.identity import keys
    from core.modelling.models import resolve

    before = _head(ops)
    wrong_role = cli(ops, "--as", "sam", "deploy", V1, "--env", "staging", "--reason", "r")
    assert wrong_role.exit_code == 2 and "operator" in wrong_role.output
    unknown = cli(ops, "--as", "opal", "deploy", "credit-risk@9", "--env", "staging",
                  "--reason", "r")  # fmt: skip
    assert unknown.exit_code == 2 and "credit-risk@9" in unknown.output
    bad_env = cli(ops, "--as", "opal", "deploy", V1, "--env", "Prod!", "--reason", "r")
    assert bad_env.exit_code == 2 and "environment" in bad_env.output
    nothing = cli(ops, "--as", "opal", "rollback", "--env", "production", "--reason", "r")
    assert nothing.exit_code == 1 and "no live deployment" in nothing.output
    with ops.ws.session("") as s:
        model = resolve(s.catalog, V1)
        key_id = s.catalog.signatures(f"model:{V1}")[0].key_id
    path = ops.ws.objects.path(model.model_digest)
    data = path.read_bytes()
    path.chmod(0o644)
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one flipped bit
    tampered = cli(ops, "--as", "opal", "deploy", V1, "--env", "production", "--reason", "r")
    assert tampered.exit_code == 1 and "refusing to deploy" in tampered.output
    path.write_bytes(data)
    assert _head(ops) == before
    keys.revoke(ops.ws, "alice", key_id, "lost laptop")
    before = _head(ops)
    revoked = cli(ops, "--as", "opal", "deploy", V1, "--env", "production", "--reason", "r")
    assert revoked.exit_code == 1 and "revoked" in revoked.output
    assert _head(ops) == before


def test_an_unapproved_version_is_refused_and_the_policy_denial_recorded(ops: Ops) -> None:
    from core.modelling import models

    ws = ops.ws
    with ws.session("") as s:
        run_id = models.resolve(s.catalog, V1).run_id
    # the same run registered under another name: a signed candidate, without training
    row, _ = models.register(ws, "sam", f"run:{run_id}", "credit-alt")
    models.sign(ws, "sam", row.ref)
    before = _head(ops)
    prod = cli(ops, "--as", "opal", "deploy", row.ref, "--env", "production", "--reason", "r")
    assert prod.exit_code == 1 and "approved versions only" in prod.output
    assert _head(ops) == before  # the built-in rule refuses before the policy is asked
    staging = cli(ops, "--as", "opal", "deploy", row.ref, "--env", "staging", "--reason", "r")
    assert staging.exit_code == 1 and "candidate" in staging.output
    assert _head(ops) == before + 1 and _last_action(ops) == "policy.deny"
    assert _live(ops) == []


def test_the_default_pack_governs_deployments(ops: Ops) -> None:
    """The shipped policy: canary share bounded; production needs approvals that count."""
    from tests.conftest import ROOT

    pack = str(ROOT / "sample_data" / "policies" / "default")
    installed = cli(ops, "--as", "alice", "policy", "install", pack, "--reason", "default")
    assert installed.exit_code == 0, installed.output
    staged = cli(ops, "--as", "opal", "deploy", V1, "--env", "staging", "--reason", "r")
    assert staged.exit_code == 0, staged.output
    before = _head(ops)
    wide = cli(ops, "--as", "opal", "deploy", V2, "--env", "staging", "--strategy", "canary",
               "--share", "0.6", "--reason", "r")  # fmt: skip
    assert wide.exit_code == 1 and "at most half" in wide.output
    assert _head(ops) == before + 1 and _last_action(ops) == "policy.deny"
    # nobody assessed the model's risk: tier 1, whose four roles never approved it
    prod = cli(ops, "--as", "opal", "deploy", V1, "--env", "production", "--reason", "r")
    assert prod.exit_code == 1 and "approvals no longer stand" in " ".join(prod.output.split())
    assert _last_action(ops) == "policy.deny"
    assert _live(ops) == [("staging", "live", V1)]


def test_a_rule_based_baseline_goes_live_and_a_bad_file_is_refused(ops: Ops) -> None:
    cli(ops, "--as", "opal", "deploy", V1, "--env", "production", "--reason", "v1")
    before = _head(ops)
    bad = ops.root.parent / "bad.toml"
    bad.write_text('[baseline]\nname = "b"\nscore = "(SELECT 1 FROM snapshots)"\n')
    refused = cli(ops, "--as", "opal", "deploy", "--baseline", str(bad), "--env", "production",
                  "--reason", "r")  # fmt: skip
    assert refused.exit_code == 2 and "not a query" in refused.output
    bad.write_text('[baseline]\nname = "b"\nscore = "0.5"\nthreshhold = 0.4\n')
    typo = cli(ops, "--as", "opal", "deploy", "--baseline", str(bad), "--env", "production",
               "--reason", "r")  # fmt: skip
    assert typo.exit_code == 2 and "threshhold" in typo.output
    assert _head(ops) == before
    alone = cli(ops, "--as", "opal", "deploy", "--baseline", str(SAMPLE / "baseline.toml"),
                "--env", "production", "--reason", "no model can be trusted")  # fmt: skip
    assert alone.exit_code == 2 and "--incident" in alone.output
    assert _head(ops) == before
    ticket = cli(ops, "--as", "opal", "incident", "open", "drift", "--env", "production",
                 "--reason", "r")  # fmt: skip
    assert ticket.exit_code == 0, ticket.output
    out = cli(ops, "--as", "opal", "deploy", "--baseline", str(SAMPLE / "baseline.toml"),
              "--env", "production", "--incident", str(before + 1),
              "--reason", "no model can be trusted")  # fmt: skip
    assert out.exit_code == 0, out.output
    assert _live(ops) == [("production", "live", "baseline:duration-rule")]
