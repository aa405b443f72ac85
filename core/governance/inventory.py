"""The model inventory: every model with the fields SR 11-7 asks an inventory to hold.

Purpose, use, restrictions and owner come from the newest risk assessment; inputs (the
snapshot and features) and outputs (the outcome's names, if the spec declares them) from the
newest version's run; developer, validator, validation, approvals, stage, last change,
exceptions (waivers on the input, break-glass moves), open findings, the approvals' validity
and the next revalidation from the governance tables, under the tiers of the policy in force;
and the erasures of data its versions were trained on (``erasures``, written by the privacy
context's ``data.erase``: those versions are flagged, never hidden).

It must stay fast for a large registry: a handful of set-wise queries, whatever the number of
models, and one read per *distinct* training spec (versions retrained from one spec share
it), never a blob per model. Whether each listed approval counts now (and the stage line
that says when an approved version's approvals no longer do) is
:func:`core.governance.approvals.sign_off_in`'s answer, the one every view gives; it reads
the version's facts and approval check only for newest versions with an approval or in
stage ``approved``. Everything is read from catalog rows, which ``audit verify`` holds to
the signed ledger. The evidence verdict is added a layer up, by
:func:`core.evidence.views.inventory`.
"""

from __future__ import annotations

import json
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from core.governance import policy
from core.governance.approvals import ApprovalNow, sign_off_in
from core.governance.rules import Rules
from core.governance.rules import parse as parse_rules
from core.kernel.errors import IntegrityError
from core.kernel.workspace import Session, Workspace
from storage.bundle_verifier import parse_event_time

OPEN_FINDINGS = ("open", "in-remediation")


@dataclass(frozen=True)
class InventoryLine:
    """One model (all its versions) as an inventory lists it."""

    name: str
    ref: str
    versions: int
    stage: str
    tier: int | None
    purpose: str | None
    use: str | None
    restrictions: str | None
    owner: str | None
    inputs: dict[str, Any]
    outputs: list[str]
    developers: list[str]
    validator: str | None
    validation_status: str
    validation_date: str | None
    approvals: list[dict[str, Any]] = field(default_factory=list)
    """The approvals the version's promotion counted (else its approvals for ``approved``):
    approver, role, ts, seq, and ``counts`` / ``why_not`` / ``standing`` (in words) now
    (:class:`~core.governance.approvals.ApprovalNow`, the answer every view gives)."""
    last_change: dict[str, Any] = field(default_factory=dict)
    exceptions: dict[str, int] = field(default_factory=dict)
    open_findings: int | None = None
    valid_until: str | None = None
    next_revalidation: str | None = None
    erased_data: list[dict[str, Any]] = field(default_factory=list)
    """Erasures of data versions of this model were trained on: the event and the versions
    (their training data is gone: they cannot be reproduced, and their evidence refers to
    rows that no longer exist)."""
    stage_line: str = ""
    """The stage with a word when an approved version's approvals no longer count
    (:attr:`~core.governance.approvals.SignOff.stage_line`)."""
    evidence: dict[str, Any] | None = None
    """The newest evidence verdict of the newest version (``verdict``, ``event``,
    ``not_passed``, ``text``), as ``model verify`` says it. The evidence context sits above
    governance, so :func:`core.evidence.views.inventory` fills it; None: not asked."""

    @property
    def valid_until_now(self) -> str | None:
        """The day the counted approvals lapse, or why there is none now.

        A date beside approvals that no longer count would read as an approval that stands
        until then. ``void`` when newer evidence voided one of them, ``expired`` when they
        expired, else ``no longer holds`` (a rejection since, too few people); the stage line
        and each approval's standing say the rest.
        """
        if not (self.stage_line and self.stage_line != self.stage):
            return self.valid_until[:10] if self.valid_until else None
        why = [str(a.get("why_not") or "") for a in self.approvals if not a.get("counts")]
        if any(w.startswith("voided") for w in why):
            return "void"
        if why and all(w.startswith("expired") for w in why):
            return "expired"
        return "no longer holds"

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "name": self.name,
            "ref": self.ref,
            "versions": self.versions,
            "stage": self.stage,
            "tier": self.tier,
            "purpose": self.purpose,
            "use": self.use,
            "restrictions": self.restrictions,
            "owner": self.owner,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "developers": self.developers,
            "validator": self.validator,
            "validation_status": self.validation_status,
            "validation_date": self.validation_date,
            "approvals": self.approvals,
            "last_change": self.last_change,
            "exceptions": self.exceptions,
            "open_findings": self.open_findings,
            "valid_until": self.valid_until,
            "valid_until_now": self.valid_until_now,
            "next_revalidation": self.next_revalidation,
            "erased_data": self.erased_data,
            "stage_line": self.stage_line or self.stage,
            "evidence": self.evidence,
        }


def _q(s: Session, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cur = s.catalog.con.execute(sql, params or [])
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _spec_fields(s: Session, digest: str) -> tuple[list[str], list[str]]:
    """Features (and sensitive attributes) and outcome names a training spec declares."""
    try:
        spec = tomllib.loads(s.workspace.objects.read_verified(digest).decode())
    except (OSError, ValueError, LookupError, UnicodeDecodeError, IntegrityError):
        return [], []  # unreadable or altered: listed as unknown (audit verify names it)
    run = spec.get("run", {}) if isinstance(spec, dict) else {}
    outcome = spec.get("outcome", {}) if isinstance(spec, dict) else {}
    features = [str(f) for f in run.get("features", []) if isinstance(f, str)]
    outputs = [str(outcome[k]) for k in ("positive", "negative") if isinstance(outcome.get(k), str)]
    return features, outputs


def _after(ts: str | None, days: int | None) -> str | None:
    if not ts or days is None:
        return None
    return str((parse_event_time(ts) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _counts_now(found: ApprovalNow | None) -> dict[str, Any]:
    """Whether one listed approval counts now, as plain data (never kinder when unknown)."""
    if found is None:
        return {"seq": None, "counts": False, "why_not": "not found", "standing": "not found"}
    return {
        "seq": found.seq,
        "counts": found.counted,
        "why_not": found.why_not or None,
        "standing": found.standing_text,
    }


def inventory(ws: Workspace, actor: str = "") -> list[InventoryLine]:
    """Every model name with its SR 11-7 inventory fields (see the module docstring)."""
    with ws.session(actor) as s:
        bundle = policy.in_force(s)
        rules: Rules | None = (
            parse_rules(bundle.data, where=f"policy {bundle.name}") if bundle else None
        )
        newest = _q(
            s,
            """
            SELECT m.name, m.ref, m.version, m.model_digest, m.created_by AS registrant,
                   r.created_by AS trainer, r.input_ref, r.spec_digest,
                   count(*) OVER (PARTITION BY m.name) AS versions
            FROM models m LEFT JOIN runs r ON r.run_id = m.run_id
            QUALIFY row_number() OVER (PARTITION BY m.name ORDER BY m.version DESC) = 1
            ORDER BY m.name
            """,
        )
        risk = {
            r["name"]: r
            for r in _q(
                s,
                "SELECT * FROM model_risk "
                "QUALIFY row_number() OVER (PARTITION BY name ORDER BY seq DESC) = 1",
            )
        }
        moves = _q(
            s,
            "SELECT seq, model, to_stage, approvals, break_glass, created_by, created_at "
            "FROM lifecycle ORDER BY seq",
        )
        approvals = _q(
            s,
            "SELECT seq, model, model_digest, stage, decision, role, approver, created_at "
            "FROM approvals ORDER BY seq",
        )
        waivers = {
            str(r["dst"]).removeprefix("snapshot:"): int(r["n"])
            for r in _q(
                s,
                "SELECT dst, count(*) AS n FROM edges WHERE relation = 'waives' "
                "AND starts_with(dst, 'snapshot:') GROUP BY dst",
            )
        }
        signers: dict[str, set[str]] = defaultdict(set)
        for r in _q(s, "SELECT DISTINCT subject, created_by FROM signatures"):
            signers[str(r["subject"]).removeprefix("model:")].add(str(r["created_by"]))
        last = {
            r["name"]: r
            for r in _q(
                s,
                """
                SELECT split_part(substr(x, 7), '@', 1) AS name, max(seq) AS seq, max(ts) AS ts
                FROM (SELECT seq, ts, unnest(subjects) AS x FROM events)
                WHERE starts_with(x, 'model:') GROUP BY 1
                """,
            )
        }
        findings: dict[str, int] | None = None
        if _q(s, "SELECT 1 FROM information_schema.tables WHERE table_name = 'findings'"):
            findings = defaultdict(int)
            for r in _q(
                s,
                "SELECT model, count(*) AS n FROM findings WHERE status IN (?, ?) GROUP BY model",
                list(OPEN_FINDINGS),
            ):
                findings[str(r["model"]).split("@", 1)[0]] += int(r["n"])
        erased: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in _q(s, "SELECT seq, target, models FROM erasures ORDER BY seq"):
            by_name: dict[str, list[str]] = defaultdict(list)
            for m in r["models"] or []:
                by_name[str(m).split("@", 1)[0]].append(str(m))
            for name, versions in by_name.items():
                erased[name].append(
                    {"erasure": int(r["seq"]), "target": str(r["target"]), "versions": versions}
                )
        specs = {
            d: _spec_fields(s, d)
            for d in {str(n["spec_digest"]) for n in newest if n["spec_digest"]}
        }
        now = sign_off_in(s, [str(n["ref"]) for n in newest])
    by_model_moves: dict[str, list[dict[str, Any]]] = defaultdict(list)
    glass: dict[str, int] = defaultdict(int)
    for move in moves:
        by_model_moves[str(move["model"])].append(move)
        if move["break_glass"]:
            glass[str(move["model"]).split("@", 1)[0]] += 1
    by_model_approvals: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in approvals:
        by_model_approvals[str(a["model"])].append(a)
    out = []
    for n in newest:
        name, ref = str(n["name"]), str(n["ref"])
        rk = risk.get(name)
        tier = int(rk["tier"]) if rk else (rules.untiered if rules else None)
        tier_rules = None
        if rules is not None and tier is not None:
            tier_rules = next((t for t in rules.tiers if t.tier == tier), None)
        mv = by_model_moves.get(ref, [])
        stage = str(mv[-1]["to_stage"]) if mv else "candidate"
        mine = [
            a for a in by_model_approvals.get(ref, []) if a["model_digest"] == n["model_digest"]
        ]
        counted_seqs: set[int] = set()
        for m in mv:
            if m["to_stage"] == "approved":
                counted_seqs = set(json.loads(m["approvals"]))
        counted = [a for a in mine if int(a["seq"]) in counted_seqs]
        validated = [m for m in mv if m["to_stage"] == "validated"]
        by_validator = [a for a in mine if a["role"] == "validator" and a["decision"] == "approve"]
        candidates = [(str(m["created_at"]), str(m["created_by"])) for m in validated[-1:]] + [
            (str(a["created_at"]), str(a["approver"])) for a in by_validator[-1:]
        ]
        validation = max(candidates) if candidates else None
        rejected = any(a["decision"] == "reject" and a["role"] == "validator" for a in mine[-1:])
        features, outputs = specs.get(str(n["spec_digest"]), ([], []))
        first_counted = min((str(a["created_at"]) for a in counted), default=None)
        devs = {str(n["registrant"]), *signers.get(ref, set())}
        if n["trainer"]:
            devs.add(str(n["trainer"]))
        lc = last.get(name)
        today = now[ref].by_seq()
        out.append(
            InventoryLine(
                name=name,
                ref=ref,
                versions=int(n["versions"]),
                stage=stage,
                tier=tier,
                purpose=rk["purpose"] if rk else None,
                use=rk["use"] if rk else None,
                restrictions=rk["restrictions"] if rk else None,
                owner=rk["owner"] if rk else None,
                inputs={"snapshot": n["input_ref"], "features": features},
                outputs=outputs,
                developers=sorted(devs),
                validator=validation[1] if validation else None,
                validation_status="rejected"
                if rejected
                else ("validated" if validation else "not validated"),
                validation_date=validation[0] if validation else None,
                approvals=[
                    {
                        "approver": str(a["approver"]),
                        "role": str(a["role"]),
                        "ts": str(a["created_at"]),
                        **_counts_now(today.get(int(a["seq"]))),
                    }
                    for a in (
                        counted
                        or [
                            a
                            for a in mine
                            if a["stage"] == "approved" and a["decision"] == "approve"
                        ]
                    )
                ],
                last_change={"seq": int(lc["seq"]), "ts": str(lc["ts"])} if lc else {},
                exceptions={
                    "waivers": waivers.get(str(n["input_ref"]), 0),
                    "break_glass": glass.get(name, 0),
                },
                open_findings=findings.get(name, 0) if findings is not None else None,
                valid_until=_after(
                    first_counted, tier_rules.approval_valid_days if tier_rules else None
                ),
                next_revalidation=_after(
                    validation[0] if validation else None,
                    tier_rules.revalidate_days if tier_rules else None,
                ),
                erased_data=erased.get(name, []),
                stage_line=now[ref].stage_line,
            )
        )
    return out
