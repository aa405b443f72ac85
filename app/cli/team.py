"""``ledgerml remote add|remove``, ``ledgerml clone`` and ``ledgerml sync``: a shared ledger."""

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
)

remote_app = typer.Typer(no_args_is_help=True)

URL_HELP = (
    "postgresql://USER@HOST:PORT/DATABASE. Keep the password in ~/.pgpass or PGPASSWORD: "
    "the URL is stored in config.toml (status shows it without a password)."
)


@remote_app.command("add")
@guarded
def remote_add(
    name: Annotated[
        str, typer.Argument(help="A short name for the shared ledger (origin, team…).")
    ],
    url: Annotated[str, typer.Argument(help=URL_HELP)],
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Attach this workspace to a shared ledger on PostgreSQL (admins).

    The first workstation publishes its ledger and objects into an empty database; a database
    that already holds this workspace's history must agree with this replica event for event
    (a different history is refused, exit 3). From then on every command records through the
    server, which numbers events so that two workstations never fork the log, and pulls and
    verifies teammates' events first. Teammates join with `ledgerml clone URL DIR`.
    """
    from core.team import remotes

    done = remotes.add(open_ws(workspace), actor_name(as_actor), name, url)
    if want_json(json_out):
        output.emit_json(done.__dict__)
        return
    output.line(
        f"attached to {done.name} ({done.url}): published {output.count(done.events, 'event')} "
        f"and {output.count(done.objects, 'object')}; the shared ledger holds "
        f"{output.count(done.server_events, 'event')}"
    )


@remote_app.command("remove")
@guarded
def remote_remove(
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
) -> None:
    """Detach this workspace (admins): it keeps its replica and records locally again.

    Works while the server is down. The shared ledger is left as it is; attaching again
    later checks that both histories still agree.
    """
    from core.team import remotes

    name = remotes.remove(open_ws(workspace), actor_name(as_actor))
    output.line(f"detached from {name}; this workspace records locally again")


@guarded
def clone(
    url: Annotated[str, typer.Argument(help=URL_HELP)],
    directory: Annotated[Path, typer.Argument(help="A new (or empty) folder for the replica.")],
    name: Annotated[str, typer.Option(help="The name the replica gives the shared ledger.")] = (
        "origin"
    ),
    json_out: JsonOpt = False,
) -> None:
    """Make this workstation's replica of a shared ledger, verifying every event from #1.

    Each event's chain, signature, signer's key and role, and every object's digest are
    checked before anything is kept; if anything does not verify the folder is removed (exit
    3). The organisation key the first event brings is the trust anchor: compare its
    fingerprint (`ledgerml key list`) with the one your team published. Then make your own
    key (`ledgerml key generate -o request.json`) and give the request to an admin.
    """
    from core.team import remotes

    with output.progress("Cloning the shared ledger") as progress:
        ws = remotes.clone(url, directory, name, progress)
    size, head = ws.ledger.head()
    if want_json(json_out):
        output.emit_json({"path": str(ws.root), "size": size, "head": head})
        return
    output.line(
        f"cloned {output.count(size, 'verified event')} into {ws.root} (head #{size} "
        f"{head[:16]}…); point LEDGERML_WORKSPACE or --workspace at it"
    )


@guarded
def sync(
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Pull and verify teammates' events, publish what the server lacks, witness the log.

    Every event and object is verified before it is applied (a bad one is named, exit 3,
    and nothing after it is applied). Then this workstation checks every cosigned checkpoint
    it finds (on the server, in ledger/cosigned/, in witness folders) against its own tree,
    so a server that showed teammates another history is caught, and cosigns its own with
    your key. Last, encrypted data's keys: those this workstation holds are wrapped for
    every reader's recipient key (`ledgerml key recipient`) lacking them, and those wrapped
    for a recipient key here are fetched. Any registered actor may sync.
    """
    from core.team import remotes

    done = remotes.sync(open_ws(workspace), actor_name(as_actor))
    if want_json(json_out):
        output.emit_json(done.__dict__)
        return
    parts = [
        f"pulled {output.count(done.pulled, 'event')} and {output.count(done.objects, 'object')}"
    ]
    if done.republished:
        parts.append(f"published {output.count(done.republished, 'event')} the server lacked")
    parts.append(
        f"checked {output.count(done.checked, 'cosigned checkpoint')}; "
        + ("cosigned" if done.cosigned else "already cosigned")
        + f" #{done.size} {done.head[:16]}…"
    )
    if done.wrapped:
        parts.append(f"shared {output.count(done.wrapped, 'data key wrap')} with teammates")
    output.line("; ".join(parts))
    for advice in done.advice:
        output.note(advice)
    for problem in done.problems:
        output.note(f"[yellow]warning[/yellow] {problem}")


def register(app: typer.Typer) -> None:
    """Add ``remote``, ``clone`` and ``sync`` to the root app."""
    app.add_typer(remote_app, name="remote", help="Attach the workspace to a team's shared ledger.")
    app.command()(clone)
    app.command()(sync)
