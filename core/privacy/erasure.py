"""Erasure: make personal data unreadable for good, and leave a receipt that proves it.

``erase(ws, actor, "loans@1", reason=…, legal_basis=…)`` runs one command through the kernel
(:mod:`core.kernel.command`):

1. **Guards**, holding the workspace: the actor holds an erase role
   (:data:`core.privacy.events.ERASE_ROLES`) and proves their secret; no legal hold covers any
   snapshot the erasure would reach (:mod:`core.privacy.holds`: refused, naming the hold's
   event and reason, and nothing is recorded); the policy in force allows it (the ``erase``
   gate: a refusal is recorded as ``policy.deny``).
2. **Commit**: the scope (:mod:`core.privacy.scope`: the snapshot, its views, same-bytes
   copies, their keys and objects, the models trained on them, who carried the data out) is
   worked out under the same hold, the deletion receipt (:mod:`core.privacy.receipts`) is
   stored, and ONE ``data.erase`` event naming the receipt's digest is appended and signed:
   from here every reader refuses the covered snapshots ("erased at #N").
3. **Shred**, still holding it: the data keys are destroyed, then the copies deleted
   (:mod:`core.privacy.shredding`).

Commit first, shred second: a crash between the two leaves an erasure the ledger already
records and readers already honour; ``audit verify`` fails with "erased but not yet
shredded" until the same ``erase`` is run again, which finishes the shredding and records
nothing (a second erase of an erased snapshot always says so and records nothing).

Subject erasure (one person's rows) is :mod:`core.privacy.subject_erasure`, which ends here.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from core.data import snapshots
from core.governance import policy
from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import CheckFailedError, IntegrityError, LedgerError, UsageError
from core.kernel.events import ObjectRef, now_iso
from core.kernel.kinds import new_event
from core.kernel.rows import ErasureRow, SnapshotRow
from core.kernel.workspace import Session, Workspace
from core.privacy import free_text, holds, receipts, shredding
from core.privacy import scope as scopes
from core.privacy.events import ERASE_ROLES, Erased
from storage import failpoints
from storage.canonical import canonical_bytes

LEGAL_BASES = (
    "GDPR Art. 17(1)(a)",
    "GDPR Art. 17(1)(b)",
    "GDPR Art. 17(1)(c)",
    "GDPR Art. 17(1)(d)",
    "GDPR Art. 17(1)(e)",
    "GDPR Art. 17(1)(f)",
    "retention period expired",
)
"""The legal bases the default policy pack accepts (it declares its own list; an
ungoverned workspace takes any non-empty text). (a) no longer necessary, (b) consent
withdrawn, (c) objection, (d) unlawfully processed, (e) a legal obligation, (f) a child's
data collected for an information society service; and the expiry of a retention rule."""


@dataclass(frozen=True)
class Erasure:
    """What one ``erase`` did, or found done.

    ``already``: the snapshot was erased before this call (``seq`` is that erasure);
    ``shredded`` what this call destroyed (keys, objects: a re-run after a crash finishes
    the shredding); ``remaining`` what is still on disk afterwards (empty when complete);
    ``warnings`` what the caller should hear (free text that looks personal, a production
    deployment still serving a model trained on the data).
    """

    seq: int
    target: str
    snapshots: list[str]
    method: str
    keys: list[str]
    objects: list[str]
    models: list[str]
    carried_by: list[int]
    receipt_digest: str
    replaced_by: str | None = None
    rows_removed: int | None = None
    already: bool = False
    shredded: shredding.Shredded = field(default_factory=lambda: shredding.Shredded(0, 0))
    remaining: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        out = dataclasses.asdict(self)
        out["shredded"] = {
            "keys": self.shredded.keys,
            "objects": self.shredded.objects,
            "kek_rotated": self.shredded.rotated,
        }
        out["receipt"] = receipts.MEMBER(self.seq)
        return out


def normal_as_of(as_of: str | date | datetime | None) -> str | None:
    """``as_of`` as ISO text (a retention run's judging date), or None."""
    if as_of is None:
        return None
    if isinstance(as_of, datetime | date):
        return as_of.isoformat()
    text = str(as_of).strip()
    if not text:
        return None
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"as-of {text!r} is not a date", hint="Give it as YYYY-MM-DD (or an ISO time)."
        ) from None
    return text


def check_request(reason: str, legal_basis: str, rule: str, value: str | None) -> list[str]:
    """Refuse an incomplete request; the warnings its free text deserves.

    The reason, legal basis and rule are signed into the ledger for good: a subject's value
    in them is refused (it would outlive the erasure), and text that looks like an e-mail
    address, a phone number or an IBAN is warned about (never quoted back).

    Raises:
        UsageError: no reason, no legal basis, no rule, or the subject value in the text.
    """
    if not reason.strip():
        raise UsageError(
            "an erasure needs a --reason: it is recorded with the receipt",
            hint="Say why without naming the person (a ticket number, a request reference).",
        )
    if not legal_basis.strip():
        raise UsageError(
            "an erasure needs a --legal-basis",
            hint="The default policy accepts: " + "; ".join(LEGAL_BASES) + ".",
        )
    if not rule.strip():
        raise UsageError("an erasure needs a rule (request, or the retention rule that applied)")
    texts = {"reason": reason, "legal basis": legal_basis, "rule": rule}
    if value is not None:
        for what, text in texts.items():
            if free_text.contains_value(text, value):
                raise UsageError(
                    f"the {what} holds the subject's value: it would be signed into the "
                    "ledger, which is never rewritten, and outlive the erasure",
                    hint="Describe the request without naming the person (a ticket number, "
                    "a request reference); nothing was changed.",
                )
    warnings = []
    for what, text in texts.items():
        found = free_text.looks_personal(text)
        if found:
            warnings.append(
                f"the {what} looks like it holds {' and '.join(found)}: it is recorded for "
                "good; describe requests by a reference, not by personal data"
            )
    return warnings


def _refuse_held(catalog: Any, snaps: list[SnapshotRow]) -> None:
    for snap in snaps:
        found = holds.blocking(catalog, snap)
        if found:
            hold = found[0]
            raise CheckFailedError(
                f"{snap.ref} is under legal hold #{hold.seq} ({hold.target}, placed by "
                f"{hold.created_by}): {hold.reason}",
                title="Legal hold",
                hint=f"Nothing was erased or recorded. The hold must be lifted first "
                f"(`ledgerml hold remove {hold.seq} --reason …`).",
            )


def hold_guard(ref: str) -> Callable[[Session], None]:
    """A guard refusing an erasure any of whose snapshots a legal hold covers."""

    def guard(s: Session) -> None:
        snap = snapshots.resolve(s.catalog, ref)
        if snap.erased_seq is None:
            _refuse_held(s.catalog, scopes.covered(s.catalog, snap)[0])

    return guard


def facts(
    sc: scopes.Scope, *, legal_basis: str, rule: str, reason: str, as_of: str | None, subject: bool
) -> dict[str, Any]:
    """The ``erase`` gate's input (``input.erasure``): what a policy may decide on."""
    return {
        "erasure": {
            "kind": "snapshot",
            "target": f"snapshot:{sc.target.ref}",
            "legal_basis": legal_basis,
            "rule": rule,
            "reason_given": bool(reason.strip()),
            "as_of": as_of or "",
            "subject": subject,
            "snapshots": sc.refs,
            "pii": any(s.pii for s in sc.snapshots),
            "encrypted": sc.method == scopes.CRYPTO_SHRED,
            "models": sc.models,
            "production": [
                {"model": d["model"], "deployment": d["deployment"], "arm": d["arm"]}
                for d in sc.production
            ],
        }
    }


def _named_by_live(s: Session, digests: list[str]) -> dict[str, int]:
    """Digests a snapshot not yet erased still names (a later, deliberate copy): keep them."""
    if not digests:
        return {}
    rows = s.catalog.con.execute(
        "SELECT raw_digest, parquet_digest, created_seq FROM snapshots WHERE erased_seq IS NULL "
        "AND (list_contains(?, raw_digest) OR list_contains(?, parquet_digest))",
        [digests, digests],
    ).fetchall()
    out: dict[str, int] = {}
    for raw, parquet, seq in rows:
        for d in (raw, parquet):
            if d:
                out[str(d)] = max(out.get(str(d), 0), int(seq))
    return out


def _plaintext(receipt: dict[str, Any]) -> set[str]:
    objects = receipt.get("what", {}).get("objects", [])
    return {str(o["sha256"]) for o in objects if o.get("method") == scopes.DELETE}


def finish(s: Session, seq: int) -> tuple[dict[str, Any], shredding.Shredded, shredding.Leftover]:
    """Shred what erasure ``seq`` names that is still here; its data, what went, what is left.

    The erase command runs it again for an erasure already recorded, and a replica runs it
    when it pulls a teammate's erasure (:mod:`core.team.key_share`).

    Raises:
        IntegrityError: if the erasure's receipt cannot be read.
    """
    body = s.workspace.ledger.entry(seq).decode()
    data: dict[str, Any] = body["data"] if isinstance(body.get("data"), dict) else {}  # type: ignore[assignment]
    try:
        receipt = json.loads(s.workspace.objects.read_verified(str(data["receipt_digest"])))
    except (KeyError, ValueError, LookupError, LedgerError) as err:
        raise IntegrityError(
            f"the receipt of erasure #{seq} cannot be read: {err}",
            hint="Run `ledgerml audit verify`.",
        ) from err
    later = _named_by_live(s, [str(d) for d in data.get("objects", [])])
    left = shredding.leftover(s.workspace, seq, data, later)
    done = shredding.shred(s.workspace, left, _plaintext(receipt))
    return data, done, shredding.leftover(s.workspace, seq, data, later)


def _recorded(s: Session, snap: SnapshotRow) -> Erasure:
    """The erasure that already covers ``snap``: finish its shredding, record nothing."""
    seq = int(snap.erased_seq or 0)
    data, done, after = finish(s, seq)
    row = s.catalog._rows(ErasureRow, "SELECT * FROM erasures WHERE seq = ?", [seq])
    subject = data.get("subject") or {}
    return Erasure(
        seq=seq,
        target=str(data.get("target")),
        snapshots=list(data.get("snapshots", [])),
        method=str(data.get("method")),
        keys=list(data.get("keys", [])),
        objects=list(data.get("objects", [])),
        models=list(data.get("models", [])),
        carried_by=list(data.get("carried_by", [])),
        receipt_digest=str(data.get("receipt_digest")),
        replaced_by=row[0].replaced_by if row else data.get("replaced_by"),
        rows_removed=subject.get("rows_removed"),
        already=True,
        shredded=done,
        remaining=[after.describe()] if after else [],
    )


def already_erased(ws: Workspace, actor: str, ref: str) -> Erasure | None:
    """If ``ref`` is erased: that erasure, its shredding finished now; else None."""
    guard = needs(*ERASE_ROLES, action="erase data")
    with ws.session(actor) as s:
        guard(s)
        snap = snapshots.resolve(s.catalog, ref)
        return _recorded(s, snap) if snap.erased_seq is not None else None


def erase(
    ws: Workspace,
    actor: str,
    ref: str,
    *,
    reason: str,
    legal_basis: str,
    rule: str = "request",
    as_of: str | date | datetime | None = None,
    subject_column: str | None = None,
    subject: str | None = None,
) -> Erasure:
    """Erase a snapshot and everything derived from it, or one subject's rows of it.

    Args:
        ws: the workspace.
        actor: who erases (a data steward or an admin).
        ref: the snapshot (``name@N``, ``name`` for its latest version, ``sha256:…``).
        reason: why (recorded; must not name the person).
        legal_basis: e.g. ``GDPR Art. 17(1)(b)`` (:data:`LEGAL_BASES`).
        rule: ``request``, or the retention rule that applied (``retention 7y``).
        as_of: the date a retention run judged expiry by, recorded with the erasure.
        subject_column: with ``subject``: erase only the rows whose column holds the value
            (a new version without them replaces the snapshot).
        subject: the subject's value in ``subject_column`` (never recorded anywhere).

    Returns:
        The erasure (``already`` when the snapshot was erased before: nothing was recorded).

    Raises:
        UsageError: an incomplete request, an unknown snapshot, a subject value in the
            reason; nothing is recorded.
        PermissionDeniedError: an actor without an erase role; nothing is recorded.
        CheckFailedError: a legal hold (nothing is recorded), or the policy's refusal
            (recorded as ``policy.deny``).
    """
    if (subject_column is None) != (subject is None):
        raise UsageError(
            "a subject erasure needs both --subject-column and --subject",
            hint="Without them the whole snapshot is erased.",
        )
    warnings = check_request(reason, legal_basis, rule, subject)
    when = normal_as_of(as_of)
    if subject_column is not None and subject is not None:
        from core.privacy import subject_erasure

        return subject_erasure.erase_subject(
            ws,
            actor,
            ref,
            column=subject_column,
            value=subject,
            reason=reason.strip(),
            legal_basis=legal_basis.strip(),
            rule=rule.strip(),
            as_of=when,
            warnings=warnings,
        )
    done = already_erased(ws, actor, ref)
    if done is not None:
        return done
    return commit_erasure(
        ws,
        actor,
        ref,
        reason=reason.strip(),
        legal_basis=legal_basis.strip(),
        rule=rule.strip(),
        as_of=when,
        warnings=warnings,
    )


def gate_guards(
    ref: str, *, legal_basis: str, rule: str, reason: str, as_of: str | None, subject: bool
) -> list[Callable[[Session], Any]]:
    """The erase command's guards, in order: the role, legal holds, the policy gate."""

    def subject_of(s: Session) -> str:
        return f"snapshot:{snapshots.resolve(s.catalog, ref).ref}"

    def gate_facts(s: Session) -> dict[str, Any]:
        sc = scopes.scope(s.catalog, snapshots.resolve(s.catalog, ref))
        return facts(
            sc, legal_basis=legal_basis, rule=rule, reason=reason, as_of=as_of, subject=subject
        )

    return [
        needs(*ERASE_ROLES, action="erase data"),
        hold_guard(ref),
        policy.gate("erase", subject_of, gate_facts),
    ]


def receipt_bytes(doc: dict[str, Any]) -> bytes:
    """A receipt's stored bytes: canonical JSON (RFC 8785), whose SHA-256 the event names."""
    return canonical_bytes(doc)


def _record(
    s: Session,
    payload: Erased,
    receipt: dict[str, Any],
    *,
    reason: str,
    objects: Sequence[ObjectRef] = (),
    subjects: Sequence[str] | None = None,
) -> tuple[int, Erased]:
    from core.identity.signer import authority_of

    seq = s.workspace.ledger.head()[0] + 1  # held: this command's event is the next
    ts = now_iso()
    bundle = policy.in_force(s) if s.decision is not None else None
    state = authority_of(s).current(s.actor)
    doc = receipts.complete(
        receipt,
        payload,
        workspace=s.workspace.workspace_id,
        seq=seq,
        ts=ts,
        actor=s.actor,
        roles=sorted(state.roles) if state else [],
        reason=reason,
        decision=s.decision,
        policy_name=bundle.name if bundle else None,
        policy_version=bundle.version if bundle else None,
    )
    stored = s.put_blob(receipt_bytes(doc), receipts.MEDIA_TYPE)
    payload = dataclasses.replace(payload, receipt_digest=stored.sha256)
    if subjects is None:
        subjects = [payload.target, *(f"snapshot:{r}" for r in payload.snapshots)]
        subjects += [f"model:{m}" for m in payload.models]
    event = new_event(s.actor, payload, list(dict.fromkeys(subjects)), reason, [stored, *objects])
    entry = s.commit(dataclasses.replace(event, ts=ts))
    if entry.seq != seq:  # the receipt names its event: nothing else may come between
        raise IntegrityError(f"erasure recorded at #{entry.seq}, its receipt says #{seq}")
    return seq, payload


def record_erasure(
    s: Session,
    payload: Erased,
    receipt: dict[str, Any],
    *,
    reason: str,
    objects: Sequence[ObjectRef] = (),
    subjects: Sequence[str] | None = None,
) -> int:
    """Store an erasure's receipt and append its one ``data.erase`` event; its number.

    For commands that erase something other than a snapshot (a decision log's retention):
    call it in the command's commit step, after the guards (the role, holds, the ``erase``
    policy gate, whose decision the session carries). ``payload.receipt_digest`` may be
    empty: the stored receipt's digest replaces it. ``receipt`` is the command's own part
    of the document (what was covered and kept, the impact); every claim the event makes
    (what, why, method, who, when, the decision) is filled in from ``payload`` and the
    session (:func:`core.privacy.receipts.complete`), so the two cannot disagree.
    ``objects`` are further blobs the event must list (stored before); ``subjects`` default
    to the target, the snapshots and the models. Shredding is the caller's, after this.
    """
    return _record(s, payload, receipt, reason=reason, objects=objects, subjects=subjects)[0]


def commit_erasure(
    ws: Workspace,
    actor: str,
    ref: str,
    *,
    reason: str,
    legal_basis: str,
    rule: str,
    as_of: str | None,
    warnings: list[str],
    subject: dict[str, Any] | None = None,
    replaced_by: str | None = None,
) -> Erasure:
    """The erase command proper: guards, the receipt, one ``data.erase`` event, the shred."""
    guards = gate_guards(
        ref,
        legal_basis=legal_basis,
        rule=rule,
        reason=reason,
        as_of=as_of,
        subject=subject is not None,
    )

    def commit(s: Session, _: None) -> Erasure:
        snap = snapshots.resolve(s.catalog, ref)
        if snap.erased_seq is not None:  # erased by someone else since the check
            return _recorded(s, snap)
        sc = scopes.scope(s.catalog, snap)
        payload = Erased(
            target=f"snapshot:{snap.ref}",
            snapshots=sc.refs,
            method=sc.method,
            legal_basis=legal_basis,
            rule=rule,
            keys=sc.keys,
            objects=[c.sha256 for c in sc.copies],
            models=sc.models,
            receipt_digest="",  # record_erasure names the stored receipt
            carried_by=[int(c["seq"]) for c in sc.carried],
            subject=subject,
            replaced_by=replaced_by,
            as_of=as_of,
        )
        subjects = [f"snapshot:{r}" for r in sc.refs] + [f"dataset:{snap.dataset}"]
        subjects += [f"model:{m}" for m in sc.models]
        seq, payload = _record(
            s, payload, receipts.build(sc, subject=subject), reason=reason, subjects=subjects
        )
        failpoints.hit("erase.before-shred")
        plaintext = {c.sha256 for c in sc.copies if not c.key}
        left = shredding.leftover(
            s.workspace, seq, payload.to_data(), _named_by_live(s, payload.objects)
        )
        done = shredding.shred(s.workspace, left, plaintext)
        after = shredding.leftover(
            s.workspace, seq, payload.to_data(), _named_by_live(s, payload.objects)
        )
        notes = list(warnings)
        for d in sc.production:
            notes.append(
                f"{d['model']} still serves production ({d['deployment']}, {d['arm']}) and "
                "was trained on the erased data: it is flagged in the inventory"
            )
        return Erasure(
            seq=seq,
            target=payload.target,
            snapshots=payload.snapshots,
            method=payload.method,
            keys=payload.keys,
            objects=payload.objects,
            models=payload.models,
            carried_by=payload.carried_by,
            receipt_digest=payload.receipt_digest,
            replaced_by=replaced_by,
            rows_removed=(subject or {}).get("rows_removed"),
            shredded=done,
            remaining=[after.describe()] if after else [],
            warnings=notes,
        )

    return command.run(ws, actor, guards=guards, commit=commit)


def erasures(ws: Workspace, actor: str = "") -> list[ErasureRow]:
    """Every erasure recorded, oldest first."""
    with ws.session(actor) as s:
        return s.catalog._rows(ErasureRow, "SELECT * FROM erasures ORDER BY seq")


def receipt(ws: Workspace, seq: int, actor: str = "") -> dict[str, Any]:
    """The verified receipt of erasure ``seq``.

    Raises:
        NotFoundError: if no erasure was recorded at ``seq``.
        IntegrityError: if its receipt is missing or altered.
    """
    from core.kernel.errors import NotFoundError

    with ws.session(actor) as s:
        rows = s.catalog._rows(ErasureRow, "SELECT * FROM erasures WHERE seq = ?", [seq])
    if not rows:
        raise NotFoundError(
            f"no erasure was recorded at event #{seq}",
            hint="`ledgerml data erasures` lists them.",
        )
    value = json.loads(ws.objects.read_verified(rows[0].receipt_digest))
    return value if isinstance(value, dict) else {}


def preview(ws: Workspace, ref: str, actor: str = "") -> scopes.Scope:
    """What an erasure of ``ref`` would cover now (reads only; for a confirmation prompt)."""
    with ws.session(actor) as s:
        return scopes.scope(s.catalog, snapshots.resolve(s.catalog, ref))
