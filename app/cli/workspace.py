"""``ledgerml init``, ``status`` and ``rebuild``."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

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
    ws_path,
)
from core.identity.keys.backends import backend_names


@guarded
def init(
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    key_backend: Annotated[
        str,
        typer.Option(
            "--key-backend",
            help="Where the organisation key lives (best: pkcs11, a token whose PIN only "
            f"admins know): {backend_names()}.",
        ),
    ] = "keyring",
    founder_backend: Annotated[
        str | None,
        typer.Option(
            "--founder-backend", help="Where your own key lives (default: as --key-backend)."
        ),
    ] = None,
    algorithm: Annotated[
        str, typer.Option(help="ecdsa-p256 (default) or ed25519 (keyring only).")
    ] = "ecdsa-p256",
    demo: Annotated[
        bool,
        typer.Option("--demo", help="Mark the founder as a demonstration identity (no assurance)."),
    ] = False,
    witness: Annotated[
        list[Path] | None,
        typer.Option(
            "--witness",
            help="A folder outside the workspace that receives a copy of every signed "
            "checkpoint; `audit verify` checks them (a rollback exits 3). It protects only "
            "if this workspace's writers cannot change it (another account's append-only "
            "share, WORM storage, another person's custody). Repeatable; it must exist.",
        ),
    ] = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Create a workspace: folders, the organisation key, your own key, you as first admin.

    The organisation key certifies every actor's key and nothing else; auditors pin its
    public half. Your own key signs what you do. The founding actor is --as, LEDGERML_ACTOR
    or your OS user. Refuses a folder that already holds a workspace. Without a witness
    (--witness, or `ledgerml config witness add` later), a truncation or rollback of the
    ledger by someone who can write to it is undetectable.
    """
    from core.audit import admin

    founder = actor_name(as_actor)
    ws = admin.init(
        ws_path(workspace),
        founder,
        key_backend=key_backend,
        algorithm=algorithm,
        reason=reason,
        founder_backend=founder_backend,
        demo=demo,
        witnesses=witness or [],
    )
    from core.audit import witnesses
    from core.audit.checkpoints import organisation_key

    with ws.session(founder) as s:
        key = organisation_key(s.catalog)
    where = [str(p) for p in witnesses.locations(ws)]
    if want_json(json_out):
        output.emit_json(
            {
                "workspace": str(ws.root),
                "workspace_id": ws.workspace_id,
                "founder": founder,
                "organisation_key": key.key_id,
                "key_backend": key.backend,
                "witnesses": where,
            }
        )
        return
    output.fields(
        [
            ("workspace", ws.root),
            ("founding admin", founder),
            ("organisation key", f"{key.key_id[:16]}… ({key.algorithm}, {key.backend})"),
            ("witnesses", ", ".join(where) or "none"),
        ]
    )
    output.note(
        "Give auditors the organisation key (`ledgerml key export-public organisation -o "
        "org.pem`) through a channel other than this workspace: it is what they pin. "
        "Next: `ledgerml actor add NAME --role ROLE`, `ledgerml status`."
    )
    if not where:
        output.note(
            "No witness folder: a rollback of this ledger by someone who can write to the "
            "workspace would go unnoticed (see `ledgerml config witness --help`)."
        )


@guarded
def status(
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help="Skip the full verification pass.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Show the workspace: counts, ledger head, last checkpoint, verify state, key backends."""
    from core.audit import admin
    from core.team import remotes
    from reports.formatting import when as recorded_at

    ws = open_ws(workspace)
    st = admin.status(ws, actor_name(as_actor), run_verify=not no_verify)
    shared = remotes.status(ws)
    if want_json(json_out):
        output.emit_json({**asdict(st), "remote": shared.to_json() if shared else None})
        return
    cp = st.last_checkpoint
    if st.verify is None:
        verdict = "not run (--no-verify)"
    elif not st.verify["ok"]:
        verdict = "[red]FAILED[/red]: " + "; ".join(st.verify["failures"])
    elif st.verify["unanchored"]:
        verdict = (
            f"intact; {st.verify['unanchored']} newest events not yet under a signed checkpoint"
        )
    else:
        verdict = "intact and fully anchored by a signed checkpoint"
    output.fields(
        [
            ("workspace", st.workspace),
            ("workspace id", st.workspace_id),
            ("ledger head", f"#{st.ledger_head} {st.ledger_head_hash[:16]}…"),
            (
                "last checkpoint",
                f"#{cp['size']} signed {recorded_at(cp['ts'], seconds=True)}" if cp else "none yet",
            ),
            ("verify", verdict),
            *_remote_fields(shared),
            *[(name.replace("_", " "), count) for name, count in st.counts.items()],
            *[(f"backend {name}", state) for name, state in st.key_backends.items()],
        ]
    )


def _remote_fields(shared: Any) -> list[tuple[str, str]]:
    """The shared ledger's lines of ``status``: where it is, both heads, the last sync."""
    if shared is None:
        return [("remote", "none (this workspace records locally)")]
    if shared.remote_size is None:
        server = f"[yellow]unreachable[/yellow]: {shared.problem} (reading works offline)"
    elif shared.remote_size == shared.local_size and shared.remote_head == shared.local_head:
        server = f"#{shared.remote_size} {shared.remote_head[:16]}… (this replica is current)"
    elif shared.remote_size > shared.local_size:
        ahead = shared.remote_size - shared.local_size
        server = f"#{shared.remote_size} ({ahead} new: `ledgerml sync` pulls them)"
    else:
        server = f"#{shared.remote_size} (behind this replica: `ledgerml sync` republishes)"
    last = shared.last_sync
    return [
        ("remote", f"{shared.name} {shared.url}"),
        ("local head", f"#{shared.local_size} {shared.local_head[:16]}…"),
        ("remote head", server),
        ("last sync", f"{last['at']} at #{last['size']}" if last else "never"),
    ]


@guarded
def rebuild(workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """Drop the catalog and replay the ledger into a new one; every query answers the same."""
    ws = open_ws(workspace)
    with output.progress("Replaying the ledger") as progress:
        count = ws.rebuild(progress)
    if want_json(json_out):
        output.emit_json({"replayed": count})
    else:
        output.line(f"catalog rebuilt from {count} events")


def register(app: typer.Typer) -> None:
    """Add the workspace commands to the root app."""
    app.command()(init)
    app.command()(status)
    app.command()(rebuild)
    app.command()(tui)


@guarded
def tui(
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    bundle: Annotated[
        Path | None, typer.Option("--bundle", help="Review an exported bundle, read-only.")
    ] = None,
) -> None:
    """Open the terminal workstation (or a bundle, read-only, verified first).

    Needs a terminal on stdin and stdout.
    """
    from core.kernel.errors import UsageError

    # Both are checked before the app starts: a Textual app reading a stdin that is not a
    # terminal never sees a key, and would spin until killed instead of failing.
    if bundle is not None and not bundle.is_file():
        raise UsageError(
            f"no bundle file at {bundle}" + (" (it is a folder)" if bundle.is_dir() else ""),
            hint="Give the .zip that `ledgerml bundle export` wrote.",
        )
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "the workstation needs a terminal, and stdin or stdout is not one",
            hint="Run `ledgerml tui` in a terminal. Scripts use the commands instead: "
            "`ledgerml status`, `ledgerml bundle verify FILE`, `ledgerml audit log --json`.",
        )
    from app.tui.app import make_app

    make_app(ws_path(workspace), actor=actor_name(as_actor), bundle=bundle).run()
