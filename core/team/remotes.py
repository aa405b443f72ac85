"""What ``ledgerml remote add|remove``, ``clone``, ``sync`` and ``status`` do.

``remote add`` publishes this workspace's ledger and objects to an empty database (or checks
that the database already holds this workspace's history) and attaches the workspace; from
then on it records through the server (:mod:`core.team.replica`). ``clone`` makes a new
workstation's replica from the server, verifying every event from #1. ``sync`` pulls and
verifies, publishes what the server lacks, then witnesses: it checks every cosigned
checkpoint it can find against its own tree and cosigns its own (:mod:`core.team.notes`);
last it shares encrypted data's keys (:mod:`core.team.key_share`): every data key this
workstation holds is wrapped for every reader's recipient key lacking a wrap, and every key
shared with a recipient key this keyring holds is fetched (a reader without one is told to
run ``ledgerml key recipient``).
The last sync is kept in ``remote.json`` beside ``config.toml``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.audit import admin, witnesses
from core.data import data_keys
from core.identity.actors import needs
from core.identity.signer import Signer, authority_of
from core.kernel import command
from core.kernel.errors import IntegrityError, UsageError
from core.kernel.events import now_iso
from core.kernel.workspace import CONFIG, Session, Workspace, write_config
from core.team import key_share, notes
from core.team import pull as pulling
from core.team.replica import Replica
from storage.fsutil import atomic_write
from storage.pg_remote import Cosignature, PgRemote, RemoteError, redact

STATE = "remote.json"
Progress = Callable[[int, int, str], None]


def _check_url(url: str) -> None:
    if not url.startswith(("postgresql://", "postgres://")):
        raise UsageError(
            f"{url!r} is not a PostgreSQL URL",
            hint="Give postgresql://USER@HOST:PORT/DATABASE (keep the password in ~/.pgpass "
            "or PGPASSWORD rather than in the URL: the URL is stored in config.toml).",
        )


def _replica(ws: Workspace) -> Replica:
    remote = ws.remote
    if not isinstance(remote, Replica):
        raise UsageError(
            f"the workspace at {ws.root} is not attached to a shared ledger",
            hint="Attach it with `ledgerml remote add NAME postgresql://…`, or make a "
            "replica with `ledgerml clone postgresql://… DIR`.",
        )
    return remote


def _save_config(ws: Workspace, remote: dict[str, str] | None) -> None:
    config = {k: dict(v) for k, v in ws.config.items() if isinstance(v, dict)}
    config.pop("remote", None)
    if remote:
        config["remote"] = remote
    write_config(ws.root / CONFIG, config)
    ws.load_config()


@dataclass
class Published:
    """What ``remote add`` did."""

    name: str
    url: str
    events: int
    objects: int
    server_events: int


def add(ws: Workspace, actor: str, name: str, url: str) -> Published:
    """Publish this workspace to the shared ledger at ``url`` and attach it (admins).

    Raises:
        UsageError: if the workspace is attached already, or the URL is not PostgreSQL.
        RemoteError: if the server cannot be reached or holds another workspace.
        IntegrityError: if the server holds a different history of this workspace.
    """
    _check_url(url)
    if ws.setting("remote", "url"):
        raise UsageError(
            f"the workspace is attached to {ws.setting('remote', 'name')!r} already",
            hint="Detach it first with `ledgerml remote remove`.",
        )

    def commit(s: Session, _: object) -> Published:
        with PgRemote(url) as server:
            server.create_schema(ws.workspace_id)
            size, head = ws.ledger.head()
            objects = pulling.push_objects(ws, server, ws.objects.digests())
            published = pulling.reconcile(ws, server, size, head)
            pulled = pulling.pull(s, server)
            key_share.wrap_missing(s, server)
            _save_config(ws, {"name": name, "url": url})
            _record(ws, server, pulled, published)
            return Published(name, redact(url), published, objects, server.head()[0])

    return command.run(
        ws,
        actor,
        guards=[needs("admin", action="attach the workspace to a shared ledger")],
        commit=commit,
    )


def remove(ws: Workspace, actor: str) -> str:
    """Detach the workspace (admins): it keeps its replica and records locally again.

    Not through the command kernel, which would pull first: detaching must work while the
    server is down. The admin still proves their secret, like every settings change.
    """
    with ws.session(actor) as s:
        needs("admin", action="detach the workspace from its shared ledger")(s)
        name = _replica(ws).name
        _save_config(ws, None)
        (ws.root / STATE).unlink(missing_ok=True)
        return name


def clone(
    url: str, root: Path, name: str = "origin", progress: Progress | None = None
) -> Workspace:
    """Make a replica of the shared ledger at ``url`` in the new folder ``root``.

    Every event is verified from #1 (the organisation key the first event brings is the
    trust anchor: compare its fingerprint with your team's, `ledgerml key list`).

    Raises:
        UsageError: if ``root`` holds anything already.
        RemoteError: if the server cannot be reached or holds no ledger.
        IntegrityError: if anything served does not verify (the folder is then removed).
    """
    _check_url(url)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise UsageError(
            f"{root} exists and is not an empty folder",
            hint="Clone into a new folder.",
        )
    with PgRemote(url) as server:
        workspace_id = server.workspace_id()
        first = server.events(0, 1)
    if not first:
        raise RemoteError(f"{redact(url)} holds no events yet")
    founder = str(json.loads(first[0].body).get("actor", ""))
    created = not root.exists()
    admin.create_layout(root, workspace_id, founder)
    ws = Workspace(root)
    ws.load_config()
    _save_config(ws, {"name": name, "url": url})
    try:
        data_keys.start_replica(ws)
        replica = _replica(ws)
        with ws.session("") as s:
            replica.last = pulling.pull(s, replica.server, progress)
        _record(ws, replica.server, replica.last, 0)
    except BaseException:
        if created:
            shutil.rmtree(root, ignore_errors=True)
        else:
            for child in root.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise
    return ws


@dataclass
class Synced:
    """What ``sync`` did and found."""

    pulled: int
    objects: int
    republished: int
    size: int
    head: str
    cosigned: bool
    checked: int
    problems: list[str] = field(default_factory=list)
    wrapped: int = 0
    """Data keys this workstation wrapped for teammates' recipient keys."""
    advice: list[str] = field(default_factory=list)
    """What the actor could do (not a problem found): e.g. publish a recipient key."""


def sync(ws: Workspace, actor: str) -> Synced:
    """Pull and verify, publish what the server lacks, check and cosign checkpoints.

    Raises:
        IntegrityError: if a served event does not verify, or a cosigned checkpoint shows a
            fork (another history at a size this replica holds) or withheld events.
    """

    def commit(s: Session, _: object) -> Synced:
        replica = _replica(ws)  # after the identity guard: who asks is checked first
        pulled = replica.last  # command.run pulled at the start of this session
        size, head = ws.ledger.head()
        auth = authority_of(s)
        found = _gather(ws, replica.server)
        scan = ws.ledger.scan(cuts=sorted({n.size for _, n in found if 0 < n.size <= size}))
        if scan.problem:
            raise IntegrityError(
                f"this replica's event #{scan.problem[0]} {scan.problem[1]}",
                hint="Run `ledgerml audit verify`.",
            )
        problems, forks = [], []
        for where, note in found:
            why = notes.check(note, auth, ws.workspace_id)
            if why:
                problems.append(f"cosigned checkpoint {where} {why}: ignored")
            elif note.size > size:
                forks.append(
                    f"{note.actor} cosigned the shared ledger at #{note.size} ({where}), but "
                    f"the server serves only #{size}: it withholds events, or shows "
                    f"{note.actor} another history"
                )
            elif scan.roots[note.size] != note.root:
                forks.append(
                    f"{note.actor} cosigned another history at #{note.size} ({where}): its "
                    f"root {note.root.hex()[:16]}… is not this replica's "
                    f"{scan.roots[note.size].hex()[:16]}…; the server showed two histories"
                )
        if forks:
            raise IntegrityError(
                "fork: " + "; ".join(forks),
                hint="Stop recording; compare `ledgerml status` with the teammates named; the "
                "server or its database administrator served different logs.",
            )
        signer = s.sealer
        assert isinstance(signer, Signer)
        mine = notes.sign(signer.sign, signer.key, actor, ws.workspace_id, size, scan.roots[size])
        cosigned = notes.write(ws.root / "ledger" / notes.FOLDER, mine)
        for location in witnesses.locations(ws):
            if location.is_dir():
                try:
                    notes.write(witnesses.folder_of(ws, location) / notes.FOLDER, mine)
                except OSError as err:
                    problems.append(f"witness {location}: {err.strerror or err}")
        replica.server.put_cosignature(
            Cosignature(size, mine.key_id.hex(), actor, mine.serialise())
        )
        _record(ws, replica.server, pulled, pulled.republished)
        key_share.forget_erased(s, replica.server)
        wrapped = key_share.wrap_missing(s, replica.server)
        problems += key_share.fetch_missing(s, replica.server)
        advice = [n for n in [key_share.recipient_note(s)] if n]
        return Synced(
            pulled.events,
            pulled.objects,
            pulled.republished,
            size,
            head,
            cosigned,
            len(found),
            problems,
            wrapped,
            advice,
        )

    return command.run(
        ws, actor, guards=[needs(action="cosign the shared ledger's checkpoint")], commit=commit
    )


def _gather(ws: Workspace, server: PgRemote) -> list[tuple[str, notes.Note]]:
    """Every cosigned checkpoint to check: the server's, this replica's, the witnesses'."""
    texts = [(f"on the server (by {c.actor})", c.note) for c in server.cosignatures()]
    texts += notes.read_folder(ws.root / "ledger" / notes.FOLDER)
    for location in witnesses.locations(ws):
        texts += notes.read_folder(witnesses.folder_of(ws, location) / notes.FOLDER)
    found = []
    for where, text in texts:
        try:
            found.append((where, notes.parse(text, where)))
        except IntegrityError as err:  # not a note at all: reported, never trusted
            found.append((where, _unreadable(err.msg)))
    return found


def _unreadable(why: str) -> notes.Note:
    """A placeholder that no key verifies, so the caller reports it and goes on."""
    return notes.Note(why, "(unreadable)", b"\0\0\0\0", b"", 0, b"", "")


def _record(ws: Workspace, server: PgRemote, pulled: pulling.Pulled, republished: int) -> None:
    size, head = ws.ledger.head()
    state = {
        "at": now_iso(),
        "size": size,
        "head": head,
        "pulled": pulled.events,
        "objects": pulled.objects,
        "republished": republished,
    }
    atomic_write(ws.root / STATE, json.dumps(state, indent=2).encode() + b"\n")


@dataclass
class RemoteStatus:
    """The ``remote`` block of ``ledgerml status``."""

    name: str
    url: str
    local_size: int
    local_head: str
    remote_size: int | None
    remote_head: str | None
    problem: str
    last_sync: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        """For ``status --json``."""
        return asdict(self)


def status(ws: Workspace) -> RemoteStatus | None:
    """The shared ledger's state as this workstation sees it; None if not attached."""
    if not ws.setting("remote", "url"):
        return None
    url = ws.setting("remote", "url")
    size, head = ws.ledger.head()
    remote_size: int | None = None
    remote_head: str | None = None
    problem = ""
    try:
        with PgRemote(url, connect_timeout=3) as server:
            remote_size, remote_head = server.head()
    except RemoteError as err:
        problem = err.msg
    try:
        last = json.loads((ws.root / STATE).read_text())
    except (OSError, ValueError):
        last = None
    return RemoteStatus(
        ws.setting("remote", "name", "origin"),
        redact(url),
        size,
        head,
        remote_size,
        remote_head,
        problem,
        last,
    )
