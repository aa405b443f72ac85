"""Verification: everything a workspace holds, checked against everything else.

:func:`verify` recomputes the hash chain, the Merkle roots and every checkpoint signature,
re-hashes every object the events rely on, replays the state tables from the ledger alone (the
kinds with a projector handler, :mod:`core.kernel.kinds`) and compares them, and the catalog's
per-event hashes, with what is on disk. It names the first bad event it can locate, and says
plainly which events no checkpoint covers yet.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.audit import (
    governance_checks,
    operations_checks,
    policy_checks,
    signatures,
    verified,
    witnesses,
)
from core.audit.checkpoints import CHECKPOINT_TYPE, Checkpoint, checkpoints, read_checkpoint
from core.audit.events import EXPORT_ROLES
from core.governance import mrm_verify
from core.identity.authority import Authority
from core.identity.signing import CHECKPOINT_PAYLOAD_TYPE, verify_envelope
from core.kernel import kinds
from core.kernel.catalog import Catalog
from core.kernel.errors import IntegrityError
from core.kernel.progress import NO_PROGRESS, Progress
from core.kernel.projector import apply_state
from core.kernel.workspace import Workspace
from core.privacy import erasure_checks
from storage.ledger import body_object
from storage.ledger_scan import LedgerScan, hashes_digest

# Canonical JSON sorts keys and "action" sorts first among an event's keys, so the events
# that shape state are the lines whose body starts with one of these. Every action whose kind
# has a projector handler: verify replays these from the ledger alone and compares the
# catalog's state tables (those the kinds declare) with the result.
_STATE_PREFIXES = tuple(b'{"action":"' + a.encode() + b'"' for a in kinds.projected())
_STATE_TABLES = kinds.state_tables()
_AUTHORITY_PREFIXES = tuple(b'{"action":"' + a.encode() + b'"' for a in kinds.authority_actions())
CHECKPOINT_ROLES = ("admin", "auditor", *EXPORT_ROLES)
"""Roles whose keys sign checkpoints: those who sign them and those who export bundles."""


@dataclass
class CheckpointResult:
    """What verify found about one checkpoint."""

    size: int
    source: str
    key_id: str
    ok: bool
    detail: str


@dataclass
class VerifyReport:
    """Everything :func:`verify` checked, and the first thing that failed."""

    workspace: str
    events: int
    head: str
    ok: bool = True
    first_bad_event: int | None = None
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checkpoints: list[CheckpointResult] = field(default_factory=list)
    anchored: int = 0
    objects_checked: int = 0
    catalog: str = "not checked"
    signatures: str = "not checked"
    demo: bool = False
    erasures: str = ""
    verified_up_to: int = 0
    root: str = ""

    @property
    def unanchored(self) -> int:
        """Events after the newest valid checkpoint."""
        return self.events - self.anchored

    def fail(self, message: str, seq: int | None = None) -> None:
        """Record a failure; the first located event is kept."""
        self.ok = False
        self.failures.append(message)
        if seq is not None and self.first_bad_event is None:
            self.first_bad_event = seq

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (``--json``)."""
        out = asdict(self)
        out["unanchored"] = self.unanchored
        return out


def _decode_matches(
    scan: LedgerScan, report: VerifyReport
) -> list[tuple[int, dict[str, Any]]] | None:
    """The bodies of the events that shape state, parsed; None if any is malformed.

    Malformed means not a JSON object, here or among the bodies the scan parsed for the
    objects they list; each is recorded as a failure naming its event. Such a body was changed
    outside ledgerml: for any event but the newest the chain says so as well, for the newest
    only this (or a checkpoint, or the catalog) can.
    """
    malformed = dict(scan.malformed)
    decoded: list[tuple[int, dict[str, Any]]] = []
    for seq, body in scan.matches:
        if seq in malformed:
            continue
        try:
            decoded.append((seq, body_object(body)))
        except ValueError as err:
            malformed[seq] = str(err)
    for seq in sorted(malformed):
        report.fail(f"event #{seq}: {malformed[seq]}: it was changed outside ledgerml", seq)
    return None if malformed else decoded


class _BadEventError(IntegrityError):
    """An event the state replay could not fold, with its number."""

    def __init__(self, msg: str, seq: int) -> None:
        super().__init__(msg)
        self.seq = seq


def _state_from_ledger(matches: list[tuple[int, dict[str, Any]]]) -> Catalog:
    state = Catalog.memory()
    seq = 0
    try:
        for seq, body in matches:
            apply_state(state, seq, body)
    except IntegrityError as err:
        state.close()
        raise _BadEventError(err.msg, seq) from err
    except BaseException:
        state.close()
        raise
    return state


def _check_checkpoint(
    cp: Checkpoint,
    source: str,
    auth: Authority,
    roots: dict[int, bytes],
    size: int,
    workspace_id: str,
    report: VerifyReport,
) -> CheckpointResult:
    def bad(detail: str, seq: int | None = None) -> CheckpointResult:
        report.fail(f"checkpoint at size {cp.size} ({source}): {detail}", seq)
        return CheckpointResult(cp.size, source, cp.key_id, False, detail)

    key = auth.keys.get(cp.key_id)
    if key is None:
        return bad(f"signed by key {cp.key_id[:16]}…, which this ledger never registered")
    try:
        verified = verify_envelope(
            cp.envelope, {key.key_id: key.public_pem}, expected_type=CHECKPOINT_PAYLOAD_TYPE
        )
    except IntegrityError as err:
        return bad(err.msg)
    payload = verified.json()
    if payload.get("type") != CHECKPOINT_TYPE or payload.get("workspace") != workspace_id:
        return bad("belongs to another workspace or is not a ledgerml checkpoint")
    if key.purpose == "workspace" and key.certified:
        signer = "the workspace key (format 1)"
    elif key.purpose != "actor":
        return bad(f"signed by the {key.purpose} key, which signs no checkpoints")
    elif not key.certified:
        return bad(f"signed by {key.actor}'s key {key.key_id[:16]}…, never certified")
    else:
        state = auth.actor_at(key.actor, cp.size + 1)
        if state is None or state.status != "active":
            return bad(f"signed by {key.actor}, who was not an active actor then")
        if not set(CHECKPOINT_ROLES) & set(state.roles):
            return bad(f"signed by {key.actor}, who held no role that signs checkpoints")
        signer = key.actor
    problem = key.problem_at(cp.size + 1, cp.ts)
    if problem:
        return bad(f"signed by a key that could not sign then: {problem}")
    if cp.size > size:
        return bad(
            f"it covers {cp.size} events but the ledger now holds only {size}: the ledger "
            "was rolled back (events removed from its end)",
            size + 1,
        )
    actual = roots.get(cp.size)
    if actual is None or actual.hex() != cp.root:
        return bad(
            f"the first {cp.size} events no longer produce its signed Merkle root: events at or "
            f"before #{cp.size} were changed, inserted, removed or reordered"
        )
    return CheckpointResult(cp.size, source, cp.key_id, True, f"valid, signed by {signer}")


def _authority(scan: LedgerScan, report: VerifyReport) -> Authority | None:
    """Replay the authority events in order; None (and a failure) at the first bad one."""
    auth = Authority()
    found = [(seq, raw) for seq, raw in scan.matches if raw.startswith(_AUTHORITY_PREFIXES)]
    problem = auth.replay(found)
    if problem:
        seq, why = problem
        report.fail(f"event #{seq} {why}", seq)
        return None
    return auth


def _check_events(
    ws: Workspace, scan: LedgerScan, auth: Authority, report: VerifyReport, full: bool
) -> None:
    """Every other event's signature, key, role, pointer and time (in parallel).

    Unless ``full``, events a valid verified-up-to record vouches for are not checked again
    (their chain and Merkle root were, by the scan).
    """
    start = 1
    if not full:
        for record in verified.records(ws):
            if record.size > scan.size:
                continue
            why = verified.usable(record, auth, scan.roots, ws.workspace_id)
            if why is None:
                start = record.size + 1
                report.verified_up_to = record.size
                break
            report.notes.append(f"verified-up-to record {record.path.name} ignored: {why}")
    problems = signatures.check_all(
        ws.ledger.segment_files(),
        ws.ledger.segment_size,
        scan.size,
        auth,
        _AUTHORITY_PREFIXES,
        start=start,
    )
    for seq, why in problems[:5]:
        report.fail(f"event #{seq} {why}", seq)
    if len(problems) > 5:
        report.failures.append(f"… and {len(problems) - 5} more events that do not verify")
    legacy = auth.first_signed - 1 if auth.first_signed else scan.size
    signed = scan.size - legacy
    report.signatures = f"{signed} events signed by their actors' certified keys" + (
        f"; events #1..#{legacy} are format 1, unsigned" if legacy else ""
    )
    if report.verified_up_to:
        report.signatures += (
            f" (#1..#{report.verified_up_to} per a signed verified-up-to record, "
            f"#{report.verified_up_to + 1}..#{scan.size} checked now; --full checks all)"
        )
    if legacy and report.ok:
        report.notes.append(
            f"events #1..#{legacy} were written by a version that did not sign events: "
            "their chain is intact, but who did them is asserted, not proven"
        )
    if auth.unknown:
        report.notes.append(
            f"actions this version does not know ({', '.join(sorted(auth.unknown))}): their "
            "signatures were checked, but not whether their actors' roles allowed them"
        )
    report.demo = auth.demo or any(h[-1].demo for h in auth.actors.values())
    if report.demo:
        report.notes.append(
            "demo identities: no assurance (every demo actor's key is on one OS account)"
        )


def _first_difference(ws: Workspace, catalog: Catalog, index: int) -> int | None:
    ledger_hashes = ws.ledger.segment_hashes(index)
    first = index * ws.ledger.segment_size + 1
    recorded = catalog.event_hashes(first, first + ws.ledger.segment_size - 1)
    for offset, entry_hash in enumerate(recorded):
        if offset >= len(ledger_hashes) or ledger_hashes[offset] != entry_hash:
            return first + offset
    return None


def _check_catalog(
    ws: Workspace,
    matches: list[tuple[int, dict[str, Any]]],
    full_state: Catalog,
    scan: LedgerScan,
    report: VerifyReport,
) -> None:
    """Compare the catalog, an independent witness, with the ledger.

    ``full_state`` is the state replayed from the whole ledger; it is reused when the catalog
    has applied every event that shapes state, which is the usual case; ``matches`` are the
    decoded bodies of those events.
    """
    if not ws.catalog_path.is_file():
        report.catalog = "absent (run `ledgerml rebuild`)"
        return
    catalog = Catalog.open(ws.catalog_path, read_only=True)
    try:
        if not catalog.schema_current():
            report.catalog = "outdated schema (rebuilt on next use)"
            return
        applied, _ = catalog.applied()
        recorded = catalog.segment_digests(ws.ledger.segment_size)
        for first_seq, count, digest in scan.segment_digests:
            index = (first_seq - 1) // ws.ledger.segment_size
            held, held_digest = recorded.get(index, (0, hashes_digest([])))
            if held == count and held_digest == digest:
                continue
            if held < count and first_seq + held - 1 == applied:
                bad = _first_difference(ws, catalog, index)  # a catalog behind: compare prefix
                if bad is None:
                    continue
            else:
                bad = _first_difference(ws, catalog, index) or first_seq + min(held, count)
            report.fail(
                f"event #{bad} in the ledger differs from the catalog's record of it: "
                "the ledger or the catalog was edited",
                bad,
            )
            report.catalog = f"differs from the ledger at event #{bad}"
            return
        edited = catalog.first_unhashed_event()
        if edited is not None:
            report.fail(
                f"the catalog's copy of event #{edited} does not hash to the event's hash: the "
                "catalog's events table was edited (`ledgerml rebuild` restores it)",
                edited,
            )
            report.catalog = f"events table edited at event #{edited}"
            return
        # A catalog behind the ledger (a crash before projection) is legitimate: compare it
        # with the state the ledger had at the catalog's own position.
        seen = [m for m in matches if m[0] <= applied]
        try:
            state = full_state if len(seen) == len(matches) else _state_from_ledger(seen)
        except IntegrityError as err:
            report.fail(err.msg)
            report.catalog = "not compared (malformed events)"
            return
        try:
            for table in _STATE_TABLES:
                if catalog.dump([table]) != state.dump([table]):
                    report.fail(
                        f"the catalog's {table} table differs from what the ledger records: "
                        "the catalog was edited by hand (`ledgerml rebuild` restores it)"
                    )
                    report.catalog = f"{table} table edited"
                    return
        finally:
            if state is not full_state:
                state.close()
        behind = scan.size - applied
        report.catalog = "consistent" + (f", {behind} events not yet applied" if behind else "")
    finally:
        catalog.close()


def verify(
    ws: Workspace,
    *,
    external: list[Path] | None = None,
    progress: Progress = NO_PROGRESS,
    full: bool = False,
) -> VerifyReport:
    """Verify the whole workspace (see the module docstring); never raises for bad data.

    An ``external`` path that cannot be read at all is a wrong input, not bad data: it raises
    :class:`UsageError` before anything is checked.

    Args:
        ws: the workspace.
        external: checkpoint files kept outside the workspace (rollback detection).
        progress: receives coarse progress.
        full: check every signature, ignoring verified-up-to records.

    Returns:
        The report; ``report.ok`` is False when anything was changed outside ledgerml.
    """
    own = []
    report = VerifyReport(workspace=str(ws.root), events=0, head="")
    try:
        own = checkpoints(ws)
        outside = [read_checkpoint(p) for p in external or []]
        outside.extend(witnesses.checkpoints(ws))  # witness hook: checked like --checkpoint
    except IntegrityError as err:
        report.fail(err.msg)
        outside = []
    records = [] if full else verified.records(ws)
    cuts = sorted({c.size for c in [*own, *outside]} | {r.size for r in records})
    progress(0, 3, "hashing the ledger and objects")
    try:
        scan = ws.ledger.scan(cuts=cuts, prefixes=_STATE_PREFIXES, objects_root=ws.objects.root)
    except IntegrityError as err:
        report.fail(err.msg)
        return report
    report.events, report.head = scan.size, scan.head
    report.objects_checked = scan.objects_checked
    if scan.problem:
        seq, message = scan.problem
        report.fail(f"event #{seq}: {message}", seq)
    if scan.torn_tail:
        report.notes.append(
            f"{scan.torn_tail} bytes of an interrupted, unacknowledged append follow the last "
            "event; the next write discards them"
        )
    progress(1, 3, "checking signatures")
    decoded = _decode_matches(scan, report)
    if decoded is None:
        for seq, digest, issue in scan.object_problems:
            report.fail(f"object sha256:{digest[:16]}… used by event #{seq} is {issue}", seq)
        report.catalog = "not compared (malformed events)"
        return report
    # Objects an erasure made unreadable are erased, not missing; unfinished shredding fails.
    report.erasures = erasure_checks.check(ws, decoded, scan.object_problems, report.fail)
    auth = _authority(scan, report)  # signatures first: they say most about a changed event
    if auth is None:
        return report
    _check_events(ws, scan, auth, report, full)
    policy_checks.report(ws, auth, scan.size, report.fail)
    governance_checks.check(ws, auth, decoded, report.fail)  # approvals and promotions
    mrm_verify.check(decoded, report.fail)  # findings and break-glass reviews
    operations_checks.check(ws, decoded, report.fail, auth)  # deployments, decisions, incidents
    report.root = scan.roots[scan.size].hex() if scan.size in scan.roots else ""
    try:
        state = _state_from_ledger(decoded)
    except _BadEventError as err:
        report.fail(err.msg, err.seq)
        return report
    try:
        for cp in own:
            result = _check_checkpoint(
                cp,
                cp.path.name if cp.path else "?",
                auth,
                scan.roots,
                scan.size,
                ws.workspace_id,
                report,
            )
            report.checkpoints.append(result)
            if result.ok:
                report.anchored = max(report.anchored, cp.size)
        for cp in outside:
            result = _check_checkpoint(
                cp, f"external {cp.path}", auth, scan.roots, scan.size, ws.workspace_id, report
            )
            report.checkpoints.append(result)
            if result.ok:
                report.anchored = max(report.anchored, cp.size)
        progress(2, 3, "comparing the catalog")
        _check_catalog(ws, decoded, state, scan, report)
    finally:
        state.close()
    if report.ok and report.unanchored:
        report.notes.append(
            f"events #{report.anchored + 1}..#{report.events} are not covered by any signed "
            "checkpoint yet: their chain is intact, but nothing signed vouches for them "
            "(run `ledgerml audit checkpoint` and keep a copy outside the workspace)"
        )
    if report.ok and not outside:
        report.notes.append(
            "no external checkpoint was given: someone able to rewrite this workspace could "
            "also rewrite its checkpoints; pass a copy kept elsewhere with --checkpoint"
        )
    if report.ok:
        report.notes.append(
            "event times are asserted by the workstation that wrote them; only checkpoints "
            "kept by witnesses bound them"
        )
    progress(3, 3, "done")
    return report
