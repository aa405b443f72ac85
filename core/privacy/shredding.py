"""Shredding: destroying what a committed erasure names, and finding what is left of it.

Commit first, shred second. The ``data.erase`` event is the decision, durable before any
key or object goes: a crash after it leaves an erasure that every reader already honours
(the snapshot is marked erased) but whose bytes are still on disk. :func:`pending` finds
such leftovers from the ledger alone, for ``audit verify`` (which fails with "erased but not
yet shredded" until they are gone) and for a re-run of the same erase, which completes the
shredding with :func:`shred` and records nothing new.

An object named by a *later* event is not a leftover: the same plaintext bytes ingested
again after the erasure are a new, deliberate copy (content addressing gives it the same
name), which that later event accounts for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.data import data_keys
from core.evidence.vocabulary import plural
from core.kernel.errors import LedgerError
from core.kernel.workspace import Workspace
from storage import failpoints

ERASE_ACTION = "data.erase"


@dataclass
class Leftover:
    """What one erasure named that is still on disk."""

    seq: int
    target: str
    keys: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)
    rotate: bool = False  # the key-encryption key still to be rotated (data_keys.rotate)

    def __bool__(self) -> bool:
        return bool(self.keys or self.objects or self.rotate)

    def describe(self) -> str:
        """One sentence for verify and the CLI."""
        parts = []
        if self.keys:
            parts.append(plural(self.keys, "data key"))
        if self.objects:
            parts.append(plural(self.objects, "object"))
        what = f"{' and '.join(parts)} still on disk" if parts else ""
        if self.rotate:
            rotation = "the key-encryption key not yet rotated"
            what = f"{what}; {rotation}" if what else rotation
        return (
            f"erasure #{self.seq} of {self.target.removeprefix('snapshot:')}: erased but not "
            f"yet shredded ({what})"
        )  # the words `audit verify` and the CLI both show


@dataclass(frozen=True)
class Tombstones:
    """What the ledger's erasures account for: each erased object and the erasure's number."""

    objects: dict[str, int]
    keys: dict[str, int]
    erasures: list[tuple[int, dict[str, Any]]]


def tombstones(bodies: Iterable[tuple[int, dict[str, Any]]]) -> Tombstones:
    """The objects and keys the ``data.erase`` events among ``bodies`` made unreadable."""
    objects: dict[str, int] = {}
    keys: dict[str, int] = {}
    found = []
    for seq, body in bodies:
        if body.get("action") != ERASE_ACTION:
            continue
        data: dict[str, Any] = body["data"] if isinstance(body.get("data"), dict) else {}
        found.append((seq, body))
        for d in data.get("objects") or []:
            objects.setdefault(str(d), seq)
        for k in data.get("keys") or []:
            keys.setdefault(str(k), seq)
    return Tombstones(objects, keys, found)


def last_named(bodies: Iterable[tuple[int, dict[str, Any]]]) -> dict[str, int]:
    """Per object digest, the newest event among ``bodies`` that names it."""
    out: dict[str, int] = {}
    for seq, body in bodies:
        for ref in body.get("objects") or []:
            if isinstance(ref, dict) and "sha256" in ref:
                out[str(ref["sha256"])] = max(out.get(str(ref["sha256"]), 0), seq)
    return out


def leftover(
    ws: Workspace, seq: int, data: dict[str, Any], named_later: dict[str, int]
) -> Leftover:
    """What erasure ``seq`` (its event ``data``) named that is still here."""
    keys = [str(k) for k in data.get("keys") or [] if data_keys.exists(ws, str(k))]
    objects = [
        str(d)
        for d in data.get("objects") or []
        if ws.objects.exists(str(d)) and named_later.get(str(d), 0) <= seq
    ]
    rotate = bool(data.get("keys")) and data_keys.rotation_needed(ws, seq)
    return Leftover(seq, str(data.get("target", "")), keys, objects, rotate)


def pending(ws: Workspace, bodies: list[tuple[int, dict[str, Any]]]) -> list[Leftover]:
    """Every erasure among ``bodies`` (the ledger's events) whose shredding is unfinished."""
    later = last_named(bodies)
    out = []
    for seq, body in tombstones(bodies).erasures:
        found = leftover(ws, seq, body.get("data") or {}, later)
        if found:
            out.append(found)
    return out


@dataclass(frozen=True)
class Shredded:
    """What one call of :func:`shred` destroyed (zero of each: there was nothing left)."""

    keys: int
    objects: int
    rotated: bool = False


def shred(ws: Workspace, left: Leftover, plaintext: set[str], *, rotate: bool = True) -> Shredded:
    """Destroy the leftover keys, delete the leftover objects, then rotate the KEK.

    Keys go first: once a copy's key is gone its ciphertext is unreadable, so a crash
    between the two steps already leaves nothing readable of an encrypted copy. Plaintext
    copies (``plaintext``: their digests) are overwritten before they are unlinked. Last,
    an erasure that destroyed data keys rotates the key-encryption key
    (:func:`core.data.data_keys.rotate`): backups carry the key store, and one taken before
    this erasure still holds the destroyed keys' wrapped copies; once the KEK they are
    wrapped under is gone, nothing in that backup can be decrypted. ``rotate=False``
    (a restore) leaves the rotation owed: see :func:`reapply`.
    """
    keys = sum(data_keys.destroy(ws, k) for k in left.keys)
    failpoints.hit("erase.after-keys")
    objects = sum(ws.objects.remove(d, scrub=d in plaintext) for d in left.objects)
    rotated = data_keys.rotate(ws, left.seq) if rotate and left.rotate else False
    return Shredded(keys, objects, rotated)


def reapply(ws: Workspace) -> Shredded:
    """Apply every erasure the ledger records again (after a restore): keys, then objects.

    A backup taken while an erasure's shredding was unfinished holds its objects, maybe its
    keys, and a KEK rotation still owed; the restored ledger names them, so they go. The
    rotation is not done here: the restored copy shares the keyring (and the KEK) with the
    workspace it was taken from, and retiring that KEK now would make the original's own
    key store unreadable before it has re-wrapped it. ``audit verify`` of the restored copy
    says the rotation is owed; running the erase there again does it.
    """
    import json

    bodies = [(e.seq, e.decode()) for e in ws.ledger.iter_entries()]
    later = last_named(bodies)
    keys = objects = 0
    for seq, body in tombstones(bodies).erasures:
        data = body.get("data") or {}
        left = leftover(ws, seq, data, later)
        if not left:
            continue
        try:
            receipt = json.loads(ws.objects.read_verified(str(data.get("receipt_digest"))))
            listed = receipt.get("what", {}).get("objects", [])
            plain = {str(o["sha256"]) for o in listed if o.get("method") != "crypto-shred"}
        except (ValueError, LookupError, TypeError, AttributeError, LedgerError):
            plain = set(left.objects)  # unreadable receipt: scrub every copy, to be safe
        done = shred(ws, left, plain, rotate=False)
        keys, objects = keys + done.keys, objects + done.objects
    return Shredded(keys, objects)
