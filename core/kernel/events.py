"""Events: the one shape every state change takes before it reaches the ledger.

An event says who did what, when, to which subjects, why, and which stored blobs it relies
on. ``seq`` and the chain hash are added by the ledger when the event is appended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from storage.canonical import canonical_bytes

EVENT_VERSION = 1


def now_iso() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (sortable as text)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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

    def body(self) -> bytes:
        """The canonical JSON body the ledger stores and hashes."""
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
        return canonical_bytes(doc)
