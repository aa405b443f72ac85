"""The kernel's hook for an attached workspace: commit through the server, pull before acting.

:attr:`core.kernel.workspace.Workspace.remote` loads this module by name when
``config.toml`` has ``[remote] url``. Every command then commits like this
(:meth:`Replica.publish`): the actor seals the event on this workstation (the server never
holds a secret, so it cannot forge one), the objects it names are uploaded, and the server
takes the event in one transaction only if this replica's head is the server's head. That
``COMMIT`` is the commit point; the local append of the same line follows. A process killed
between the two has recorded the event (it is on the server) and the next pull brings it back.
Right after that commit, an encrypted snapshot's data keys are wrapped for every reader's
recipient key, and an erasure's keys lose their wraps on the server
(:mod:`core.team.key_share`); a process killed in between leaves that to the next sync.

What the signature covers decides what a retry costs. It covers the event's body (actor,
action, data, time and the pointer to the last authority event), not its number or the hash
it chains to: those are the server's to assign, so one signed body can stand at any position
after the same authority state. A stale commit is therefore retried from a fresh pull with
the command's preconditions checked again; the body is sealed again only because a pulled
event may have changed what it must say (a new authority event moves the pointer; a gate or a
policy may now refuse), and the key is already unlocked in this process.

Writes while the server is unreachable are refused, not queued: a queued event would have
been signed against a view that may no longer hold (a role revoked, a gate failed, a policy
installed), and replaying it later would record a decision nobody re-checked. Reading and
verifying need no server; a bundle export, being recorded, does.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from contextlib import AbstractContextManager

from core.kernel.errors import IntegrityError, UsageError
from core.kernel.workspace import BehindError, Session, Workspace
from core.team import key_share
from core.team import pull as pulling
from storage.ledger import LedgerEntry
from storage.pg_remote import PgRemote, RemoteError, Row, StaleHeadError


class Replica:
    """This workspace's link to its shared ledger (one connection, reused while it lives)."""

    def __init__(self, ws: Workspace) -> None:
        """Bind to the ``[remote]`` the workspace's config names."""
        self.ws = ws
        self.name = ws.setting("remote", "name", "origin")
        self.url = ws.setting("remote", "url")
        self.server = PgRemote(self.url)
        self.last = pulling.Pulled()

    def pull(self, session: Session) -> int:
        """Verify and apply teammates' events (see :mod:`core.team.pull`).

        Raises:
            RemoteError: if the server cannot be reached: writes need it.
        """
        try:
            self.last = pulling.pull(session, self.server)
        except RemoteError as err:
            raise RemoteError(
                f"{err.msg}; this workspace is attached to the shared ledger {self.name!r}, "
                "so it records only through it",
                hint="Reading and `audit verify` work offline; writes (a bundle export too) wait "
                "until the server is back (they are refused, not queued, so that nothing is "
                "recorded against a view of the team's ledger that may be stale).",
            ) from err
        return self.last.events

    def turn(self) -> AbstractContextManager[None]:
        """The server's append lock for one unit of work (:meth:`PgRemote.turn`)."""
        return self.server.turn()

    def publish(self, session: Session, body: bytes) -> LedgerEntry:
        """Commit ``body`` on the server, then append it here (see the module docstring).

        Raises:
            BehindError: if a teammate's event took the next number first.
        """
        ws = session.workspace
        size, head = ws.ledger.head()
        refs = json.loads(body).get("objects") or []
        pulling.push_objects(
            ws,
            self.server,
            [str(r["sha256"]) for r in refs if ws.objects.exists(str(r.get("sha256")))],
        )
        line = b"%d %s %s" % (size + 1, head.encode(), body)
        digest = hashlib.sha256(line).hexdigest()
        try:
            self.server.append((size, head), [Row(size + 1, head, digest, body)])
        except StaleHeadError as err:
            raise BehindError(str(err)) from err
        [entry] = ws.ledger.append([body])
        if entry.hash != digest:  # the head moved under the writer lock: a bug, not an attack
            raise IntegrityError(f"event #{entry.seq} was recorded here as {entry.hash[:16]}…")
        with contextlib.suppress(RemoteError):  # the next sync wraps (or forgets) what is owed
            key_share.wrap_event(session, self.server, json.loads(body))
        return entry

    def fetch_key(
        self, session: Session, key_id: str, check: str, event: int, subject: str
    ) -> None:
        """Take a data key from the server's wraps (:func:`core.team.key_share.fetch`)."""
        key_share.fetch(session, self.server, key_id, check, event, subject)


def attach(ws: Workspace) -> Replica:
    """The kernel's entry point (:data:`core.kernel.workspace.REMOTE_MODULE`).

    Raises:
        UsageError: if the configured URL is not a PostgreSQL one.
    """
    url = ws.setting("remote", "url")
    if not url.startswith(("postgresql://", "postgres://")):
        raise UsageError(
            f"config.toml names the shared ledger {url!r}, which is not a postgresql:// URL",
            hint="Fix [remote] url in config.toml, or detach with `ledgerml remote remove`.",
        )
    return Replica(ws)
