"""Retention: rules per dataset and per decision log, what expires when, and what holds it.

Until now a snapshot's ``retention`` tag (``--retention 7y`` at ingest) was a label. Here it
is enforced:

- A **rule** (``ledgerml retention set dataset:NAME 7y``, one ``retention.set`` event) fixes a
  dataset's period; it overrides the tag of each of its snapshots, because a tag is what one
  ingest said and a rule is the organisation's decision about the whole dataset. Without a
  rule a snapshot's own tag applies; without either, nothing expires (said as "no rule").
  ``decisions:ENV`` rules fix how long the decision log of each deployment in an environment
  is kept, counted from the deployment's end (a live deployment's log never expires).
- The **schedule** (:func:`schedule`, ``ledgerml retention show``) gives, for each snapshot
  and each deployment's decision log, the period that applies and where it comes from, when
  it expires (:mod:`core.privacy.periods`), whether it is erased, and the holds on it.
- A **run** (:mod:`core.privacy.retention_run`, ``ledgerml retention run``) erases what has
  expired and is not held, through the same erase path as a request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.identity.actors import needs
from core.kernel import command
from core.kernel.catalog import Catalog
from core.kernel.errors import UsageError
from core.kernel.kinds import new_event
from core.kernel.rows import DeploymentRow, HoldRow, RetentionRuleRow, SnapshotRow
from core.kernel.workspace import Session, Workspace
from core.privacy import holds, periods
from core.privacy.events import RETENTION_ROLES, RetentionSet
from core.privacy.hold_commands import blocking_log, resolve_target, subjects_of

RULE_FORMS = "dataset:NAME or decisions:ENV"
LEGAL_BASIS = "retention period expired"
"""The legal basis every erasure a retention run makes records."""


def log_target(env: str, deployment_id: str) -> str:
    """The erasure target naming one deployment's decision log."""
    return f"decisions:{env}/{deployment_id}"


def set_rule(
    ws: Workspace, actor: str, target: str, period: str, *, reason: str
) -> RetentionRuleRow:
    """Set the retention period of a dataset or an environment's decision logs.

    Raises:
        UsageError: without a reason, for a bad period or a target of another form.
        NotFoundError: for a dataset or environment the workspace does not have.
        PermissionDeniedError: for an actor who may not set retention rules.
    """
    periods.parse(period)
    if not reason.strip():
        raise UsageError(
            "a retention rule needs a reason (--reason): name the policy or law it follows",
            hint="e.g. --reason 'credit files: 7 years after the contract (policy R-12)'.",
        )

    def commit(s: Session, _: None) -> RetentionRuleRow:
        canonical = resolve_target(s.catalog, target)
        if not canonical.startswith(("dataset:", "decisions:")):
            raise UsageError(
                f"retention rules are set per dataset or decision log, not on {canonical}",
                hint=f"Give {RULE_FORMS}; a single version keeps its own --retention tag.",
            )
        old = rule_of(s.catalog, canonical)
        if old is not None and old.period == period:
            return old  # the same rule again: nothing changes, nothing is recorded
        s.commit(
            new_event(
                s.actor,
                RetentionSet(target=canonical, period=period, previous=old.period if old else None),
                subjects_of(canonical),
                reason,
            )
        )
        found = rule_of(s.catalog, canonical)
        assert found is not None
        return found

    return command.run(
        ws, actor, guards=[needs(*RETENTION_ROLES, action="set retention rules")], commit=commit
    )


def rule_of(catalog: Catalog, target: str) -> RetentionRuleRow | None:
    """The rule in force for ``target`` (``dataset:NAME`` / ``decisions:ENV``), if any."""
    rows: list[RetentionRuleRow] = catalog.rows(
        RetentionRuleRow, "SELECT * FROM retention_rules WHERE target = ?", [target]
    )
    return rows[0] if rows else None


def rules(catalog: Catalog) -> list[RetentionRuleRow]:
    """Every rule in force, by target."""
    return catalog.rows(RetentionRuleRow, "SELECT * FROM retention_rules ORDER BY target")


@dataclass(frozen=True)
class Item:
    """One snapshot or one deployment's decision log, with the retention that applies to it.

    ``kind`` is ``snapshot`` or ``decisions``; ``target`` the snapshot ref or the deployment
    id; ``scope`` its dataset or environment. ``period`` and ``source`` say which rule
    applied (``source``: ``rule #N`` for a ``retention.set``, ``tag`` for the snapshot's own
    tag, ``none``). ``start`` is when the period runs from (created, or the deployment's
    end; None while it serves) and ``expires_at`` when it ends.
    """

    kind: str
    target: str
    scope: str
    period: str | None
    source: str
    start: str | None
    expires_at: str | None
    expired: bool
    erased_seq: int | None
    holds: list[HoldRow] = field(default_factory=list)
    retention_class: str | None = None
    """A decision log's class (``hmac-only`` / ``rows``): whether input rows are stored."""
    covers: list[str] = field(default_factory=list)
    """The versions an erasure of this snapshot also takes (views derived from it)."""

    @property
    def rule(self) -> str:
        """What an erasure records as its rule: ``retention 7y``."""
        return f"retention {self.period}"

    @property
    def source_text(self) -> str:
        """Which rule applied, in words."""
        if self.source == "tag":
            return "the snapshot's own tag"
        if self.source.startswith("rule #"):
            what = f"dataset:{self.scope}" if self.kind == "snapshot" else f"decisions:{self.scope}"
            return f"{what} {self.source}"
        return "no rule"

    @property
    def status(self) -> str:
        """What becomes of it, in words: erased, held, due, kept until, serving, no rule."""
        if self.erased_seq is not None:
            return f"erased at #{self.erased_seq}"
        if self.period is None:
            return "no rule: kept"
        if self.start is None:
            return "serving: its period runs from the deployment's end"
        if self.expired and self.holds:
            return "expired, " + held_text(self.holds)
        if self.expired:
            return "expired: due for erasure"
        held = f", {held_text(self.holds)}" if self.holds else ""
        return f"kept until {self.expires_at}{held}"

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json`` and the retention log."""
        return {
            "kind": self.kind,
            "target": self.target,
            "scope": self.scope,
            "period": self.period,
            "source": self.source,
            "start": self.start,
            "expires_at": self.expires_at,
            "expired": self.expired,
            "erased_seq": self.erased_seq,
            "holds": [{"hold": h.seq, "target": h.target, "reason": h.reason} for h in self.holds],
            "retention_class": self.retention_class,
            "covers": self.covers,
            "status": self.status,
        }


def held_text(found: list[HoldRow]) -> str:
    """``held by #12: litigation (case 114); #15: …``."""
    return "held by " + "; ".join(f"#{h.seq}: {h.reason}" for h in found)


def _applies(
    snap: SnapshotRow, dataset_rules: dict[str, RetentionRuleRow]
) -> tuple[str | None, str]:
    rule = dataset_rules.get(f"dataset:{snap.dataset}")
    if rule is not None:
        return rule.period, f"rule #{rule.seq}"
    if snap.retention:
        return snap.retention, "tag"
    return None, "none"


def _expiry(start: str | None, period: str | None, when: datetime) -> tuple[str | None, bool]:
    if start is None or period is None:
        return None, False
    end = periods.ends(periods.instant(start), period)
    if end == periods.NEVER:
        return None, False
    return periods.iso(end), end <= when


def derived_views(catalog: Catalog, ref: str) -> list[str]:
    """The snapshot versions derived from ``ref`` (views of it, and views of those)."""
    edges = catalog.lineage(f"snapshot:{ref}", down=True)
    found = {e.dst for e in edges} | {e.src for e in edges}
    return sorted(
        n.removeprefix("snapshot:")
        for n in found
        if n.startswith("snapshot:") and n != f"snapshot:{ref}"
    )


def snapshot_items(catalog: Catalog, when: datetime, only: str | None = None) -> list[Item]:
    """Every snapshot with its retention at ``when``, oldest first (only ``only``: one ref)."""
    by_target = {r.target: r for r in rules(catalog)}
    out = []
    if only is not None:
        one = catalog.snapshot(only)
        snaps = [one] if one is not None else []
    else:
        snaps = sorted(catalog.snapshots(), key=lambda s: (s.created_seq, s.ref))
    for snap in snaps:
        period, source = _applies(snap, by_target)
        expires, expired = _expiry(snap.created_at, period, when)
        views = derived_views(catalog, snap.ref)
        found = list(holds.blocking(catalog, snap))
        for view in views:  # an erasure takes the views too: their holds block it
            row = catalog.snapshot(view)
            if row is not None and row.erased_seq is None:
                found += [h for h in holds.blocking(catalog, row) if h not in found]
        out.append(
            Item(
                kind="snapshot",
                target=snap.ref,
                scope=snap.dataset,
                period=period,
                source=source,
                start=snap.created_at,
                expires_at=expires,
                expired=expired,
                erased_seq=snap.erased_seq,
                holds=sorted(found, key=lambda h: h.seq),
                covers=views,
            )
        )
    return out


def _ended_at(catalog: Catalog, seq: int | None) -> str | None:
    if seq is None:
        return None
    rows = catalog.con.execute("SELECT ts FROM events WHERE seq = ?", [seq]).fetchall()
    return str(rows[0][0]) if rows else None


def _log_erasure(catalog: Catalog, env: str, deployment_id: str) -> int | None:
    rows = catalog.con.execute(
        "SELECT min(seq) FROM erasures WHERE target = ?", [log_target(env, deployment_id)]
    ).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else None


def decision_items(catalog: Catalog, when: datetime, only: str | None = None) -> list[Item]:
    """Each deployment's decision log with its retention at ``when``, oldest first.

    With ``only``, that deployment's alone.
    """
    by_target = {r.target: r for r in rules(catalog)}
    sql = "SELECT * FROM deployments" + (" WHERE deployment_id = ?" if only else "")
    deps: list[DeploymentRow] = catalog.rows(
        DeploymentRow, sql + " ORDER BY seq", [only] if only else []
    )
    out = []
    for dep in deps:
        rule = by_target.get(f"decisions:{dep.env}")
        period = rule.period if rule else None
        start = _ended_at(catalog, dep.ended_seq)
        expires, expired = _expiry(start, period, when)
        out.append(
            Item(
                kind="decisions",
                target=dep.deployment_id,
                scope=dep.env,
                period=period,
                source=f"rule #{rule.seq}" if rule else "none",
                start=start,
                expires_at=expires,
                expired=expired,
                erased_seq=_log_erasure(catalog, dep.env, dep.deployment_id),
                holds=blocking_log(catalog, dep.env),
                retention_class=dep.retention,
            )
        )
    return out


def schedule(catalog: Catalog, when: datetime) -> list[Item]:
    """Snapshots, then decision logs, each with its retention at ``when``."""
    return snapshot_items(catalog, when) + decision_items(catalog, when)


def show(ws: Workspace, actor: str = "", *, as_of: str | None = None) -> tuple[str, list[Item]]:
    """The schedule at ``as_of`` (default now): the instant used, and every item."""
    from datetime import UTC

    when = periods.as_of(as_of) or datetime.now(UTC)
    with ws.session(actor) as s:
        return periods.iso(when), schedule(s.catalog, when)


def batches_of(catalog: Catalog, deployment_id: str) -> list[tuple[int, str, list[str]]]:
    """The decision batches holding rows of a deployment: (event, object, deployments)."""
    out = []
    for seq, digest, deps in catalog.con.execute(
        "SELECT seq, object_digest, deployments FROM decision_batches ORDER BY seq"
    ).fetchall():
        named = [str(d) for d in json.loads(deps)]
        if deployment_id in named:
            out.append((int(seq), str(digest), named))
    return out
