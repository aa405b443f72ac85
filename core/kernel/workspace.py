"""The workspace: one folder holding the ledger, the object store, the catalog and config.

Every unit of work goes through :meth:`Workspace.session`: it takes the writer lock, drops a
torn ledger tail left by a crash, opens the catalog, replays any events the catalog has not
seen yet (so a crash between commit and projection heals itself), and closes everything at the
end. Writes then follow the one path of the design: blobs first (:meth:`Session.put_blob`), then
one fsynced event (:meth:`Session.commit`, the commit point), then its projection.

Example::

    ws = Workspace.open(Path(".ledgerml"))
    with ws.session(actor="alice") as s:
        s.commit(new_event("alice", ActorAdded("bob", ["auditor"]), ["actor:bob"]))

Commands do not open sessions themselves: they run through :func:`core.kernel.command.run`.

A workspace attached to a shared ledger (``[remote]`` in ``config.toml``) commits through the
server instead: :meth:`Session.commit` hands the sealed body to its :class:`Remote`, whose
transaction on the server is then the commit point (the local append follows it, and a crash
between the two heals on the next pull). The kernel knows the remote only by this protocol;
the implementation, :mod:`core.team.replica`, is loaded by name when a workspace is attached,
because the team context sits above every other one and the kernel may not import it.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import tomllib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from core.kernel.catalog import Catalog
from core.kernel.errors import IntegrityError, NotFoundError, UsageError
from core.kernel.events import Event, ObjectRef, event_time, later_than
from core.kernel.paths import locate
from storage.fsutil import atomic_write, sweep_temp
from storage.ledger import Ledger, LedgerEntry
from storage.lock import writer_lock
from storage.objects import ObjectStore

T = TypeVar("T")
CONFIG = "config.toml"
REPLAY_BATCH = 50_000
REMOTE_MODULE = "core.team.replica"
"""Where the shared-ledger implementation lives (it provides ``attach(workspace)``)."""


class BehindError(Exception):
    """The shared ledger moved on since this session pulled: nothing was recorded.

    :func:`core.kernel.command.run` catches it, pulls, re-checks the command's preconditions
    and commits again.
    """


def _toml_value(value: Any) -> str:
    """One TOML value: a boolean, a number, a string, or a list of those (one line)."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    # A JSON string is a TOML basic string: quotes, backslashes and control characters
    # (a newline in a folder name) are escaped the same way.
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


def write_config(path: Path, config: dict[str, dict[str, Any]]) -> None:
    """Write a two-level TOML config atomically (sections of scalars and lists of them)."""
    lines = ["# ledgerml workspace settings. The ledger, not this file, is the record of", ""]
    lines[0] += " actors, roles and keys."
    for section, values in config.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
        lines.append("")
    atomic_write(path, "\n".join(lines).encode())


class Sealer(Protocol):
    """Signs events as one proven actor (:class:`core.identity.signer.Signer`)."""

    actor: str

    def seal(self, event: Event) -> bytes:
        """The stored body of ``event``: linked to the last authority event and signed."""

    def committed(self, entry: LedgerEntry) -> None:
        """Told of each appended event, to keep the authority pointer current."""


class Remote(Protocol):
    """A shared ledger this workspace replicates (:class:`core.team.replica.Replica`)."""

    def pull(self, session: Session) -> int:
        """Verify and apply what teammates recorded; return how many events came."""

    def turn(self) -> AbstractContextManager[None]:
        """Hold the server's append lock for one unit of work (after losing a few races)."""

    def publish(self, session: Session, body: bytes) -> LedgerEntry:
        """Commit one sealed event on the server, then locally.

        Raises:
            BehindError: if the server's head is not this replica's (nothing was recorded).
        """

    def fetch_key(
        self, session: Session, key_id: str, check: str, event: int, subject: str
    ) -> None:
        """Bring a data key this key store lacks from the server's wraps for this keyring.

        ``check`` is what the signed event ``event`` (of ``subject``) recorded of the key.

        Raises:
            IntegrityError: if the server's wrap opens to another key (a substitution).
            KeyStoreError: if nothing on the server is wrapped for a key this keyring holds.
        """


@dataclass
class Session:
    """One unit of work: the catalog is open and current, and the writer lock is held."""

    workspace: Workspace
    catalog: Catalog
    actor: str
    commits: int = 0
    commit_limit: int | None = None  # set by the command kernel: one event per command
    sealer: Sealer | None = None  # set by the identity guard once the actor's secret is proven
    decision: dict[str, Any] | None = None  # set by a policy gate: the next event carries it
    kept: dict[str, Any] = dataclasses.field(default_factory=dict)  # see :meth:`once`

    def once(self, name: str, make: Callable[[], T]) -> T:
        """The value ``make`` gave on this step's first attempt, made now if there was none.

        On a shared ledger a step runs again when a teammate's event took the next number
        (:func:`core.kernel.command.run` gives every attempt the same ``kept``): what must
        not be made twice — a key pair (an orphan in the keyring, a passphrase asked again),
        a random id a key is filed under — is made through here.
        """
        if name not in self.kept:
            self.kept[name] = make()
        return cast("T", self.kept[name])

    def put_blob(self, data: bytes, media_type: str) -> ObjectRef:
        """Store bytes in the object store before the event that refers to them."""
        digest = self.workspace.objects.put_bytes(data)
        return ObjectRef(digest, len(data), media_type)

    def commit(self, event: Event) -> LedgerEntry:
        """Append one event (the commit point) and project it into the catalog."""
        from core.kernel.projector import project

        if self.commit_limit is not None and self.commits >= self.commit_limit:
            raise RuntimeError(f"a second event ({event.action}) in one command; one is the rule")
        if self.sealer is None or self.sealer.actor != event.actor:
            raise RuntimeError(
                f"{event.action} by {event.actor!r} has no proven identity to sign it: "
                "commands commit through core.kernel.command.run with an identity guard"
            )
        if self.decision is not None and event.policy is None:
            event = dataclasses.replace(event, policy=self.decision)
        event = _dated_after_head(self.workspace, event)
        body = self.sealer.seal(event)
        remote = self.workspace.remote
        if remote is not None:
            entry = remote.publish(self, body)
        else:
            [entry] = self.workspace.ledger.append([body])
        self.sealer.committed(entry)
        self.commits += 1
        project(self.catalog, [entry])
        return entry


MAX_CLOCK_SKEW = timedelta(minutes=5)
"""How far behind the ledger's newest event a workstation's clock may be and still record."""


def _dated_after_head(ws: Workspace, event: Event) -> Event:
    """``event`` dated after the ledger's newest event, or refused if the clock is far behind.

    A signed event must be later than the one before it (so a replayed copy cannot pass as
    new, :mod:`core.audit.signatures`). One workstation's clock only moves forward, but a
    team's shared ledger interleaves several clocks, and an NTP step can move one back: an
    event from a clock slightly behind is dated one microsecond after the head instead,
    which stays true to the order the ledger gives. A clock minutes behind is a fault to fix,
    not to paper over: refused, saying by how much.
    """
    head = ws.ledger.tail()
    if head is None:
        return event
    before = event_time(head.body)
    if not before or event.ts > before:
        return event
    behind = _parse_ts(before) - _parse_ts(event.ts)
    if behind > MAX_CLOCK_SKEW:
        raise UsageError(
            f"this workstation's clock ({event.ts}) is {_span(behind)} behind the ledger's "
            f"newest event #{head.seq} ({before}): nothing was recorded",
            hint="Set the clock right (NTP) and run the command again; event times must "
            "move forward, and dating this one after a clock it disagrees with would be a "
            "guess.",
        )
    return dataclasses.replace(event, ts=later_than(event.ts, before))


def _parse_ts(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _span(delta: timedelta) -> str:
    minutes = delta.total_seconds() / 60
    return f"{minutes:.0f} minutes" if minutes < 120 else f"{minutes / 60:.1f} hours"


class Workspace:
    """An opened workspace folder."""

    def __init__(self, root: Path) -> None:
        """Bind to ``root`` unchecked; use :meth:`open` or :func:`core.audit.admin.init`."""
        self.root = root
        self.ledger = Ledger(root / "ledger")
        self.objects = ObjectStore(root / "objects")
        self.catalog_path = root / "catalog.duckdb"
        self.checkpoints_dir = root / "ledger" / "checkpoints"
        self.config: dict[str, Any] = {}
        self._remote: Remote | None = None

    @classmethod
    def open(cls, path: Path | str | None = None) -> Workspace:
        """Open an initialised workspace.

        Raises:
            NotFoundError: if there is no workspace there.
            UsageError: if its config cannot be read.
        """
        root = locate(path)
        ws = cls(root)
        if not (root / CONFIG).is_file() or ws.ledger.head()[0] == 0:
            raise NotFoundError(
                f"no ledgerml workspace at {root}",
                hint="Create one with `ledgerml init`, or point --workspace / "
                "LEDGERML_WORKSPACE at an existing one.",
            )
        ws.load_config()
        return ws

    def load_config(self) -> None:
        """Read ``config.toml``."""
        try:
            self.config = tomllib.loads((self.root / CONFIG).read_text())
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise UsageError(
                f"cannot read {self.root / CONFIG}: {err}",
                hint="Fix the file by hand or restore it; it holds only settings.",
            ) from err

    @property
    def workspace_id(self) -> str:
        """The workspace's random identity, fixed at init."""
        return str(self.config.get("workspace", {}).get("id", ""))

    @property
    def remote(self) -> Remote | None:
        """The shared ledger this workspace is attached to (``[remote] url``), or None."""
        if not self.setting("remote", "url"):
            self._remote = None
            return None
        if self._remote is None:
            self._remote = importlib.import_module(REMOTE_MODULE).attach(self)
        return self._remote

    def setting(self, section: str, key: str, default: str = "") -> str:
        """One setting from ``config.toml``."""
        return str(self.config.get(section, {}).get(key, default))

    @contextmanager
    def session(self, actor: str = "") -> Iterator[Session]:
        """Hold the workspace for one unit of work (see the module docstring)."""
        with writer_lock(self.root, actor):
            self.ledger.repair()
            self.sweep()
            catalog = Catalog.open(self.catalog_path)
            try:
                self.catch_up(catalog)
                yield Session(self, catalog, actor)
            finally:
                catalog.close()

    def sweep(self) -> int:
        """Remove what killed processes left: temporary files and ingest folders.

        Each is named after the process that made it (:func:`storage.fsutil.temp_prefix`), so
        those of a command still at work (an ingest computes without holding the workspace)
        stay. Runs under the writer lock, on every open; it reads four folders.
        """
        return sum(
            sweep_temp(folder)
            for folder in (self.root, self.objects.root, self.checkpoints_dir, self.root / "tmp")
        )

    def catch_up(self, catalog: Catalog, progress: Any = None) -> int:
        """Replay events the catalog has not applied yet; return how many were applied."""
        from core.kernel.projector import project

        rebuilt = catalog.ensure_schema()
        seq, seen_hash = catalog.applied()
        head, head_hash = self.ledger.head()
        if seq > head or (
            seq and seen_hash != (head_hash if seq == head else self.ledger.entry(seq).hash)
        ):
            raise IntegrityError(
                f"the catalog has applied event #{seq} with hash {seen_hash[:16]}…, "
                f"but the ledger's head is event #{head}"
                + ("" if seq > head else " and its event there differs")
                + ": the ledger was rolled back or rewritten",
                hint="Run `ledgerml audit verify` to locate the change; restore ledger/ "
                "from a backup. Do not rebuild: the catalog is the remaining witness.",
            )
        if not rebuilt and seq == head:
            return 0
        applied = 0
        batch: list[LedgerEntry] = []
        for entry in self.ledger.iter_entries(seq + 1):
            batch.append(entry)
            if len(batch) >= REPLAY_BATCH:
                project(catalog, batch)
                applied += len(batch)
                batch = []
                if progress is not None:
                    progress(applied, head - seq, "replaying events")
        if batch:
            project(catalog, batch)
            applied += len(batch)
        return applied

    def rebuild(self, progress: Any = None) -> int:
        """Drop the catalog and replay the whole ledger; return the number of events."""
        with writer_lock(self.root, "rebuild"):
            self.ledger.repair()
            catalog = Catalog.open(self.catalog_path)
            try:
                catalog.drop_all()
                return self.catch_up(catalog, progress)
            finally:
                catalog.close()
