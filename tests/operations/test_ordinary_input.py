"""Ordinary input never crashes operations, and batch scoring claims no request latency.

The attacks are everyday files: a ``rows``-retention log whose batches typed an input column
differently (one missing value makes an integer column double, one stray text value makes
it string), a file with a header and no rows, and a monitoring window of batch-scored
decisions judged on a latency SLO meant for requests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from core.kernel.errors import UsageError
from core.operations import decision_log, deployments, monitoring, ops_config, scoring, serving
from tests.operations.applicants import applicants
from tests.operations.conftest import V1, Ops


def _cli(ops: Ops, *args: str) -> Any:
    from app.cli import app

    return CliRunner().invoke(app, ["--workspace", str(ops.root), *args])


def _batches(ws: Any) -> int:
    with ws.session() as s:
        return len(decision_log.batches(s))


def test_rows_batches_of_different_input_types_stay_readable(ops: Ops, tmp_path: Path) -> None:
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="staging", reason="go", retention="rows")
    frame = applicants(ws, 90)
    sc = scoring.Scorer.open(ws, "staging", "scorer")
    first = sc.score(frame.iloc[:30], caller="cal")  # credit_amount int64
    nan = frame.iloc[30:60].copy()
    nan.loc[nan.index[0], "credit_amount"] = np.nan  # the column becomes double
    second = sc.score(nan, caller="cal")
    text = frame.iloc[60:].astype({"duration_months": object}).copy()
    text.loc[text.index[0], "duration_months"] = "twelve"  # a text value in a number column
    third = sc.score(text, caller="cal")
    assert second.counts.get("error") == 1 and third.counts.get("error") == 1
    got = decision_log.decisions(ws)
    assert got.num_rows == 90
    assert got.schema.field("in.credit_amount").type == pa.float64()
    # a declared numeric feature is logged as double in every batch: its text value is null
    # there, and its row an error decision that says so
    assert got.schema.field("in.duration_months").type == pa.float64()
    amounts = got.column("in.credit_amount").to_pylist()
    assert amounts[:30] == [float(v) for v in frame["credit_amount"].iloc[:30]]
    assert amounts[30] is None and got.column("in.duration_months")[60].as_py() is None
    ids = first.answers.column("request_id").to_pylist()[:3]
    out = tmp_path / "out.csv"
    pd.DataFrame({"request_id": ids, "outcome": [0, 1, 0]}).to_csv(out, index=False)
    added = _cli(ops, "--as", "opal", "outcome", "add", str(out), "--reason", "labels")
    assert added.exit_code == 0, added.output
    assert "recorded 3 outcomes" in added.output
    report = _cli(
        ops, "--as", "opal", "report", "decisions", "--env", "staging", "-o", str(tmp_path / "r")
    )
    assert report.exit_code == 0, report.output


def test_a_file_with_no_rows_is_a_usage_error_and_logs_nothing(ops: Ops, tmp_path: Path) -> None:
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", reason="go live")
    head = ws.ledger.head()[0]
    empty = tmp_path / "empty.csv"
    empty.write_text("request_id,duration_months\n")
    run = _cli(ops, "--as", "opal", "score", str(empty), "--env", "production", "-o",
               str(tmp_path / "o.csv"))  # fmt: skip
    assert run.exit_code == 2, run.output
    assert "empty.csv has no rows" in run.output
    assert not (tmp_path / "o.csv").exists()
    sc = scoring.Scorer.open(ws, "production", "scorer")
    with pytest.raises(UsageError, match="no rows"):
        sc.score(applicants(ws, 3).iloc[:0], caller="cal")
    with pytest.raises(UsageError, match="no rows"):
        sc.refuse(applicants(ws, 3).iloc[:0], caller="cal", detail="turned away")
    assert ws.ledger.head()[0] == head and _batches(ws) == 0
    for body in (b"[]", b'{"rows": []}', b'{"rows": [], "request_ids": []}'):
        with pytest.raises(serving.BadRequestError, match="no rows") as bad:
            serving.parse_body(body)
        assert bad.value.status == 422


def test_batch_scoring_records_no_latency_so_a_latency_slo_is_inconclusive(ops: Ops) -> None:
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="staging", reason="go")
    batch = scoring.Scorer.open(ws, "staging", "scorer").score(applicants(ws, 40), caller="cal")
    assert batch.batch is not None
    logged = decision_log.decisions(ws)
    assert logged.column("latency_ms").null_count == logged.num_rows  # no request latency
    served = scoring.Scorer.open(ws, "staging", "scorer", source="serve")
    served.score(applicants(ws, 41).iloc[40:], caller="cal")
    assert decision_log.decisions(ws).column("latency_ms").to_pylist()[-1] > 0
    result = monitoring.run(ws, "opal", env="staging", window="all")
    found = {c["name"]: c for c in result.evidence["checks"]}
    # one served request is measured; the 40 batch rows are not in its percentiles
    assert found["latency"]["observed"]["measured"] == 1
    slo = ops.root.parent / "slo.toml"
    slo.write_text(
        '[slo]\nname = "fast"\n\n[[objectives]]\nname = "p99"\nmetric = "latency_p99_ms"\n'
        'max = 1.0\nverdict = "WARN"\n'
    )
    ops_config.install(ws, "opal", "slo", slo, env="staging", reason="request latency")
    only_batch = monitoring.Plan(**{**_plan_fields(ws), "batches": _batch_rows(ws)[:1]})
    evidence = monitoring.compute(ws, only_batch)
    (p99,) = evidence["slo"]["objectives"]
    assert p99["verdict"] == "INCONCLUSIVE" and not p99["breached"]
    assert "batch scoring" in p99["detail"]
    assert "latency" not in {c["name"] for c in evidence["checks"]}


def _batch_rows(ws: Any) -> list[Any]:
    with ws.session() as s:
        return decision_log.batches(s)


def _plan_fields(ws: Any) -> dict[str, Any]:
    with ws.session("opal") as s:
        plan = monitoring._plan(s, "staging", "all", None)
    return {k: getattr(plan, k) for k in plan.__dataclass_fields__}


def test_old_batch_rows_with_a_latency_are_not_read_as_request_latency(ops: Ops) -> None:
    """A batch logged with the call's time on each row (before this fix): monitoring ignores it."""
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="staging", reason="go")
    sc = scoring.Scorer.open(ws, "staging", "scorer")
    sc.log.source = "serve"  # write the rows with a latency, as batch scoring used to
    table = _stamped(sc, applicants(ws, 35))
    sc.log.source = "batch"
    sc.log.write([table])
    evidence = monitoring.compute(ws, monitoring.Plan(**_plan_fields(ws)))
    assert evidence["metrics"]["latency_p99_ms"] is None
    assert json.dumps(evidence["unmeasured"]["latency_p99_ms"]).find("batch scoring") > 0


def _stamped(sc: Any, frame: Any) -> Any:
    sc.score(frame, caller="cal", flush=False)
    with sc.log._lock:
        (table,) = sc.log._parts
        sc.log._parts = []
    return table.set_column(
        table.schema.get_field_index("latency_ms"),
        "latency_ms",
        pa.array([5000.0] * table.num_rows, pa.float64()),
    )


def test_text_in_a_condition_column_and_inf_are_errors_of_their_rows(ops: Ops) -> None:
    """One stray value fails its own row (refused or error), never the whole batch."""
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", reason="go live")
    frame = applicants(ws, 5).astype({"age_years": object, "credit_amount": float})
    frame["age_years"] = ["30", "19", "unknown", 40, None]  # text, as a CSV or JSON gives it
    frame.loc[1, "credit_amount"] = np.inf
    frame.loc[3, "credit_amount"] = -np.inf
    res = scoring.Scorer.open(ws, "production", "scorer").score(frame, caller="cal")
    got = res.answers.to_pylist()
    assert [g["status"] for g in got] == ["ok", "refused", "refused", "error", "refused"]
    assert "under 21" in got[1]["detail"] and "under 21" in got[2]["detail"]
    assert got[3]["detail"] == "credit_amount is not a finite number"
    assert res.batch is not None and res.batch.count == 5
    inf = applicants(ws, 2).astype({"credit_amount": float}).assign(age_years=30)
    inf.loc[0, "credit_amount"] = np.inf
    again = scoring.Scorer.open(ws, "production", "scorer").score(inf, caller="cal")
    assert [a["status"] for a in again.answers.to_pylist()] == ["error", "ok"]


@pytest.mark.parametrize(
    "score",
    [
        "CASE WHEN duration_months > 36 THEN 'high' ELSE 0.2 END",
        "read_text('/etc/passwd')",
        "no_such_function(duration_months)",
        "'0.5'",
    ],
)
def test_a_baseline_rule_that_cannot_score_is_refused_before_it_is_recorded(
    ops: Ops, tmp_path: Path, score: str
) -> None:
    ws = ops.ws
    head = ws.ledger.head()[0]
    with pytest.raises(UsageError, match="baseline's score"):
        deployments.baseline_rule("dur", score)
    toml = tmp_path / "b.toml"
    toml.write_text(f'[baseline]\nname = "dur"\nscore = "{score}"\n')
    run = _cli(ops, "--as", "opal", "deploy", "--baseline", str(toml), "--env", "staging",
               "--reason", "x")  # fmt: skip
    assert run.exit_code == 2, run.output
    assert ws.ledger.head()[0] == head
    assert deployments.baseline_rule(
        "ok", "CASE WHEN checking_account = 'A11' THEN 0.7 ELSE 0.1 END"
    )


def _incident(ws: object) -> int:
    """An open incident of staging: a baseline stands in for a model only during one."""
    from core.operations import incidents

    row = incidents.open_incident(ws, "opal", env="staging", title="model down", reason="r")
    return int(row.seq)


def test_a_baseline_rule_that_cannot_be_evaluated_gives_error_decisions(ops: Ops) -> None:
    """A rule recorded before the bind check (text in a score) fails its rows, never the call."""
    ws = ops.ws
    rule = deployments.baseline_rule("dur", "CASE WHEN duration_months > 36 THEN 0.6 ELSE 0.2 END")
    rule["score_sql"] = "CASE WHEN duration_months > 0 THEN 'high' ELSE 0.2 END"
    deployments.deploy_baseline(
        ws, "opal", env="staging", rule=rule, reason="fallback", incident=_incident(ws)
    )
    res = scoring.Scorer.open(ws, "staging", "scorer").score(applicants(ws, 5), caller="cal")
    assert res.counts == {"error": 5}
    assert "the baseline rule cannot be evaluated" in res.answers.column("detail")[0].as_py()
    assert res.batch is not None and res.batch.errors == 5


def test_outcomes_of_a_file_spanning_a_baseline_period_are_recorded_for_the_model(
    ops: Ops, tmp_path: Path
) -> None:
    """Ids a rule decided are reported, not a refusal of the whole file."""
    from core.operations import outcomes

    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="staging", reason="go")
    frame = applicants(ws, 4)
    model = scoring.Scorer.open(ws, "staging", "scorer").score(frame.iloc[:2], caller="cal")
    rule = deployments.baseline_rule(
        "flat", "CASE WHEN duration_months > 1000 THEN 0.9 ELSE 0.2 END"
    )
    deployments.deploy_baseline(
        ws, "opal", env="staging", rule=rule, reason="fallback", incident=_incident(ws)
    )
    ruled = scoring.Scorer.open(ws, "staging", "scorer").score(frame.iloc[2:], caller="cal")
    ids = [*model.answers.column("request_id").to_pylist()]
    rule_ids = [*ruled.answers.column("request_id").to_pylist()]
    path = tmp_path / "o.csv"
    pd.DataFrame({"request_id": ids + rule_ids, "outcome": [0, 1, 0, 1]}).to_csv(path, index=False)
    added = outcomes.add(ws, "opal", path, reason="labels")
    assert added.matched == 2 and added.by_rule == rule_ids and added.unmatched == []
    assert sorted(outcomes.read(ws).column("request_id").to_pylist()) == sorted(ids)


def test_a_playbook_with_a_baseline_that_cannot_score_is_refused(ops: Ops) -> None:
    from tests.operations.test_incidents import PLAYBOOK

    ws = ops.ws
    head = ws.ledger.head()[0]
    bad = PLAYBOOK.replace(
        '"CASE WHEN duration_months > 36 THEN 0.6 ELSE 0.2 END"', "\"read_text('/etc/passwd')\""
    )
    assert bad != PLAYBOOK
    path = ops.root.parent / "pb.toml"
    path.write_text(bad)
    with pytest.raises(UsageError, match="cannot be evaluated"):
        ops_config.install(ws, "opal", "playbook", path, env="staging", reason="r")
    assert ws.ledger.head()[0] == head
