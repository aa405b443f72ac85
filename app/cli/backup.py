"""``ledgerml backup DEST`` and ``ledgerml restore SRC --workspace NEW``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    ws_path,
)


@guarded
def backup(
    dest: Annotated[Path, typer.Argument(help="A new (or empty) folder for the backup.")],
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Copy the workspace consistently (admins and auditors): ledger, objects, key store, settings.

    The workspace is held while it is copied; backup.json in DEST lists the ledger head and
    the SHA-256 of every file. The catalog is not copied (restore rebuilds it). The key store
    holds wrapped data keys only: the key-encryption key stays in the OS keyring, and each
    erasure replaces it, so encrypted data in a backup made before an erasure stays
    unreadable. DEST must not exist or be empty (exit 2 otherwise); a killed backup leaves
    nothing under DEST.
    """
    from core.audit import backup as backups

    done = backups.backup(open_ws(workspace), actor_name(as_actor), dest)
    if want_json(json_out):
        output.emit_json(
            {
                "path": str(done.path),
                "head_seq": done.head_seq,
                "head_hash": done.head_hash,
                "files": done.files,
                "bytes": done.bytes,
            }
        )
        return
    output.line(
        f"backup written to {done.path}: ledger head #{done.head_seq} "
        f"{done.head_hash[:16]}…, {output.count(done.files, 'file')}, {done.bytes} bytes"
    )


@guarded
def restore(
    src: Annotated[Path, typer.Argument(help="A folder `ledgerml backup` wrote.")],
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Restore a backup into a new workspace folder (--workspace), then verify it.

    Every file is checked against backup.json before anything is written: a missing or
    altered file exits 3 naming it, and no workspace is created. The target must not exist
    or be empty. The catalog is rebuilt, and the restored workspace is verified, against its
    witnesses too: a backup older than a witness's checkpoints is a rollback (exit 3).
    """
    from core.audit import backup as backups
    from core.kernel.paths import locate

    ws, report = backups.restore(src, locate(ws_path(workspace)))
    if want_json(json_out):
        output.emit_json({"workspace": str(ws.root), "verify": report.to_json()})
    else:
        output.line(f"restored {report.events} events into {ws.root}")
        for failure in report.failures:
            output.note(f"[bold red]FAIL[/bold red] {failure}")
        for note in report.notes:
            output.note(f"[yellow]note[/yellow] {note}")
        if report.ok:
            output.line("[bold green]VERIFIED[/bold green] (`ledgerml audit verify` for details)")
        else:
            output.line("[bold red]INTEGRITY FAILURE[/bold red] in the restored workspace")
    if not report.ok:
        raise typer.Exit(output.EXIT_INTEGRITY)


def register(app: typer.Typer) -> None:
    """Add the backup commands to the root app."""
    app.command()(backup)
    app.command()(restore)
