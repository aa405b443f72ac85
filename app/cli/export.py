"""``ledgerml export NAME@N --format cyclonedx|spdx|hf-card|slsa|openlineage``."""

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


@guarded
def export(
    ref: ModelArg,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="cyclonedx (ML-BOM 1.6), slsa (provenance v1), hf-card (Hugging Face card), "
            "openlineage (JSON Lines), spdx (refused: see the message).",
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Write to this file (default: stdout).", show_default=False
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --out file.")] = False,
    license_id: Annotated[
        str | None,
        typer.Option("--license", help="hf-card: the model's licence id (the ledger has none)."),
    ] = None,
    sign: Annotated[
        bool,
        typer.Option(help="slsa: sign the statement with your key (DSSE) and record it."),
    ] = False,
    key: Annotated[str | None, typer.Option(help="slsa --sign: which of your keys.")] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """A standard export of a model version, generated from the ledger.

    Reads only; `--format slsa --sign` records the signature (an attestation event).
    """
    from core.audit import exports

    actor = actor_name(as_actor)
    ws = open_ws(workspace)
    if sign and fmt != "slsa":
        exports.check_format(fmt)
        raise typer.BadParameter("--sign applies to --format slsa only", param_hint="--sign")
    done = exports.export(ws, ref, fmt, actor=actor, license_id=license_id)
    if sign:
        done, att = exports.signed_provenance(ws, actor, done, key_ref=key, reason=reason)
        output.note(
            f"signed at event #{att.seq}; check with `ledgerml attest verify "
            f"{att.envelope_digest[:16]}`"
        )
    if out is None:
        output.raw(done.text)
        return
    digest = exports.write(done, out, overwrite=overwrite)
    if want_json(json_out):
        output.emit_json(
            {
                "format": done.format,
                "path": str(out),
                "media_type": done.media_type,
                "sha256": digest,
            }
        )
    else:
        output.line(f"wrote {done.format} export of {ref} to {out} (sha256:{digest})")


def register(root: typer.Typer) -> None:
    """Add ``export`` to the root app."""
    root.command("export")(export)
