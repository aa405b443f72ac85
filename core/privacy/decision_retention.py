"""Decision-log retention: a deployment's log past its period loses what links it to people.

A decision log keeps, per decision, the ``decision-leaf/1`` fields (request id, time, model,
score, decision, reasons, the keyed input digest ``input_hmac``…) and, under retention class
``rows``, the input values themselves (``in.*`` columns). When a ``decisions:ENV`` rule has
run out for a deployment (counted from the event that ended it), its erasure is one
``data.erase`` event (target ``decisions:ENV/DEPLOYMENT``, no snapshots, the deployment in
``decision_keys``), after which:

1. its **decision key** is destroyed (:func:`core.operations.decision_keys.destroy`): no one
   can compute ``input_hmac`` for a row again, so no input can be linked to a decision, and
   the deployment can log nothing more (it has ended anyway);
2. under ``rows``, each batch object holding its input values is **replaced** by a copy in
   which those values are null (the columns dropped when no row of the batch keeps any):
   the copy is stored and named by the erasure event (``stripped``: batch, from, to) before
   the original is deleted. The leaf fields are untouched, so the copy's rows recompute the
   Merkle root the batch event signed: every decision stays provable (``decision prove``,
   ``audit verify``, bundles) without the inputs.

What remains, said in every receipt: the decisions themselves (who was scored when, with
what score, decision and reasons) and their keyed digests, now unlinkable; request ids,
which a caller who kept them can still look up; feature contributions in ``reasons`` (SHAP
values) where the model logged them, which say how each input moved the score, not its value.
The original Parquet objects are deleted files: the blocks may survive on disk until reused
(they were never encrypted), which the receipt says too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.kernel.rows import DecisionBatchRow
from core.kernel.workspace import Session, Workspace
from core.privacy import periods
from core.privacy.retention import Item, log_target
from storage import failpoints

REMAINS = [
    "the decisions themselves: request id, time, caller, model, score, decision, status and "
    "reasons of every logged row (they are what the Merkle roots sign)",
    "each row's input_hmac, a keyed digest whose key is destroyed: it can no longer be linked "
    "to any input",
    "feature contributions in reasons, where the model logged them (how much each input "
    "moved the score, not the input's value)",
]
DELETED_BLOCKS = (
    "the replaced batch objects were plaintext files: deleting them frees their blocks, which "
    "may survive on disk until the file system reuses them"
)


@dataclass(frozen=True)
class Copy:
    """A batch object rewritten without one deployment's input values."""

    batch: int
    source: str
    """The digest of the copy it replaces (the original, or an earlier stripped copy)."""
    data: bytes
    digest: str


def current_digest(batch: DecisionBatchRow) -> str:
    """The object a batch's rows are read from now (a stripped copy once inputs are erased)."""
    return batch.stored_digest or batch.object_digest


def strip_inputs(table: Any, deployment_id: str) -> Any | None:
    """``table`` with the deployment's ``in.*`` values set to null; None if it has none.

    When no other row keeps a value, the ``in.*`` columns are dropped altogether. The leaf
    columns are never touched, so the result hashes to the same Merkle root.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    names = [c for c in table.column_names if c.startswith("in.")]
    if not names:
        return None
    mine = pc.equal(table.column("deployment_id"), pa.scalar(deployment_id, pa.string()))
    if not pc.any(mine).as_py():
        return None
    had_values = any(
        pc.sum(pc.and_kleene(mine, pc.is_valid(table.column(c)))).as_py() for c in names
    )
    if not had_values:
        return None
    others = pc.invert(mine)
    keep = any(pc.sum(pc.and_kleene(others, pc.is_valid(table.column(c)))).as_py() for c in names)
    if not keep:
        return table.drop_columns(names)
    for c in names:
        i = table.schema.get_field_index(c)
        col = table.column(c)
        table = table.set_column(
            i, table.schema.field(c), pc.if_else(mine, pa.nulls(table.num_rows, col.type), col)
        )
    return table


def plan_copies(ws: Workspace, batches: list[DecisionBatchRow], deployment_id: str) -> list[Copy]:
    """The stripped copies a deployment's erasure stores (the slow part: no lock held)."""
    import hashlib

    import pyarrow as pa
    import pyarrow.parquet as pq

    from core.kernel.errors import IntegrityError
    from core.operations.decision_log import leaf_digests, merkle_root, to_parquet

    out = []
    for batch in batches:
        source = current_digest(batch)
        table = pq.read_table(pa.BufferReader(ws.objects.read_verified(source)))
        stripped = strip_inputs(table, deployment_id)
        if stripped is None:
            continue
        if merkle_root(leaf_digests(stripped)).hex() != batch.merkle_root:  # checked, not claimed
            raise IntegrityError(
                f"the copy of batch #{batch.seq} without inputs does not recompute its signed "
                "root: nothing was erased"
            )
        data = to_parquet(stripped)
        out.append(Copy(batch.seq, source, data, hashlib.sha256(data).hexdigest()))
    return out


def batches_of(s: Session, deployment_id: str) -> list[DecisionBatchRow]:
    """The decision batches that hold rows of a deployment, oldest first."""
    rows: list[DecisionBatchRow] = s.catalog.rows(
        DecisionBatchRow, "SELECT * FROM decision_batches ORDER BY seq"
    )
    return [b for b in rows if deployment_id in json.loads(b.deployments)]


def receipt(
    *,
    workspace: str,
    seq: int,
    ts: str,
    actor: str,
    roles: list[str],
    item: Item,
    key_check: str,
    ended_seq: int,
    copies: list[Copy],
    carried: list[dict[str, Any]],
    reason: str,
    rule: str,
    as_of: str | None,
    decision: dict[str, Any] | None,
    policy_name: str | None,
    policy_version: str | None,
) -> dict[str, Any]:
    """The deletion receipt of a decision log (``ledgerml/deletion-receipt/v1``).

    The claims the bundle verifier compares with the signed event are the ones every
    receipt has (:func:`storage.bundle_verifier.receipt_problems`); ``decision_log`` and
    ``remains`` say what a snapshot's receipt has no words for: which key went, which batch
    objects were replaced by which copies, and what is still stored.
    """
    from core.privacy import receipts
    from core.privacy.retention import LEGAL_BASIS

    policy: dict[str, Any] | None = None
    if decision is not None:
        policy = {
            "gate": decision.get("gate"),
            "bundle": decision.get("bundle"),
            "name": policy_name,
            "version": policy_version,
            "allow": decision.get("allow"),
            "reasons": decision.get("reasons"),
        }
    method = "delete" if copies else "crypto-shred"
    return {
        "format": receipts.FORMAT,
        "workspace": workspace,
        "event": seq,
        "when": ts,
        "what": {
            "target": target_of(item),
            "snapshots": [],
            "covered": [],
            "objects": [
                {
                    "sha256": c.source,
                    "method": "delete",
                    "what": f"decision batch #{c.batch} with input values",
                    "replaced_by": c.digest,
                }
                for c in copies
            ],
            "keys": [],
            "kept": [
                {
                    "sha256": c.digest,
                    "why": f"decision batch #{c.batch} without the erased input values: its "
                    "rows recompute the Merkle root the batch event signed",
                }
                for c in copies
            ],
        },
        "why": {"reason": reason, "legal_basis": LEGAL_BASIS, "rule": rule, "as_of": as_of},
        "approved_by": {
            "actor": actor,
            "roles": roles,
            "policy": policy,
            **({} if policy else {"note": "no policy was in force: the erase gate was ungoverned"}),
        },
        "method": method,
        "method_note": (
            "the deployment's decision key was destroyed, so no input digest of its decisions "
            "can be linked to an input again"
            + ("; its stored input values were overwritten, then deleted" if copies else "")
        ),
        "carried_by": carried,
        "models": [],
        "impact": {"views": [], "models": [], "production": []},
        "subject": None,
        "replaced_by": None,
        "decision_log": {
            "env": item.scope,
            "deployment_id": item.target,
            "retention_class": item.retention_class,
            "decision_key_check": key_check,
            "ended_seq": ended_seq,
            "ended_at": item.start,
            "period": item.period,
            "rule_source": item.source_text,
            "expires_at": item.expires_at,
            "stripped": [{"batch": c.batch, "from": c.source, "to": c.digest} for c in copies],
        },
        "remains": REMAINS + ([DELETED_BLOCKS] if copies else []),
        "replicas": receipts.REPLICAS,
        "backups": "backups never hold the OS keyring, where decision keys live: no backup can "
        "bring the key back; a backup made before this erasure still holds the original batch "
        "objects with their input values (they go when that backup expires)",
    }


def shred(ws: Workspace, deployment_id: str, deleted: list[str]) -> tuple[bool, int]:
    """After the commit: destroy the key, delete the replaced objects (idempotent).

    Returns whether a key was destroyed now and how many objects were deleted now.
    """
    from core.operations import decision_keys

    destroyed = decision_keys.destroy(ws, deployment_id)
    removed = sum(ws.objects.remove(d, scrub=True) for d in deleted)  # plaintext Parquet
    return destroyed, removed


def target_of(item: Item) -> str:
    """The erasure target of a decision-log item."""
    return log_target(item.scope, item.target)


def _key_check(ws: Workspace, seq: int) -> str:
    """The ``key_check`` the deployment's own signed event recorded."""
    data = ws.ledger.entry(seq).decode().get("data") or {}
    return str(data.get("key_check", "")) if isinstance(data, dict) else ""


def _carried_by(s: Session, model: str, full_only: bool) -> list[dict[str, Any]]:
    """The bundle exports of the deployment's model: they carried sample decisions.

    With ``full_only``, only full bundles (the ones that carried input values).
    """
    rows = s.catalog.con.execute(
        "SELECT seq, body FROM events WHERE action = 'bundle.export' "
        "AND list_contains(subjects, ?) ORDER BY seq",
        [f"model:{model}"],
    ).fetchall()
    out = []
    for seq, body in rows:
        doc = json.loads(body)
        level = (doc.get("data") or {}).get("data_level")
        if not full_only or level == "full":
            out.append(
                {
                    "seq": int(seq),
                    "action": "bundle.export",
                    "actor": doc.get("actor"),
                    "ts": doc.get("ts"),
                    "what": f"a {level} bundle of {model} with sample decisions",
                }
            )
    return out


@dataclass(frozen=True)
class _Plan:
    item: Item
    model: str
    retention: str
    key_check: str
    ended_seq: int
    batches: list[DecisionBatchRow]


def _current(s: Session, item: Item) -> Item:
    """The item as the catalog has it under this hold, refused if it may not go now."""
    from core.kernel.errors import CheckFailedError, NotFoundError
    from core.privacy.retention import decision_items, held_text

    when = periods.instant(item.expires_at) if item.expires_at else None
    found = decision_items(s.catalog, when, only=item.target) if when else []
    if not found:
        raise NotFoundError(f"no decision log of {item.target} is due")
    now = found[0]
    if now.erased_seq is not None:
        raise CheckFailedError(f"the decision log of {item.target} was erased at #{now.erased_seq}")
    if now.holds:
        raise CheckFailedError(
            f"the decision log of {item.target} is {held_text(now.holds)}",
            hint="Lift the hold (`ledgerml hold remove`) when the matter is closed.",
        )
    if now.period != item.period or now.start != item.start:
        raise CheckFailedError(
            f"the retention of {item.target}'s decision log changed meanwhile",
            hint="Run `ledgerml retention run` again.",
        )
    return now


def erase_log(ws: Workspace, actor: str, item: Item, *, reason: str, as_of: str | None) -> int:
    """Erase one deployment's expired decision log (see the module); its event number.

    Commit first, shred second: the ``data.erase`` event names the copies it stored and the
    objects to delete, then the key is destroyed and those objects deleted. A crash in
    between is finished by the next run (:func:`complete_pending`).
    """
    from core.governance import policy
    from core.identity.actors import needs
    from core.kernel import command
    from core.kernel.errors import CheckFailedError
    from core.kernel.rows import DeploymentRow
    from core.operations.decision_events import PARQUET_MEDIA_TYPE
    from core.privacy.events import ERASE_ROLES, Erased
    from core.privacy.retention import LEGAL_BASIS

    target = target_of(item)
    facts = {
        "erasure": {
            "target": target,
            "legal_basis": LEGAL_BASIS,
            "rule": item.rule,
            "reason_given": bool(reason.strip()),
            "as_of": as_of or "",
            "subject": False,
            "snapshots": [],
            "pii": item.retention_class == "rows",
            "encrypted": False,
            "models": [],
            "production": [],  # an expired log is of a deployment that no longer serves
            "decision_log": {
                "env": item.scope,
                "deployment_id": item.target,
                "retention_class": item.retention_class,
            },
        }
    }

    def prepare(s: Session) -> _Plan:
        now = _current(s, item)
        deps: list[DeploymentRow] = s.catalog.rows(
            DeploymentRow, "SELECT * FROM deployments WHERE deployment_id = ?", [item.target]
        )
        dep = deps[0]
        assert dep.ended_seq is not None  # an expired log is of an ended deployment
        batches = batches_of(s, dep.deployment_id) if dep.retention == "rows" else []
        return _Plan(now, dep.model, dep.retention, _key_check(ws, dep.seq), dep.ended_seq, batches)

    def compute(plan: _Plan) -> tuple[_Plan, list[Copy]]:
        return plan, plan_copies(ws, plan.batches, item.target)

    def commit(s: Session, planned: tuple[_Plan, list[Copy]]) -> int:
        import dataclasses

        from core.identity.signer import authority_of
        from core.kernel.events import now_iso
        from core.kernel.kinds import new_event
        from core.privacy import receipts
        from storage.canonical import canonical_bytes

        plan, copies = planned
        _current(s, item)
        stored = {b.seq: current_digest(b) for b in batches_of(s, item.target)}
        if any(stored.get(c.batch) != c.source for c in copies):
            raise CheckFailedError(
                f"a batch of {item.target} was rewritten meanwhile",
                hint="Run `ledgerml retention run` again.",
            )
        refs = [s.put_blob(c.data, PARQUET_MEDIA_TYPE) for c in copies]
        seq = s.workspace.ledger.head()[0] + 1  # held: this command's event is the next
        ts = now_iso()
        bundle = policy.in_force(s) if s.decision is not None else None
        state = authority_of(s).current(s.actor)
        carried = _carried_by(s, plan.model, full_only=bool(copies))
        doc = receipt(
            workspace=s.workspace.workspace_id,
            seq=seq,
            ts=ts,
            actor=s.actor,
            roles=sorted(state.roles) if state else [],
            item=plan.item,
            key_check=plan.key_check,
            ended_seq=plan.ended_seq,
            copies=copies,
            carried=carried,
            reason=reason,
            rule=item.rule,
            as_of=as_of,
            decision=s.decision,
            policy_name=bundle.name if bundle else None,
            policy_version=bundle.version if bundle else None,
        )
        kept = s.put_blob(canonical_bytes(doc), receipts.MEDIA_TYPE)
        payload = Erased(
            target=target,
            snapshots=[],
            method=str(doc["method"]),
            legal_basis=LEGAL_BASIS,
            rule=item.rule,
            keys=[],
            objects=[c.source for c in copies],
            models=[],
            receipt_digest=kept.sha256,
            carried_by=[int(c["seq"]) for c in carried],
            decision_keys=[item.target],
            as_of=as_of,
            stripped=[{"batch": c.batch, "from": c.source, "to": c.digest} for c in copies] or None,
        )
        subjects = [target, f"env:{item.scope}", f"deployment:{item.target}"]
        event = new_event(s.actor, payload, subjects, reason, [kept, *refs])
        entry = s.commit(dataclasses.replace(event, ts=ts))
        if entry.seq != seq:  # the receipt names its event: nothing else may come between
            raise CheckFailedError(f"erasure recorded at #{entry.seq}, its receipt says #{seq}")
        return seq

    seq = command.run(
        ws,
        actor,
        guards=[
            needs(*ERASE_ROLES, action="erase decision logs"),
            policy.gate("erase", target, lambda _: facts),
        ],
        prepare=prepare,
        compute=compute,
        commit=commit,
    )
    failpoints.hit("retention.before-shred")  # committed, key and inputs not yet gone
    _finish(ws, seq)
    return seq


def _data(ws: Workspace, seq: int) -> dict[str, Any]:
    data = ws.ledger.entry(seq).decode().get("data")
    return data if isinstance(data, dict) else {}


def _finish(ws: Workspace, seq: int) -> tuple[bool, int]:
    """Destroy the key and delete the objects a committed decision-log erasure names."""
    data = _data(ws, seq)
    done = (False, 0)
    for dep in data.get("decision_keys") or []:
        done = shred(ws, str(dep), [str(d) for d in data.get("objects") or []])
    return done


def complete_pending(ws: Workspace) -> list[str]:
    """Finish decision-log erasures a crash interrupted after their commit; what was finished."""
    with ws.session() as s:
        rows = s.catalog.con.execute(
            "SELECT seq, target FROM erasures WHERE starts_with(target, 'decisions:') ORDER BY seq"
        ).fetchall()
    finished = []
    for seq, target in rows:
        destroyed, removed = _finish(ws, int(seq))
        if destroyed or removed:
            finished.append(str(target))
    return finished


def pending(ws: Workspace) -> list[str]:
    """Decision-log erasures committed but not yet shredded (a key or an object remains)."""
    from core.operations import decision_keys

    with ws.session() as s:
        rows = s.catalog.con.execute(
            "SELECT seq, target FROM erasures WHERE starts_with(target, 'decisions:') ORDER BY seq"
        ).fetchall()
    out = []
    for seq, target in rows:
        data = _data(ws, int(seq))
        left = [d for d in data.get("objects") or [] if ws.objects.exists(str(d))]
        keys = [d for d in data.get("decision_keys") or [] if decision_keys.exists(ws, str(d))]
        if left or keys:
            out.append(str(target))
    return out
