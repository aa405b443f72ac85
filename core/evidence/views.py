"""What a screen shows of a model version: its status, signatures and newest evidence.

The typed evidence document (:mod:`core.evidence.document`) is summarised here for the
screens; front doors read the fields of these objects. Values are kept as recorded (a
statistic may be a float or None), so the drawing decides how to print them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.evidence.checks import not_passed
from core.evidence.document import Evidence as EvidenceDocument
from core.evidence.sections.explainability import Explainability
from core.evidence.sections.fairness import Fairness as FairnessResult
from core.evidence.sections.privacy import Privacy
from core.evidence.sections.robustness import Robustness
from core.kernel.workspace import Workspace

if TYPE_CHECKING:
    from core.governance.inventory import InventoryLine


@dataclass(frozen=True)
class SignatureLine:
    """One signature of the model version, as `model verify` judges it."""

    seq: int
    key_id: str
    key_status: str
    ok: bool
    openssf: str


@dataclass(frozen=True)
class GroupRow:
    """One group of a protected attribute in the fairness table."""

    group: str
    count: Any
    approval_rate: Any
    tpr: Any
    fpr: Any


@dataclass(frozen=True)
class Fairness:
    """The fairness figures of one protected attribute."""

    attribute: str
    disparate_impact: Any
    interval_95: tuple[Any, Any]
    parity_difference: Any
    groups: list[GroupRow]
    verdict: str | None = None
    """The worst verdict of the suite's checks on this attribute (None: the suite set none)."""


@dataclass(frozen=True)
class Importance:
    """A feature's mean absolute SHAP value."""

    feature: str
    mean_abs_shap: float


@dataclass(frozen=True)
class Case:
    """A representative case, explained in words."""

    case: str
    in_words: list[str]


@dataclass(frozen=True)
class Gap:
    """A check that is not PASS, as recorded, for a screen to put in words."""

    verdict: str
    section: str
    name: str
    observed: Any
    threshold: dict[str, Any]
    note: str | None
    interval_95: list[float | None] | None = None
    """The 95% interval of ``observed``, when recorded: the TUI says it as the reports do."""


@dataclass(frozen=True)
class Evidence:
    """The newest recorded evaluation evidence of a model version."""

    seq: int
    passed: bool
    fairness: list[Fairness] = field(default_factory=list)
    importance: list[Importance] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    robustness: dict[str, list[tuple[Any, Any]]] = field(default_factory=dict)
    privacy: tuple[Any, Any] | None = None
    """Membership-inference ROC AUC and advantage, when that section was run."""
    verdict: str = "PASS"
    """The evidence's overall verdict, shown beside (never merged into) the signature status."""
    favourable: str = "favourable"
    """The favourable outcome in the spec's words (the rate ``GroupRow.approval_rate`` holds)."""
    gaps: list[Gap] = field(default_factory=list)
    """Every check that is not PASS, as recorded, worst first, for a screen to put in words."""


@dataclass(frozen=True)
class ModelDetail:
    """A model version as the workstation's models screen shows it."""

    ref: str
    status: str
    run_id: str
    estimator: str
    input_ref: str
    metrics: dict[str, Any]
    signatures: list[SignatureLine]
    reproductions: list[tuple[int, bool]]
    evidence: Evidence | None


def model_detail(ws: Workspace, ref: str, actor: str = "") -> ModelDetail:
    """The model version ``ref`` with its signatures' verdicts and its newest evidence."""
    from core.evidence import evaluation
    from core.modelling import model_view

    info = model_view.view(ws, ref, actor)
    found = evaluation.latest_evidence(ws, ref, actor)
    return ModelDetail(
        ref=ref,
        status=info.signature_status,
        run_id=info.run.run_id,
        estimator=info.run.estimator,
        input_ref=info.record.input.ref,
        metrics=info.metrics,
        signatures=[
            SignatureLine(s.seq, s.key_id, s.key_status, s.ok, s.openssf)
            for s in info.check.signatures
        ],
        reproductions=[(r.seq, r.passed) for r in info.reproductions],
        evidence=_evidence(*found) if found else None,
    )


def _evidence(doc: EvidenceDocument, seq: int) -> Evidence:
    fairness = doc.section(FairnessResult)
    explain = doc.section(Explainability)
    robust = doc.section(Robustness)
    priv = doc.section(Privacy)
    return Evidence(
        seq=seq,
        passed=doc.passed,
        fairness=[
            Fairness(
                attr,
                g.disparate_impact,
                (g.intervals_95["disparate_impact"][0], g.intervals_95["disparate_impact"][1]),
                g.demographic_parity_difference,
                [GroupRow(r.group, r.count, r.favourable, r.tpr, r.fpr) for r in g.table],
                _attribute_verdict(doc, attr),
            )
            for attr, g in (fairness.groups.items() if fairness else ())
        ],
        importance=[Importance(i.feature, i.mean_abs_shap) for i in explain.importance]
        if explain
        else [],
        cases=[Case(c.case, list(c.in_words)) for c in explain.representative] if explain else [],
        robustness={
            kind: [(p.strength, p.roc_auc) for p in curve] for kind, curve in robust.curves.items()
        }
        if robust
        else {},
        privacy=(priv.roc_auc, priv.advantage) if priv else None,
        verdict=doc.verdict,
        favourable=fairness.favourable_name if fairness else "favourable",
        gaps=[
            Gap(
                c.verdict,
                c.section,
                c.name,
                c.observed,
                dict(c.threshold),
                c.note,
                list(c.interval_95) if c.interval_95 else None,
            )
            for c in not_passed(doc.checks)
        ],
    )


def _attribute_verdict(doc: Any, attribute: str) -> str | None:
    """The worst verdict of the fairness checks named for one attribute, if it has any."""
    from core.kernel.verdict import worst

    found = [
        c.verdict
        for c in doc.checks
        if c.section == "fairness" and c.name.endswith(f"({attribute})")
    ]
    return worst(found) if found else None


@dataclass(frozen=True)
class Standing:
    """What ``model verify`` vouches for, and what it does not: two statuses, never one.

    ``trusted`` is about the bytes and their signatures (provenance): it decides verify's
    exit code and whether the model may be scored or exported. ``evidence_verdict`` is the
    newest evaluation's verdict (None when none is recorded). A model is summarised as
    simply trusted nowhere: :attr:`text` always says both.
    """

    trusted: bool
    why_untrusted: str
    evidence_verdict: str | None
    evidence_seq: int | None
    checks_not_passed: int

    @property
    def signature_text(self) -> str:
        """``TRUSTED`` or ``NOT TRUSTED: why``: the signature and provenance status alone."""
        return "TRUSTED" if self.trusted else f"NOT TRUSTED: {self.why_untrusted}"

    @property
    def evidence_text(self) -> str:
        """The evidence verdict with the count of checks that are not PASS, in words."""
        if self.evidence_verdict is None:
            return "none recorded (run `ledgerml evaluate`)"
        if self.evidence_verdict == "PASS":
            return f"PASS (event #{self.evidence_seq})"
        n = self.checks_not_passed
        return (
            f"{self.evidence_verdict} ({n} check{'' if n == 1 else 's'} not passed, "
            f"event #{self.evidence_seq})"
        )

    @property
    def text(self) -> str:
        """One line with both: ``signature and provenance: TRUSTED · evidence: WARN (…)``."""
        return f"signature and provenance: {self.signature_text} · evidence: {self.evidence_text}"

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``: both statuses, each under its own key."""
        return {
            "trusted": self.trusted,
            "why_untrusted": self.why_untrusted,
            "evidence_verdict": self.evidence_verdict,
            "evidence_event": self.evidence_seq,
            "checks_not_passed": self.checks_not_passed,
            "summary": self.text,
        }


def standing(
    trusted: bool, why_untrusted: str, found: tuple[EvidenceDocument, int] | None
) -> Standing:
    """A model's two statuses from its verification and its newest evidence (if any).

    Args:
        trusted: Whether the bytes and a signature from an unrevoked key check out.
        why_untrusted: Why not, in words ("" when trusted).
        found: The newest evidence document and its event number, or None.

    Returns:
        The :class:`Standing`.
    """
    if found is None:
        return Standing(trusted, why_untrusted, None, None, 0)
    doc, seq = found
    return Standing(trusted, why_untrusted, doc.verdict, seq, len(not_passed(doc.checks)))


def inventory(ws: Workspace, actor: str = "") -> list[InventoryLine]:
    """The model inventory with each model's evidence verdict, as ``model verify`` says it.

    :func:`core.governance.inventory.inventory` cannot read evidence (governance sits below
    the evidence context), so this fills each line's ``evidence`` from the newest version's
    newest evaluation through :func:`standing`, the function ``model verify`` uses: an
    INCONCLUSIVE, WARN or FAIL verdict reads as such wherever the inventory is shown. The
    signature half of that standing is not checked here (the inventory reads no model
    bytes), so only the evidence half is kept. One evidence blob is read per model with an
    evaluation.

    Args:
        ws: The workspace.
        actor: Who reads it.

    Returns:
        The inventory lines, in :func:`~core.governance.inventory.inventory`'s order.
    """
    from dataclasses import replace

    from core.governance.inventory import inventory as governance_inventory

    lines = governance_inventory(ws, actor)
    with ws.session(actor) as s:
        newest = {}
        for line in lines:
            rows = s.catalog.evaluations(line.ref)
            if rows:
                newest[line.ref] = (rows[-1].evidence_digest, rows[-1].seq)
    out = []
    for line in lines:
        found = None
        if line.ref in newest:
            digest, seq = newest[line.ref]
            found = (EvidenceDocument.from_bytes(ws.objects.read_verified(digest)), seq)
        both = standing(False, "not checked by the inventory", found)
        out.append(
            replace(
                line,
                evidence={
                    "verdict": both.evidence_verdict,
                    "event": both.evidence_seq,
                    "not_passed": both.checks_not_passed,
                    "text": both.evidence_text,
                },
            )
        )
    return out
