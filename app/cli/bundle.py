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
        f"Auditors verify it with their own trusted copy of verify.py (or `ledgerml bundle "
        f"verify {name}`) and the organisation key pinned with --key, obtained from you "
        "through another channel: `ledgerml key export-public organisation -o org.pem`."
    )


@app.command("verify")
@guarded
def verify(
    file: Annotated[Path, typer.Argument(help="The bundle (.zip).")],
    checkpoint: Annotated[
        Path | None, typer.Option(help="A checkpoint you saw before: the log must only grow.")
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option(
            help="Pin the organisation's public key (PEM; for a format-1 bundle its workspace "
            "key), obtained from the organisation through another channel than the bundle."
        ),
    ] = None,
    recompute: Annotated[
        bool,
        typer.Option(
            "--recompute",
            help="Also recompute the headline figures (ROC AUC, accuracy, per-group rates, "
            "TPR/FPR gaps, disparate impact) from the bundled test predictions and name any "
            "that differs from the signed evidence (exit 3).",
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Verify a bundle without any workspace, against an anchor you trust.

    Exit 0: verified and anchored. Exit 1: self-consistent but UNANCHORED (every check passed,
    but only against keys the bundle itself carries). Exit 3: rejected.

    The anchor is --key, else the trusted-keys file $XDG_CONFIG_HOME/ledgerml/trusted-keys.pem
    (~/.config/ledgerml/trusted-keys.pem without XDG_CONFIG_HOME), which holds one or more PEM
    public keys of organisations you obtained directly; an earlier --checkpoint of yours
    anchors too. It also says whether the bundle's own verify.py is a released verifier.
    """
    from core.audit import bundle

    report = bundle.verify(file, previous=checkpoint, key=key, recompute=recompute)
    if want_json(json_out):
        output.emit_json(report)
    else:
        output.line(report["verify_py"]["line"])
        for line in report["checked"]:
            output.line(f"ok  {line}")
        for line in report["verdict"]:
            output.line(line)
        for line in report.get("recompute_lines", []):
            output.line(line)
    if report["exit_code"]:
        raise typer.Exit(report["exit_code"])
