"""Decision-log retention: an expired log loses its key and its input values, and stays provable.

Each test gets a copy of the operations workspace in which V1 was deployed live (retention
``hmac-only``) and V2 as shadow (retention ``rows``) in production, a batch scored, both
ended (V2 went live, V1 became the shadow) and a second batch scored. Per test, not per
module: decision keys live in the OS keyring under the workspace's id, which copies share,
so an erasure in one copy would destroy another copy's keys.
"""

from __future__ import annotations

import json
import shutil
import signal
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.audit import bundle, checkpoints, decision_proofs, verification
from core.kernel.errors import IntegrityError, KeyStoreError
from core.kernel.rows import DecisionBatchRow, DeploymentRow
from core.operations import decision_keys, decision_log, deployments, scoring
from core.privacy import hold_commands, periods, retention, retention_run
from storage.bundle_verifier import RETENTION
from tests.conftest import run_cli
from tests.core.test_bundle import members_of, resign, write_canonical
from tests.operations.applicants import applicants
from tests.operations.conftest import V1, V2, Ops, ops_team  # noqa: F401 - the fixture

RULE = "30d"


@dataclass
class Served:
    root: Path
    first: int
    """The first batch (the two ended deployments' rows)."""
    second: int
    ended: dict[str, str]
    """Deployment id -> the time of the event that ended it (V1 live, V2 shadow)."""
    fresh: list[str]
    """The deployments serving now."""

    def copy(self, tmp_path: Path) -> Any:
        return Ops(self.root).ws


@pytest.fixture
def served(ops_team: Ops, tmp_path: Path) -> Served:  # noqa: F811
    from core.identity import actors

    root = tmp_path / "ws"
    shutil.copytree(ops_team.root, root)
    ws = Ops(root).ws
    actors.add(ws, "alice", "dana", ["data-steward"])
    deployments.deploy(ws, "opal", V1, env="production", reason="go live")
    deployments.deploy(
        ws, "opal", V2, env="production", strategy="shadow", retention="rows", reason="s"
    )
    first = scoring.Scorer.open(ws, "production", "scorer").score(
        applicants(ws, 16), caller="scorer"
    )
    deployments.deploy(ws, "opal", V2, env="production", reason="v2 live")
    deployments.deploy(
        ws, "opal", V1, env="production", strategy="shadow", retention="rows", reason="s2"
    )
    second = scoring.Scorer.open(ws, "production", "scorer").score(
        applicants(ws, 8), caller="scorer"
    )
    checkpoints.checkpoint(ws, "alice")
    with ws.session() as s:
        rows = s.catalog.rows(DeploymentRow, "SELECT * FROM deployments ORDER BY seq")
        ended = {}
        for r in rows:
            if r.ended_seq is not None:
                ended[r.deployment_id] = ws.ledger.entry(r.ended_seq).decode()["ts"]
        fresh = [r.deployment_id for r in rows if r.ended_seq is None]
    assert len(ended) == 2 and len(fresh) == 2
    return Served(root, first.batch.seq, second.batch.seq, ended, fresh)


def _batch(ws: Any, seq: int) -> DecisionBatchRow:
    with ws.session() as s:
        return s.catalog.rows(
            DecisionBatchRow, "SELECT * FROM decision_batches WHERE seq = ?", [seq]
        )[0]


def _due_at(served: Served) -> str:
    """The instant both ended logs have just expired (the later end + the period)."""
    last = max(periods.instant(t) for t in served.ended.values())
    return periods.iso(periods.ends(last, RULE))


def test_an_expired_log_loses_its_key_and_inputs_and_stays_provable(
    served: Served, tmp_path: Path
) -> None:
    ws = served.copy(tmp_path)
    retention.set_rule(ws, "alice", "decisions:production", RULE, reason="policy R-14")
    before = _batch(ws, served.first)
    original = decision_log.read_batch(ws, before)
    assert any(c.startswith("in.") for c in original.column_names)
    rid = original.column("request_id")[0].as_py()
    # one microsecond before the later end + 30 days, only the earlier one is due
    when = _due_at(served)
    early = periods.iso(periods.instant(when) - timedelta(microseconds=1))
    plan = retention_run.run(ws, "dana", reason="", as_of=early, dry_run=True)
    assert len(plan.decision_logs) == 1
    head = ws.ledger.head()[0]
    plan = retention_run.run(ws, "dana", reason="", as_of=when, dry_run=True)
    assert {d["deployment_id"] for d in plan.decision_logs} == set(served.ended)
    assert ws.ledger.head()[0] == head

    done = retention_run.run(ws, "dana", reason="retention R-14", as_of=when)
    assert {d["deployment_id"] for d in done.decision_logs} == set(served.ended)
    assert done.refused == [] and done.held == []
    erasures = {d["deployment_id"]: d["erasure"] for d in done.decision_logs}
    for dep, seq in erasures.items():
        body = ws.ledger.entry(seq).decode()
        assert body["action"] == "data.erase" and body["actor"] == "dana"
        data = body["data"]
        assert data["target"] == f"decisions:production/{dep}"
        assert data["decision_keys"] == [dep] and data["snapshots"] == []
        assert data["rule"] == f"retention {RULE}"
        assert data["legal_basis"] == "retention period expired"
        assert not decision_keys.exists(ws, dep)  # the key is gone: nothing links again
    for dep in served.fresh:
        assert decision_keys.exists(ws, dep)  # the serving deployments keep theirs
    rows_dep = next(d for d in served.ended if _retention_of(ws, d) == "rows")
    stripped = ws.ledger.entry(erasures[rows_dep]).decode()["data"]["stripped"]
    assert [c["batch"] for c in stripped] == [served.first]
    assert stripped[0]["from"] == before.object_digest
    # the original object is deleted; the copy holds every decision and no input value
    assert not ws.objects.exists(before.object_digest)
    after = _batch(ws, served.first)
    assert after.stored_digest == stripped[0]["to"]
    copy = decision_log.read_batch(ws, after)
    assert not any(c.startswith("in.") for c in copy.column_names)
    assert copy.num_rows == original.num_rows
    assert decision_log.merkle_root(decision_log.leaf_digests(copy)).hex() == before.merkle_root
    assert decision_log.check_batch(ws, after) == []
    # the second batch (the serving deployments' rows) is untouched, inputs and all
    second = _batch(ws, served.second)
    assert second.stored_digest is None
    assert any(c.startswith("in.") for c in decision_log.read_batch(ws, second).column_names)
    # a decision of the erased log is still provable offline ...
    checkpoints.checkpoint(ws, "alice")
    proof = decision_proofs.prove(ws, rid)
    assert decision_proofs.verify_proof(json.loads(json.dumps(proof))).checked
    # ... but no input can be linked to it any more
    ended_v1 = next(d for d in served.ended if d != rows_dep)
    with ws.session() as s:
        seq = s.catalog.rows(
            DeploymentRow, "SELECT * FROM deployments WHERE deployment_id = ?", [ended_v1]
        )[0].seq
    check = ws.ledger.entry(seq).decode()["data"]["key_check"]
    with pytest.raises(KeyStoreError, match="not in this keyring"):
        decision_keys.get(ws, ended_v1, check)
    report = verification.verify(ws)
    assert report.ok, report.failures
    # a second run finds nothing left to do
    again = retention_run.run(ws, "dana", reason="retention R-14", as_of=when)
    assert again.decision_logs == [] and again.erased == []


def _retention_of(ws: Any, dep: str) -> str:
    with ws.session() as s:
        return s.catalog.rows(
            DeploymentRow, "SELECT * FROM deployments WHERE deployment_id = ?", [dep]
        )[0].retention


def test_a_hold_on_the_environment_keeps_the_logs_until_it_is_lifted(
    served: Served, tmp_path: Path
) -> None:
    ws = served.copy(tmp_path)
    retention.set_rule(ws, "dana", "decisions:production", RULE, reason="policy R-14")
    h = hold_commands.place(ws, "dana", "decisions:production", reason="complaint C-9")
    when = _due_at(served)
    kept = retention_run.run(ws, "dana", reason="monthly", as_of=when)
    assert kept.decision_logs == []
    assert {x["target"] for x in kept.held} == set(served.ended)
    assert all(x["text"] == f"held by #{h.row.seq}: complaint C-9" for x in kept.held)
    for dep in served.ended:
        assert decision_keys.exists(ws, dep)
    hold_commands.release(ws, "dana", h.row.seq, reason="complaint answered")
    done = retention_run.run(ws, "dana", reason="monthly", as_of=when)
    assert {d["deployment_id"] for d in done.decision_logs} == set(served.ended)


def test_the_bundle_carries_the_retention_log_and_verifies_it(
    served: Served, tmp_path: Path
) -> None:
    ws = served.copy(tmp_path)
    retention.set_rule(ws, "dana", "decisions:production", RULE, reason="policy R-14")
    h = hold_commands.place(ws, "dana", "decisions:production", reason="complaint C-9")
    hold_commands.release(ws, "dana", h.row.seq, reason="answered")
    done = retention_run.run(ws, "dana", reason="monthly", as_of=_due_at(served))
    out = tmp_path / "v2.zip"
    bundle.export(ws, "vic", V2, out, reason="audit")
    report = bundle.verify(out)
    assert report["verified"]
    assert any(
        c.startswith(f"{RETENTION} agrees with the signed events: 1 rule, 1 hold (")
        for c in report["checked"]
    )
    entries = members_of(out)
    doc = json.loads(entries[RETENTION])
    assert [e["seq"] for e in doc["erasures"]] == sorted(d["erasure"] for d in done.decision_logs)
    assert [r["seq"] for r in doc["runs"]] == [done.seq]
    assert any(EARLY_WORDS in f for f in doc["flags"])  # counted as of a future instant
    assert "reports/retention.md" in entries
    decisions = json.loads(entries["operations/decisions.json"])
    assert decisions["samples"]  # read from the stripped copy, still proven
    doc["holds"] = []  # "there never was a hold"
    entries[RETENTION] = json.dumps(doc).encode()
    resign(ws, entries)
    tampered = tmp_path / "tampered.zip"
    write_canonical(tampered, entries)
    with pytest.raises(IntegrityError, match="is not what the signed events record"):
        bundle.verify(tampered)


EARLY_WORDS = "erased before its retention expired by the wall clock"


def test_a_kill_between_commit_and_shred_is_flagged_and_the_next_run_finishes_it(
    served: Served, tmp_path: Path
) -> None:
    ws = served.copy(tmp_path)
    retention.set_rule(ws, "dana", "decisions:production", RULE, reason="policy R-14")
    args = ["--workspace", str(served.root), "--as", "dana", "retention", "run"]
    killed = run_cli(
        *args,
        "--as-of",
        _due_at(served),
        "--reason",
        "monthly",
        env={"LEDGERML_FAILPOINT": "retention.before-shred"},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    ws = served.copy(tmp_path)
    with ws.session() as s:  # the first erasure is committed: the log reads as erased ...
        rows = s.catalog.con.execute("SELECT seq, target FROM erasures").fetchall()
    assert len(rows) == 1
    dep = str(rows[0][1]).rsplit("/", 1)[1]
    assert decision_keys.exists(ws, dep)  # ... but its key is still here
    report = verification.verify(ws)
    assert not report.ok
    assert any("erased but not yet shredded" in f and "retention run" in f for f in report.failures)
    done = run_cli(*args, "--as-of", _due_at(served), "--reason", "monthly")
    assert done.returncode == 0, done.stderr
    assert f"finished the interrupted erasure of decisions:production/{dep}" in done.stdout
    assert not decision_keys.exists(ws, dep)
    assert {d for d in served.ended if not decision_keys.exists(ws, d)} == set(served.ended)
    report = verification.verify(ws)
    assert report.ok, report.failures
