"""``ledgerml attest create|verify``: signed in-toto statements about files."""

from __future__ import annotations

from dataclasses import asdict
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


@app.command("create")
@guarded
def create(
    file: Annotated[Path, typer.Argument(help="The file to store and sign.")],
    key: Annotated[
        str | None, typer.Option(help="Key id prefix or label (default: your newest active key).")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Store a file and sign an in-toto statement about it with your key."""
    from core.identity import attest

    att = attest.create(open_ws(workspace), actor_name(as_actor), file, key_ref=key, reason=reason)
    if want_json(json_out):
        output.emit_json(asdict(att))
        return
    output.line(f"signed {file.name} at event #{att.seq}; envelope sha256:{att.envelope_digest}")


@app.command("verify")
@guarded
def verify(
    envelope: Annotated[str, typer.Argument(help="Envelope digest (or a prefix of it).")],
    file: Annotated[
        Path | None, typer.Option(help="Also check this file is what was signed.")
    ] = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Verify a recorded signature: bytes, signature, key status when it was made."""
    from core.identity import attest

    check = attest.verify(open_ws(workspace), envelope, file=file)
    if want_json(json_out):
        output.emit_json(asdict(check))
    else:
        mark = "[green]VALID[/green]" if check.ok else "[red]INVALID[/red]"
        output.line(
            f"{mark} ({check.status}): {check.detail}; key {check.key_id[:16]}, "
            f"recorded at event #{check.seq}"
        )
    if not check.ok:
        raise typer.Exit(output.EXIT_INTEGRITY)
