"""What the workstation shows an auditor: who may act, and the review of a bundle.

Front doors draw these objects and open no session, object or zip member themselves. A
bundle is verified with the same checks as ``ledgerml bundle verify`` before anything in it
is read for display.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from core.audit.coverage import Coverage
from core.kernel.errors import IntegrityError
from core.kernel.workspace import Workspace

MODEL_CARD = "reports/model-card.md"


def read_only(ws: Workspace, actor: str) -> bool:
    """Whether ``actor`` may only look: unregistered, or an auditor and nothing else."""
    with ws.session(actor) as s:
        me = s.catalog.actor(actor)
    return bool(me is None or set(me.roles) == {"auditor"})


@dataclass(frozen=True)
class CoverageLine:
    """One item auditors or Annex IV ask for, and the bundle files answering it."""

    item: str
    files: list[str]


@dataclass(frozen=True)
class BundleReview:
    """A bundle as the review screen shows it: the verdict first, then what can be read.

    ``rejected`` names what failed; a rejected bundle is not read further, so its coverage
    and texts are empty.
    """

    rejected: str | None = None
    model: str = ""
    anchored: bool = False
    """Verified against a pinned organisation key (the trusted-keys file); else only
    self-consistent, which anyone able to rewrite the bundle can arrange."""
    verdict: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    coverage: list[CoverageLine] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    """Readable members by name: Markdown as is, the lineage tree as a code block."""
    first: str = ""
    """The member to show first: the model card, else the coverage page."""
    evidence_verdict: str | None = None
    """The verdict of the newest evaluation evidence the bundle carries (None: it carries
    none). Apart from the integrity verdict: a bundle can verify and its evidence still FAIL."""
    evidence_seq: int | None = None
    """The ledger event of that evaluation."""


def review_bundle(path: Path) -> BundleReview:
    """Verify the bundle at ``path``, then read its coverage and readable members.

    Raises:
        UsageError: if there is no such file (nothing was checked, so there is no verdict).
    """
    from core.audit import bundle

    try:
        report = bundle.verify(path)  # the same checks as `ledgerml bundle verify`
    except IntegrityError as err:
        return BundleReview(rejected=err.msg.removeprefix("bundle rejected: "))
    with zipfile.ZipFile(path) as archive:
        coverage = Coverage.from_json(json.loads(archive.read("coverage.json")))
        readable = [n for n in archive.namelist() if n.endswith(".md") or n == "lineage/tree.txt"]
        texts = {n: archive.read(n).decode(errors="replace") for n in sorted(readable)}
        evidence_seq, evidence_verdict = _newest_evidence_verdict(archive)
    texts = {n: (t if n.endswith(".md") else f"```\n{t}\n```") for n, t in texts.items()}
    return BundleReview(
        model=str(report["model"]),
        anchored=report["exit_code"] == 0,
        verdict=list(report["verdict"]),
        checked=list(report["checked"]),
        coverage=[
            CoverageLine(row.item, list(row.files)) for row in coverage.auditors + coverage.annex_iv
        ],
        texts=texts,
        first=MODEL_CARD if MODEL_CARD in texts else "coverage.md",
        evidence_verdict=evidence_verdict,
        evidence_seq=evidence_seq,
    )


def _newest_evidence_verdict(archive: zipfile.ZipFile) -> tuple[int | None, str | None]:
    """The newest ``evidence/evaluation-<seq>.json`` member's event and verdict.

    Read only after the bundle verified, so the member is the signed one. The verdict is the
    recorded one, or for evidence from before verdicts the worst of its checks' (never
    ``passed``, which a warning does not clear).
    """
    from core.evidence.document import Evidence

    found = [
        (int(number), name)
        for name in archive.namelist()
        if name.startswith("evidence/evaluation-")
        and name.endswith(".json")
        and (number := name.removeprefix("evidence/evaluation-").removesuffix(".json")).isdigit()
    ]
    if not found:
        return None, None
    newest, member = max(found)
    return newest, Evidence.from_bytes(archive.read(member)).verdict
