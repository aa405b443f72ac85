"""Pulling from the shared ledger: verify every event and object, then apply them.

The server is not trusted: whoever administers its database can change any row. So each
event that comes is checked as ``audit verify`` would check it, in order, before anything is
written locally: it must take the next number and chain to this replica's head (a reordered,
dropped or inserted row breaks that), its line must hash to the hash the server gives, its
body must be signed by the certified key of the actor it names, who held a role allowing the
action then (:meth:`core.identity.authority.Authority.admit`, the rules every verifier
applies), and every object it names must arrive with that digest and size. A batch is applied
only whole: its objects first (content-addressed, inert until an event names them), then its
events in one fsynced append, then their projection into the catalog. The first problem stops
the pull, names the event, and leaves the replica as it was before that batch.

An object the server has no copy of is accepted only where an erasure accounts for it (a
``data.erase`` event naming it, signed by a key the ledger knows): the object was shredded on
purpose, as it was on every replica. A pulled erasure is carried out here as soon as its
batch is applied: this replica's copies of its keys and objects are destroyed and its KEK
rotated (:func:`core.team.key_share.shred_pulled`), as at the workstation that erased.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.identity.authority import Authority, verify
from core.identity.signer import authority_of
from core.kernel.errors import IntegrityError, UsageError
from core.kernel.events import event_time, signing_input, split_sealed
from core.kernel.projector import project
from core.kernel.workspace import Session, Workspace
from core.privacy.shredding import ERASE_ACTION, tombstones
from storage.ledger import GENESIS, LedgerEntry
from storage.objects import Staged
from storage.pg_remote import PgRemote, RemoteError, Row

BATCH = 2_000
_ERASE_PREFIX = b'{"action":"' + ERASE_ACTION.encode() + b'"'
_HINT = (
    "The shared ledger's server (or someone with access to its database) changed what it "
    "serves. This replica keeps everything it verified before and stays usable offline; "
    "tell the team's administrator, and compare checkpoints with a teammate."
)


@dataclass
class Pulled:
    """What one pull brought (and what it had to publish again)."""

    events: int = 0
    objects: int = 0
    bytes: int = 0
    republished: int = 0


def _broken(seq: int, why: str, applied_to: int) -> IntegrityError:
    return IntegrityError(
        f"the shared ledger's event #{seq} {why}; nothing after event #{applied_to} was "
        "applied to this replica",
        hint=_HINT,
    )


def authority(session: Session) -> Authority:
    """A private copy of the replica's identity state (a pull extends it as it checks)."""
    if session.workspace.ledger.head()[0] == 0:
        return Authority()
    return copy.deepcopy(authority_of(session))


def check_row(
    row: Row, expect: int, prev: str, before: str, auth: Authority, applied_to: int
) -> dict[str, Any]:
    """Verify one served event against the replica's state; apply it to ``auth``.

    ``before`` is the time of the event before it. A signature covers the body, not its
    number (the server assigns that), so a server could serve a genuine signed event again
    at a new number; every sealing is dated after the head it extends
    (:class:`core.kernel.workspace.Session`), so a copy, or an event slipped in with an old
    date, is out of order — the rule ``audit verify`` holds the whole ledger to.

    Raises:
        IntegrityError: naming the event and what is wrong with it.
    """
    if row.seq != expect:
        raise _broken(
            row.seq,
            f"was served where event #{expect} belongs: events were dropped or reordered",
            applied_to,
        )
    if row.prev != prev:
        raise _broken(
            row.seq,
            "does not chain to the event before it: events were reordered, dropped or rewritten",
            applied_to,
        )
    line = b"%d %s %s" % (row.seq, row.prev.encode(), row.body)
    if b"\n" in row.body or hashlib.sha256(line).hexdigest() != row.hash:
        raise _broken(
            row.seq, "does not hash to the hash the server gives: it was altered", applied_to
        )
    try:
        body = json.loads(row.body)
    except ValueError as err:
        raise _broken(row.seq, f"is not valid JSON ({err})", applied_to) from err
    if not isinstance(body, dict):
        raise _broken(row.seq, "is not a JSON object", applied_to)
    ts = str(body.get("ts", ""))
    if before and ts <= before:
        raise _broken(
            row.seq,
            f"is dated {ts}, not later than the event before it ({before}): backdated, or a "
            "replayed copy of an earlier signed event",
            applied_to,
        )
    why = auth.admit(row.seq, row.body, body)
    if why:
        raise _broken(row.seq, why, applied_to)
    try:
        auth.apply(row.seq, row.body, body)
    except (KeyError, TypeError, ValueError) as err:
        raise _broken(row.seq, f"is malformed: {err!r}", applied_to) from err
    return body


def _erased(ws: Workspace, remote: PgRemote, after: int, auth: Authority) -> dict[str, int]:
    """Objects an erasure accounts for: in this replica, or signed erasures still to come."""
    scan = ws.ledger.scan(prefixes=(_ERASE_PREFIX,))
    local = [(seq, json.loads(raw)) for seq, raw in scan.matches]
    ahead = []
    for row in remote.events_starting(after, _ERASE_PREFIX):
        try:
            sealed = split_sealed(row.body)
            body = json.loads(row.body)
        except ValueError:
            continue
        key = auth.keys.get(sealed[1].key_id) if sealed else None
        if (
            sealed is not None
            and key is not None
            and key.actor == body.get("actor")
            and verify(key.public_pem, signing_input(sealed[0]), sealed[1].signature)
        ):
            ahead.append((row.seq, body))
    return tombstones(local + ahead).objects


def pull(
    session: Session,
    remote: PgRemote,
    progress: Callable[[int, int, str], None] | None = None,
) -> Pulled:
    """Verify and apply every event the server holds beyond this replica's head.

    Raises:
        IntegrityError: if the server serves anything that does not verify (naming the
            event), or no longer holds this replica's head.
        RemoteError: if the server cannot be reached (nothing was applied).
    """
    ws = session.workspace
    size, head = ws.ledger.head()
    done = Pulled()
    # One round trip when nothing is new: the server's copy of this replica's head, then
    # whatever follows it. Anything else (the server lacks the head, or holds another event
    # there) is looked into by ``reconcile``.
    rows = remote.events(max(size - 1, 0), BATCH + 1)
    if size:
        if rows and rows[0].seq == size and rows[0].hash == head:
            rows = rows[1:]
        else:
            done.republished = reconcile(ws, remote, size, head)
            rows = remote.events(size, BATCH)
    if not rows:
        return done
    server_size = remote.head()[0] if progress is not None else 0
    auth = authority(session)
    erased: dict[str, int] | None = None
    tail = ws.ledger.tail()
    before = event_time(tail.body) if tail is not None else ""
    while rows:
        bodies: list[bytes] = []
        staged: list[Staged] = []
        expect, prev = size + 1, head
        try:
            for row in rows:
                body = check_row(row, expect, prev, before, auth, size)
                before = str(body.get("ts", ""))
                for ref in body.get("objects") or []:
                    digest = str(ref.get("sha256", "")) if isinstance(ref, dict) else ""
                    if ws.objects.exists(digest) or any(s.digest == digest for s in staged):
                        continue
                    got = _fetch(ws, remote, row.seq, digest, int(ref.get("size", -1)), size)
                    if got is None:
                        if erased is None:
                            erased = _erased(ws, remote, size, auth)
                        if digest not in erased:
                            raise _broken(
                                row.seq,
                                f"names object {digest[:16]}…, which the server holds no "
                                "copy of and no erasure accounts for",
                                size,
                            )
                        continue
                    staged.append(got)
                    done.objects += 1
                    done.bytes += int(ref.get("size", 0))
                bodies.append(row.body)
                expect, prev = expect + 1, row.hash
        except BaseException:
            for s in staged:
                s.discard()
            raise
        for s in staged:
            s.commit()
        entries = ws.ledger.append(bodies)
        _same(entries, rows)
        project(session.catalog, entries)
        erasures = [e.seq for e in entries if e.body.startswith(_ERASE_PREFIX)]
        if erasures:
            from core.team import key_share

            key_share.shred_pulled(session, remote, erasures)
        size, head = entries[-1].seq, entries[-1].hash
        done.events += len(entries)
        if progress is not None:
            progress(done.events, max(server_size - (size - done.events), done.events), "pulling")
        rows = remote.events(size, BATCH)
    if auth.workspace_id and auth.workspace_id != ws.workspace_id:
        raise IntegrityError(
            f"the shared ledger founds workspace {auth.workspace_id}, not this one "
            f"({ws.workspace_id})",
            hint=_HINT,
        )
    return done


def _same(entries: list[LedgerEntry], rows: list[Row]) -> None:
    for entry, row in zip(entries, rows, strict=True):
        if entry.hash != row.hash:  # the replica's head moved under the lock: a bug
            raise IntegrityError(f"event #{row.seq} was appended as {entry.hash[:16]}…")


def _fetch(
    ws: Workspace, remote: PgRemote, seq: int, digest: str, size: int, applied_to: int
) -> Staged | None:
    """Stream one object from the server and check it; None if the server has no copy."""
    stream = ws.objects.stage_stream()
    try:
        got_size, got = remote.get_object(digest, stream)
    except RemoteError as err:
        stream.discard()
        if "no copy" in err.msg:
            return None
        raise
    except BaseException:
        stream.discard()
        raise
    staged = stream.finish()
    if got != digest or got_size != size or staged.digest != digest:
        staged.discard()
        raise _broken(
            seq,
            f"names object {digest[:16]}… ({size} bytes), but the server sent other bytes "
            f"({got[:16]}…, {got_size} bytes): the object was swapped",
            applied_to,
        )
    return staged


def reconcile(ws: Workspace, remote: PgRemote, size: int, head: str) -> int:
    """Check the server still holds this replica's history; publish what it lacks.

    The replica's events are signed and were verified when they were recorded or pulled, so
    a server that lacks the newest of them (an interrupted publish, or a server restored from
    an old backup) gets them again; a server whose history differs is a fork.

    Returns:
        How many events were published again.

    Raises:
        IntegrityError: naming the first event where the server's history differs.
    """
    server_size = remote.head()[0]
    at = min(size, server_size)
    theirs = remote.event_hash(at) if at else GENESIS
    ours = ws.ledger.entry(at).hash if at else GENESIS
    if theirs != ours:
        first = _first_difference(ws, remote, at)
        raise IntegrityError(
            f"the shared ledger's history differs from this replica's from event #{first} on "
            f"(the server's #{first} is not the one this replica verified): a fork, or a "
            "rewrite of the server's log",
            hint=_HINT,
        )
    if server_size >= size:
        return 0
    publish_range(ws, remote, server_size, size)
    return size - server_size


def _first_difference(ws: Workspace, remote: PgRemote, upto: int) -> int:
    lo, hi = 1, upto  # the events at ``hi`` differ; find the first that does
    while lo < hi:
        mid = (lo + hi) // 2
        if remote.event_hash(mid) == ws.ledger.entry(mid).hash:
            lo = mid + 1
        else:
            hi = mid
    return lo


def publish_range(ws: Workspace, remote: PgRemote, after: int, upto: int) -> None:
    """Push events ``after+1..upto`` and the objects they name (objects first).

    Raises:
        UsageError: if a teammate appended meanwhile (run the command again: it pulls).
    """
    from storage.pg_remote import StaleHeadError

    prev = ws.ledger.entry(after).hash if after else GENESIS
    batch: list[Row] = []
    digests: list[str] = []
    for entry in ws.ledger.iter_entries(after + 1):
        if entry.seq > upto:
            break
        refs = entry.decode().get("objects")
        for ref in refs if isinstance(refs, list) else []:
            if isinstance(ref, dict) and ws.objects.exists(str(ref.get("sha256"))):
                digests.append(str(ref["sha256"]))
        batch.append(Row(entry.seq, entry.prev, entry.hash, entry.body))
        if len(batch) >= BATCH or entry.seq == upto:
            push_objects(ws, remote, digests)
            try:
                remote.append((batch[0].seq - 1, prev), batch)
            except StaleHeadError as err:
                raise UsageError(
                    f"a teammate recorded on the shared ledger while this replica published "
                    f"its events ({err})",
                    hint="Run the command again: it pulls first.",
                ) from err
            prev = batch[-1].hash
            batch, digests = [], []


def push_objects(ws: Workspace, remote: PgRemote, digests: list[str]) -> int:
    """Upload the objects among ``digests`` the server lacks (streamed); return how many."""
    pushed = 0
    wanted = list(dict.fromkeys(digests))
    for i in range(0, len(wanted), 1000):
        for digest in remote.missing(wanted[i : i + 1000]):
            path = ws.objects.path(digest)
            with path.open("rb") as handle:
                remote.put_object(digest, path.stat().st_size, handle)
            pushed += 1
    return pushed
