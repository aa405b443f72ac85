"""``ledgerml train``, ``model register|list|show|sign|verify|export|promote|history|risk``,
``reproduce``, ``lineage`` (``evaluate`` is in :mod:`app.cli.evaluate`)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli import output
from app.cli.common import (
    ActorOpt,
    JsonOpt,
    ModelArg,
    ReasonOpt,
    WorkspaceOpt,
    actor_name,
    guarded,
    open_ws,
    want_json,
)

app = typer.Typer(no_args_is_help=True)


def _code(code: dict[str, Any]) -> str:
    git = code.get("git")
    parts = [
        f"git {git['commit'][:12]}{' (dirty)' if git['dirty'] else ''}"
        if git
        else "not in a git checkout"
    ]
    parts += [f"transform sha256:{t[:16]}…" for t in code.get("transforms", [])]
    return ", ".join(parts)


METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1", "brier", "log_loss")


@guarded
def train(
    spec: Annotated[Path, typer.Argument(help="Training spec (TOML).")],
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Train from a spec whose input passed its validation suite, and record the run."""
    from core.modelling import training

    with output.progress("Training") as progress:
        run = training.train(
            open_ws(workspace), actor_name(as_actor), spec, reason=reason, progress=progress
        )
    metrics = json.loads(run.metrics)
    if want_json(json_out):
        output.emit_json({**run.as_dict(), "metrics": metrics})
        return
    output.fields(
        [
            ("run", f"run:{run.run_id} (event #{run.seq})"),
            ("input", run.input_ref),
            ("estimator", run.estimator),
            ("model artifact", f"sha256:{run.model_digest}"),
            ("test predictions", f"sha256:{run.predictions_digest}"),
            *[(k, f"{metrics[k]:.4f}") for k in METRICS],
            ("confusion matrix", metrics["confusion_matrix"]),
        ]
    )
    output.note(f"Next: `ledgerml model register run:{run.run_id} --name NAME`")


@app.command("register")
@guarded
def register(
    run: Annotated[str, typer.Argument(help="run:<id> or an id prefix.")],
    name: Annotated[str, typer.Option(help="Model name; becomes NAME@N.")],
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Register a run's model as the next version of a named model."""
    from core.modelling import models

    row, created = models.register(
        open_ws(workspace), actor_name(as_actor), run, name, reason=reason
    )
    if want_json(json_out):
        output.emit_json({**row.as_dict(), "created": created})
    elif created:
        output.line(f"registered {row.ref} from run:{row.run_id}")
    else:
        output.line(f"run:{row.run_id} is already {row.ref}; nothing changed")


@app.command("list")
@guarded
def list_(
    workspace: WorkspaceOpt = None, as_actor: ActorOpt = None, json_out: JsonOpt = False
) -> None:
    """List model versions."""
    from core.modelling import models

    rows = models.list_models(open_ws(workspace), actor_name(as_actor))
    if want_json(json_out):
        output.emit_json([r.as_dict() for r in rows])
        return
    output.table(
        ["model", "run", "artifact", "registered", "by"],
        [(r.ref, r.run_id, r.model_digest[:16], r.created_at[:19], r.created_by) for r in rows],
    )


@app.command("show")
@guarded
def show(
    ref: ModelArg,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show a model version: metrics, inputs, environment, signatures, status."""
    from core.documents.reporting import gap_in_words
    from core.evidence import evaluation
    from core.evidence.checks import not_passed
    from core.evidence.views import standing
    from core.modelling.model_view import view
    from reports.formatting import metric_name

    ws = open_ws(workspace)
    shown = view(ws, ref, actor_name(as_actor))
    found = evaluation.latest_evidence(ws, shown.model.ref, actor_name(as_actor))
    if want_json(json_out):
        doc = shown.to_json()
        doc["signature_status"] = shown.signature_status
        both = standing(shown.check.trusted, shown.check.why_untrusted, found)
        doc["evidence_verdict"] = both.evidence_verdict
        doc["summary"] = both.text
        doc["evidence"] = (
            {
                "event": found[1],
                "verdict": found[0].verdict,
                "not_passed": [
                    {"section": c.section, "name": c.name, "verdict": c.verdict}
                    for c in not_passed(found[0].checks)
                ],
            }
            if found
            else None
        )
        output.emit_json(doc)
        return
    m, run, record, metrics = shown.model, shown.run, shown.record, shown.metrics
    if found:
        ev, seq = found
        summary = output.verdict_summary(ev.verdict, ev.errors, ev.warnings)
        evidence = f"{summary} (verdict of {len(ev.checks)} checks at event #{seq})"
        gaps = [gap_in_words(c) for c in not_passed(ev.checks)]
    else:
        evidence, gaps = "none recorded (run `ledgerml evaluate`)", []
    output.fields(
        [
            ("model", m.ref),
            ("signature", shown.signature_status),
            ("evidence", evidence),
            *[("not passed", g) for g in gaps],
            (
                "run",
                f"run:{run.run_id} {run.estimator}, {run.created_at[:19]} by {run.created_by}",
            ),
            (
                "input",
                f"{record.input.ref} (table sha256:{record.input.table_digest[:16]}…)",
            ),
            (
                "gate",
                f"suite {record.gate.suite} passed at event #{record.gate.validation_seq}",
            ),
            ("artifact", f"sha256:{m.model_digest} — {shown.check.artifact_detail}"),
            (
                "environment",
                f"freeze sha256:{record.freeze_digest[:16]}…, code " + _code(record.code),
            ),
            *[(metric_name(k), f"{metrics[k]:.4f}") for k in METRICS if k in metrics],
            (
                "signatures",
                "; ".join(
                    f"#{s.seq} key {s.key_id[:12]} ({s.key_status}) "
                    + ("valid" if s.ok else "INVALID")
                    + ("" if s.detail == "valid" else f" ({s.detail})")
                    + f", OpenSSF {s.openssf}"
                    for s in shown.check.signatures
                )
                or "none",
            ),
            (
                "reproductions",
                "; ".join(
                    f"#{r.seq} {'passed' if r.passed else 'FAILED'}" for r in shown.reproductions
                )
                or "none",
            ),
        ]
    )


@app.command("sign")
@guarded
def sign(
    ref: ModelArg,
    key: Annotated[
        str | None, typer.Option(help="Key id prefix or label (default: your newest active key).")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Sign a model version (in-toto statement + OpenSSF model-signing bundle)."""
    from core.modelling import models

    row = models.sign(open_ws(workspace), actor_name(as_actor), ref, key_ref=key, reason=reason)
    if want_json(json_out):
        output.emit_json(row.as_dict())
        return
    extra = " and an OpenSSF model-signing bundle" if row.openssf_digest else ""
    output.line(
        f"signed {row.subject} at event #{row.seq} with key {row.key_id[:16]}: "
        f"a DSSE in-toto statement{extra}"
    )


@app.command("verify")
@guarded
def verify(
    ref: ModelArg,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Check the artifact's bytes, every signature and each key's status, and say the
    newest evidence verdict beside them.

    The exit code is about signature and provenance only (3 if the bytes or every signature
    fail, 0 otherwise): a model whose evidence is WARN, INCONCLUSIVE or FAIL still exits 0,
    and the last line says both ("signature and provenance: TRUSTED · evidence: WARN …").
    """
    from core.evidence import evaluation
    from core.evidence.views import standing
    from core.modelling import models

    ws = open_ws(workspace)
    check = models.verify(ws, ref, actor_name(as_actor))
    both = standing(
        check.trusted,
        check.why_untrusted,
        evaluation.latest_evidence(ws, ref, actor_name(as_actor)),
    )
    if want_json(json_out):
        output.emit_json({**asdict(check), **both.to_json()})
    else:
        output.line(
            f"{'[green]ok[/green]' if check.artifact_ok else '[red]FAIL[/red]'} "
            f"artifact: {check.artifact_detail}"
        )
        for v in check.signatures:
            mark = "[green]ok[/green]" if v.ok else "[red]FAIL[/red]"
            output.line(
                f"{mark} signature #{v.seq} key {v.key_id[:16]} ({v.key_status}): "
                f"{v.detail}; OpenSSF {v.openssf}"
            )
        if not check.signatures:
            output.line("[red]FAIL[/red] no signatures")
        output.line(both.text)
    if not check.trusted:
        raise typer.Exit(output.EXIT_INTEGRITY)


@app.command("export")
@guarded
def export(
    ref: ModelArg,
    out: Annotated[Path, typer.Option("-o", "--output", help="Folder to write into.")],
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Write a trusted model folder, its OpenSSF signature and public key.

    Recorded as a model.export event (the access log: a model is derived from personal data).
    """
    from core.modelling import models

    paths = models.export(open_ws(workspace), ref, out, actor_name(as_actor), reason=reason)
    if want_json(json_out):
        output.emit_json({kind: str(path) for kind, path in paths.items()})
        return
    for kind, path in paths.items():
        output.line(f"{kind}: {path}")
    if "signature" in paths:
        output.note(
            f"Verify offline: model_signing verify key {paths['model']} "
            f"--signature {paths['signature']} --public_key {paths['public_key']}"
        )


@guarded
def reproduce(
    run: Annotated[str, typer.Argument(help="run:<id> or an id prefix.")],
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Retrain a run in a fresh process and compare predictions and metrics exactly.

    Exits 1 when the reproduction differs (the outcome is recorded either way).
    """
    from core.modelling import reproduce as repro

    with output.progress("Reproducing"):
        row, outcome = repro.run(open_ws(workspace), actor_name(as_actor), run, reason=reason)
    if want_json(json_out):
        output.emit_json({**outcome, "event": row.seq})
    else:
        output.line(
            ("REPRODUCED" if row.passed else "DID NOT REPRODUCE")
            + f" run:{row.run_id} (recorded as event #{row.seq})"
        )
        for diff in outcome["differences"]:
            output.line(f"  - {diff}")
        if outcome["environment_differences"] and row.passed:
            output.note(
                "environment differs but results match: "
                + "; ".join(outcome["environment_differences"][:5])
            )
        output.note(outcome["artifact"]["note"])
    if not row.passed:
        raise typer.Exit(output.EXIT_CHECK)


@guarded
def lineage(
    ref: Annotated[str, typer.Argument(help="name@N, run:<id>, or a typed node.")],
    down: Annotated[
        bool, typer.Option("--down/--up", help="Downstream or upstream (default).")
    ] = False,
    depth: Annotated[int, typer.Option(help="How many hops.")] = 50,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="tree (readable), openlineage (JSON Lines: the START and COMPLETE RunEvents "
            "of each intake, feature build, training and evaluation in the walk, as "
            "`ledgerml export` writes them) or dot (Graphviz).",
        ),
    ] = "tree",
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show where a record came from (--up) or what came from it (--down).

    Exits 2 for a name nothing in the workspace is recorded under.
    """
    from core.audit import lineage as lin
    from core.audit.exports import openlineage

    if fmt not in ("tree", "openlineage", "dot"):
        raise typer.BadParameter("choose tree, openlineage or dot", param_hint="--format")
    if want_json(json_out) and fmt != "tree":
        raise typer.BadParameter(
            "--json prints the walk's edges; give either --json or --format", param_hint="--json"
        )
    ws = open_ws(workspace)
    walk = lin.walk(ws, ref, down=down, depth=depth, actor=actor_name(as_actor))
    if want_json(json_out):
        output.emit_json(walk.to_json())
    elif fmt == "openlineage":
        events = openlineage.for_walk(ws, walk, actor_name(as_actor))
        if events:
            typer.echo(openlineage.dumps(events), nl=False)
        else:
            output.note(
                f"no snapshot, training run or evaluation in this walk of {walk.root}: "
                "no OpenLineage events to print"
            )
    elif fmt == "dot":
        typer.echo(lin.render_dot(walk))
    else:
        typer.echo(lin.render_tree(walk))


VersionArg = Annotated[str, typer.Argument(help="Model version: name@N.")]


@app.command("promote")
@guarded
def promote(
    ref: VersionArg,
    to: Annotated[str, typer.Option("--to", help="Stage: validated, approved or retired.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why: recorded in the ledger.")],
    break_glass: Annotated[
        bool,
        typer.Option(
            "--break-glass",
            help="Emergency move without the approvals (the policy's break-glass roles only); "
            "recorded, and open until someone else reviews it.",
        ),
    ] = False,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Move a version along candidate -> validated -> approved (any -> retired), as policy allows.

    Moving to approved needs the approvals the version's risk tier demands (distinct people,
    none of them its developers). The decision is recorded either way.
    """
    from core.governance import lifecycle

    row = lifecycle.promote(
        open_ws(workspace), actor_name(as_actor), ref, to=to, reason=reason, break_glass=break_glass
    )
    if want_json(json_out):
        output.emit_json(row.as_dict() | {"approvals": json.loads(row.approvals)})
        return
    counted = json.loads(row.approvals)
    output.line(
        f"{row.model}: {row.from_stage} -> {row.to_stage} at event #{row.seq}"
        + (" [red]BREAK-GLASS[/red] (a review is due)" if row.break_glass else "")
        + (f", counting approvals {', '.join(f'#{c}' for c in counted)}" if counted else "")
    )


@app.command("history")
@guarded
def history(
    name: Annotated[str, typer.Argument(help="Model name (every version).")],
    at: Annotated[
        str | None,
        typer.Option("--at", help="Up to this moment: an event number or an ISO time (UTC)."),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Every risk assessment, approval, rejection, promotion, refusal, registration, signature
    and evaluation of a model, oldest first, with who, when, why and the policy."""
    from core.governance import lifecycle

    entries = lifecycle.history(open_ws(workspace), name, at=at, actor=actor_name(as_actor))
    if want_json(json_out):
        output.emit_json([e.to_json() for e in entries])
        return
    output.table(
        ["#", "when", "who", "version", "what", "detail", "reason", "policy"],
        [
            [
                e.seq,
                e.ts[:19],
                e.actor,
                e.ref,
                e.what,
                e.detail,
                e.reason,
                (e.policy or "")[7:19],
            ]
            for e in entries
        ],
    )


@app.command("risk")
@guarded
def risk(
    name: Annotated[str, typer.Argument(help="Model name.")],
    impact: Annotated[int, typer.Option(help="Impact if it goes wrong, 1 (low) to 5.")],
    likelihood: Annotated[int, typer.Option(help="Likelihood it goes wrong, 1 (low) to 5.")],
    rationale: Annotated[str, typer.Option(help="Why these scores.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why: recorded in the ledger.")],
    dpia: Annotated[
        str | None, typer.Option(help="Reference of its data-protection impact assessment.")
    ] = None,
    purpose: Annotated[str | None, typer.Option(help="What the model is for.")] = None,
    use: Annotated[str | None, typer.Option(help="How and where it is used.")] = None,
    restrictions: Annotated[str | None, typer.Option(help="Where it must not be used.")] = None,
    owner: Annotated[str | None, typer.Option(help="Who answers for it.")] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Set a model's risk tier from impact x likelihood (the policy in force maps it to a tier).

    Validators, approvers and admins only; the tier decides how many people must approve.
    """
    from core.governance import risk as risk_mod

    row = risk_mod.assess(
        open_ws(workspace),
        actor_name(as_actor),
        name,
        impact=impact,
        likelihood=likelihood,
        rationale=rationale,
        dpia=dpia,
        purpose=purpose,
        use=use,
        restrictions=restrictions,
        owner=owner,
        reason=reason,
    )
    if want_json(json_out):
        output.emit_json(row.as_dict())
        return
    output.line(
        f"{row.name}: tier {row.tier} (impact {row.impact} x likelihood {row.likelihood}) "
        f"at event #{row.seq}"
    )


def register_commands(root: typer.Typer) -> None:
    """Add the model commands to the root app."""
    root.command()(train)
    root.add_typer(app, name="model", help="Register, sign, verify and export model versions.")
    root.command()(reproduce)
    root.command()(lineage)
