"""Data keys across workstations: wrapped per recipient on the server, destroyed with erasures.

An encrypted snapshot's objects travel like any other (ciphertext, content-addressed), but
its data keys live in each workstation's own key store under a KEK that never leaves that
workstation's keyring. So the shared ledger's server also keeps, in ``ledger_key_wraps``,
each data key wrapped for each reader's published recipient key (:mod:`core.data.recipients`):

- **recipients**: a reader publishes a recipient key with ``ledgerml key recipient`` (one
  signed event, as that reader, once per workstation account); ``sync`` reminds a reader
  who has none here;
- **wrapping**: a workstation that commits an encrypted snapshot wraps its keys for every
  current recipient right after the server took the event (:func:`wrap_event`); at every
  ``ledgerml sync`` a workstation wraps each data key it holds for every current recipient
  the server has no wrap for (:func:`wrap_missing`), so a reader who published a key later
  is served by whichever teammate holds the data, and a workstation killed between the
  event and its wraps converges at its next sync;
- **unwrapping**: a workstation that lacks a data key a snapshot event names fetches the
  wraps for the recipient keys its keyring holds (:func:`fetch`), opens one, checks it
  against the check value of the *signed* snapshot event, and keeps it under its own KEK; a
  wrap that opens to another key, or does not open, is a server's substitution and refused,
  naming the key and the event; no wrap for anyone here leaves the snapshot unreadable with
  a message naming who holds it;
- **erasure**: the workstation that erases deletes every server wrap of the destroyed keys
  when the server takes the ``data.erase`` event, before it shreds its own copies
  (:func:`forget`); every other workstation shreds its copies (keys, objects, then a KEK
  rotation) as it pulls the event (:func:`shred_pulled`) and deletes any wrap still there.

What crypto-shredding cannot undo, plainly: a database administrator who copied the wrap
rows before the erasure, *and* holds (or later steals) a recipient's private key, can still
unwrap those keys and decrypt the ciphertext they also copied. That is inherent in sharing a
key at all, and it is the same as an old backup of a workstation (its key store) together
with that workstation's keyring; an offline backup of the server must be treated like a
backup of a workspace. What the administrator cannot do is read a wrap without a private
key, or make a workstation accept a key the signed event did not record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.data import data_keys, encryption, recipients
from core.identity.authority import Authority
from core.identity.signer import authority_of
from core.kernel.errors import IntegrityError, KeyStoreError
from core.kernel.workspace import Session, Workspace
from core.privacy import shredding
from storage import failpoints
from storage.pg_remote import PgRemote, RemoteError

SNAPSHOT_ACTION = "snapshot.add"


def _refs(encryption: dict[str, Any] | None) -> list[dict[str, str]]:
    """The data key references (id, check) an ``encryption`` record names."""
    if not isinstance(encryption, dict):
        return []
    return [
        {"id": str(encryption[r]["id"]), "check": str(encryption[r]["check"])}
        for r in ("raw", "parquet")
        if isinstance(encryption.get(r), dict)
    ]


def _wrap_refs(
    ws: Workspace,
    server: PgRemote,
    refs: Sequence[dict[str, str]],
    targets: Sequence[recipients.Recipient],
) -> int:
    """Wrap each of ``refs`` this key store holds for each of ``targets`` the server lacks."""
    held = [r for r in refs if data_keys.exists(ws, r["id"])]
    if not held or not targets:
        return 0
    have = server.wrapped([r["id"] for r in held])
    rows = []
    for ref in held:
        wanted = [t for t in targets if (ref["id"], t.fingerprint) not in have]
        if not wanted:
            continue
        key = data_keys.get(ws, ref["id"], ref["check"])
        rows += [(ref["id"], t.fingerprint, recipients.wrap(ref["id"], key, t)) for t in wanted]
    server.put_wraps(rows)
    return len(rows)


def wrap_event(session: Session, server: PgRemote, body: dict[str, Any]) -> int:
    """After the server took ``body``: wrap a new snapshot's keys, or forget erased ones.

    Called by :meth:`core.team.replica.Replica.publish` once the event is committed. A
    server that fails here loses nothing: the event stands, and the next ``sync`` (this
    workstation's or any teammate's holding the keys) wraps, or deletes, what is owed.
    """
    action = body.get("action")
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    assert isinstance(data, dict)
    if action == shredding.ERASE_ACTION:
        return forget(server, [str(k) for k in data.get("keys") or []])
    refs = _refs(data.get("encryption")) if action == SNAPSHOT_ACTION else []
    if not refs:
        return 0
    failpoints.hit("keys.before-wrap")
    ws = session.workspace
    return _wrap_refs(ws, server, refs, recipients.current(ws, session, authority_of(session)))


def forget(server: PgRemote, key_ids: Sequence[str]) -> int:
    """Delete every wrap the server holds of ``key_ids``; how many went."""
    return server.delete_wraps(list(key_ids))


def recipient_note(session: Session) -> str:
    """What a reader without a recipient key here should do (``sync`` says it), or "".

    Sync records no event of its own (it pulls, publishes what the server lacks and
    witnesses), so it does not make the key itself: ``ledgerml key recipient`` does, as the
    reader, once per workstation account. Actors without a reading role get none: nothing
    is ever wrapped for them.
    """
    ws = session.workspace
    auth = authority_of(session)
    if not recipients.is_reader(auth, session.actor):
        return ""
    if recipients.mine(ws, session, auth, session.actor) is not None:
        return ""
    return (
        f"{session.actor} has no recipient key at this workstation, so teammates cannot share "
        "encrypted data's keys with you: run `ledgerml key recipient`, then `ledgerml sync` "
        "once a teammate holding the data has synced"
    )


def forget_erased(session: Session, server: PgRemote) -> int:
    """Delete the server's wraps of every erased snapshot's keys (an interrupted erase's)."""
    keys = [
        ref["id"]
        for snap in session.catalog.snapshots()
        if snap.erased_seq is not None
        for ref in _refs(encryption.recorded(snap))
    ]
    return forget(server, keys)


def wrap_missing(session: Session, server: PgRemote) -> int:
    """Wrap every data key this workstation holds for every current recipient lacking one.

    Only keys of snapshots not erased; returns how many wraps were uploaded.
    """
    ws = session.workspace
    targets = recipients.current(ws, session, authority_of(session))
    refs = [
        ref
        for snap in session.catalog.snapshots()
        if snap.erased_seq is None
        for ref in _refs(encryption.recorded(snap))
    ]
    return _wrap_refs(ws, server, refs, targets)


def fetch(
    session: Session, server: PgRemote, key_id: str, check: str, event: int, subject: str
) -> None:
    """Bring data key ``key_id`` into this key store from the server's wraps.

    ``check`` is the value the signed event ``event`` (of ``subject``) recorded.

    Raises:
        IntegrityError: if a wrap for a recipient key held here does not open, or opens to
            another key than the event recorded (the server substituted it).
        KeyStoreError: if the server holds no wrap for any recipient key this keyring holds.
    """
    ws = session.workspace
    auth = authority_of(session)
    mine = {r.fingerprint: (r, private) for r, private in recipients.held(ws, session, auth)}
    for fingerprint, blob in server.wraps(key_id, sorted(mine)):
        owner, private = mine[fingerprint]
        key = recipients.unwrap(key_id, fingerprint, blob, private)
        if key is None or data_keys.key_check(key) != check:
            raise IntegrityError(
                f"the shared ledger's wrap of data key {key_id} for {owner.actor}'s recipient "
                f"key {fingerprint[:16]}… "
                + ("does not open" if key is None else "opens to another key")
                + f" than event #{event} ({subject}) recorded: the server substituted it; "
                "the key was not taken",
                hint="Someone with access to the server's database changed the wrap. Tell "
                "the team's administrator; a teammate holding the data re-wraps it at their "
                "`ledgerml sync` once the bad row is deleted.",
            )
        data_keys.adopt(ws, key_id, key, check)
        return
    raise KeyStoreError(
        f"{subject} is encrypted and its data key {key_id} has not been shared with any "
        "recipient key this workstation holds",
        hint=_who_may_grant(session, server, key_id, auth),
    )


def _who_may_grant(session: Session, server: PgRemote, key_id: str, auth: Authority) -> str:
    """Who can share a key: readers it is wrapped for (their workstations hold it)."""
    ws = session.workspace
    by_fp = {r.fingerprint: r.actor for r in recipients.published(ws, session, auth)}
    try:
        holders = sorted({by_fp.get(fp, "?") for k, fp in server.wrapped([key_id]) if k == key_id})
    except RemoteError:
        holders = []
    readers = sorted(a for a in auth.actors if recipients.is_reader(auth, a))
    who = (
        f"the workstation that added it, and {', '.join(holders)}'s"
        if holders
        else "only the workstation that added it"
    )
    return (
        f"It is held by {who}. A reader ({', '.join(readers) or 'none'}) gets it once they "
        "have a recipient key here (`ledgerml key recipient`) and one of those workstations "
        "runs `ledgerml sync`; then read again (or sync) here."
    )


def fetch_missing(session: Session, server: PgRemote) -> list[str]:
    """Fetch every data key this workstation lacks that it can open; the problems met.

    A missing wrap is not a problem (the snapshot stays unreadable here, as it should for
    someone not granted it); a substituted one is, and is reported, not taken.
    """
    problems = []
    ws = session.workspace
    for snap in session.catalog.snapshots():
        if snap.erased_seq is not None:
            continue
        for ref in _refs(encryption.recorded(snap)):
            if data_keys.exists(ws, ref["id"]):
                continue
            try:
                fetch(session, server, ref["id"], ref["check"], snap.created_seq, snap.ref)
            except KeyStoreError:
                continue
            except IntegrityError as err:
                problems.append(err.msg)
    return problems


def shred_pulled(session: Session, server: PgRemote, seqs: Sequence[int]) -> None:
    """Apply the pulled erasures ``seqs`` here: keys, objects, then the KEK rotation.

    The erasing workstation shredded its own copies; this one's go as the event arrives
    (:func:`core.privacy.erasure.finish`, the same step an erase re-run takes), including
    the KEK rotation, so a backup of this workstation made before it holds nothing
    readable either. Wraps still on the server go too.
    """
    from core.privacy import erasure

    for seq in seqs:
        data, _, _ = erasure.finish(session, seq)
        if data.get("keys"):
            forget(server, [str(k) for k in data["keys"]])
