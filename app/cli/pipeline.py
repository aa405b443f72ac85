"""``ledgerml pipeline run``: the governed steps chained for CI/CD, the run itself an event."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli import output
from app.cli.common import ActorOpt, JsonOpt, WorkspaceOpt, actor_name, guarded, open_ws, want_json

pipeline_app = typer.Typer(no_args_is_help=True)


@pipeline_app.command("run")
@guarded
def run(
    file: Annotated[Path, typer.Argument(help="The pipeline file (docs/formats/pipeline.md).")],
    junit: Annotated[
        Path | None,
        typer.Option(
            "--junit", help="Also write the JUnit XML report here (for Jenkins or GitLab)."
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out-dir",
            help="Where steps write their outputs (an approval request's out); default: "
            "the current folder. Inputs are read relative to the pipeline file.",
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run a pipeline: snapshot, validate, feature view, train, evaluate, request approval,
    deploy, each as the actor the file names (whose secret this process must hold).

    Stops at the first step that says no and exits 1 (a gate or the policy refused) or 2
    (bad input); later steps are skipped. Whatever happens, the run is recorded as one
    pipeline.run event with every step's result and the JUnit report: the CI/CD history
    auditors ask for ("history of tests, approvals and deployment timestamps"). A file that
    does not parse records nothing (exit 2). You (--as) record the run; any active actor may.
    """
    from core.operations import pipeline

    quiet = want_json(json_out)

    def show(step: pipeline.StepResult) -> None:
        if not quiet:
            mark = "ok  " if step.status == "passed" else "FAIL"
            events = ", ".join(f"#{e}" for e in step.events) or "no event"
            _say(f"{mark} {step.name} ({step.do} as {step.actor}): {step.detail} [{events}]")

    outcome = pipeline.run(
        open_ws(workspace), actor_name(as_actor), file, on_step=show, out_dir=out_dir
    )
    if junit is not None:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_bytes(outcome.junit)
    if quiet:
        output.emit_json(outcome.to_json())
    else:
        for step in outcome.steps:
            if step.status == "skipped":
                _say(f"skip {step.name} ({step.do}): an earlier step failed")
        _say(
            f"pipeline {outcome.name} {outcome.status.upper()}: recorded as event #{outcome.seq}"
            + (f"; JUnit report in {junit}" if junit is not None else "")
        )
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


@pipeline_app.command("runs")
@guarded
def runs(
    name: Annotated[str | None, typer.Option("--name", help="Only this pipeline.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The recorded pipeline runs: when, by whom, how each ended and where it stopped.

    The CI/CD history auditors ask for; each run's steps name the events they recorded
    (`ledgerml audit log` shows them) and its JUnit report is a blob in the workspace.
    """
    from core.operations import views

    found = views.pipeline_runs(open_ws(workspace), actor_name(as_actor), name=name, limit=limit)
    if want_json(json_out):
        output.emit_json(found)
        return
    output.table(
        ["#", "pipeline", "when", "by", "status", "steps passed", "stopped at"],
        [
            [
                r["seq"],
                r["name"],
                str(r["created_at"])[:19],
                r["created_by"],
                str(r["status"]).upper(),
                f"{sum(s['status'] == 'passed' for s in r['steps'])}/{len(r['steps'])}",
                r["failed_step"] or "-",
            ]
            for r in found
        ],
        title="pipeline runs",
    )


def _say(text: str) -> None:
    """One line of output, printed as written (conditions hold ``[where …]``, not markup)."""
    from rich.markup import escape

    output.line(escape(text))


def register(app: typer.Typer) -> None:
    """Add ``pipeline`` to the root app."""
    app.add_typer(pipeline_app, name="pipeline", help="CI/CD pipelines of governed steps.")
