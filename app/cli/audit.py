"""``ledgerml audit log|verify|checkpoint|prove``."""

from __future__ import annotations

import json
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

app = typer.Typer(no_args_is_help=True)


@app.command("log")
@guarded
def log(
    since: Annotated[str | None, typer.Option(help="2026-03-01, 2026-03-01T09:30, 2h, 7d…")] = None,
    by: Annotated[str | None, typer.Option("--actor", help="Only events by this actor.")] = None,
    action: Annotated[
        str | None, typer.Option(help="Only this action, or a family such as 'key'.")
    ] = None,
    subject: Annotated[
        str | None, typer.Option(help="Only events about this subject, e.g. actor:bob.")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Show only the newest N.")] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show the audit log: who did what, when, to what, and why."""
    from core.audit import log as audit_log

    rows = audit_log.log(
        open_ws(workspace),
        since=since,
        actor=by,
        action=action,
        subject=subject,
        limit=limit,
        as_actor=actor_name(as_actor),
    )
    if want_json(json_out):
        output.emit_json(
            [{**r.as_dict(exclude=("body",)), "body": json.loads(r.body)} for r in rows]
        )
        return
    output.table(
        ["#", "time (UTC)", "actor", "action", "subjects", "reason"],
        [
            (
                r.seq,
                r.ts[:19].replace("T", " "),
                r.actor,
                r.action,
                " ".join(s[:40] for s in r.subjects),
                r.reason,
            )
            for r in rows
        ],
    )


@app.command("verify")
@guarded
def verify(
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoint",
            help="A checkpoint copy kept outside the workspace; "
            "detects rollback and rewrites. Repeatable.",
        ),
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full", help="Check every event's signature, ignoring verified-up-to records."
        ),
    ] = False,
    record: Annotated[
        bool,
        typer.Option(
            "--record",
            help="After a clean verification, sign a verified-up-to record (admins and "
            "auditors, with their secret): the next verify re-hashes everything but checks "
            "signatures only of newer events.",
        ),
    ] = False,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Recompute the hash chain, Merkle roots, every event's signature and role, checkpoint
    signatures and object hashes.

    Every checkpoint the witness folders hold (`ledgerml config witness`) is checked like a
    --checkpoint copy: one larger than the ledger is a rollback. Witnesses and copies protect
    only if this workspace's writers cannot change them (another account's append-only
    share, WORM storage, another person's custody); without one, a truncation or rollback
    is undetectable.

    Exits 3 naming the first bad event when anything was changed outside ledgerml, and 2
    when a --checkpoint file cannot be read (a wrong path is not tampering).
    """
    from core.audit import verification, witnesses

    ws = open_ws(workspace)
    with output.progress("Verifying") as progress:
        report = verification.verify(ws, external=checkpoint, progress=progress, full=full)
    states = witnesses.survey(ws)
    if record and report.ok:
        from core.audit import verified

        tail = ws.ledger.tail()
        ts = str(tail.decode()["ts"]) if tail is not None else ""
        kept = verified.write(ws, actor_name(as_actor), report.events, report.root, report.head, ts)
        report.notes.append(f"verified-up-to record for #1..#{report.events} kept in {kept}")
    if want_json(json_out):
        output.emit_json({**report.to_json(), "witnesses": [vars(s) for s in states]})
    else:
        head = report.head[:16] + "…" if report.head else "-"
        output.fields(
            [
                ("events", f"{report.events} (head {head})"),
                ("objects re-hashed", report.objects_checked),
                (
                    "checkpoints",
                    ", ".join(f"#{c.size} {'ok' if c.ok else 'BAD'}" for c in report.checkpoints)
                    or "none",
                ),
                ("anchored", f"events #1..#{report.anchored}" if report.anchored else "none"),
                ("signatures", report.signatures),
                ("catalog", report.catalog),
                *([("erasures", report.erasures)] if report.erasures else []),
                *([("identities", "demo identities: no assurance")] if report.demo else []),
                *[(f"witness {s.location}", s.summary()) for s in states],
            ]
        )
        for failure in report.failures:
            output.note(f"[bold red]FAIL[/bold red] {failure}")
        for note in report.notes:
            output.note(f"[yellow]note[/yellow] {note}")
        if report.ok:
            if not report.unanchored:
                verdict = "VERIFIED"
            elif report.anchored:
                verdict = (
                    f"VERIFIED up to #{report.anchored}; {report.unanchored} newer "
                    f"event{'s' if report.unanchored != 1 else ''} UNANCHORED"
                )
            else:
                verdict = (
                    f"CHAIN INTACT; no signed checkpoint yet, all {report.events} events UNANCHORED"
                )
            if report.demo:
                verdict += " (demo identities: no assurance)"
            output.line(f"[bold green]{verdict}[/bold green]")
        else:
            where = (
                f" (first bad event #{report.first_bad_event})" if report.first_bad_event else ""
            )
            output.line(f"[bold red]INTEGRITY FAILURE{where}[/bold red]")
    if not report.ok:
        raise typer.Exit(output.EXIT_INTEGRITY)


@app.command("checkpoint")
@guarded
def checkpoint(
    copy_to: Annotated[
        Path | None,
        typer.Option(
            "--copy-to",
            help="Also write the checkpoint to this file (keep it outside the workspace). "
            "Its folder must exist; it is checked before anything is signed.",
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Sign the ledger's current size and Merkle root with your own key (admins, auditors).

    The checkpoint is also copied to every witness folder (`ledgerml config witness`); a
    witness that cannot be reached is a warning on stderr, never a lost checkpoint.
    """
    from core.audit import checkpoints, witnesses

    ws = open_ws(workspace)
    cp, created = checkpoints.checkpoint(ws, actor_name(as_actor), copy_to=copy_to)
    # Again here, so that a checkpoint signed before a witness was added or mounted reaches
    # it, and so that what a witness refused is said (it never fails the checkpoint).
    problems = witnesses.publish(ws, cp.path) if cp.path else []
    for problem in problems:
        output.note(f"[yellow]warning[/yellow] {problem}")
    if want_json(json_out):
        output.emit_json(
            {
                "size": cp.size,
                "root": cp.root,
                "head": cp.head,
                "ts": cp.ts,
                "key_id": cp.key_id,
                "path": str(cp.path),
                "created": created,
                "witness_problems": problems,
            }
        )
        return
    state = "signed" if created else "already signed"
    output.line(f"checkpoint {state}: {cp.size} events, root {cp.root[:16]}… ({cp.path})")
    if copy_to is not None:
        output.note(
            f"copy written to {copy_to}; keep it where this workspace's writers cannot change it"
        )


@app.command("prove")
@guarded
def prove(
    seq: Annotated[int, typer.Argument(help="Event number.")],
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="Prove against this checkpoint file.")
    ] = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print a Merkle inclusion proof of one event against a signed checkpoint."""
    from core.audit import proofs

    doc = proofs.prove(open_ws(workspace), seq, checkpoint_path=checkpoint)
    if want_json(json_out):
        output.emit_json(doc)
        return
    output.fields(
        [
            ("event", f"#{doc['seq']} {doc['entry_hash']}"),
            ("tree size", doc["tree_size"]),
            ("root", doc["root"]),
            ("proof", f"{len(doc['proof'])} hashes (use --json for the full document)"),
        ]
    )
    output.note("proof checked against the signed checkpoint: OK")
