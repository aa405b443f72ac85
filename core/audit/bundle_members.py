"""What a bundle is made of while it is being assembled: its members and the facts behind them.

:class:`Bundling` is what the collectors (:mod:`core.audit.bundle_collectors`) read: the
model version, its run, the inputs and evidence found in the catalog, the fresh checkpoint
and the ledger excerpt, all fixed under one hold of the workspace. :class:`Members` is what
they write: member paths with their content (bytes, or a stored object streamed later) and
media type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.audit.checkpoints import Checkpoint
from core.governance.approvals import SignOff
from core.kernel.errors import IntegrityError
from core.kernel.rows import (
    ActorRow,
    EvaluationRow,
    KeyRow,
    ModelRow,
    ReproductionRow,
    RunRow,
    SignatureRow,
    SnapshotRow,
    ValidationRow,
)
from core.kernel.workspace import Workspace
from reports.render import document_id, render_pdf
from storage.objects import sha256_hex

PDF = "application/pdf"


@dataclass(frozen=True)
class Blob:
    """A stored object streamed into the zip and checked against its digest on the way.

    Large members (the model, full data) are never held in memory whole.
    """

    digest: str
    size: int
    file: Path


Payload = bytes | Blob


def payload_sha256(data: Payload) -> str:
    """The SHA-256 the manifest lists for a member."""
    return data.digest if isinstance(data, Blob) else sha256_hex(data)


def payload_size(data: Payload) -> int:
    """The size the manifest lists for a member."""
    return data.size if isinstance(data, Blob) else len(data)


@dataclass
class Members:
    """Bundle members by path: content, media type, and whether the ledger names them."""

    items: dict[str, tuple[Payload, str, bool]] = field(default_factory=dict)

    def add(self, path: str, data: Payload, media_type: str, ledger_object: bool = False) -> None:
        """Add (or replace) a member."""
        self.items[path] = (data, media_type, ledger_object)

    def add_object(self, path: str, ws: Workspace, digest: str, media_type: str) -> None:
        """A ledger-named blob, streamed from the store when the zip is written."""
        if not ws.objects.exists(digest):  # its content is checked while it is written
            raise IntegrityError(f"cannot bundle {path}: {ws.objects.check(digest)}")
        file = ws.objects.path(digest)
        self.add(path, Blob(digest, file.stat().st_size, file), media_type, True)


@dataclass
class Bundling:
    """Everything the collectors need, gathered under one hold of the workspace.

    ``reports`` is filled by the collectors as they find reports, in the order the coverage
    table lists them (data sheet, model card, impact assessment).
    """

    ws: Workspace
    data_level: str
    model: ModelRow
    run: RunRow
    checkpoint: Checkpoint
    key: KeyRow
    keys: list[KeyRow]
    actors: list[ActorRow]
    snapshots: list[SnapshotRow | None]
    signatures: list[SignatureRow]
    evaluations: list[EvaluationRow]
    validations: list[ValidationRow]
    reproductions: list[ReproductionRow]
    earlier: list[Checkpoint]
    seqs: list[int]
    reports: dict[str, bool] = field(default_factory=dict)
    sign_off: SignOff | None = None
    """The version's approvals and whether each counts, as the workspace said at export."""

    def read(self, digest: str) -> bytes:
        """A stored object's bytes, verified against its digest."""
        return self.ws.objects.read_verified(digest)

    def event_body(self, seq: int) -> dict[str, Any]:
        """The decoded body of a ledger event."""
        return self.ws.ledger.entry(seq).decode()

    def demo(self) -> bool:
        """Whether any actor of the bundle is a demonstration identity (no assurance)."""
        return any(a.demo for a in self.actors)

    def certificate(self, key: KeyRow) -> dict[str, Any] | None:
        """A key's certificate, from the ledger record that added it (the catalog keeps a flag).

        The bundle carries the certificate itself so that the verifier can check it under the
        organisation key, instead of taking a catalog's word that the key is certified.
        """
        data = self.event_body(key.created_seq).get("data", {})
        for record in (data.get("key"), data.get("founder_key")):
            if isinstance(record, dict) and record.get("key_id") == key.key_id:
                cert = record.get("certificate")
                return cert if isinstance(cert, dict) else None
        return None


Collector = Callable[[Bundling, Members], None]
"""Adds one context's members to a bundle."""


def add_rendered(
    members: Members, stem: str, markdown: str, html: str, *, subject: str, created: str
) -> None:
    """A report the export renders itself: ``reports/stem`` as Markdown, HTML and PDF.

    The PDF is filed beside the others (regulators file PDFs) and listed in the manifest with
    its digest like every member. Its dates are ``created`` (the bundle's checkpoint time), so
    the zip stays a function of the ledger state.
    """
    members.add(f"reports/{stem}.md", markdown.encode(), "text/markdown")
    members.add(f"reports/{stem}.html", html.encode(), "text/html")
    doc_id = document_id(stem, subject, markdown)
    members.add(f"reports/{stem}.pdf", render_pdf(html, doc_id=doc_id, created=created), PDF)


def add_recorded(b: Bundling, members: Members, stem: str, event: dict[str, Any]) -> None:
    """A report some ``report.*`` event recorded: its Markdown, HTML and PDF, as recorded.

    A rendering recorded without a PDF (``--no-pdf``, or before PDFs existed) gets one made
    now from the recorded HTML and dated by that event, so the same ledger state always gives
    the same bytes; the ledger does not name it, so the manifest does not call it ledger
    evidence (its bytes are held to the signed manifest, like every member).
    """
    data = event["data"]
    markdown, html = b.read(data["markdown"]), b.read(data["html"])
    members.add(f"reports/{stem}.md", markdown, "text/markdown", True)
    members.add(f"reports/{stem}.html", html, "text/html", True)
    if data.get("pdf"):
        members.add(f"reports/{stem}.pdf", b.read(data["pdf"]), PDF, True)
        return
    subject = str(event["subjects"][0]) if event.get("subjects") else stem
    doc_id = document_id(stem, subject, markdown.decode())
    pdf = render_pdf(html.decode(), doc_id=doc_id, created=str(event["ts"]))
    members.add(f"reports/{stem}.pdf", pdf, PDF)
