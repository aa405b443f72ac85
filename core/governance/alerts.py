"""Alerts: what needs attention now, computed from the ledger's state and the policy in force.

Nothing here is stored: an alert is a reading of signed state against the rules of the
policy bundle in force (:mod:`core.governance.rules`) at a moment (``now``, so expiry can be
tested without waiting). Alerts are not failures; ``ledgerml alerts`` exits 0 with them
printed unless ``--fail-on`` asks otherwise. What is looked at:

- **approvals** (for the ``approved`` stage, bound to the version's current digest, signed,
  each approver's newest decision), as :func:`storage.bundle_verifier.approval_check` counts
  them: within ``grace_days`` of the end of the tier's ``approval_valid_days`` an approval
  raises ``approval-expiring`` (low: "expires in N days"); past its validity but within the
  grace it still counts and the alert is medium; past the grace it no longer counts:
  ``approval-expired`` (high). The grace period is what keeps an expiry from being a silent
  outage: the alert comes while the approval still works. An approval that newer evidence
  voided (``evidence_change = "void"``) is ``approval-voided``: high when the version is
  approved and its approvals no longer meet the rule (production refuses to deploy or score
  it), low when the others still meet it or before approval (its approver is asked again).
- **evidence** of versions in ``validated`` or ``approved``: the newest validation,
  evaluation or reproduction older than the tier's ``evidence_max_age_days``:
  ``evidence-stale``.
- **revalidation** of those versions: the newest validation or evaluation older than the
  tier's ``revalidate_days`` is ``revalidation-due`` during the grace period and
  ``revalidation-lapsed`` after it (or when there is no such evidence at all).
- **break-glass** promotions not yet reviewed: ``breakglass-open``; reviewed as
  ``reversed`` while the version has not moved since: ``breakglass-reversal-pending``.
- **findings** past their due date while still open or in remediation: ``finding-overdue``;
  accepted findings whose acceptance has expired: ``finding-acceptance-lapsed``.

Without a policy in force the windows are unknown; that is itself an alert (``no-policy``),
never a silent pass. Retired versions raise no approval, evidence or revalidation alerts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from core.governance import breakglass, findings
from core.governance.facts import days_since
from core.governance.rules import Rules, Tier
from core.kernel.rows import ApprovalRow, LifecycleRow, ModelRow
from core.kernel.workspace import Session, Workspace

SEVERITIES = ("low", "medium", "high")
"""Alert severities, mildest first (``--fail-on`` takes one)."""
_FINDING_SEVERITY = {"low": "low", "medium": "medium", "high": "high", "critical": "high"}
_WATCHED = ("validated", "approved")
"""Stages whose evidence and revalidation are watched (versions in use or about to be)."""


@dataclass(frozen=True)
class Alert:
    """One thing that needs attention."""

    kind: str
    severity: str
    subject: str
    message: str
    seq: int | None = None
    """The event it is about (the approval, the evidence, the promotion, the finding)."""
    when: str | None = None
    """The day it lapses or lapsed (``YYYY-MM-DD``), when there is one."""

    def to_json(self) -> dict[str, Any]:
        """For ``--json`` output."""
        return asdict(self)


def rank(severity: str) -> int:
    """A severity's place in :data:`SEVERITIES` (higher is worse)."""
    return SEVERITIES.index(severity)


def moment(text: str) -> dt.datetime:
    """A moment typed by a user: ``YYYY-MM-DD`` (its start, UTC) or an ISO time.

    Raises:
        UsageError: for anything else.
    """
    from core.kernel.errors import UsageError

    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--at {text!r} is not a date or time", hint="Use YYYY-MM-DD or 2027-01-31T12:00Z."
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _utc(now: dt.datetime | None) -> dt.datetime:
    return now.astimezone(dt.UTC) if now is not None else dt.datetime.now(dt.UTC)


def _day_after(ts: str, days: int) -> dt.date:
    """The last day of a window of ``days`` days opened at event time ``ts``."""
    start = dt.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    return (start + dt.timedelta(days=days)).date()


def _rules(s: Session) -> Rules | None:
    from core.governance import policy, rules

    bundle = policy.in_force(s)
    if bundle is None:
        return None
    return rules.parse(bundle.data, where=f"policy {bundle.name} {bundle.version}")


def _q(s: Session, sql: str) -> list[tuple[Any, ...]]:
    return list(s.catalog.con.execute(sql).fetchall())


Evidence = dict[str, tuple[int, str]]
"""The newest evidence of each kind about a version: kind → (event number, time)."""


def evidence_index(s: Session) -> Callable[[ModelRow], Evidence]:
    """The newest validation, evaluation and reproduction of every version, in four queries.

    Validations are of the run's input snapshot, reproductions of the run, evaluations of
    the version (what :func:`core.governance.facts.model_facts` lists as its evidence).
    """
    inputs = {str(r[0]): str(r[1]) for r in _q(s, "SELECT run_id, input_ref FROM runs")}

    def newest(table: str, key: str) -> dict[str, tuple[int, str]]:
        sql = f"SELECT {key}, max(seq), arg_max(created_at, seq) FROM {table} GROUP BY {key}"
        return {str(r[0]): (int(r[1]), str(r[2])) for r in _q(s, sql)}

    validations = newest("validations", "snapshot")
    reproductions = newest("reproductions", "run_id")
    evaluations = newest("evaluations", "model")

    def of(model: ModelRow) -> Evidence:
        found = {
            "validation": validations.get(inputs.get(model.run_id, "")),
            "reproduction": reproductions.get(model.run_id),
            "evaluation": evaluations.get(model.ref),
        }
        return {k: v for k, v in found.items() if v is not None}

    return of


def newest_evidence(s: Session, model: ModelRow) -> Evidence:
    """The newest validation, evaluation and reproduction of one version."""
    return evidence_index(s)(model)


def _approval_alerts(
    s: Session,
    model: ModelRow,
    recorded: list[ApprovalRow],
    evidence: Evidence,
    rules: Rules,
    tier: Tier,
    now: dt.datetime,
    stage: str = "candidate",
) -> list[Alert]:
    """Expiring and expired approvals, as ``approval_check`` counts them.

    One rule (:func:`storage.bundle_verifier.approval_check`) for the gate, the verifier and
    these alerts.
    Only each approver's newest approval for the ``approved`` stage is looked at (an older
    one they renewed is history, not a risk), and only approvals whose signed statement
    checks out (a row forged into the catalog raises no alert and counts for nothing).
    """
    from core.governance import approvals, separation
    from core.governance.facts import developers
    from core.identity.signer import authority_of

    if not recorded:
        return []
    auth = authority_of(s)
    rows, _ = separation.signed(s, auth, recorded)
    if not rows:
        return []
    seqs = [seq for seq, _ in evidence.values()]
    result = separation.check(
        rules,
        tier.tier,
        model.model_digest,
        developers(s, model),
        rows,
        kinds=separation.kinds_of(auth, {r.approver for r in rows}),
        newest_evidence_seq=max(seqs) if seqs else None,
        now=now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    )
    newest = {r.approver: r for r in rows if r.model_digest == model.model_digest}
    expiring = {int(e["seq"]): e for e in result["expiring"]}
    kinds = {seq: kind for kind, (seq, _) in evidence.items()}
    subject = f"model:{model.ref}"
    out = []
    for a in newest.values():
        if a.decision != "approve":
            continue
        who = f"approval #{a.seq} of {model.ref} by {a.approver} ({a.role})"
        valid_to = _day_after(a.created_at, tier.approval_valid_days)
        grace_to = _day_after(a.created_at, tier.approval_valid_days + tier.grace_days)
        if a.seq in expiring:
            in_grace = bool(expiring[a.seq]["in_grace"])
            end = grace_to if in_grace else valid_to
            left = max(0, (end - now.date()).days)
            text = (
                f"{who} expires in {left} days: its validity ended on {valid_to}; it still "
                f"counts during the grace period, until {grace_to}"
                if in_grace
                else f"{who} expires in {left} days ({valid_to}); then a grace period of "
                f"{tier.grace_days} days"
            )
            out.append(
                Alert(
                    "approval-expiring",
                    "medium" if in_grace else "low",
                    subject,
                    text,
                    a.seq,
                    end.isoformat(),
                )
            )
        elif (why := approvals.in_words(result["why_not"].get(str(a.seq)), kinds)).startswith(
            "voided"
        ):
            stranded = stage == "approved" and not result["ok"]
            if stranded:
                then = (
                    f"; {model.ref} is approved on approvals that no longer count (production "
                    "refuses to deploy or score it until it is approved again)"
                )
            elif stage == "approved":
                then = f"; the other approvals of {model.ref} still meet the rule"
            else:
                then = f"; {a.approver} is asked again"
            out.append(
                Alert(
                    "approval-voided",
                    "high" if stranded else "low",
                    subject,
                    f"{who} was {why}: it no longer counts{then}",
                    a.seq,
                )
            )
        elif " expired " in result["why_not"].get(str(a.seq), ""):
            out.append(
                Alert(
                    "approval-expired",
                    "high",
                    subject,
                    f"{who} expired on {grace_to}: it is no longer counted",
                    a.seq,
                    grace_to.isoformat(),
                )
            )
    return out


def _evidence_alerts(
    model: ModelRow, newest: Evidence, tier: Tier, now: dt.datetime
) -> list[Alert]:
    subject = f"model:{model.ref}"
    out = []
    for kind, (seq, ts) in sorted(newest.items()):
        age = days_since(ts, now)
        if age > tier.evidence_max_age_days:
            out.append(
                Alert(
                    "evidence-stale",
                    "medium",
                    subject,
                    f"the newest {kind} of {model.ref} (#{seq}) is {int(age)} days old; tier "
                    f"{tier.tier} allows {tier.evidence_max_age_days}",
                    seq,
                    _day_after(ts, tier.evidence_max_age_days).isoformat(),
                )
            )
    checks = [newest[k] for k in ("validation", "evaluation") if k in newest]
    if not checks:
        out.append(
            Alert(
                "revalidation-lapsed",
                "high",
                subject,
                f"{model.ref} has no validation or evaluation evidence to revalidate it",
            )
        )
        return out
    seq, ts = max(checks)
    age = days_since(ts, now)
    due = _day_after(ts, tier.revalidate_days)
    grace_to = _day_after(ts, tier.revalidate_days + tier.grace_days)
    if age > tier.revalidate_days + tier.grace_days:
        out.append(
            Alert(
                "revalidation-lapsed",
                "high",
                subject,
                f"revalidation of {model.ref} lapsed: due on {due} (tier {tier.tier}: every "
                f"{tier.revalidate_days} days), grace ended on {grace_to}; newest check #{seq}",
                seq,
                grace_to.isoformat(),
            )
        )
    elif age > tier.revalidate_days:
        left = max(0, (grace_to - now.date()).days)
        out.append(
            Alert(
                "revalidation-due",
                "medium",
                subject,
                f"revalidation of {model.ref} was due on {due}; the grace period ends in "
                f"{left} days ({grace_to}); newest check #{seq}",
                seq,
                grace_to.isoformat(),
            )
        )
    return out


def _finding_alerts(s: Session, today: dt.date) -> list[Alert]:
    out = []
    for f in findings.rows(s):
        subject = f"model:{f.model}"
        if f.status in findings.OPEN and dt.date.fromisoformat(f.due) < today:
            out.append(
                Alert(
                    "finding-overdue",
                    _FINDING_SEVERITY[f.severity],
                    subject,
                    f"finding #{f.seq} ({f.severity}) on {f.model} was due on {f.due} and is "
                    f"{f.status}; owner {f.owner}: {f.title}",
                    f.seq,
                    f.due,
                )
            )
        elif f.status == "accepted" and findings.is_open(f, today):
            out.append(
                Alert(
                    "finding-acceptance-lapsed",
                    "high" if f.severity in ("high", "critical") else "medium",
                    subject,
                    f"the acceptance of finding #{f.seq} ({f.severity}) on {f.model} expired on "
                    f"{f.expires}: it counts as open again",
                    f.updated_seq,
                    f.expires,
                )
            )
    return out


def compute(s: Session, *, now: dt.datetime | None = None) -> list[Alert]:
    """Every alert at ``now`` (default: the current time), worst first."""
    at = _utc(now)
    out: list[Alert] = []
    rules = _rules(s)
    if rules is None:
        out.append(
            Alert(
                "no-policy",
                "medium",
                "policy",
                "no policy is in force: approval, evidence and revalidation windows cannot be "
                "checked",
            )
        )
    else:
        # Set-wise reads (a handful of queries for any number of models), then per version.
        stages = {
            str(r[0]): str(r[1])
            for r in _q(s, "SELECT model, arg_max(to_stage, seq) FROM lifecycle GROUP BY model")
        }
        tiers = {
            str(r[0]): int(r[1])
            for r in _q(s, "SELECT name, arg_max(tier, seq) FROM model_risk GROUP BY name")
        }
        recorded: dict[str, list[ApprovalRow]] = {}
        for a in s.catalog.rows(
            ApprovalRow, "SELECT * FROM approvals WHERE stage = 'approved' ORDER BY seq", []
        ):
            recorded.setdefault(a.model, []).append(a)
        evidence = evidence_index(s)
        for model in s.catalog.models():
            stage = stages.get(model.ref, "candidate")
            if stage == "retired":
                continue
            tier = rules.tier(tiers.get(model.name, rules.untiered))
            newest = evidence(model)
            out += _approval_alerts(
                s, model, recorded.get(model.ref, []), newest, rules, tier, at, stage
            )
            if stage in _WATCHED:
                out += _evidence_alerts(model, newest, tier, at)
    for b in breakglass.promotions(s):
        if b.review is not None and b.review.outcome == "reversed":
            p, r = b.promotion, b.review
            moved = s.catalog.rows(
                LifecycleRow,
                "SELECT * FROM lifecycle WHERE model = ? AND seq > ? ORDER BY seq LIMIT 1",
                [p.model, p.seq],
            )
            if not moved:
                out.append(
                    Alert(
                        "breakglass-reversal-pending",
                        "high",
                        f"model:{p.model}",
                        f"review #{r.seq} by {r.created_by} reversed break-glass promotion "
                        f"#{p.seq}, but {p.model} is still {p.to_stage}: move it back",
                        r.seq,
                    )
                )
        if b.open:
            p = b.promotion
            out.append(
                Alert(
                    "breakglass-open",
                    "high",
                    f"model:{p.model}",
                    f"break-glass promotion #{p.seq} of {p.model} to {p.to_stage} by "
                    f"{p.created_by} ({p.created_at[:10]}) is not reviewed",
                    p.seq,
                )
            )
    out += _finding_alerts(s, at.date())
    return sorted(out, key=lambda a: (-rank(a.severity), a.seq or 0, a.kind))


def alerts(ws: Workspace, actor: str = "", *, now: dt.datetime | None = None) -> list[Alert]:
    """The alerts of a workspace (see :func:`compute`)."""
    with ws.session(actor) as s:
        return compute(s, now=now)


def worst(found: list[Alert]) -> str | None:
    """The worst severity among ``found`` (None for no alert)."""
    return max((a.severity for a in found), key=rank, default=None)
