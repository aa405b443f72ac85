"""Events: the one shape every state change takes before it reaches the ledger.

An event says who did what, when, to which subjects, why, and which stored blobs it relies
on. ``seq`` and the chain hash are added by the ledger when the event is appended.

Format 2 (this version) signs every event. The session seals it (:func:`seal`): the acting
actor's key signs the DSSE pre-authentication encoding of the event's canonical JSON, and the
signature is added as the member ``"~sig"``. RFC 8785 sorts members by code unit and ``~``
sorts after every letter, so ``~sig`` is always the body's last member: the signed bytes are
the stored body with that member cut off (:func:`split_sealed`), found without parsing JSON,
which keeps verifying a million events close to the cost of the signatures alone.

``auth`` points at the previous *authority* event (one that changes actors, roles or keys) by
its number and the SHA-256 of its stored body. Following these signed pointers from the
ledger's head finds every authority event without scanning the ledger or trusting the
catalog (:mod:`core.identity.authority`). Format 1 events (before December 2026) are neither
signed nor linked; they are read, verified for their chain, and reported as unproven.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from storage.bundle_verifier import pae
from storage.canonical import canonical_bytes

EVENT_VERSION = 2
EVENT_PAYLOAD_TYPE = "application/vnd.ledgerml.event+json"
SIG_MEMBER = b',"~sig":'


def now_iso() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (sortable as text)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_TS = b',"ts":"'


def event_time(body: bytes) -> str:
    """The ``ts`` of a stored body ("" if it has none), sliced without a JSON parse.

    Canonical JSON sorts the top-level members, and only ``v`` (and the seal) follow ``ts``,
    so its last occurrence before the seal is the event's own; a nested ``"ts"`` sits in
    ``data`` earlier. Anything unexpected falls back to a parse.
    """
    at = body.rfind(SIG_MEMBER)
    unsigned = body if at < 0 else body[:at]
    start = unsigned.rfind(_TS)
    if start >= 0:
        end = unsigned.find(b'"', start + len(_TS))
        value = unsigned[start + len(_TS) : end]
        if end > 0 and b"\\" not in value and unsigned[end:].startswith(b'","v":'):
            return value.decode("ascii", "replace")
    try:
        return str(json.loads(body).get("ts", ""))
    except (ValueError, AttributeError):
        return ""


def later_than(ts: str, before: str) -> str:
    """``ts``, or one microsecond after ``before`` if ``ts`` is not later (both ISO, UTC)."""
    if ts > before:
        return ts
    moment = datetime.strptime(before, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return (moment + timedelta(microseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class ObjectRef:
    """A blob an event relies on; verification re-hashes it."""

    sha256: str
    size: int
    media_type: str

    def to_json(self) -> dict[str, Any]:
        """The form stored in the event body."""
        return {"sha256": self.sha256, "size": self.size, "media_type": self.media_type}


@dataclass(frozen=True)
class Event:
    """One state change, as recorded."""

    actor: str
    action: str
    subjects: list[str]
    data: dict[str, Any]
    reason: str = ""
    objects: list[ObjectRef] = field(default_factory=list)
    ts: str = field(default_factory=now_iso)
    auth: tuple[int, str] | None = None
    policy: dict[str, Any] | None = None
    """The policy decision that let a governed action through (or, on a ``policy.deny``
    attempt event, refused it): :meth:`core.governance.policy.Decision.member`."""

    def body(self) -> bytes:
        """The canonical JSON body before sealing: what the actor's key signs."""
        doc: dict[str, Any] = {
            "v": EVENT_VERSION,
            "ts": self.ts,
            "actor": self.actor,
            "action": self.action,
            "subjects": list(self.subjects),
            "data": self.data,
            "reason": self.reason,
        }
        if self.objects:
            doc["objects"] = [o.to_json() for o in self.objects]
        if self.auth is not None:
            doc["auth"] = [self.auth[0], self.auth[1]]
        if self.policy is not None:
            doc["policy"] = self.policy
        return canonical_bytes(doc)


@dataclass(frozen=True)
class Seal:
    """An event's signature: which key, which algorithm, and the signature bytes."""

    key_id: str
    algorithm: str
    signature: bytes

    def to_json(self) -> dict[str, str]:
        """The ``~sig`` member."""
        return {
            "alg": self.algorithm,
            "key": self.key_id,
            "sig": base64.b64encode(self.signature).decode(),
        }


def signing_input(unsigned: bytes) -> bytes:
    """What a key signs for an event: DSSE's pre-authentication encoding of its body."""
    return pae(EVENT_PAYLOAD_TYPE, unsigned)


def seal(unsigned: bytes, sig: Seal) -> bytes:
    """The stored body: ``unsigned`` with the ``~sig`` member appended as its last member."""
    # The member's canonical form written directly (its keys sorted, its values plain ASCII
    # without escapes); a test checks it equals canonical_bytes of the same object.
    member = b'{"alg":"%s","key":"%s","sig":"%s"}' % (
        sig.algorithm.encode(),
        sig.key_id.encode(),
        base64.b64encode(sig.signature),
    )
    return unsigned[:-1] + SIG_MEMBER + member + b"}"


def split_sealed(body: bytes) -> tuple[bytes, Seal] | None:
    """``(signed bytes, seal)`` of a stored body, or None if it carries no ``~sig``.

    Raises:
        ValueError: if the ``~sig`` member is malformed.
    """
    at = body.rfind(SIG_MEMBER)
    if at < 0 or not body.endswith(b"}}"):
        return None
    try:
        doc = json.loads(body[at + len(SIG_MEMBER) : -1])
        return body[:at] + b"}", Seal(
            str(doc["key"]), str(doc["alg"]), base64.b64decode(doc["sig"], validate=True)
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as err:
        raise ValueError(f"malformed signature member: {err!r}") from err
