"""Reproduction: retrain a recorded run in a fresh process and compare, exactly.

The parent checks that the input still is the recorded table (its Parquet copy verifies and
its table digest matches) and starts ``python -m core.modelling.reproduce`` with the run's
stored spec. The child retrains through the same :func:`core.modelling.training.fit` and
reports digests; the parent
compares the test-split predictions bit for bit, every metric exactly, and the environment
package by package, then records one ``reproduce.run`` event with the outcome. skops archives
embed object ids and timestamps, so artifact bytes are not compared (the report says so);
predictions and metrics are.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from core.data import snapshots
from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import CheckFailedError, UsageError
from core.kernel.kinds import new_event
from core.kernel.rows import ReproductionRow, RunRow, SnapshotRow
from core.kernel.workspace import Session, Workspace
from core.modelling import environment, training
from core.modelling.events import REPRODUCE_ROLES, ReproduceRun
from core.modelling.models import resolve_run
from storage.canonical import canonical_bytes

ROLES = REPRODUCE_ROLES


def _child(ws_root: str, run_id: str, keys: dict[str, Any]) -> dict[str, Any]:
    """Retrain in this fresh process; ``keys``: the data keys the parent was granted.

    The parent recorded the access (``data.access``, purpose ``reproduce``) and hands the
    input's data key over this process's stdin, a pipe: never a file, never an argument
    (which other users of the machine can read).
    """
    from core.data import encryption

    ws = Workspace.open(ws_root)
    with ws.session() as s:
        run = resolve_run(s.catalog, run_id)
        snap = snapshots.resolve(s.catalog, run.input_ref)
    spec = training.load_run_spec(ws, run)
    with encryption.granted_from(keys):
        result = training.fit(ws, spec, snap)
    return {
        "model_digest": result["model_digest"],
        "predictions_digest": result["predictions_digest"],
        "metrics": result["metrics"],
        "environment": environment.capture(threads=result["threads"]),
    }


def run(
    ws: Workspace, actor: str, run_ref: str, *, reason: str = "", python: str | None = None
) -> tuple[ReproductionRow, dict[str, Any]]:
    """Reproduce a run and record the outcome (a failed reproduction is evidence too)."""

    def prepare(s: Session) -> tuple[RunRow, SnapshotRow]:
        recorded = resolve_run(s.catalog, run_ref)
        return recorded, snapshots.resolve(s.catalog, recorded.input_ref)

    def compute(found: tuple[RunRow, SnapshotRow]) -> tuple[RunRow, dict[str, Any]]:
        from core.data import encryption

        recorded, snap = found
        with encryption.open(
            ws, actor, [snap], "reproduce", target=f"run:{recorded.run_id}", reason=reason
        ) as grant:
            return recorded, compare(ws, recorded, snap, python, keys=grant.key_material())

    def commit(
        s: Session, done: tuple[RunRow, dict[str, Any]]
    ) -> tuple[ReproductionRow, dict[str, Any]]:
        recorded, outcome = done
        blob = s.put_blob(canonical_bytes(outcome), "application/vnd.ledgerml.reproduction+json")
        entry = s.commit(
            new_event(
                actor,
                ReproduceRun(
                    run_id=recorded.run_id,
                    passed=outcome["passed"],
                    result_digest=blob.sha256,
                    differences=outcome["differences"],
                ),
                [f"run:{recorded.run_id}"],
                reason,
                [blob],
            )
        )
        row = next(r for r in s.catalog.reproductions(recorded.run_id) if r.seq == entry.seq)
        return row, outcome

    return command.run(
        ws,
        actor,
        guards=[needs(*ROLES, action="reproduce runs")],
        prepare=prepare,
        compute=compute,
        commit=commit,
    )


def compare(
    ws: Workspace,
    recorded: RunRow,
    snap: SnapshotRow,
    python: str | None = None,
    *,
    keys: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Retrain ``recorded`` in a child process and compare (slow: no workspace is held).

    ``keys``: an encrypted input's granted data keys (:meth:`core.data.encryption.Grant.
    key_material`), handed to the child on its stdin.
    """
    differences: list[str] = []
    if snap.table_digest != recorded.input_table_digest:
        differences.append(
            f"input {snap.ref}: table digest {snap.table_digest[:16]}… differs "
            f"from the recorded {recorded.input_table_digest[:16]}…"
        )
    snapshots.parquet_path(ws, snap)  # raises IntegrityError if the input copy was altered
    child = subprocess.run(
        [python or sys.executable, "-m", "core.modelling.reproduce", str(ws.root), recorded.run_id],
        input=json.dumps(keys or {}),
        capture_output=True,
        text=True,
        timeout=3600,
        cwd=Path(__file__).resolve().parents[2],  # the source root, where `core` is
    )
    if child.returncode != 0:
        raise UsageError(f"the retraining process failed: {child.stderr.strip()[-500:]}")
    fresh = json.loads(child.stdout)
    event = training.run_record(ws, recorded)
    old_env = json.loads(ws.objects.read_verified(recorded.environment_digest))
    env_diff = environment.differences(old_env, fresh["environment"])
    old_metrics = json.loads(ws.objects.read_verified(event.metrics_digest))
    if fresh["predictions_digest"] != recorded.predictions_digest:
        differences.append("test-split predictions differ from the recorded ones")
    metric_diff = [
        f"metric {k}: {old_metrics.get(k)} → {fresh['metrics'].get(k)}"
        for k in sorted(set(old_metrics) | set(fresh["metrics"]))
        if old_metrics.get(k) != fresh["metrics"].get(k)
    ]
    differences += metric_diff
    outcome = {
        "run_id": recorded.run_id,
        "passed": not differences,
        "differences": differences,
        "environment_differences": env_diff,
        "predictions_digest": {
            "recorded": recorded.predictions_digest,
            "reproduced": fresh["predictions_digest"],
        },
        "artifact": {
            "recorded": recorded.model_digest,
            "reproduced": fresh["model_digest"],
            "compared": False,
            "note": "skops archives embed object ids and timestamps; predictions "
            "and metrics are compared instead",
        },
    }
    if differences and env_diff:
        outcome["differences"] = differences + [f"environment: {d}" for d in env_diff]
    return outcome


def require_reproduced(row: ReproductionRow) -> None:
    """Raise CheckFailedError if a reproduction did not match."""
    if not row.passed:
        raise CheckFailedError(
            f"run {row.run_id} did not reproduce: " + "; ".join(json.loads(row.differences))
        )


if __name__ == "__main__":
    sys.stdout.write(
        json.dumps(_child(sys.argv[1], sys.argv[2], json.loads(sys.stdin.read() or "{}")))
    )
