"""``ledgerml key create|list|show|export-public|rotate|revoke``."""

from __future__ import annotations

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
)
from core.identity.keys.backends import backend_help

app = typer.Typer(no_args_is_help=True)
KeyArg = Annotated[str, typer.Argument(help="Key id prefix (8+ hex characters) or label.")]


def _show(key: Any, json_out: bool, extra: dict[str, Any] | None = None) -> None:
    if json_out:
        output.emit_json({**key.as_dict(), **(extra or {})})
        return
    status = key.status
    if key.status_seq:
        status += f" at event #{key.status_seq} ({key.status_reason or 'no reason given'})"
    output.fields(
        [
            ("key id", key.key_id),
            ("label", key.label),
            ("owner", key.actor),
            ("purpose", key.purpose),
            ("algorithm", key.algorithm),
            ("backend", f"{key.backend} ({key.handle})"),
            ("status", status),
            ("created", f"{key.created_at} (event #{key.created_seq})"),
            *([("replaced by", key.replaced_by)] if key.replaced_by else []),
        ]
    )


@app.command("create")
@guarded
def create(
    backend: Annotated[str, typer.Option(help=backend_help())] = "keyring",
    owner: Annotated[
        str | None, typer.Option("--actor", help="Owner (default: you; others need admin).")
    ] = None,
    label: Annotated[
        str | None, typer.Option(help="A name for the key (default OWNER-BACKEND).")
    ] = None,
    algorithm: Annotated[
        str, typer.Option(help="ecdsa-p256 (default) or ed25519 (keyring only).")
    ] = "ecdsa-p256",
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Create a signing key whose private half stays in the OS keyring or an HSM.

    An active key with the same owner and label is returned as it is, so running the
    command twice makes one key.
    """
    from core.identity import keys

    key, created = keys.create(
        open_ws(workspace),
        actor_name(as_actor),
        backend=backend,
        owner=owner,
        label=label,
        algorithm=algorithm,
        reason=reason,
    )
    if not created and not want_json(json_out):
        output.note(f"an active key labelled {key.label!r} already exists; nothing changed")
    _show(key, want_json(json_out), {"created": created})


@app.command("generate")
@guarded
def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the key request.")],
    backend: Annotated[str, typer.Option(help=backend_help())] = "keyring",
    algorithm: Annotated[
        str, typer.Option(help="ecdsa-p256 (default) or ed25519 (not on pkcs11).")
    ] = "ecdsa-p256",
) -> None:
    """Make your own key on this OS account and write a key request for an admin.

    Needs no workspace. The private half stays in this account's keyring, token or
    passphrase file; the request holds only the public half. Give the file to an admin, who
    runs `ledgerml actor add YOU --role … --key-request FILE`.
    """
    from core.identity.keys.lifecycle import write_request

    record = write_request(backend, algorithm, out)
    output.line(f"wrote key request {out} for key {record.key_id[:16]}… ({backend})")


@app.command("list")
@guarded
def list_(
    owner: Annotated[str | None, typer.Option("--actor", help="Only this owner's keys.")] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List keys with their owner, backend and status."""
    from core.identity import keys

    rows = keys.list_keys(open_ws(workspace), actor_name(as_actor), owner)
    if want_json(json_out):
        output.emit_json([r.as_dict() for r in rows])
        return
    output.table(
        ["key id", "label", "owner", "purpose", "algorithm", "backend", "status"],
        [
            (r.key_id[:16], r.label, r.actor, r.purpose, r.algorithm, r.backend, r.status)
            for r in rows
        ],
    )


@app.command("show")
@guarded
def show(
    key_ref: KeyArg,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show one key."""
    from core.identity import keys

    _show(keys.show(open_ws(workspace), key_ref, actor_name(as_actor)), want_json(json_out))


@app.command("export-public")
@guarded
def export_public(
    key_ref: KeyArg,
    out: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write PEM to this file.")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print a key's public half as PEM (for openssl or another verifier).

    With --json the PEM is a field of the JSON document, beside the key's id and label.
    """
    from core.identity import keys
    from core.kernel.paths import write_output

    key = keys.show(open_ws(workspace), key_ref, actor_name(as_actor))
    if out is not None:
        write_output(out, key.public_pem.encode())
    if want_json(json_out):
        output.emit_json(
            {
                "key_id": key.key_id,
                "label": key.label,
                "algorithm": key.algorithm,
                "public_pem": key.public_pem,
                "path": str(out) if out is not None else None,
            }
        )
    elif out is None:
        typer.echo(key.public_pem, nl=False)
    else:
        output.note(f"wrote {out}")


@app.command("rotate")
@guarded
def rotate(
    key_ref: KeyArg,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Replace a key with a new one in the same backend; old signatures stay valid."""
    from core.identity import keys

    old, new = keys.rotate(open_ws(workspace), actor_name(as_actor), key_ref, reason)
    if want_json(json_out):
        output.emit_json({"old": old.as_dict(), "new": new.as_dict()})
        return
    output.line(
        f"key {old.key_id[:16]} rotated; new key {new.key_id[:16]} ({new.label}) signs from now on"
    )


@app.command("revoke")
@guarded
def revoke(
    key_ref: KeyArg,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (required).")],
    compromised_since: Annotated[
        str | None,
        typer.Option(
            "--compromised-since",
            help="The key was compromised from this UTC time (YYYY-MM-DDTHH:MM:SSZ): what it "
            "signed from then on is untrusted. Without it the key is retired and its past "
            "signatures stay valid.",
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Revoke a key: it never signs again.

    What it signed before still verifies and is shown as signed-then-revoked, so the record of
    who signed what stays; but it no longer makes a model trusted for scoring or export:
    sign those again with an active key.
    """
    from core.identity import keys

    key, changed = keys.revoke(
        open_ws(workspace),
        actor_name(as_actor),
        key_ref,
        reason,
        compromised_since=compromised_since,
    )
    if want_json(json_out):
        output.emit_json({**key.as_dict(), "changed": changed})
    elif changed:
        output.line(f"key {key.key_id[:16]} ({key.label}) revoked at event #{key.status_seq}")
    else:
        output.line(f"key {key.key_id[:16]} was already revoked; nothing changed")


@app.command("recipient")
@guarded
def recipient(
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    new: Annotated[
        bool, typer.Option("--new", help="Replace your current recipient key with a new one.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Give yourself a key teammates wrap encrypted data's keys for (readers only).

    An X25519 encryption key pair: the private half stays in this account's OS keyring,
    the public half is published in a signed data.recipient event. On a shared ledger, each
    workstation holding an encrypted snapshot's keys wraps them for it at its next
    `ledgerml sync` (and when it adds one); then `ledgerml sync` here, or the first read,
    fetches them. Run it once per workstation account; sync reminds a reader without one.
    """
    from core.data import recipients

    made, fresh = recipients.publish(open_ws(workspace), actor_name(as_actor), force=new)
    if want_json(json_out):
        output.emit_json(
            {"actor": made.actor, "fingerprint": made.fingerprint, "seq": made.seq, "new": fresh}
        )
        return
    said = "published" if fresh else "already published"
    output.line(
        f"recipient key {made.fingerprint[:16]}… of {made.actor} {said} (event #{made.seq})"
    )
