"""The audit trail: query the log, sign checkpoints, verify everything, prove inclusion.

A checkpoint is a DSSE envelope, signed with the workspace key, over
``{"type": "ledgerml/checkpoint/v1", "workspace", "size", "root", "head", "ts"}`` where
``root`` is the RFC 6962 Merkle root of the first ``size`` events and ``head`` the hash of event
``size``. Checkpoints are files under ``ledger/checkpoints/``, not events: they are statements
*about* the log, and anyone may keep a copy elsewhere. A copy kept outside the workspace is what
detects a rollback or a rewrite by someone who can write to the workspace (``--checkpoint``).

Verification (:func:`verify`) recomputes the hash chain, the Merkle roots and every checkpoint
signature, re-hashes every object the events rely on, rebuilds the key and actor tables from the
ledger alone and compares them, and the catalog's per-event hashes, with what is on disk. It
names the first bad event it can locate, and says plainly which events no checkpoint covers yet.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.identity import keys as keys_mod
from core.identity.actors import needs
from core.kernel.errors import IntegrityError, NotFoundError, UsageError
from core.kernel.progress import NO_PROGRESS, Progress
from core.kernel import command, kinds
from core.kernel.projector import apply_state
from core.identity.signing import CHECKPOINT_PAYLOAD_TYPE, envelope, pae, verify_envelope
from core.kernel.workspace import Session, Workspace
from storage import merkle
from storage.canonical import canonical_bytes
from core.kernel.catalog import Catalog
from storage.fsutil import atomic_write
from storage.ledger import LedgerScan, body_object, hashes_digest
from core.kernel.rows import EventRow, KeyRow

CHECKPOINT_TYPE = "ledgerml/checkpoint/v1"
# Canonical JSON sorts keys and "action" sorts first among an event's keys, so the events
# that shape state are the lines whose body starts with one of these. Every action whose kind
# has a projector handler: verify replays these from the ledger alone and compares the
# catalog's state tables (those the kinds declare) with the result.
_STATE_PREFIXES = tuple(b'{"action":"' + a.encode() + b'"' for a in kinds.projected())
_STATE_TABLES = kinds.state_tables()
_RELATIVE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> str:
    """Turn ``2026-03-01``, ``2026-03-01T09:30`` or ``90m``/``2h``/``7d``/``1w`` into a bound.

    Raises:
        UsageError: for text that is neither, or a moment no date can hold (before year 1).
    """
    match = _RELATIVE.match(text.strip())
    try:
        if match:
            delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
            moment = datetime.now(UTC) - delta
        else:
            moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except OverflowError as err:
        raise UsageError(
            f"--since {text!r} reaches back further than any date",
            hint="Give an age such as 90m, 2h, 7d or 52w, or a date (2026-03-01); "
            "leave --since out for the whole log.",
        ) from err
    except ValueError as err:
        raise UsageError(
            f"cannot read --since {text!r}",
            hint="Use a date (2026-03-01), a UTC time (2026-03-01T09:30) or an age "
            "(90m, 2h, 7d, 1w).",
        ) from err


def log(
    ws: Workspace,
    *,
    since: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    subject: str | None = None,
    limit: int | None = None,
    as_actor: str = "",
) -> list[EventRow]:
    """Events matching the filters, oldest first (``limit`` keeps the newest)."""
    bound = parse_since(since) if since else None
    with ws.session(as_actor) as s:
        rows = s.catalog.events(
            since=bound,
            actor=actor,
            action=action,
            subject=subject,
            limit=limit,
            newest_first=limit is not None,
        )
    return sorted(rows, key=lambda r: r.seq)


# -- checkpoints ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement of the log's size and Merkle root."""

    size: int
    root: str
    head: str
    ts: str
    workspace: str
    key_id: str
    envelope: dict[str, Any]
    path: Path | None = None


def read_checkpoint(path: Path) -> Checkpoint:
    """Parse a checkpoint file (its signature is checked by :func:`verify`).

    Raises:
        UsageError: if the file cannot be read at all (missing, a folder, no permission):
            a wrong path is a wrong input, not evidence of tampering.
        IntegrityError: if it is not a checkpoint envelope.
    """
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise UsageError(
            f"cannot read checkpoint file {path}: {reason}",
            hint="Give the path of a copy written by `ledgerml audit checkpoint --copy-to`.",
        ) from err
    try:
        env = json.loads(text)
        payload = json.loads(base64.b64decode(env["payload"]))
        return Checkpoint(
            size=int(payload["size"]),
            root=str(payload["root"]),
            head=str(payload["head"]),
            ts=str(payload["ts"]),
            workspace=str(payload["workspace"]),
            key_id=str(env["signatures"][0]["keyid"]),
            envelope=env,
            path=path,
        )
    except (ValueError, KeyError, IndexError, TypeError) as err:
        raise IntegrityError(
            f"checkpoint {path} is malformed: {err}",
            hint="A checkpoint is a DSSE envelope written by `ledgerml audit checkpoint`.",
        ) from err


def checkpoints(ws: Workspace) -> list[Checkpoint]:
    """The workspace's own checkpoints, smallest first."""
    if not ws.checkpoints_dir.is_dir():
        return []
    return [read_checkpoint(p) for p in sorted(ws.checkpoints_dir.glob("*.json"))]


def workspace_key(catalog: Catalog) -> KeyRow:
    """The active workspace key."""
    active = [k for k in catalog.keys_of() if k.purpose == "workspace" and k.status == "active"]
    if not active:
        raise NotFoundError(
            "this workspace has no active workspace key",
            hint="Rotate the workspace key with `ledgerml key rotate` (revoking it leaves "
            "no key to sign checkpoints).",
        )
    return active[-1]


def check_copy_destination(path: Path) -> None:
    """Refuse a place a checkpoint copy cannot be written to, before anything is signed.

    The folder must already exist: a copy is meant for somewhere outside the workspace (a
    mounted medium, another machine's share), and creating a missing folder would put it on
    the local disk when that medium is not mounted, or under a misspelt name, while saying
    "copy written".

    Raises:
        UsageError: naming what is wrong with ``path``.
    """
    hint = "Create the folder first (or mount the medium it lives on), then sign again."
    if path.is_dir():
        raise UsageError(
            f"--copy-to {path} is a folder; give a file name in it",
            hint=f"For example --copy-to {path / 'checkpoint.json'}.",
        )
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"cannot write the checkpoint copy: {parent} does not exist", hint=hint)
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"cannot write the checkpoint copy to {path}: permission denied")


def checkpoint(
    ws: Workspace, actor: str, *, copy_to: Path | None = None
) -> tuple[Checkpoint, bool]:
    """Sign the current log size and root with the workspace key (admins and auditors).

    Args:
        ws: the workspace.
        actor: who signs (an admin or an auditor).
        copy_to: also write the checkpoint to this file; checked before anything is signed.

    Returns:
        The checkpoint and whether it was written now (an identical one may exist).
    """
    if copy_to is not None:
        check_copy_destination(copy_to)
    # Through the command kernel like every write, though a checkpoint is a file, not an
    # event: the commit step appends nothing to the ledger.
    cp, created = command.run(
        ws,
        actor,
        guards=[needs("admin", "auditor", action="sign checkpoints")],
        commit=lambda s, _: sign_checkpoint(ws, s),
    )
    if copy_to is not None:
        try:
            atomic_write(copy_to, json.dumps(cp.envelope, indent=2).encode() + b"\n")
        except OSError as err:
            raise UsageError(
                f"the checkpoint was signed ({cp.path}) but its copy to {copy_to} failed: "
                f"{err.strerror or err}",
                hint="Fix the destination and run the command again: it copies the same "
                "checkpoint.",
            ) from err
    return cp, created


def sign_checkpoint(ws: Workspace, s: Session) -> tuple[Checkpoint, bool]:
    """Sign a checkpoint inside an open session (the caller has checked the actor's role)."""
    scan = ws.ledger.scan()
    if scan.problem:
        raise IntegrityError(
            f"refusing to sign a checkpoint over a broken ledger: event #{scan.problem[0]}: "
            f"{scan.problem[1]}",
            hint="Run `ledgerml audit verify`.",
        )
    path = ws.checkpoints_dir / f"{scan.size:012d}.json"
    if path.is_file():
        return read_checkpoint(path), False
    key = workspace_key(s.catalog)
    doc = {
        "type": CHECKPOINT_TYPE,
        "workspace": ws.workspace_id,
        "size": scan.size,
        "root": scan.roots[scan.size].hex(),
        "head": scan.head,
        # The time of the last event covered, not the signing time: checkpoints of the same
        # log are then identical, which keeps exports of one ledger state byte-identical.
        "ts": str(ws.ledger.entry(scan.size).decode()["ts"]),
    }
    payload = canonical_bytes(doc)
    sig = keys_mod.sign_with(key, pae(CHECKPOINT_PAYLOAD_TYPE, payload))
    env = envelope(CHECKPOINT_PAYLOAD_TYPE, payload, key.key_id, sig)
    ws.checkpoints_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(env, indent=2).encode() + b"\n")
    return read_checkpoint(path), True


# -- verification ---------------------------------------------------------------------------


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


def _state_from_ledger(matches: list[tuple[int, dict[str, Any]]]) -> Catalog:
    state = Catalog.memory()
    try:
        for seq, body in matches:
            apply_state(state, seq, body)
    except BaseException:
        state.close()
        raise
    return state


def _check_checkpoint(
    cp: Checkpoint,
    source: str,
    state: Catalog,
    roots: dict[int, bytes],
    size: int,
    workspace_id: str,
    report: VerifyReport,
) -> CheckpointResult:
    def bad(detail: str, seq: int | None = None) -> CheckpointResult:
        report.fail(f"checkpoint at size {cp.size} ({source}): {detail}", seq)
        return CheckpointResult(cp.size, source, cp.key_id, False, detail)

    key = state.key(cp.key_id)
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
    if key.purpose != "workspace":
        return bad(f"signed by {key.label}, which is not a workspace key")
    verdict = keys_mod.key_verdict(key, cp.size)
    if not verdict.ok:
        return bad(f"signed by key {key.key_id[:16]}…: {verdict.detail}")
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
    note = "valid" if verdict.status == "active" else f"valid ({verdict.status})"
    return CheckpointResult(cp.size, source, cp.key_id, True, note)


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
) -> VerifyReport:
    """Verify the whole workspace (see the module docstring); never raises for bad data.

    An ``external`` path that cannot be read at all is a wrong input, not bad data: it raises
    :class:`UsageError` before anything is checked.

    Args:
        ws: the workspace.
        external: checkpoint files kept outside the workspace (rollback detection).
        progress: receives coarse progress.

    Returns:
        The report; ``report.ok`` is False when anything was changed outside ledgerml.
    """
    own = []
    report = VerifyReport(workspace=str(ws.root), events=0, head="")
    try:
        own = checkpoints(ws)
        outside = [read_checkpoint(p) for p in external or []]
    except IntegrityError as err:
        report.fail(err.msg)
        outside = []
    cuts = sorted({c.size for c in [*own, *outside]})
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
    for seq, digest, issue in scan.object_problems:
        report.fail(f"object sha256:{digest[:16]}… used by event #{seq} is {issue}", seq)
    progress(1, 3, "checking signatures")
    decoded = _decode_matches(scan, report)
    if decoded is None:
        report.catalog = "not compared (malformed events)"
        return report
    try:
        state = _state_from_ledger(decoded)
    except IntegrityError as err:
        report.fail(err.msg)
        return report
    try:
        for cp in own:
            result = _check_checkpoint(
                cp,
                cp.path.name if cp.path else "?",
                state,
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
                cp, f"external {cp.path}", state, scan.roots, scan.size, ws.workspace_id, report
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
    progress(3, 3, "done")
    return report


# -- inclusion proofs -----------------------------------------------------------------------


def prove(ws: Workspace, seq: int, *, checkpoint_path: Path | None = None) -> dict[str, Any]:
    """An inclusion proof of event ``seq`` against a signed checkpoint.

    Uses the given checkpoint, else the smallest of the workspace's checkpoints covering
    ``seq``.

    Raises:
        NotFoundError: if the event does not exist or no checkpoint covers it yet.
    """
    entry = ws.ledger.entry(seq)
    if checkpoint_path is not None:
        cp = read_checkpoint(checkpoint_path)
    else:
        covering = [c for c in checkpoints(ws) if c.size >= seq]
        if not covering:
            raise NotFoundError(
                f"no checkpoint covers event #{seq} yet",
                hint="Sign one with `ledgerml audit checkpoint`, then ask again.",
            )
        cp = covering[0]
    if cp.size < seq:
        raise NotFoundError(f"the checkpoint covers only {cp.size} events, not #{seq}")
    leaves = ws.ledger.leaf_hashes(cp.size)
    path = merkle.inclusion_proof(seq - 1, leaves)
    merkle.verify_inclusion(seq - 1, cp.size, entry.leaf, path, bytes.fromhex(cp.root))
    return {
        "seq": seq,
        "leaf_index": seq - 1,
        "entry_hash": entry.hash,
        "line": entry.line.decode(),
        "tree_size": cp.size,
        "root": cp.root,
        "proof": [p.hex() for p in path],
        "checkpoint": cp.envelope,
    }


def verify_proof(doc: dict[str, Any], public_keys: dict[str, str]) -> None:
    """Check an inclusion proof document end to end: line → hash → leaf → root → signature.

    Raises:
        IntegrityError: naming the first link that does not hold.
    """
    try:
        line = str(doc["line"]).encode()
        entry_hash = hashlib.sha256(line).hexdigest()
        if entry_hash != doc["entry_hash"]:
            raise IntegrityError("the event's text does not hash to the proven entry hash")
        verified = verify_envelope(
            doc["checkpoint"], public_keys, expected_type=CHECKPOINT_PAYLOAD_TYPE
        ).json()
        if verified["root"] != doc["root"] or verified["size"] != doc["tree_size"]:
            raise IntegrityError("the proof's root or size is not the signed checkpoint's")
        merkle.verify_inclusion(
            int(doc["leaf_index"]),
            int(doc["tree_size"]),
            merkle.leaf_hash(bytes.fromhex(entry_hash)),
            [bytes.fromhex(p) for p in doc["proof"]],
            bytes.fromhex(doc["root"]),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise IntegrityError(f"malformed inclusion proof: {err!r}") from err
