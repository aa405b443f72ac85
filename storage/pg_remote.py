"""The shared ledger on a PostgreSQL server: sequenced appends, event and object transfer.

This module only moves bytes; it trusts nothing it reads (the workstation verifies every event
and object before applying it, :mod:`core.team.sync`) and it cannot sign anything (events are
sealed by their actors before they get here). What the server *does* decide is the order:

- ``ledger_events(seq, prev, hash, body)`` holds the shared log, one row per event, the same
  lines as a workstation's ledger segments. :meth:`PgRemote.append` takes the next numbers in
  one transaction, and only if the caller's view of the head is the server's head: the
  primary key on ``seq`` and a transaction-scoped advisory lock make two writers never take
  the same number, so the shared log never forks; a stale writer gets :class:`StaleHeadError` and
  pulls first. The server's ``COMMIT`` is the commit point of an attached workstation.
- ``ledger_objects`` / ``ledger_object_chunks`` hold blobs in 1 MiB ``bytea`` chunks, streamed
  both ways (never whole in memory), named by their SHA-256; a blob is visible (``complete``)
  only once all its chunks are in, so a killed upload is inert and the next one finishes it.
- ``ledger_cosignatures`` holds the checkpoints workstations cosigned (their text and who
  signed), which every workstation compares with its own replica on each sync.
- ``ledger_key_wraps(key_id, recipient, blob)`` holds each encrypted object's data key
  wrapped for each reader's recipient key (:mod:`core.team.key_share`). Not in the ledger,
  which can never be rewritten: an erasure deletes these rows (:meth:`PgRemote.delete_wraps`),
  and a key is unrecoverable once no row and no workstation's key store holds it. A
  database administrator can read, swap or withhold a wrap; only the recipient's private key
  opens it, and the workstation checks what it opens against the signed event's check value.

Chunked ``bytea`` rather than large objects: large objects live outside the table's
transactional rows (``lo_unlink`` is needed to free them, and ``pg_dump`` handles them apart),
while chunk rows are ordinary rows a ``DELETE`` or a dump handles like any other.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, Protocol

from storage import failpoints
from storage.errors import UsageError

CHUNK = 1 << 20
_LOCK_KEY = 0x6C65_6467  # "ledg": the advisory lock every append takes
SCHEMA_VERSION = 1
LOCK_TIMEOUT_S = 60  # how long a writer waits for a teammate's turn before giving up

_WRAPS_DDL = """
CREATE TABLE IF NOT EXISTS ledger_key_wraps (
    key_id text NOT NULL,
    recipient text NOT NULL,
    blob bytea NOT NULL,
    pushed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key_id, recipient)
);
"""
_DDL = (
    """
CREATE TABLE IF NOT EXISTS ledger_meta (
    key text PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_events (
    seq bigint PRIMARY KEY CHECK (seq > 0),
    prev text NOT NULL,
    hash text NOT NULL UNIQUE,
    body bytea NOT NULL,
    pushed_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ledger_objects (
    digest text PRIMARY KEY,
    size bigint NOT NULL,
    complete boolean NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS ledger_object_chunks (
    digest text NOT NULL REFERENCES ledger_objects (digest) ON DELETE CASCADE,
    n integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (digest, n)
);
CREATE TABLE IF NOT EXISTS ledger_cosignatures (
    size bigint NOT NULL,
    key_id text NOT NULL,
    actor text NOT NULL,
    note text NOT NULL,
    pushed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (size, key_id)
);
"""
    + _WRAPS_DDL
)


class Sink(Protocol):
    """Where a downloaded object goes (a file, or a staged object-store file)."""

    def write(self, data: bytes) -> int:
        """Take the next bytes."""


class RemoteError(UsageError):
    """The server could not be reached or refused a request (no state changed locally)."""

    default_title = "Shared ledger unavailable"


class StaleHeadError(Exception):
    """The server's head moved on since the caller last pulled: pull, re-check, retry."""

    def __init__(self, size: int, head: str) -> None:
        """The server's head as it was when the append was refused."""
        super().__init__(f"the shared ledger is at event #{size} ({head[:12]}…)")
        self.size, self.head = size, head


@dataclass(frozen=True)
class Row:
    """One event as the server holds it (unverified)."""

    seq: int
    prev: str
    hash: str
    body: bytes


@dataclass(frozen=True)
class Cosignature:
    """A checkpoint a workstation cosigned, as the server holds it (unverified)."""

    size: int
    key_id: str
    actor: str
    note: str


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as err:  # pragma: no cover - a dependency in pyproject.toml
        raise RemoteError("psycopg is not installed", hint="pip install 'psycopg[binary]'") from err
    return psycopg


class PgRemote:
    """A connection to one shared ledger (a PostgreSQL database), opened per unit of work."""

    def __init__(self, url: str, *, connect_timeout: int = 5) -> None:
        """Remember ``url`` (``postgresql://…``); nothing is contacted yet."""
        self.url = url
        self.connect_timeout = connect_timeout
        self._conn: Any = None
        self._wraps_ready = False

    # ---- connection -----------------------------------------------------------------------

    def connect(self) -> Any:
        """Open the connection (once).

        Raises:
            RemoteError: if the server cannot be reached, naming it without its password.
        """
        if self._conn is not None:
            return self._conn
        psycopg = _psycopg()
        try:
            # Autocommit: every unit of work is an explicit ``transaction()``, and a session
            # lock (:meth:`turn`) can be held between them on the same connection.
            self._conn = psycopg.connect(
                self.url, connect_timeout=self.connect_timeout, autocommit=True
            )
            self._conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT_S}s'")
        except psycopg.Error as err:
            raise RemoteError(
                f"cannot reach the shared ledger at {redact(self.url)}: {_first_line(err)}",
                hint="Check that the server runs and the URL is right; this workstation's "
                "replica stays readable offline (`ledgerml status`, `audit verify`).",
            ) from err
        return self._conn

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        self._wraps_ready = False

    def __enter__(self) -> PgRemote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Any]:
        """One transaction; a server failure inside becomes a :class:`RemoteError`."""
        psycopg = _psycopg()
        conn = self.connect()
        try:
            with conn.transaction(), conn.cursor() as cur:
                yield cur
        except psycopg.Error as err:
            self.close()
            raise RemoteError(
                f"the shared ledger at {redact(self.url)} failed a request: {_first_line(err)}",
                hint="Nothing was applied locally; run the command again.",
            ) from err

    # ---- schema ---------------------------------------------------------------------------

    def create_schema(self, workspace_id: str) -> None:
        """Create the tables and bind the database to one workspace (idempotent).

        Raises:
            RemoteError: if the database already holds another workspace's ledger.
        """
        with self._tx() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            cur.execute(_DDL)
            cur.execute(
                "INSERT INTO ledger_meta (key, value) VALUES ('workspace_id', %s), "
                "('schema', %s) ON CONFLICT (key) DO NOTHING",
                (workspace_id, str(SCHEMA_VERSION)),
            )
            cur.execute("SELECT value FROM ledger_meta WHERE key = 'workspace_id'")
            bound = cur.fetchone()[0]
        if bound != workspace_id:
            raise RemoteError(
                f"the shared ledger at {redact(self.url)} belongs to workspace {bound}, "
                f"not {workspace_id}",
                hint="Attach to a new, empty database, or clone this one with `ledgerml clone`.",
            )

    def workspace_id(self) -> str:
        """The workspace this database holds.

        Raises:
            RemoteError: if it holds none (not published yet).
        """
        with self._tx() as cur:
            cur.execute("SELECT to_regclass('ledger_meta') IS NOT NULL")
            if not cur.fetchone()[0]:
                raise RemoteError(
                    f"{redact(self.url)} holds no shared ledger yet",
                    hint="Publish one from a workstation with `ledgerml remote add NAME URL`.",
                )
            cur.execute("SELECT value FROM ledger_meta WHERE key = 'workspace_id'")
            row = cur.fetchone()
        return str(row[0]) if row else ""

    # ---- events ---------------------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        """``(size, hash of the last event)`` as the server says; ``(0, zeros)`` if empty."""
        with self._tx() as cur:
            cur.execute("SELECT seq, hash FROM ledger_events ORDER BY seq DESC LIMIT 1")
            row = cur.fetchone()
        return (int(row[0]), str(row[1])) if row else (0, "0" * 64)

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the append lock for a whole unit of work (pull, checks, append).

        Appends are optimistic: most commands pull, check and append without waiting for
        anyone, and a stale one retries. Under contention a workstation could lose every
        race, so after a few losses the command kernel takes a turn: teammates' appends wait
        (at most ``LOCK_TIMEOUT_S``) until it has appended. The lock is a session-level
        advisory lock, which the server releases if this connection dies.
        """
        psycopg = _psycopg()
        conn = self.connect()
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        except psycopg.Error as err:
            self.close()
            raise RemoteError(
                f"the shared ledger at {redact(self.url)} did not give this workstation its "
                f"turn to record: {_first_line(err)}",
                hint="A teammate's command holds it; run the command again.",
            ) from err
        try:
            yield
        finally:
            if self._conn is conn:
                with contextlib.suppress(psycopg.Error):
                    conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))

    def append(self, expected: tuple[int, str], lines: Sequence[Row]) -> None:
        """Append ``lines`` after ``expected`` (the caller's head) in one transaction.

        Raises:
            StaleHeadError: if the server's head is not ``expected`` (nothing was written).
            RemoteError: if the server failed (nothing was written).
        """
        psycopg = _psycopg()
        conn = self.connect()
        try:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                cur.execute("SELECT seq, hash FROM ledger_events ORDER BY seq DESC LIMIT 1")
                row = cur.fetchone()
                head = (int(row[0]), str(row[1])) if row else (0, "0" * 64)
                if head != expected:
                    raise StaleHeadError(*head)
                cur.executemany(
                    "INSERT INTO ledger_events (seq, prev, hash, body) VALUES (%s, %s, %s, %s)",
                    [(r.seq, r.prev, r.hash, r.body) for r in lines],
                )
                failpoints.hit("remote.before-commit")
        except psycopg.errors.UniqueViolation as err:  # a writer that took no lock
            self.close()
            raise StaleHeadError(*self.head()) from err
        except psycopg.Error as err:
            self.close()
            raise RemoteError(
                f"the shared ledger at {redact(self.url)} did not take the event: "
                f"{_first_line(err)}",
                hint="Nothing was recorded; run the command again.",
            ) from err
        failpoints.hit("remote.after-commit")

    def events(self, after: int, limit: int = 10_000) -> list[Row]:
        """Events numbered above ``after``, in order, at most ``limit`` (unverified)."""
        with self._tx() as cur:
            cur.execute(
                "SELECT seq, prev, hash, body FROM ledger_events WHERE seq > %s "
                "ORDER BY seq LIMIT %s",
                (after, limit),
            )
            return [Row(int(s), str(p), str(h), bytes(b)) for s, p, h, b in cur.fetchall()]

    def events_starting(self, after: int, prefix: bytes) -> list[Row]:
        """Events above ``after`` whose body starts with ``prefix`` (unverified; a look-ahead)."""
        with self._tx() as cur:
            cur.execute(
                "SELECT seq, prev, hash, body FROM ledger_events WHERE seq > %s "
                "AND substring(body from 1 for %s) = %s ORDER BY seq",
                (after, len(prefix), prefix),
            )
            return [Row(int(s), str(p), str(h), bytes(b)) for s, p, h, b in cur.fetchall()]

    def event_hash(self, seq: int) -> str | None:
        """The hash the server holds for event ``seq``, or None."""
        with self._tx() as cur:
            cur.execute("SELECT hash FROM ledger_events WHERE seq = %s", (seq,))
            row = cur.fetchone()
        return str(row[0]) if row else None

    # ---- objects --------------------------------------------------------------------------

    def missing(self, digests: Sequence[str]) -> list[str]:
        """Which of ``digests`` the server holds no complete copy of."""
        if not digests:
            return []
        with self._tx() as cur:
            cur.execute(
                "SELECT digest FROM ledger_objects WHERE complete AND digest = ANY(%s)",
                (list(digests),),
            )
            have = {str(r[0]) for r in cur.fetchall()}
        return [d for d in digests if d not in have]

    def put_object(self, digest: str, size: int, source: IO[bytes]) -> None:
        """Upload a blob from ``source``, a chunk per transaction; the caller vouches for it.

        A chunk already on the server (an upload killed part-way) is skipped, so an upload
        resumes where it stopped; the blob is marked complete only after its last chunk.
        """
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO ledger_objects (digest, size) VALUES (%s, %s) "
                "ON CONFLICT (digest) DO NOTHING",
                (digest, size),
            )
            cur.execute("SELECT n FROM ledger_object_chunks WHERE digest = %s", (digest,))
            have = {int(r[0]) for r in cur.fetchall()}
        n = 0
        while True:
            chunk = source.read(CHUNK)
            if not chunk and n:
                break
            if n not in have:
                with self._tx() as cur:
                    cur.execute(
                        "INSERT INTO ledger_object_chunks (digest, n, data) VALUES (%s, %s, %s) "
                        "ON CONFLICT DO NOTHING",
                        (digest, n, chunk),
                    )
                failpoints.hit("remote.object-chunk")
            n += 1
            if not chunk:
                break
        with self._tx() as cur:
            cur.execute("UPDATE ledger_objects SET complete = true WHERE digest = %s", (digest,))

    def get_object(self, digest: str, sink: Sink) -> tuple[int, str]:
        """Stream a blob into ``sink``, a chunk at a time; return ``(size, sha256)`` of what came.

        Raises:
            RemoteError: if the server holds no complete copy.
        """
        with self._tx() as cur:
            cur.execute(
                "SELECT count(*) FROM ledger_object_chunks c JOIN ledger_objects o "
                "USING (digest) WHERE digest = %s AND o.complete",
                (digest,),
            )
            chunks = int(cur.fetchone()[0])
        if not chunks:
            raise RemoteError(
                f"the shared ledger holds no copy of object {digest[:16]}…",
                hint="The workstation that recorded it has not pushed it; ask them to sync.",
            )
        hasher, size = hashlib.sha256(), 0
        for n in range(chunks):
            with self._tx() as cur:
                cur.execute(
                    "SELECT data FROM ledger_object_chunks WHERE digest = %s AND n = %s",
                    (digest, n),
                )
                row = cur.fetchone()
            if row is None:
                break
            data = bytes(row[0])
            hasher.update(data)
            size += len(data)
            sink.write(data)
        return size, hasher.hexdigest()

    # ---- cosigned checkpoints -------------------------------------------------------------

    def put_cosignature(self, cosig: Cosignature) -> None:
        """Publish a workstation's cosigned checkpoint (the same one twice is a no-op)."""
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO ledger_cosignatures (size, key_id, actor, note) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (size, key_id) DO NOTHING",
                (cosig.size, cosig.key_id, cosig.actor, cosig.note),
            )

    def cosignatures(self, since: int = 0) -> list[Cosignature]:
        """Cosigned checkpoints of sizes above ``since`` (unverified)."""
        with self._tx() as cur:
            cur.execute(
                "SELECT size, key_id, actor, note FROM ledger_cosignatures WHERE size > %s "
                "ORDER BY size, key_id",
                (since,),
            )
            return [Cosignature(int(s), str(k), str(a), str(n)) for s, k, a, n in cur.fetchall()]

    # ---- wrapped data keys ----------------------------------------------------------------

    def _wraps_table(self, cur: Any) -> None:
        # A server published before wrapped keys existed gets the table on first use.
        if not self._wraps_ready:
            cur.execute(_WRAPS_DDL)
            self._wraps_ready = True

    def put_wraps(self, wraps: Sequence[tuple[str, str, bytes]]) -> None:
        """Store ``(key_id, recipient fingerprint, blob)`` rows (an existing pair is kept)."""
        if not wraps:
            return
        with self._tx() as cur:
            self._wraps_table(cur)
            cur.executemany(
                "INSERT INTO ledger_key_wraps (key_id, recipient, blob) VALUES (%s, %s, %s) "
                "ON CONFLICT (key_id, recipient) DO NOTHING",
                list(wraps),
            )

    def wrapped(self, key_ids: Sequence[str]) -> set[tuple[str, str]]:
        """Which ``(key_id, recipient)`` pairs among ``key_ids`` the server holds a wrap of."""
        if not key_ids:
            return set()
        with self._tx() as cur:
            self._wraps_table(cur)
            cur.execute(
                "SELECT key_id, recipient FROM ledger_key_wraps WHERE key_id = ANY(%s)",
                (list(key_ids),),
            )
            return {(str(k), str(r)) for k, r in cur.fetchall()}

    def wraps(self, key_id: str, recipients: Sequence[str]) -> list[tuple[str, bytes]]:
        """The ``(recipient, blob)`` wraps of ``key_id`` for ``recipients`` (unverified)."""
        if not recipients:
            return []
        with self._tx() as cur:
            self._wraps_table(cur)
            cur.execute(
                "SELECT recipient, blob FROM ledger_key_wraps WHERE key_id = %s "
                "AND recipient = ANY(%s) ORDER BY recipient",
                (key_id, list(recipients)),
            )
            return [(str(r), bytes(b)) for r, b in cur.fetchall()]

    def delete_wraps(self, key_ids: Sequence[str]) -> int:
        """Delete every wrap of ``key_ids`` (an erasure's keys); how many rows went."""
        if not key_ids:
            return 0
        with self._tx() as cur:
            self._wraps_table(cur)
            cur.execute("DELETE FROM ledger_key_wraps WHERE key_id = ANY(%s)", (list(key_ids),))
            return int(cur.rowcount)


def _first_line(err: Exception) -> str:
    """The server's message without its detail lines (they can quote a row's values)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def redact(url: str) -> str:
    """``url`` without its password (for messages and ``status``)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, at, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}{':***' if ':' in creds else ''}{at}{host}"
