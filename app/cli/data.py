"""``ledgerml validate`` and ``ledgerml feature build``."""

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
from app.cli.snapshot import snapshot_json

feature_app = typer.Typer(no_args_is_help=True)


@guarded
def validate(
    ref: Annotated[str, typer.Argument(help="Snapshot: dataset@version or dataset (latest).")],
    suite: Annotated[Path, typer.Option(help="Validation suite (TOML).")],
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Run a validation suite on a snapshot and record the result as evidence.

    Exits 1 when an error-level check fails (the failing result is recorded too).
    """
    from core.data import validation

    with output.progress("Validating") as progress:
        row, result = validation.run(
            open_ws(workspace), actor_name(as_actor), ref, suite, reason=reason, progress=progress
        )
    if want_json(json_out):
        doc = result.to_json()
        for entry, check in zip(doc["checks"], result.checks, strict=True):
            entry["verdict"] = check.verdict
        output.emit_json(
            {**doc, "verdict": result.verdict, "event": row.seq, "result_digest": row.result_digest}
        )
    else:
        output.validation_result(result, row.seq)
    if not result.passed:
        raise typer.Exit(output.EXIT_CHECK)


def _pairs(values: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        alias, sep, ref = value.partition("=")
        if not sep or not alias.strip() or not ref.strip():
            raise typer.BadParameter(
                f"{value!r} is not ALIAS=SNAPSHOT (e.g. raw=loans@1)", param_hint="--input"
            )
        if alias.strip() in pairs:
            raise typer.BadParameter(
                f"input {alias.strip()!r} is given twice", param_hint="--input"
            )
        pairs[alias.strip()] = ref.strip()
    return pairs


@feature_app.command("build")
@guarded
def build(
    view: Annotated[Path, typer.Argument(help="Feature view TOML (names its SQL and inputs).")],
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "--input",
            help="ALIAS=SNAPSHOT: read this snapshot (dataset@N, or dataset for its latest "
            "version) as the view's input ALIAS instead of the one the file names. Repeatable.",
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Materialise a feature view as a new snapshot with lineage to its inputs.

    The view file names its inputs (`raw = "german-credit@1"`); `--input raw=loans@1` reads
    another snapshot under the same alias without editing the file.
    """
    from core.data import features

    overrides = _pairs(inputs or [])
    with output.progress("Building") as progress:
        snap, created = features.build(
            open_ws(workspace),
            actor_name(as_actor),
            view,
            inputs=overrides,
            reason=reason,
            progress=progress,
        )
    ws = open_ws(workspace)
    notes = features.tag_notes(ws, snap)
    if want_json(json_out):
        output.emit_json({**snapshot_json(snap), "created": created, "notes": notes})
        return
    if created:
        output.line(f"built {snap.ref}: {snap.rows} rows, table sha256:{snap.table_digest[:16]}…")
    else:
        output.line(
            f"{snap.ref} already holds this result (same inputs and transform); no new version"
        )
    output.line(f"PII columns: {', '.join(snap.pii) or 'none'}")
    output.line(f"sensitive columns: {', '.join(snap.sensitive) or 'none'}")
    from rich.markup import escape

    for note in notes:
        output.line(escape(f"  note: {note}"))


def register(app: typer.Typer) -> None:
    """Add the data commands to the root app."""
    app.command()(validate)
    app.add_typer(feature_app, name="feature", help="Build feature views (SQL over snapshots).")
