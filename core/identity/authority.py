"""Who may act: actors, roles and keys replayed from the signed ledger alone.

The catalog is a convenience anyone with write access to the workspace can edit, so nothing
here reads roles or key states from it. :class:`Authority` is built by replaying the
*authority* events (those that change actors, roles or keys, :func:`core.kernel.kinds.
authority_actions`), each checked before it is applied:

- its signature (the ``~sig`` member, :func:`core.kernel.events.split_sealed`) verifies with
  a key that was, at that point of the ledger, the acting actor's own, active, not
  compromised, and certified by the organisation key;
- the actor was active and held a role the action needs (:attr:`EventKind.roles`);
- its ``auth`` pointer names the authority event before it, and its time is not earlier
  than the time of the event before it.

``audit verify`` replays every authority event this way, then checks every other event with
:meth:`Authority.admit` in parallel workers (the state at any position is a lookup: keys keep
the positions they were valid between, actors the positions their roles changed). A command
builds the current state with :func:`load`, which follows the signed ``auth`` pointers back
from the ledger's head instead of scanning the ledger, so it costs a few dozen signature
checks however long the ledger is.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.identity.certify import ORG_PURPOSES, check
from core.kernel import kinds
from core.kernel.events import signing_input, split_sealed
from storage.bundle_verifier import verify_signature

FORMAT_1 = 1


@dataclass
class KeyState:
    """A key as the ledger has described it so far."""

    key_id: str
    actor: str
    purpose: str
    algorithm: str
    public_pem: str
    backend: str
    handle: str
    label: str
    created_seq: int
    certified: bool
    end_seq: int | None = None  # rotated or revoked at this event: signs nothing from it on
    end_status: str = ""
    compromised_since: str | None = None

    def problem_at(self, seq: int, ts: str) -> str | None:
        """Why this key could not sign at event ``seq`` dated ``ts``; None if it could."""
        if seq <= self.created_seq:
            return (
                f"key {self.key_id[:16]}… did not exist yet (it was added at #{self.created_seq})"
            )
        if self.end_seq is not None and seq > self.end_seq:
            return f"key {self.key_id[:16]}… was {self.end_status} at #{self.end_seq}"
        if self.compromised_since is not None and ts >= self.compromised_since:
            return (
                f"key {self.key_id[:16]}… is compromised since {self.compromised_since} "
                f"and this event is dated {ts}"
            )
        return None


@dataclass
class ActorState:
    """An actor's roles and status at one position of the ledger."""

    seq: int
    roles: tuple[str, ...]
    status: str
    kind: str = "person"
    demo: bool = False


@dataclass
class Authority:
    """The identity state a ledger implies, with the history verification needs."""

    workspace_id: str = ""
    keys: dict[str, KeyState] = field(default_factory=dict)
    actors: dict[str, list[ActorState]] = field(default_factory=dict)
    auth_seqs: list[int] = field(default_factory=list)
    auth_hashes: list[str] = field(default_factory=list)
    signed: int = 0  # authority events of format 2 applied
    first_signed: int = 0  # the first authority event of format 2
    demo: bool = False
    unknown: set[str] = field(default_factory=set)  # actions seen that this version lacks
    policies: list[tuple[int, str]] = field(default_factory=list)
    """``(seq, bundle digest)`` of each ``policy.install``: the policy in force is signed
    ledger state like a role, so a hand-edited catalog cannot swap it."""

    # ---- the state at a position ------------------------------------------------------

    def actor_at(self, name: str, seq: int) -> ActorState | None:
        """The actor's state just before event ``seq`` (None if not yet added)."""
        history = self.actors.get(name)
        if not history:
            return None
        if history[-1].seq < seq:  # the usual case: nothing changed the actor since
            return history[-1]
        i = bisect.bisect_left([h.seq for h in history], seq) - 1
        return history[i] if i >= 0 else None

    def policy_at(self, seq: int | None = None) -> tuple[int, str] | None:
        """The policy bundle in force just before event ``seq`` (default: now).

        Its install event's number and its digest, or None before any was installed.
        """
        if seq is None:
            return self.policies[-1] if self.policies else None
        i = bisect.bisect_left([p[0] for p in self.policies], seq) - 1
        return self.policies[i] if i >= 0 else None

    def current(self, name: str) -> ActorState | None:
        """The actor's state now."""
        history = self.actors.get(name)
        return history[-1] if history else None

    def org_keys(self, seq: int | None = None) -> dict[str, str]:
        """Organisation keys (id → PEM) that could certify at ``seq`` (default: now)."""
        at = seq if seq is not None else (self.auth_seqs[-1] + 1 if self.auth_seqs else 1)
        return {
            k.key_id: k.public_pem
            for k in self.keys.values()
            if k.purpose in ORG_PURPOSES
            and k.created_seq <= at
            and (k.end_seq is None or at <= k.end_seq)
        }

    def last_authority(self, before: int) -> tuple[int, str] | None:
        """The authority event before ``before``: ``(seq, sha256 of its body)``."""
        i = bisect.bisect_left(self.auth_seqs, before) - 1
        return (self.auth_seqs[i], self.auth_hashes[i]) if i >= 0 else None

    def signing_key(self, actor: str) -> KeyState | None:
        """The actor's newest active, certified actor key."""
        ready = [
            k
            for k in self.keys.values()
            if k.actor == actor
            and k.purpose == "actor"
            and k.end_seq is None
            and k.compromised_since is None
            and k.certified
        ]
        return max(ready, key=lambda k: k.created_seq) if ready else None

    # ---- checking one event -------------------------------------------------------------

    def admit(self, seq: int, raw: bytes, body: dict[str, Any]) -> str | None:
        """Why event ``seq`` may not stand where it is; None if it may.

        ``raw`` is its stored body, ``body`` the same parsed. Authority events must be
        checked and applied in ledger order (:meth:`apply`); any other event may be checked
        in any order once every authority event has been applied.
        """
        version = body.get("v")
        if version == FORMAT_1:
            if self.first_signed and seq > self.first_signed:
                return "is an unsigned format-1 event after signed events: it was forged"
            return None
        if version != 2:
            return f"has an unknown format {version!r}"
        try:
            sealed = split_sealed(raw)
        except ValueError as err:
            return f"{err}"
        if sealed is None:
            return "carries no signature"
        unsigned, seal = sealed
        actor, action = str(body.get("actor", "")), str(body.get("action", ""))
        ts = str(body.get("ts", ""))
        if seq == 1:
            return self._admit_init(unsigned, seal.key_id, seal.algorithm, seal.signature, body)
        if action == "workspace.init":  # it would bring an organisation key of its own
            return "founds the workspace a second time: only event #1 may"
        expected = self.last_authority(seq)
        pointer = body.get("auth")
        if expected is None or pointer != [expected[0], expected[1]]:
            at = f"#{expected[0]}" if expected else "none"
            return (
                f"points at authority event {pointer!r}, but the last one before it is {at}: "
                "it was written against another history"
            )
        key = self.keys.get(seal.key_id)
        if key is None:
            return f"is signed by key {seal.key_id[:16]}…, which the ledger never registered"
        if key.actor != actor:
            return f"claims actor {actor!r} but is signed by a key of {key.actor!r}"
        if key.purpose != "actor":
            return f"is signed by a {key.purpose} key, not by {actor}'s own key"
        if not key.certified:
            return f"is signed by key {key.key_id[:16]}…, which the organisation never certified"
        if key.algorithm != seal.algorithm:
            return f"names algorithm {seal.algorithm!r} for a {key.algorithm} key"
        problem = key.problem_at(seq, ts)
        if problem:
            return f"is signed by a key that could not sign then: {problem}"
        if not verify(key.public_pem, signing_input(unsigned), seal.signature):
            return f"has a signature by {actor}'s key that does not match its content"
        return self._authorised(seq, actor, action, body)

    def _authorised(self, seq: int, actor: str, action: str, body: dict[str, Any]) -> str | None:
        state = self.actor_at(actor, seq)
        if state is None:
            return f"was made by {actor!r}, who was not a registered actor then"
        if state.status != "active":
            return f"was made by {actor!r}, who was {state.status} then"
        kind = kinds.kind(action)
        if kind is None:  # a newer release's action: signed by its actor, roles unknown here
            self.unknown.add(action)
            return None
        need: tuple[str, ...] = kind.roles
        if kind.rule is not None:
            try:
                need = kind.roles_for(kind.decode(body))
            except (KeyError, TypeError, ValueError, AttributeError) as err:
                return f"is malformed: {err!r}"
        if need and not set(need) & set(state.roles):
            return (
                f"records {action} by {actor!r}, who held {', '.join(state.roles) or 'no role'} "
                f"then, not {' or '.join(need)}"
            )
        if action.startswith("key."):
            return self._key_rules(seq, actor, action, state, body)
        return None

    def _key_rules(
        self, seq: int, actor: str, action: str, state: ActorState, body: dict[str, Any]
    ) -> str | None:
        """A key's owner or an admin may manage it; new keys need a certificate."""
        data = body.get("data", {})
        admin = "admin" in state.roles
        if action == "key.revoke":
            key = self.keys.get(str(data.get("key_id", "")))
            if key is None:
                return "revokes a key the ledger never registered"
            if key.actor != actor and not admin:
                return f"revokes a key of {key.actor!r} by {actor!r}, who is not an admin"
            return None
        record = data.get("key", {})
        owner = str(record.get("actor", ""))
        if owner != actor and not admin:
            return f"adds a key for {owner!r} by {actor!r}, who is not an admin"
        if action == "key.rotate":
            old = self.keys.get(str(data.get("old_key_id", "")))
            if old is None or old.actor != owner:
                return "rotates a key that is not its owner's"
            if old.end_seq is not None:
                return f"rotates key {old.key_id[:16]}…, which was already {old.end_status}"
        return None

    def _admit_init(
        self, unsigned: bytes, key_id: str, algorithm: str, signature: bytes, body: dict[str, Any]
    ) -> str | None:
        data = body.get("data", {})
        if body.get("action") != "workspace.init":
            return "is the first event but does not found a workspace"
        founder_key = data.get("founder_key") or {}
        org = data.get("key") or {}
        if founder_key.get("key_id") != key_id or founder_key.get("actor") != body.get("actor"):
            return "is not signed by the founder's own key"
        if founder_key.get("algorithm") != algorithm:
            return f"names algorithm {algorithm!r} for a {founder_key.get('algorithm')} key"
        if org.get("purpose") != "organisation":
            return "names no organisation key"
        problem = check(
            founder_key.get("certificate"),
            {str(org.get("key_id")): str(org.get("public_pem"))},
            str(data.get("workspace_id")),
            actor=str(body.get("actor")),
            key_id=key_id,
            purpose="actor",
            algorithm=algorithm,
        )
        if problem:
            return f"founds a workspace whose founder key is not certified: {problem}"
        if not verify(str(founder_key.get("public_pem")), signing_input(unsigned), signature):
            return "has a founder's signature that does not match its content"
        return None

    # ---- applying an authority event ------------------------------------------------------

    def apply(self, seq: int, raw: bytes, body: dict[str, Any]) -> None:
        """Fold an admitted event into the state (non-authority events change nothing)."""
        action = str(body.get("action", ""))
        kind = kinds.kind(action)
        if kind is None or not kind.authority:
            return
        if body.get("v") != FORMAT_1:
            self.signed += 1
            self.first_signed = self.first_signed or seq
        self.auth_seqs.append(seq)
        self.auth_hashes.append(hashlib.sha256(raw).hexdigest())
        data = body.get("data", {})
        if action == "workspace.init":
            self.workspace_id = str(data["workspace_id"])
            self.demo = bool(data.get("demo"))
            self._add_key(seq, data["key"], certified=True)
            if data.get("founder_key"):
                self._add_key(seq, data["founder_key"])
            self._set_actor(
                seq, str(data["founder"]), tuple(data["roles"]), "active", demo=self.demo
            )
        elif action == "actor.add":
            if data.get("key"):
                self._add_key(seq, data["key"])
            self._set_actor(
                seq,
                str(data["name"]),
                tuple(sorted(data["roles"])),
                "active",
                kind=str(data.get("kind") or "person"),
                demo=bool(data.get("demo")),
            )
        elif action in ("role.grant", "role.revoke"):
            now = self.actor_at(str(data["name"]), seq + 1)
            if now is not None:
                roles = set(now.roles)
                roles = roles | {data["role"]} if action == "role.grant" else roles - {data["role"]}
                self._set_actor(seq, str(data["name"]), tuple(sorted(roles)), now.status)
        elif action in ("actor.suspend", "actor.resume", "actor.remove"):
            now = self.actor_at(str(data["name"]), seq + 1)
            status = {"actor.suspend": "suspended", "actor.resume": "active"}.get(action, "removed")
            if now is not None:
                self._set_actor(seq, str(data["name"]), now.roles, status)
        elif action == "policy.install":
            self.policies.append((seq, str(data["digest"])))
        elif action == "key.create":
            self._add_key(seq, data["key"])
        elif action == "key.rotate":
            self._add_key(seq, data["key"])
            self._end_key(str(data["old_key_id"]), seq, "rotated")
        elif action == "key.revoke":
            self._end_key(str(data["key_id"]), seq, "revoked")
            since = data.get("compromised_since")
            key = self.keys.get(str(data["key_id"]))
            if since and key is not None:
                key.compromised_since = str(since)

    def _add_key(self, seq: int, record: dict[str, Any], *, certified: bool = False) -> None:
        purpose = str(record["purpose"])
        ok = certified or self.legacy_key(purpose)
        if not ok:
            ok = (
                check(
                    record.get("certificate"),
                    self.org_keys(seq),
                    self.workspace_id,
                    actor=str(record["actor"]),
                    key_id=str(record["key_id"]),
                    purpose=purpose,
                    algorithm=str(record["algorithm"]),
                )
                is None
            )
        self.keys[str(record["key_id"])] = KeyState(
            key_id=str(record["key_id"]),
            actor=str(record["actor"]),
            purpose=purpose,
            algorithm=str(record["algorithm"]),
            public_pem=str(record["public_pem"]),
            backend=str(record["backend"]),
            handle=str(record["handle"]),
            label=str(record["label"]),
            created_seq=seq,
            certified=ok,
        )

    def legacy_key(self, purpose: str) -> bool:
        """Format-1 ledgers certified nothing; their workspace key stands as the anchor."""
        return purpose == "workspace" and not self.signed

    def _end_key(self, key_id: str, seq: int, status: str) -> None:
        key = self.keys.get(key_id)
        if key is not None and key.end_seq is None:
            key.end_seq, key.end_status = seq, status

    def _set_actor(
        self,
        seq: int,
        name: str,
        roles: tuple[str, ...],
        status: str,
        *,
        kind: str | None = None,
        demo: bool | None = None,
    ) -> None:
        history = self.actors.setdefault(name, [])
        last = history[-1] if history else None
        history.append(
            ActorState(
                seq,
                roles,
                status,
                kind or (last.kind if last else "person"),
                demo if demo is not None else (last.demo if last else False),
            )
        )

    def replay(self, events: Iterable[tuple[int, bytes]]) -> tuple[int, str] | None:
        """Admit and apply ``(seq, body)`` pairs in order; the first problem, or None."""
        for seq, raw in events:
            try:
                body = json.loads(raw)
            except ValueError as err:
                return seq, f"is not valid JSON: {err}"
            if not isinstance(body, dict):
                return seq, "is not a JSON object"
            problem = self.admit(seq, raw, body)
            if problem:
                return seq, problem
            try:
                self.apply(seq, raw, body)
            except (KeyError, TypeError, ValueError) as err:
                return seq, f"is malformed: {err!r}"
        return None


# The stand-alone verifier's check (it parses each public key once), so that the code an
# auditor runs from a bundle and the code that verifies a workspace are the same.
verify = verify_signature


_ACTION, _ACTOR, _AUTH = b'{"action":"', b'","actor":"', b'","auth":['
_TS, _END = b',"ts":"', b'","v":2}'


def head_fields(unsigned: bytes) -> dict[str, Any] | None:
    """``action``, ``actor``, ``auth``, ``ts`` and ``v`` of a signed event, without a JSON parse.

    Canonical JSON fixes the members' order (``action``, ``actor``, ``auth`` first; ``ts``,
    ``v`` last) and escapes every ``"`` inside strings, so these slices are exact. Anything
    unexpected (an escape, another shape) returns None and the caller parses the body.
    """
    if not unsigned.startswith(_ACTION) or not unsigned.endswith(_END):
        return None
    a_end = unsigned.find(_ACTOR, len(_ACTION))
    if a_end < 0:
        return None
    b_end = unsigned.find(_AUTH, a_end + len(_ACTOR))
    if b_end < 0:
        return None
    c_end = unsigned.find(b"]", b_end + len(_AUTH))
    t_start = unsigned.rfind(_TS)
    if c_end < 0 or t_start < c_end:
        return None
    action = unsigned[len(_ACTION) : a_end]
    actor = unsigned[a_end + len(_ACTOR) : b_end]
    seq_text, sep, digest = unsigned[b_end + len(_AUTH) : c_end].partition(b',"')
    ts = unsigned[t_start + len(_TS) : -len(_END)]
    if b"\\" in action + actor + ts or not sep or not digest.endswith(b'"'):
        return None
    try:
        auth = [int(seq_text), digest[:-1].decode()]
        return {
            "v": 2,
            "action": action.decode(),
            "actor": actor.decode(),
            "auth": auth,
            "ts": ts.decode(),
        }
    except (ValueError, UnicodeDecodeError):
        return None
