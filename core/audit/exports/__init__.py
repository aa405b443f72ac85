"""Standard exports of a model version, each generated from the ledger.

``cyclonedx`` (a CycloneDX 1.6 ML-BOM with a model card), ``slsa`` (SLSA Provenance v1 as an
in-toto statement about the model artefact), ``hf-card`` (the Markdown model card with
Hugging Face metadata on top) and ``openlineage`` (START and COMPLETE RunEvents for intake,
feature views, training and evaluation). :func:`export` builds one; :func:`bundle_members`
gives every one with its bundle path (``exports/…``), which audit bundles carry.

``spdx`` is refused with the reason: no well-kept library writes and checks SPDX 3's AI and
dataset profiles offline yet (spdx-tools 0.8 marks its SPDX 3 support experimental, tracks a
pre-release of the specification and cannot read a document back), and a hand-written
document nobody can validate would be a claim without evidence.

Exports read and change nothing (no event), except a signed SLSA statement, whose signature
is recorded (:func:`core.audit.exports.slsa.sign`).

Example::

    doc = export(ws, "credit-risk@3", "cyclonedx")
    Path("credit-risk-3.cdx.json").write_text(doc.text)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from core.audit.exports import cyclonedx, hf_card, openlineage, slsa
from core.audit.exports.facts import ModelFacts, gather
from core.identity.attest import DSSE_MEDIA_TYPE, Attestation
from core.kernel.errors import UsageError
from core.kernel.workspace import Workspace
from storage.fsutil import atomic_write
from storage.objects import sha256_hex

_VERSIONED = re.compile(r"^[^@]+@[1-9][0-9]*$")

FORMATS = ("cyclonedx", "spdx", "hf-card", "slsa", "openlineage")
"""Every format name ``ledgerml export --format`` takes (spdx is refused, see above)."""
SPDX_REFUSAL = (
    "SPDX 3 AI/dataset profiles are not exported: no well-kept library supports them offline "
    "(spdx-tools 0.8 has only experimental SPDX 3 support, for a pre-release of the "
    "specification, and cannot read a document back to check it)"
)
SPDX_HINT = "Use --format cyclonedx: its ML-BOM carries the model card and the datasets."


@dataclass(frozen=True)
class Exported:
    """One export's text, media type and the file name it is usually given."""

    format: str
    text: str
    media_type: str
    filename: str


def _stem(facts: ModelFacts) -> str:
    return facts.model.ref.replace("@", "-")


def render(
    ws: Workspace, facts: ModelFacts, fmt: str, *, actor: str = "", license_id: str | None = None
) -> Exported:
    """One format from facts already gathered.

    Raises:
        UsageError: for an unknown format, or spdx (with the reason).
    """
    stem = _stem(facts)
    if fmt == "cyclonedx":
        return Exported(
            fmt, cyclonedx.dumps(cyclonedx.build(facts)), cyclonedx.MEDIA_TYPE, f"{stem}.cdx.json"
        )
    if fmt == "slsa":
        return Exported(
            fmt, slsa.dumps(slsa.build(facts)), slsa.MEDIA_TYPE, f"{stem}.provenance.json"
        )
    if fmt == "hf-card":
        text = hf_card.build(ws, facts, actor=actor, license_id=license_id)
        return Exported(fmt, text, hf_card.MEDIA_TYPE, f"{stem}.README.md")
    if fmt == "openlineage":
        text = openlineage.dumps(openlineage.build(facts))
        return Exported(fmt, text, openlineage.MEDIA_TYPE, f"{stem}.openlineage.jsonl")
    check_format(fmt)
    raise AssertionError(f"format {fmt!r} is listed but not built")  # pragma: no cover


def check_format(fmt: str) -> None:
    """Refuse an unknown format, or spdx with the reason, before anything is read.

    Raises:
        UsageError: for an unknown format, or spdx.
    """
    if fmt == "spdx":
        raise UsageError(SPDX_REFUSAL, hint=SPDX_HINT)
    if fmt not in FORMATS:
        raise UsageError(
            f"unknown export format {fmt!r}", hint="Formats: " + ", ".join(FORMATS) + "."
        )


def export(
    ws: Workspace, ref: str, fmt: str, *, actor: str = "", license_id: str | None = None
) -> Exported:
    """A model version's export in one format.

    Args:
        ws: the workspace.
        ref: ``name@N`` (or ``name``: its latest version).
        fmt: one of :data:`FORMATS`.
        actor: who reads.
        license_id: the model's licence for the Hugging Face card, if known.

    Returns:
        The export.

    Raises:
        UsageError: for an unknown format (checked before anything is read), or spdx.
        NotFoundError: for an unknown model or version.
    """
    check_format(fmt)
    if "@" in ref.removeprefix("model:") and not _VERSIONED.match(ref.removeprefix("model:")):
        raise UsageError(
            f"{ref!r} is not NAME@N with N a version number from 1",
            hint="Give name@version (e.g. credit-risk@1) or the name alone for the latest.",
        )
    return render(ws, gather(ws, ref, actor), fmt, actor=actor, license_id=license_id)


BUNDLED = ("cyclonedx", "slsa", "hf-card", "openlineage")
"""The formats an audit bundle carries under ``exports/``."""


def bundle_members(
    ws: Workspace, ref: str, actor: str = "", *, as_of: int | None = None
) -> list[tuple[str, Exported]]:
    """Every bundled export of a model version with its path in a bundle.

    Args:
        ws: the workspace.
        ref: the model version.
        actor: who reads.
        as_of: the bundle's checkpoint size: nothing recorded after it is exported.

    Returns:
        ``(exports/<file name>, export)`` pairs.
    """
    facts = gather(ws, ref, actor, as_of=as_of)
    out = []
    for fmt in BUNDLED:
        done = render(ws, facts, fmt, actor=actor)
        out.append((f"exports/{done.filename}", done))
    return out


def signed_provenance(
    ws: Workspace,
    actor: str,
    provenance: Exported,
    *,
    key_ref: str | None = None,
    reason: str = "",
) -> tuple[Exported, Attestation]:
    """A SLSA statement signed by the actor as a DSSE envelope; the signature is recorded.

    Args:
        ws: the workspace.
        actor: who signs, with their own key.
        provenance: an ``slsa`` export.
        key_ref: which of their keys; default their newest active key.
        reason: why, for the ledger.

    Returns:
        The envelope as an export, and the recorded attestation.

    Raises:
        UsageError: if ``provenance`` is not an slsa export.
    """
    if provenance.format != "slsa":
        raise UsageError("only an slsa export can be signed")
    att = slsa.sign(ws, actor, json.loads(provenance.text), key_ref=key_ref, reason=reason)
    text = ws.objects.read_verified(att.envelope_digest).decode("utf-8")
    name = provenance.filename.replace(".provenance.json", ".provenance.dsse.json")
    return Exported("slsa", text + "\n", DSSE_MEDIA_TYPE, name), att


def write(done: Exported, path: Path, *, overwrite: bool = False) -> str:
    """Write an export to a file (whole or not at all) and return its SHA-256.

    Raises:
        UsageError: if ``path`` is a folder, or exists and ``overwrite`` is not set.
    """
    if path.is_dir():
        raise UsageError(f"{path} is a folder", hint="Give a file name with --out.")
    if path.exists() and not overwrite:
        raise UsageError(f"{path} exists", hint="Pass --overwrite to replace it.")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {path}: its folder does not exist")
    data = done.text.encode("utf-8")
    atomic_write(path, data)
    return sha256_hex(data)
