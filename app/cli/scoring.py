"""``ledgerml score``, ``decision show|verify|override``, ``outcome add``: governed scoring.

Every decision is logged (EU AI Act Art. 12: automatic recording of events over the system's
lifetime), provable offline, and open to a person's override (Art. 14: human oversight).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli import output
from app.cli.common import (
    ActorOpt,
    JsonOpt,
    WorkspaceOpt,
    actor_name,
    guarded,
    open_ws,
    want_json,
)

decision_app = typer.Typer(no_args_is_help=True)
outcome_app = typer.Typer(no_args_is_help=True)

EnvReq = Annotated[str, typer.Option("--env", "-e", help="Environment whose deployments score.")]
RequestArg = Annotated[str, typer.Argument(help="A decision's request id.")]
ReasonReq = Annotated[str, typer.Option("--reason", "-r", help="Why: recorded in the ledger.")]


@guarded
def score(
    input_file: Annotated[Path, typer.Argument(metavar="INPUT", help="CSV or Parquet rows.")],
    env: EnvReq,
    out: Annotated[
        Path, typer.Option("--output", "-o", help="Where the answers go (.csv or .parquet).")
    ],
    explain: Annotated[
        int, typer.Option("--explain", min=0, help="Add the top N SHAP reasons (slow).")
    ] = 0,
    request_id_column: Annotated[
        str | None,
        typer.Option("--request-id-column", help="Column holding request ids (default: new)."),
    ] = None,
    batch_rows: Annotated[
        int, typer.Option("--batch-rows", min=1, help="Rows per logged batch.")
    ] = 1_000_000,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Score a file with ENV's deployed, approved, verified models; log every decision.

    Canary traffic is split by request id; a shadow model is scored beside the live one and
    logged, not returned. Refusals (approval conditions, a throttle) and bad rows are
    answers too, logged like the rest. Each batch is committed before its answers are
    written.
    """
    import pyarrow as pa

    from core.kernel.errors import UsageError
    from core.operations import scoring
    from core.operations.outcomes import read_file

    ws, actor = open_ws(workspace), actor_name(as_actor)
    if out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise UsageError(f"{out.name}: the output is a .csv or .parquet file")
    table = read_file(input_file)
    if table.num_rows == 0:  # refused before anything opens: nothing is logged
        raise UsageError(
            f"{input_file.name} has no rows to score (columns only)",
            hint="Give a file with at least one row under its header.",
        )
    rids: list[str] | None = None
    if request_id_column is not None:
        if request_id_column not in table.column_names:
            raise UsageError(f"{input_file.name} has no column {request_id_column!r}")
        rids = [str(v) for v in table.column(request_id_column).to_pylist()]
        table = table.drop_columns([request_id_column])
    scorer = scoring.Scorer.open(ws, env, actor)
    answers, batches, counts = [], [], dict.fromkeys(("ok", "refused", "error"), 0)
    with output.progress("scoring") as tick:
        for start in range(0, max(table.num_rows, 1), batch_rows):
            part = table.slice(start, batch_rows)
            ids = rids[start : start + batch_rows] if rids is not None else None
            res = scorer.score(part, caller=actor, request_ids=ids, explain=explain)
            answers.append(res.answers)
            if res.batch is not None:
                batches.append(res.batch)
            for k, v in res.counts.items():
                counts[k] = counts.get(k, 0) + v
            tick(min(start + batch_rows, table.num_rows), table.num_rows, f"batch {len(batches)}")
    result = pa.concat_tables(answers) if answers else None
    if result is not None:
        _write(result, out)
    summary = {
        "env": env,
        "rows": table.num_rows,
        "counts": counts,
        "output": str(out),
        "batches": [
            {"seq": b.seq, "batch_id": b.batch_id, "count": b.count, "merkle_root": b.merkle_root}
            for b in batches
        ],
        "deployments": [d.to_json() for d in scorer.deployments],
    }
    if want_json(json_out):
        output.emit_json(summary)
        return
    for d in scorer.deployments:
        output.line(f"{d.row.arm:<7} {d.row.model} ({d.deployment_id})")
    output.line(
        f"scored {table.num_rows} rows in {env}: {counts['ok']} ok, {counts['refused']} "
        f"refused, {counts['error']} errors; answers in {out}"
    )
    for b in batches:
        output.line(
            f"logged batch #{b.seq} ({b.count} decisions, shadow included), "
            f"Merkle root {b.merkle_root[:16]}…"
        )


def _write(table: Any, out: Path) -> None:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    if out.suffix.lower() == ".csv":
        pcsv.write_csv(table, tmp)
    else:
        pq.write_table(table, tmp, compression="zstd")
    tmp.replace(out)


@decision_app.command("show")
@guarded
def show(
    request_id: RequestArg,
    proof: Annotated[
        Path | None, typer.Option("--proof", help="Write the offline proof (JSON) here.")
    ] = None,
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="Prove against this signed checkpoint.")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print a decision with its inclusion proof: leaf, audit path, batch root and event.

    The batch event is proven in turn against the latest signed checkpoint (sign one with
    `ledgerml audit checkpoint`), so the proof verifies offline with public keys only.
    """
    from core.audit import decision_proofs
    from core.operations import overrides

    ws = open_ws(workspace)
    doc = decision_proofs.prove(ws, request_id, checkpoint=checkpoint)
    with ws.session(actor_name(as_actor)) as s:
        over = [o.as_dict() for o in overrides.overrides_of(s, request_id)]
    if proof is not None:
        proof.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    if want_json(json_out):
        output.emit_json(doc | {"overrides": over})
        return
    for d in doc["decisions"]:
        row = d["decision"]
        output.fields(
            [
                ("request", row["request_id"]),
                ("arm", f"{row['arm']} ({'returned' if row['returned'] else 'not returned'})"),
                ("model", f"{row['model']} ({row['deployment_id']})"),
                ("status", row["status"] + (f": {row['detail']}" if row["detail"] else "")),
                ("score", "-" if row["score"] is None else f"{row['score']:.4f}"),
                ("decision", row["decision"] or "-"),
                ("reasons", row["reasons"] or "-"),
                ("caller", f"{row['caller']} at {row['ts']}"),
                ("input hmac", row["input_hmac"]),
                ("leaf", f"{d['index']} of {d['batch_size']} in batch #{d['batch_seq']}"),
                ("audit path", f"{len(d['audit_path'])} hashes"),
                ("batch root", d["merkle_root"]),
            ]
        )
        output.line()
    for seq, event in doc["events"].items():
        output.line(
            f"batch event #{seq} is included in the checkpoint of size {event['tree_size']} "
            f"(root {event['root'][:16]}…, {len(event['proof'])} hashes)"
        )
    for o in over:
        output.line(
            f"overridden by {o['created_by']} at {o['created_at']}: {o['outcome']} ({o['reason']})"
        )
    if proof is not None:
        output.line(f"proof written to {proof}; check it with `ledgerml decision verify {proof}`")


@decision_app.command("verify")
@guarded
def verify(
    proof: Annotated[Path, typer.Argument(help="A proof from `decision show --proof`.")],
    key: Annotated[
        list[Path] | None,
        typer.Option(
            "--key",
            help="PEM public key you trust, obtained through another channel: the "
            "organisation key (as for `bundle verify --key`) or the checkpoint signer's key.",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check a decision proof offline; anchor it only on a public key you bring.

    Every key in the proof came with it, so without --key a good proof is only
    self-consistent (anyone can make one with a key of their own). With the organisation key,
    the checkpoint signer's certificate and the batch event signer's must verify under it.
    Exit 0: verified and anchored to a --key; 1: it holds together but nothing you pinned
    anchors it; 2: a --key file holds no public key; 3: a link does not hold (tampering).
    """
    from core.audit import decision_proofs
    from core.kernel.errors import UsageError

    try:
        doc = json.loads(proof.read_text())
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot read {proof}: {err}") from err
    if not isinstance(doc, dict):
        raise UsageError(f"{proof.name} is not a decision proof")
    pinned: list[str] = []
    for path in key or []:
        try:
            pinned += decision_proofs.pinned_keys(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise UsageError(f"--key {path}: {err}") from err
    check = decision_proofs.verify_proof(doc, pinned=pinned)
    if want_json(json_out):
        output.emit_json(
            {
                "checked": check.checked,
                "anchored": check.anchored,
                "anchor": check.anchor,
                "unchecked": check.unchecked,
            }
        )
    else:
        for line in check.checked:
            output.line(f"ok  {line}")
        for line in check.unchecked:
            output.line(f"not checked  {line}")
        hint = (
            "Pin the checkpoint signer's own key, or ask for a proof of format 2 (which "
            "carries the certificates) from `decision show --proof`"
            if pinned
            else "Pass --key ORG.pem (the organisation's public key, obtained through another "
            "channel)"
        )
        output.line(
            f"VERIFIED and anchored: {check.anchor}"
            if check.anchored
            else f"SELF-CONSISTENT but UNANCHORED: {check.anchor}. {hint}"
        )
    if not check.anchored:
        raise typer.Exit(1)


@decision_app.command("override")
@guarded
def override(
    request_id: RequestArg,
    outcome: Annotated[
        str, typer.Option("--outcome", help="The decision that replaces the model's.")
    ],
    reason: ReasonReq,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Override a logged decision as a person (EU AI Act Art. 14: human oversight).

    The logged decision stays as it was; the override is a signed event beside it. A
    service identity may not override.
    """
    from core.operations import overrides

    row = overrides.override(
        open_ws(workspace), actor_name(as_actor), request_id, outcome=outcome, reason=reason
    )
    if want_json(json_out):
        output.emit_json(row.as_dict())
        return
    output.line(
        f"{row.created_by} overrode {row.request_id} (batch #{row.batch_seq}) with "
        f"{row.outcome!r} at event #{row.seq}"
    )


@outcome_app.command("add")
@guarded
def add_outcomes(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet: request ids and outcomes.")],
    request_id_column: Annotated[
        str, typer.Option("--request-id-column", help="Column of request ids.")
    ] = "request_id",
    outcome_column: Annotated[
        str, typer.Option("--outcome-column", help="Column of observed outcomes.")
    ] = "outcome",
    observed_at_column: Annotated[
        str | None, typer.Option("--observed-at-column", help="Column of observation times.")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why: recorded.")] = "",
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Record observed outcomes (late labels), joined to logged decisions by request id.

    Values are mapped to the model's positive class by its declared outcome. Request ids no
    logged decision has are reported and not recorded.
    """
    from core.operations import outcomes

    added = outcomes.add(
        open_ws(workspace),
        actor_name(as_actor),
        file,
        request_id_column=request_id_column,
        outcome_column=outcome_column,
        observed_at_column=observed_at_column,
        reason=reason,
    )
    if want_json(json_out):
        output.emit_json(
            {
                "seq": added.batch.seq if added.batch else None,
                "matched": added.matched,
                "unmatched": added.unmatched,
                "decided_by_rule": added.by_rule,
            }
        )
        return
    if added.batch is not None:
        output.line(f"recorded {added.matched} outcomes at event #{added.batch.seq}")
    else:
        output.line("recorded nothing: no request id of the file matches a model's decision")
    if added.unmatched:
        shown = ", ".join(added.unmatched[:5]) + ("…" if len(added.unmatched) > 5 else "")
        output.line(f"{len(added.unmatched)} request ids match no logged decision: {shown}")
    if added.by_rule:
        shown = ", ".join(added.by_rule[:5]) + ("…" if len(added.by_rule) > 5 else "")
        output.line(
            f"{len(added.by_rule)} request ids were decided by a baseline rule, which declares "
            f"no outcome: not recorded: {shown}"
        )


def register(app: typer.Typer) -> None:
    """Add the scoring commands to the root app."""
    app.command("score")(score)
    app.add_typer(decision_app, name="decision", help="Logged decisions: show, verify, override.")
    app.add_typer(outcome_app, name="outcome", help="Observed outcomes (late labels).")
