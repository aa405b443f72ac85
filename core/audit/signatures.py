"""Every event's signature and authorisation, checked in parallel over the ledger's segments.

``audit verify`` first replays the authority events in order (few: actors, roles, keys) into
an :class:`~core.identity.authority.Authority`, which knows the state at every position; then
each segment's other events are checked against it in a worker process
(:func:`check_segment`): a valid signature by the actor's own certified key, valid at that
point, a role the action needs, the right ``auth`` pointer, and a time not earlier than the
event before. Authority events were checked during the replay and are skipped here.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from core.identity.authority import Authority, head_fields
from core.kernel import kinds
from core.kernel.events import SIG_MEMBER
from storage.ledger_scan import cores

MAX_PROBLEMS = 20


@dataclass
class SegmentCheck:
    """What checking one segment's events found (returned by a worker)."""

    first_seq: int
    first_ts: str = ""
    first_signed: bool = False
    last_ts: str = ""
    problems: list[tuple[int, str]] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)


def check_segment(
    path: str,
    first_seq: int,
    upto: int,
    auth: Authority,
    skip: tuple[bytes, ...],
    start: int = 1,
) -> SegmentCheck:
    """Check the events ``start..upto`` of one segment (skipping authority events)."""
    out = SegmentCheck(first_seq)
    data = Path(path).read_bytes()
    seq = first_seq
    last_ts = ""
    for line in data.split(b"\n")[:-1]:
        if seq > upto or len(out.problems) >= MAX_PROBLEMS:
            break
        if seq < start - 1:  # vouched for by a verified-up-to record (the last one dates)
            seq += 1
            continue
        raw = line[len(b"%d " % seq) + 65 :]
        body = _fields(raw)
        try:
            if body is None:
                body = json.loads(raw)
                if not isinstance(body, dict):
                    raise ValueError("not a JSON object")
            ts = str(body["ts"])
        except (ValueError, KeyError) as err:
            out.problems.append((seq, f"is not a well-formed event ({err})"))
            seq += 1
            continue
        signed = body.get("v") == 2
        if _out_of_order(ts, last_ts, signed):
            out.problems.append((seq, _dated(ts, last_ts)))
        last_ts = ts
        if not out.first_ts:
            out.first_ts, out.first_signed = ts, signed
        if seq >= start and not raw.startswith(skip):
            problem = auth.admit(seq, raw, body)
            if problem:
                out.problems.append((seq, problem))
        seq += 1
    out.last_ts = last_ts
    out.unknown = set(auth.unknown)
    return out


def _out_of_order(ts: str, before: str, signed: bool) -> bool:
    """Whether ``ts`` may not follow ``before``.

    Signed events are strictly later than the one before, so a replayed copy of an earlier
    event, signature and all, is out of place; format-1 ones may share a time.
    """
    return bool(before) and (ts <= before if signed else ts < before)


def _dated(ts: str, before: str) -> str:
    same = " or at the same time" if ts == before else ""
    return (
        f"is dated {ts}, earlier than the event before it{same} ({before}): backdated, or "
        "a replayed copy of an earlier event"
    )


def _fields(raw: bytes) -> dict[str, object] | None:
    """The members a check needs, sliced from the bytes when that is exact (most events).

    Kinds whose roles depend on their payload, and key events, need the whole body.
    """
    at = raw.rfind(SIG_MEMBER)
    if at < 0:
        return None
    fields = head_fields(raw[:at] + b"}")
    if fields is None:
        return None
    kind = kinds.kind(str(fields["action"]))
    if kind is None or kind.rule is not None or kind.authority:
        return None
    return fields


def check_all(
    segments: list[Path],
    segment_size: int,
    upto: int,
    auth: Authority,
    skip: tuple[bytes, ...],
    workers: int | None = None,
    start: int = 1,
) -> list[tuple[int, str]]:
    """Check events ``start..upto``; the problems found, by event."""
    args = [
        (str(p), i * segment_size + 1, upto, auth, skip, start)
        for i, p in enumerate(segments)
        if i * segment_size + 1 <= upto and (i + 1) * segment_size >= start - 1
    ]
    n = workers if workers is not None else min(cores(), len(args))
    if n > 1 and len(args) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        method = "fork" if threading.active_count() == 1 else "spawn"
        with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context(method)) as pool:
            results = list(pool.map(check_segment, *zip(*args, strict=True)))
    else:
        results = [check_segment(*a) for a in args]
    problems = [p for r in results for p in r.problems]
    for before, after in itertools.pairwise(results):
        if after.first_ts and _out_of_order(after.first_ts, before.last_ts, after.first_signed):
            problems.append((after.first_seq, _dated(after.first_ts, before.last_ts)))
    auth.unknown.update(a for r in results for a in r.unknown)
    return sorted(problems)
