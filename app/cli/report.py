"""``ledgerml report datasheet``."""

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

app = typer.Typer(no_args_is_help=True)


@app.command("datasheet")
@guarded
def datasheet(
    ref: Annotated[str, typer.Argument(help="Snapshot: dataset@version or dataset (latest).")],
    out: Annotated[
        Path, typer.Option("-o", "--output", help="Folder for the .md and .html.")
    ] = Path("reports-out"),
    answers: Annotated[
        Path | None,
        typer.Option(
            help="TOML answering motivation, composition, uses, distribution, maintenance."
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Write a data sheet (Markdown and self-contained HTML) and record it as evidence."""
    from core import datasheet as ds

    md, html = ds.write(
        open_ws(workspace), actor_name(as_actor), ref, out, answers_path=answers, reason=reason
    )
    if want_json(json_out):
        output.emit_json({"markdown": str(md), "html": str(html)})
    else:
        output.line(f"wrote {md} and {html}")
