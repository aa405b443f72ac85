"""``ledgerml bundle export|verify``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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


@app.command("export")
@guarded
def export(
    ref: ModelArg,
    out: Annotated[Path, typer.Option("-o", "--output", help="The bundle file to write (.zip).")],
    data: Annotated[
        str,
        typer.Option(
            help="full (the data and the test predictions) or hashes (no row-level data: "
            "their digests, with the data sheets and aggregate evidence)."
        ),
    ] = "full",
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the output file if it exists.")
    ] = False,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Export everything about a model version as one verifiable zip; the export is recorded."""
    from core.audit import bundle

    with output.progress("Exporting") as progress:
        result = bundle.export(
            open_ws(workspace),
            actor_name(as_actor),
            ref,
            out,
            data=data,
            reason=reason,
            overwrite=overwrite,
            progress=progress,
        )
    if want_json(json_out):
        output.emit_json(result)
        return
    output.fields(
        [
            ("bundle", f"{result['path']} (sha256:{result['sha256']})"),
            ("members", result["members"]),
            (
                "ledger events",
                f"{result['events']}, proven under checkpoint #{result['checkpoint_size']}",
            ),
            ("gaps", "; ".join(result["coverage"]["gaps"]) or "none"),
        ]
    )
    name = result["path"]
    output.note(
        f"Verify it with `ledgerml bundle verify {name}` from an install you trust, or with "
        f"the bundle's own verifier: `unzip -o {name} verify.py && python3 verify.py {name}` "
        "(it travels with the bundle, so whoever could alter the bundle could alter it too)."
    )


@app.command("verify")
@guarded
def verify(
    file: Annotated[Path, typer.Argument(help="The bundle (.zip).")],
    checkpoint: Annotated[
        Path | None, typer.Option(help="A checkpoint you saw before: the log must only grow.")
    ] = None,
    key: Annotated[Path | None, typer.Option(help="Pin the workspace public key (PEM).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Verify a bundle without any workspace: exit 0 and list the checks, or exit 3."""
    from core.audit import bundle

    report = bundle.verify(file, previous=checkpoint, key=key)
    if want_json(json_out):
        output.emit_json(report)
        return
    for line in report["checked"]:
        output.line(f"ok  {line}")
    output.line(f"VERIFIED: {report['model']} (workspace key {report['workspace_key']})")
