"""What auditors look for, mapped to the bundle's files, with the gaps said plainly.

Two tables go into every bundle: the audit checklist of the background article (the items
an auditor asks for) and the EU AI Act Annex IV technical-documentation items. Each item
lists the members that answer it; an item with no member is a gap. "Maps to" is meant
literally: a file answering an item is evidence towards it, not a claim of compliance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from core.kernel import kinds

APPROVALS = "signatures/approval-"
"""Each approval's (or rejection's) signed statement, one member per model.approve event."""
HISTORY = "governance/history.json"
"""The version's risk tiers, approvals, rejections, promotions and refusals."""
POLICIES = "policy/"
"""The policy bundles in force for the bundled governed events."""
DEPLOYMENTS = "operations/deployments.json"
"""Where the version was deployed, when, by whom, and what ended each deployment."""
PIPELINES = "operations/pipeline-"
"""Each pipeline run of the version (its steps and gates) and its JUnit report."""
DECISIONS = "operations/decisions.json"
"""The decision batches' summaries and a sample of decisions with inclusion proofs."""
MONITORING = "operations/monitoring.json"
"""Every monitoring window's evidence (drift, performance) and the alerts raised."""
INCIDENTS = "operations/incidents.json"
"""The incidents, each action taken with who, when, why and the runbook followed."""
SLOS = "operations/slo-"
"""The SLO sets in force (the post-market monitoring plan's thresholds)."""
PLAYBOOKS = "operations/playbook-"
"""The playbooks (runbooks) mapping a breach to its actions."""

ACCESS = "privacy/access-log.json"
"""Every read (decryption) and export of sensitive data: who, which snapshot, why."""
RETENTION = "privacy/retention.json"
"""The retention rules, legal holds and erasures (the retention and deletion log)."""
RECEIPTS = "privacy/receipt-"
"""Each erasure's deletion receipt, bound to its signed data.erase event."""

# (id, item, member path prefixes or exact names that answer it, actions no context declares
# yet that will answer it). The declared actions that answer an item name its id in their
# kind's ``evidence_for`` (:func:`core.kernel.kinds.evidence_for`).
AUDITOR_ITEMS: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = [
    (
        "lineage",
        "Data lineage for sample training and inference records",
        ("lineage/", "evidence/run-", DECISIONS),
        ("decision.batch",),
    ),
    (
        "snapshots",
        "Snapshots of raw data and the preprocessing code used for the audited version",
        ("data/", "evidence/profile-", "reports/datasheet-"),
        (),
    ),
    (
        "registry",
        "Model registry entry with metrics, artifacts and approval stamps",
        ("model/", "evidence/run-", "signatures/model-", APPROVALS, HISTORY),
        (),
    ),
    (
        "fairness",
        "Fairness and performance tests, and remediation when thresholds were breached",
        ("evidence/evaluation-", "signatures/evaluation-"),
        (),
    ),
    (
        "access-log",
        "Access-control logs showing who exported sensitive artifacts",
        (ACCESS,),
        (),
    ),
    (
        "retention",
        "Retention & Deletion Logs — proof of compliance with data-retention policies",
        (RETENTION, RECEIPTS),
        (),
    ),
    (
        "history",
        "History of tests, approvals and deployment timestamps",
        (
            "evidence/validation-",
            "evidence/reproduction-",
            APPROVALS,
            HISTORY,
            DEPLOYMENTS,
            PIPELINES,
        ),
        ("model.deploy", "model.rollback", "pipeline.run"),
    ),
    (
        "monitoring",
        "Monitoring dashboards and alert history around the audit window",
        (MONITORING, "reports/monitoring."),
        ("monitor.run", "monitor.alert"),
    ),
    (
        "incidents",
        "Incident response runbooks and executed incident tickets",
        (INCIDENTS, PLAYBOOKS, "reports/incidents."),
        ("incident.open", "incident.act", "incident.close"),
    ),
]


def answering_actions(item_id: str, undeclared: tuple[str, ...] = ()) -> frozenset[str]:
    """The actions whose events answer a checklist item: declared ones and future ones."""
    return frozenset(kinds.evidence_for(item_id)) | frozenset(undeclared)


ANNEX_IV_ITEMS: list[tuple[str, tuple[str, ...]]] = [
    (
        "1. General description (purpose, provider, version, interaction, instructions)",
        ("reports/model-card.", "reports/impact-assessment."),
    ),
    (
        "2(a)-(c). Development process, design choices, architecture and resources",
        ("evidence/run-", "reports/model-card."),
    ),
    (
        "2(d). Data requirements: data sheets, provenance, selection, cleaning",
        ("reports/datasheet-", "evidence/profile-", "data/"),
    ),
    (
        "2(e). Human-oversight measures",
        ("reports/impact-assessment.", APPROVALS, HISTORY),
    ),
    (
        "2(g). Validation and testing, metrics incl. discriminatory impacts, signed test logs",
        ("evidence/validation-", "evidence/evaluation-", "signatures/evaluation-"),
    ),
    (
        "3. Monitoring, functioning and control (accuracy for groups, risks)",
        ("evidence/evaluation-", "reports/model-card.", MONITORING, "reports/monitoring."),
    ),
    ("4. Appropriateness of the performance metrics", ("reports/model-card.",)),
    ("5. Risk management system (Art. 9)", ("reports/impact-assessment.", HISTORY, POLICIES)),
    ("6. Changes over the lifecycle", ("ledger/events.jsonl", HISTORY)),
    ("7. Harmonised standards or other solutions applied", ()),
    ("8. Copy of the EU declaration of conformity", ()),
    ("9. Post-market monitoring plan (Art. 72)", (SLOS, PLAYBOOKS)),
]


@dataclass(frozen=True)
class CoverageRow:
    """One checklist item and the bundle members (and ledger actions) that answer it."""

    item: str
    files: list[str]

    def to_json(self) -> dict[str, Any]:
        """The row as ``coverage.json`` holds it."""
        return {"item": self.item, "files": list(self.files)}


@dataclass(frozen=True)
class Coverage:
    """A bundle's coverage tables: what auditors ask for and Annex IV, with gaps and notes.

    ``coverage.json`` is :meth:`to_json` in canonical form; its layout is :data:`FORMAT`
    (not written into the file, whose bytes predate the type).
    """

    FORMAT: ClassVar[str] = "ledgerml/coverage/v1"
    auditors: list[CoverageRow]
    annex_iv: list[CoverageRow]
    notes: list[str] = field(default_factory=list)

    @property
    def gaps(self) -> list[str]:
        """The items no member answers, auditors' first."""
        return [c.item for c in self.auditors + self.annex_iv if not c.files]

    def to_json(self) -> dict[str, Any]:
        """The ``coverage.json`` document."""
        return {
            "auditors": [c.to_json() for c in self.auditors],
            "annex_iv": [c.to_json() for c in self.annex_iv],
            "gaps": self.gaps,
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Coverage:
        """Read ``coverage.json`` back (``KeyError``/``TypeError`` for a malformed one)."""
        rows = [CoverageRow(str(r["item"]), [str(f) for f in r["files"]]) for r in doc["auditors"]]
        annex = [CoverageRow(str(r["item"]), [str(f) for f in r["files"]]) for r in doc["annex_iv"]]
        return cls(rows, annex, [str(n) for n in doc["notes"]])

    def markdown(self) -> str:
        """The coverage tables as Markdown (``coverage.md``)."""
        out = ["# Coverage", "", "## What auditors look for", ""]
        out += ["| item | answered by |", "|---|---|"]
        out += [f"| {c.item} | {', '.join(c.files) or '**MISSING**'} |" for c in self.auditors]
        out += [
            "",
            "## EU AI Act Annex IV (maps to, not complies with)",
            "",
            "| item | answered by |",
            "|---|---|",
        ]
        out += [f"| {c.item} | {', '.join(c.files) or '**GAP**'} |" for c in self.annex_iv]
        out += ["", "## Gaps", ""] + [f"- {g}" for g in self.gaps]
        if self.notes:
            out += ["", "## Notes", ""] + [f"- {n}" for n in self.notes]
        return "\n".join(out) + "\n"


def build(
    *, members: Iterable[str], actions: Iterable[str], reports: dict[str, bool], data_level: str
) -> Coverage:
    """The coverage tables for a bundle's members and its ledger excerpt's actions."""
    names = sorted(members)
    seen_actions = set(actions)

    def files_for(prefixes: tuple[str, ...]) -> list[str]:
        return [n for n in names if n.startswith(prefixes)] if prefixes else []

    auditors = []
    for item_id, item, prefixes, undeclared in AUDITOR_ITEMS:
        wanted = answering_actions(item_id, undeclared)
        files = files_for(prefixes)
        events = sorted(a for a in seen_actions if a in wanted)
        if events:
            files.append("ledger/events.jsonl (" + ", ".join(events) + ")")
        auditors.append(CoverageRow(item, files))
    annex = [CoverageRow(item, files_for(prefixes)) for item, prefixes in ANNEX_IV_ITEMS]
    notes = []
    if data_level == "hashes":
        notes.append(
            "Data were exported as digests only (--data hashes); the data sheets describe them."
        )
    if not any(n.startswith(APPROVALS) for n in names) and "model.approve" not in seen_actions:
        notes.append(
            "No approval stamps are recorded (model.approve events): the rows that ask for "
            "them are answered only in part."
        )
    if "model.deploy" not in seen_actions:
        notes.append(
            "No deployment timestamps are recorded (model.deploy events): the rows that ask "
            "for them are answered only in part."
        )
    if not any(n.startswith((SLOS, PLAYBOOKS)) for n in names):
        notes.append(
            "No SLO set or playbook is recorded (ops.configure events): there is no "
            "post-market monitoring plan (EU AI Act Art. 72) to show; Annex IV item 9 is a gap."
        )
    for name, present in reports.items():
        if not present:
            notes.append(f"No {name.replace('-', ' ')} was recorded before the export.")
    return Coverage(auditors, annex, notes)
