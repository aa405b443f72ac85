"""``ledgerml data, hold, retention``: erase personal data provably, hold it, expire it.

Erasure destroys the data keys of encrypted copies (crypto-shredding) or deletes plaintext
copies, and records a signed receipt; a legal hold blocks it; ``retention run`` erases what
has expired through the same path.
"""

from __future__ import annotations

import sys
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

data_app = typer.Typer(
    no_args_is_help=True, help="Personal data: erase it (with a receipt), re-link pseudonyms."
)
hold_app = typer.Typer(no_args_is_help=True, help="Legal holds: block erasure and retention.")
retention_app = typer.Typer(
    no_args_is_help=True, help="Retention rules: what expires when; erase what has expired."
)

_BASES = (
    "GDPR Art. 17(1)(a) … (f), or 'retention period expired' under the default policy: "
    "(a) no longer necessary, (b) consent withdrawn, (c) objection, (d) unlawfully "
    "processed, (e) a legal obligation, (f) a child's data"
)


def _subject_value(value: str | None) -> str | None:
    """``--subject -`` reads the value from stdin: it then stays out of shell history."""
    if value != "-":
        return value
    return sys.stdin.readline().rstrip("\r\n")


@data_app.command("erase")
@guarded
def erase(
    ref: Annotated[str, typer.Argument(help="Snapshot: dataset@version, dataset (latest).")],
    reason: Annotated[
        str,
        typer.Option(
            "--reason", "-r", help="Why (recorded for good: a request reference, never a name)."
        ),
    ] = "",
    legal_basis: Annotated[str, typer.Option("--legal-basis", help=_BASES)] = "",
    subject_column: Annotated[
        str | None,
        typer.Option("--subject-column", help="Erase only one person's rows: their column."),
    ] = None,
    subject: Annotated[
        str | None,
        typer.Option(
            "--subject",
            help="The person's value in --subject-column (exact text match). '-' reads it "
            "from stdin. Never recorded: the receipt holds a keyed commitment.",
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Erase a snapshot and every view derived from it, for good, with a signed receipt.

    Encrypted copies are crypto-shredded (their data keys destroyed), plaintext copies
    deleted. One data.erase event records the deletion receipt (what, why, approved by
    whom under which policy decision, when, how, who carried the data out before, which
    models were trained on it); `audit verify` then reports the copies as erased, and
    readers of the snapshot get "erased at #N". A legal hold or the policy can refuse it
    (exit 1). With --subject-column and --subject only that person's rows go: a new version
    without them replaces the snapshot, and the old one is erased. Running it again on an
    erased snapshot records nothing and finishes any interrupted shredding.
    """
    from core.privacy import erasure

    ws = open_ws(workspace)
    actor = actor_name(as_actor)
    value = _subject_value(subject)
    if not yes and sys.stdin.isatty() and not want_json(json_out):
        _confirm(erasure.preview(ws, ref, actor), subject_column)
    done = erasure.erase(
        ws,
        actor,
        ref,
        reason=reason,
        legal_basis=legal_basis,
        subject_column=subject_column,
        subject=value,
    )
    if want_json(json_out):
        output.emit_json(done.to_json())
        return
    for warning in done.warnings:
        output.note(f"[yellow]warning[/yellow] {warning}")
    if done.already:
        output.line(f"{done.target.removeprefix('snapshot:')} was already erased at #{done.seq}")
    else:
        output.line(
            f"erased {', '.join(done.snapshots)} at #{done.seq} ({done.method}); receipt "
            f"sha256:{done.receipt_digest[:16]}…"
        )
    if done.shredded.keys or done.shredded.objects:
        output.line(
            f"shredded {output.count(done.shredded.keys, 'data key')} and deleted "
            f"{output.count(done.shredded.objects, 'object')}"
        )
    if done.shredded.rotated:
        output.line(
            "replaced the key-encryption key: encrypted data in backups made before this "
            "erasure can no longer be decrypted"
        )
    for left in done.remaining:
        output.note(f"[bold red]not finished[/bold red] {left}: run the same erase again")
    fields = [
        ("models trained on it", ", ".join(done.models) or "none"),
        ("carried out before", ", ".join(f"#{n}" for n in done.carried_by) or "none recorded"),
    ]
    if done.replaced_by:
        fields.insert(0, ("replaced by", f"{done.replaced_by} ({done.rows_removed} rows removed)"))
    output.fields(fields)


def _confirm(scope: object, subject_column: str | None) -> None:
    from core.privacy.scope import Scope

    assert isinstance(scope, Scope)
    what = (
        f"the rows of one person ({subject_column}) of {scope.target.ref}"
        if subject_column
        else ", ".join(scope.refs) or scope.target.ref
    )
    output.note(f"erasing {what}: this cannot be undone")
    if scope.models:
        output.note(f"models trained on it (flagged afterwards): {', '.join(scope.models)}")
    if not typer.confirm("Erase?", default=False):
        raise typer.Exit(1)


@data_app.command("erasures")
@guarded
def erasures(
    subject_column: Annotated[
        str | None, typer.Option("--subject-column", help="With --subject: was this person erased?")
    ] = None,
    subject: Annotated[
        str | None,
        typer.Option("--subject", help="A value to look for ('-' reads it from stdin)."),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List the erasures, or answer "was this person erased?" (commitment key holders).

    With --subject-column and --subject the value is committed under this keyring's
    commitment key and compared with the receipts' commitments; nothing is recorded and
    the value is shown nowhere.
    """
    from core.privacy import erasure, subject_erasure

    ws = open_ws(workspace)
    actor = actor_name(as_actor)
    if (subject_column is None) != (subject is None):
        from core.kernel.errors import UsageError

        raise UsageError("give both --subject-column and --subject, or neither")
    if subject_column is not None:
        value = _subject_value(subject) or ""
        found = subject_erasure.erasures_of(ws, subject_column, value, actor)
        if want_json(json_out):
            output.emit_json(found)
            return
        if found["erasures"]:
            output.line(
                "erased by "
                + ", ".join(f"#{n}" for n in found["erasures"])
                + f" ({subject_column})"
            )
        else:
            output.line(
                f"no erasure under this keyring's commitment key names it ({subject_column})"
            )
        if found["unanswerable"]:
            output.note(
                "erasures "
                + ", ".join(f"#{n}" for n in found["unanswerable"])
                + " were committed under another key: this keyring cannot answer for them"
            )
        return
    rows = erasure.erasures(ws, actor)
    if want_json(json_out):
        output.emit_json([r.as_dict() for r in rows])
        return
    output.table(
        ["event", "target", "snapshots", "method", "legal basis", "rule", "by", "when"],
        [
            (
                f"#{r.seq}",
                r.target.removeprefix("snapshot:"),
                ", ".join(r.snapshots),
                r.method,
                r.legal_basis,
                r.rule,
                r.created_by,
                r.created_at[:19],
            )
            for r in rows
        ],
    )


@data_app.command("receipt")
@guarded
def receipt(
    seq: Annotated[int, typer.Argument(help="The erasure's event number (`data erasures`).")],
    out: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the receipt to this file.")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print (or write) an erasure's deletion receipt, checked against its stored digest."""
    import json

    from core.privacy import erasure

    doc = erasure.receipt(open_ws(workspace), seq, actor_name(as_actor))
    if out is not None:
        out.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        output.line(f"receipt of erasure #{seq} written to {out}")
        return
    output.emit_json(doc)


def register(app: typer.Typer) -> None:
    """Add ``data``, ``hold`` and ``retention`` to the root app."""
    from app.cli import pseudonyms, retention  # noqa: F401 - retention registers hold, retention

    pseudonyms.register(data_app)
    app.add_typer(data_app, name="data")
    app.add_typer(hold_app, name="hold")
    app.add_typer(retention_app, name="retention")
