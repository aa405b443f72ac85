"""The facts a policy decides on, gathered for one model version.

Everything here reads catalog rows and stored blobs; nothing imports a higher context, so a
gate in any layer (register in modelling, export in audit) can ask for the same document.
The catalog is an index that ``audit verify`` checks against the signed ledger, and each
decision records the input it saw, so a verifier can see what the policy was told.

The document (the gate adds ``gate``, ``actor``, ``time`` and ``subject``)::

    {"model": {"ref", "name", "version", "digest", "stage", "tier", "tier_assessed",
               "dpia", "pii_inputs", "pii_columns", "developers",
               "evidence": [{"kind", "seq", "digest", "verdict", "age_days"}],
               "verdicts": {"validation", "evaluation", "fairness", "reproduction"},
               "evidence_age_days": {kind: days}},
     "request": {...}}          # the command's own parameters (to_stage, role, …)

``approvals`` (what :mod:`core.governance.separation` says of the version's approvals) is
added by the commands that need it.
"""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime
from typing import Any

from core.governance.findings import open_counts
from core.kernel.errors import LedgerError, NotFoundError
from core.kernel.rows import (
    ApprovalRow,
    LifecycleRow,
    ModelRow,
    RiskRow,
)
from core.kernel.verdict import FAIL, PASS, WARN, worst
from core.kernel.workspace import Session


def model_row(s: Session, ref: str) -> ModelRow:
    """The model version ``ref`` (``name@N``; ``model:`` prefix allowed)."""
    ref = ref.removeprefix("model:")
    row = s.catalog.model(ref)
    if row is None:
        raise NotFoundError(f"no model version {ref!r}", hint="`ledgerml model list` shows them.")
    return row


def days_since(ts: str, now: datetime | None = None) -> float:
    """Days from an event time (``…Z``) to ``now``."""
    then = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return round(((now or datetime.now(UTC)) - then).total_seconds() / 86400, 4)


def stage_of(s: Session, ref: str, *, at: int | None = None) -> str:
    """A version's approval stage (``candidate`` until promoted), optionally at event ``at``."""
    sql = "SELECT * FROM lifecycle WHERE model = ?" + (" AND seq <= ?" if at else "")
    params: list[Any] = [ref] + ([at] if at else [])
    rows = s.catalog.rows(LifecycleRow, sql + " ORDER BY seq DESC LIMIT 1", params)
    return rows[0].to_stage if rows else "candidate"


def risk_of(s: Session, name: str, *, at: int | None = None) -> RiskRow | None:
    """The newest risk assessment of a model name (at event ``at``, if given)."""
    sql = "SELECT * FROM model_risk WHERE name = ?" + (" AND seq <= ?" if at else "")
    params: list[Any] = [name] + ([at] if at else [])
    rows = s.catalog.rows(RiskRow, sql + " ORDER BY seq DESC LIMIT 1", params)
    return rows[0] if rows else None


def developers(s: Session, model: ModelRow) -> list[str]:
    """Who developed this version: its trainer, its registrant and everyone who signed it.

    Separation of duties keeps all of them from approving it, admins included.
    """
    people = {model.created_by}
    run = s.catalog.run(model.run_id)
    if run is not None:
        people.add(run.created_by)
    for sig in s.catalog.signatures(f"model:{model.ref}"):
        people.add(sig.created_by)
    return sorted(people)


def _fairness_verdict(s: Session, digest: str) -> str | None:
    """The worst verdict of the evidence's fairness checks (None: no fairness section ran).

    Cached by digest like the spec's columns; evidence that cannot be read is not evidence
    of fairness (FAIL, not cached).
    """
    if digest in _FAIRNESS:
        return _FAIRNESS[digest]
    try:
        doc = json.loads(s.workspace.objects.read_verified(digest))
    except (OSError, ValueError, LookupError, LedgerError):  # missing or altered
        return FAIL
    found = []
    for check in doc.get("checks", []):
        if check.get("section") != "fairness":
            continue
        recorded = check.get("verdict")
        if recorded:
            found.append(str(recorded))
        else:
            missed = not check.get("passed", False)
            found.append(
                PASS if not missed else (WARN if check.get("severity") == "warn" else FAIL)
            )
    verdict = worst(found) if found else None
    if len(_FAIRNESS) > 4096:
        _FAIRNESS.clear()
    _FAIRNESS[digest] = verdict
    return verdict


_RUN = """
SELECT r.created_by AS run_by, r.input_ref, r.spec_digest, r.run_id, n.pii
FROM runs r LEFT JOIN snapshots n ON n.ref = r.input_ref WHERE r.run_id = ?
"""
# Everything else about a version in one pass, oldest first: its stage changes, its name's
# risk assessments, its signers, the validations of its input, the reproductions of its run
# and its evaluations (with the verdict their signed event states). DuckDB plans one flat
# union faster than the same lookups as scalar subqueries.
_HISTORY = """
SELECT 'stage' AS kind, seq, to_stage AS a, NULL AS b, NULL::BOOLEAN AS passed,
  NULL::BIGINT AS warnings, created_at FROM lifecycle WHERE model = ?
UNION ALL SELECT 'risk', seq, CAST(tier AS VARCHAR), dpia, NULL, NULL, created_at
  FROM model_risk WHERE name = ?
UNION ALL SELECT 'signer', seq, created_by, NULL, NULL, NULL, created_at
  FROM signatures WHERE subject = ?
UNION ALL SELECT 'validation', seq, result_digest, NULL, passed, warnings, created_at
  FROM validations WHERE snapshot = ?
UNION ALL SELECT 'reproduction', seq, result_digest, NULL, passed, 0, created_at
  FROM reproductions WHERE run_id = ?
UNION ALL SELECT 'evaluation', e.seq, e.evidence_digest,
  json_extract_string(v.body, '$.data.verdict'), e.passed, e.warnings, e.created_at
  FROM evaluations e LEFT JOIN events v ON v.seq = e.seq WHERE e.model = ?
ORDER BY seq
"""


def model_facts(
    s: Session, ref: str, *, untiered: int = 1, model: ModelRow | None = None
) -> dict[str, Any]:
    """The ``model`` member of a gate's input for the version ``ref``.

    ``model`` stands in for the catalog row of a version about to be registered (the
    register gate decides before the version exists). A gate runs on every governed
    command, so this reads the catalog in two queries and the immutable blobs it needs (the
    spec, the evaluations' fairness checks) once per process.
    """
    model = model if model is not None else model_row(s, ref)
    runs = s.catalog.rows(dict, _RUN, [model.run_id])
    run = runs[0] if runs else None
    features = _features(s, str(run["spec_digest"])) if run else None
    snapshot_pii = set((run["pii"] if run else None) or ())
    # PII use: the PII-tagged columns the version reads (its features and sensitive
    # attributes); all of the snapshot's when the spec cannot be read, to err towards asking.
    pii = sorted(snapshot_pii if features is None else snapshot_pii & set(features))
    evidence: list[dict[str, Any]] = []
    verdicts: dict[str, str | None] = {
        "validation": None,
        "evaluation": None,
        "fairness": None,
        "reproduction": None,
    }
    ages: dict[str, float | None] = dict.fromkeys(verdicts)
    stage, tier, dpia = "candidate", None, None
    people = {model.created_by} | ({str(run["run_by"])} if run else set())
    found = s.catalog.rows(
        dict,
        _HISTORY,
        [
            model.ref,
            model.name,
            f"model:{model.ref}",
            run["input_ref"] if run else "",
            run["run_id"] if run else "",
            model.ref,
        ],
    )
    for e in found:  # oldest first: the newest of each kind wins
        kind = str(e["kind"])
        if kind == "stage":
            stage = str(e["a"])
            continue
        if kind == "risk":
            tier, dpia = int(e["a"]), e["b"]
            continue
        if kind == "signer":
            people.add(str(e["a"]))
            continue
        if kind == "reproduction":
            verdict = PASS if e["passed"] else FAIL
        else:
            verdict = str(e["b"] or "") or (
                FAIL if not e["passed"] else (WARN if e["warnings"] else PASS)
            )
        item = _item(kind, int(e["seq"]), str(e["a"]), verdict, str(e["created_at"]))
        if kind == "evaluation":
            item["fairness"] = _fairness_verdict(s, str(e["a"]))
        evidence.append(item)
        verdicts[kind] = verdict
        ages[kind] = item["age_days"]
        if kind == "evaluation":
            verdicts["fairness"] = item["fairness"]
            ages["fairness"] = item["age_days"] if item["fairness"] else None
    return {
        "ref": model.ref,
        "name": model.name,
        "version": model.version,
        "digest": model.model_digest,
        "stage": stage,
        "tier": tier if tier is not None else untiered,
        "tier_assessed": tier is not None,
        "dpia": dpia,
        "pii_inputs": bool(pii),
        "pii_columns": pii,
        "features": sorted(features or []),
        "developers": sorted(people),
        "evidence": evidence,
        "verdicts": verdicts,
        "evidence_age_days": ages,
        "findings_open": open_counts(s, model.ref),
    }


_SPEC_COLUMNS: dict[str, list[str] | None] = {}
_FAIRNESS: dict[str, str | None] = {}


def _features(s: Session, spec_digest: str) -> list[str] | None:
    """The columns a run's spec reads (features and sensitive attributes), None if unreadable.

    Cached by digest: the blob is immutable and was checked against its digest when read.
    """
    if spec_digest in _SPEC_COLUMNS:
        return _SPEC_COLUMNS[spec_digest]
    try:
        spec = tomllib.loads(s.workspace.objects.read_verified(spec_digest).decode())
        section = spec.get("run", {})
        found: list[str] | None = [
            str(c) for c in [*section.get("features", []), *section.get("sensitive", [])]
        ]
    except (OSError, ValueError, LookupError, LedgerError, AttributeError, TypeError):
        return None  # not cached: a missing blob may be restored
    if len(_SPEC_COLUMNS) > 1024:
        _SPEC_COLUMNS.clear()
    _SPEC_COLUMNS[spec_digest] = found
    return found


def _item(kind: str, seq: int, digest: str, verdict: str, ts: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "seq": seq,
        "digest": digest,
        "verdict": verdict,
        "age_days": days_since(ts),
    }


def approvals_of(s: Session, ref: str, stage: str, *, at: int | None = None) -> list[ApprovalRow]:
    """The approvals and rejections recorded for a version and stage, oldest first."""
    sql = "SELECT * FROM approvals WHERE model = ? AND stage = ?" + (" AND seq <= ?" if at else "")
    params: list[Any] = [ref, stage] + ([at] if at else [])
    return s.catalog.rows(ApprovalRow, sql + " ORDER BY seq", params)


__all__ = [
    "approvals_of",
    "days_since",
    "developers",
    "model_facts",
    "model_row",
    "risk_of",
    "stage_of",
]
