"""``ledgerml evaluate``: a model version on its held-out split or another snapshot, or an
existing score (``--predictions``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli import output
from app.cli.common import (
    ActorOpt,
    JsonOpt,
    ReasonOpt,
    WorkspaceOpt,
    actor_name,
    guarded,
    open_ws,
    want_json,
)
from core.kernel.errors import UsageError


def register(root: typer.Typer) -> None:
    """Add ``evaluate`` to the root app."""
    root.command()(evaluate)


@guarded
def evaluate(
    suite: Annotated[Path, typer.Option(help="Evaluation suite (TOML).")],
    ref: Annotated[
        str | None,
        typer.Argument(
            help="Model version: name@N, or name (latest). Omit it with --predictions.",
            show_default=False,
        ),
    ] = None,
    on: Annotated[
        str | None,
        typer.Option(
            "--on",
            help="Evaluate the model on every row of this snapshot (a later or external test "
            "set) instead of its held-out split; its columns must match the model's features.",
            show_default=False,
        ),
    ] = None,
    predictions: Annotated[
        str | None,
        typer.Option(
            "--predictions",
            help="Audit an existing score instead of a model: the snapshot holding the score "
            "column, the label and the sensitive attributes (needs --score-spec).",
            show_default=False,
        ),
    ] = None,
    score_spec: Annotated[
        Path | None,
        typer.Option(
            "--score-spec",
            help="Score spec (TOML): score column and kind, label, threshold, sensitive "
            "columns, [outcome]. See docs/formats/score-spec.md.",
            show_default=False,
        ),
    ] = None,
    key: Annotated[str | None, typer.Option(help="Key to sign the evidence with.")] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Test a model (or an existing score) for fairness and more; sign the evidence.

    Exits 1 when an error-level threshold fails (the failing evidence is recorded too).
    """
    with output.progress("Evaluating") as progress:
        if predictions is not None:
            if ref is not None or on is not None:
                raise UsageError(
                    "--predictions audits an existing score: give no model version and no --on"
                )
            if score_spec is None:
                raise UsageError(
                    "--predictions needs --score-spec",
                    hint="It says which column is the score, the label, the threshold, the "
                    "sensitive columns and the outcome's meaning.",
                )
            from core.evidence import score_evaluation

            seq, evidence = score_evaluation.evaluate(
                open_ws(workspace),
                actor_name(as_actor),
                predictions,
                score_spec,
                suite,
                reason=reason,
                key_ref=key,
                progress=progress,
            )
        else:
            if ref is None:
                raise UsageError(
                    "evaluate needs a model version (or --predictions SNAPSHOT)",
                    hint="e.g. `ledgerml evaluate credit-risk@1 --suite evaluation.toml`.",
                )
            if score_spec is not None:
                raise UsageError("--score-spec goes with --predictions")
            from core.evidence import evaluation

            seq, evidence = evaluation.evaluate(
                open_ws(workspace),
                actor_name(as_actor),
                ref,
                suite,
                reason=reason,
                key_ref=key,
                progress=progress,
                on=on,
            )
    if want_json(json_out):
        output.emit_json({**evidence.to_json(), "event": seq})
    else:
        subject = (
            evidence.score.subject
            if evidence.score
            else evidence.model.ref
            if evidence.model
            else ""
        )
        if evidence.score is not None:
            output.fields(
                [(name, output.value_text(value)) for name, value in evidence.score.summary.items()]
            )
        output.table(
            ["section", "check", "observed", "threshold", "verdict"],
            [
                (
                    c.section,
                    c.name,
                    output.value_text(c.observed),
                    output.value_text(c.threshold),
                    c.verdict + (f": {c.note}" if c.note else ""),
                )
                for c in evidence.checks
            ],
            title=f"{subject} × {evidence.suite.name} (on {evidence.data.snapshot})",
        )
        summary = output.verdict_summary(evidence.verdict, evidence.errors, evidence.warnings)
        output.line(f"{summary}; signed evidence recorded as event #{seq}")
    if not evidence.passed:
        raise typer.Exit(output.EXIT_CHECK)
