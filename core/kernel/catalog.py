"""The catalog: the read model projected from the ledger, rebuildable at any time.

The connection handling (opening with a busy wait, transactions, generic row writes, the meta
table and its schema version) is :class:`storage.database.Database`; this subclass adds what
the domain asks of it: the projector's writes of events, edges and objects, and the typed
queries (``actor()``, ``key()``, ``snapshots()``…) the contexts read. One :class:`Catalog`
owns one DuckDB connection for one unit of work; the front doors never keep it across user
think-time, because a process holding the file read-write excludes every other process.

The schema is declared in :mod:`core.kernel.records` (SQLModel); its DDL (``schema.sql``) and
typed rows (:mod:`core.kernel.rows`) are generated from those declarations by
:mod:`core.kernel.schema_gen`, so opening a catalog never imports SQLModel or SQLAlchemy. The
schema version is a digest of the generated DDL: when it differs from the stored one, the
catalog is simply dropped and replayed from the ledger (it holds nothing the ledger does not),
so a changed declaration needs no migration and no hand-bumped version.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from core.kernel.row import Row
from core.kernel.rows import (
    TABLES,
    ActorRow,
    EdgeRow,
    EvaluationRow,
    EventRow,
    KeyRow,
    ModelRow,
    ObjectRow,
    ReproductionRow,
    RunRow,
    ScoreEvaluationRow,
    SignatureRow,
    SnapshotRow,
    ValidationRow,
)
from storage.database import Database, TableRow

SCHEMA_SQL = Path(__file__).with_name("schema.sql")
M = TypeVar("M", bound=Row)


class Catalog(Database):
    """A short-lived connection to ``catalog.duckdb`` with typed reads and projector writes."""

    SCHEMA_SQL: ClassVar[Path] = SCHEMA_SQL
    TABLES: ClassVar[tuple[type[TableRow], ...]] = TABLES

    # -- projector writes -----------------------------------------------------------------

    def insert_events(self, rows: Sequence[dict[str, Any]]) -> None:
        """Bulk-insert event rows (the event index)."""
        self.insert_many(
            EventRow.TABLE, EventRow.COLUMNS, rows, {"seq": "int64", "subjects": "list<string>"}
        )

    def put_edges(self, edges: Sequence[EdgeRow]) -> None:
        """Add lineage edges (an edge already present keeps its first event)."""
        for edge in edges:
            self.insert_or_ignore("edges", [edge.src, edge.dst, edge.relation, edge.seq])

    def put_object(self, row: ObjectRow) -> None:
        """Index a blob the first time an event refers to it."""
        self.insert_or_ignore("objects", [row.digest, row.size, row.media_type, row.seq])

    # -- reads ----------------------------------------------------------------------------

    def _rows(self, model: type[M], sql: str, params: Sequence[Any] = ()) -> list[M]:
        rows: list[M] = self.rows(model, sql, params)
        return rows

    def actor(self, name: str) -> ActorRow | None:
        """One actor by name."""
        rows = self._rows(ActorRow, "SELECT * FROM actors WHERE name = ?", [name])
        return rows[0] if rows else None

    def actors(self) -> list[ActorRow]:
        """All actors, by name."""
        return self._rows(ActorRow, "SELECT * FROM actors ORDER BY name")

    def key(self, key_id: str) -> KeyRow | None:
        """One key by its full id."""
        rows = self._rows(KeyRow, "SELECT * FROM keys WHERE key_id = ?", [key_id])
        return rows[0] if rows else None

    def keys_matching(self, text: str) -> list[KeyRow]:
        """Keys whose id starts with ``text`` or whose label equals it."""
        return self._rows(
            KeyRow,
            "SELECT * FROM keys WHERE starts_with(key_id, ?) OR label = ? ORDER BY created_seq",
            [text, text],
        )

    def keys_of(self, actor: str | None = None) -> list[KeyRow]:
        """All keys, or one actor's, oldest first."""
        if actor is None:
            return self._rows(KeyRow, "SELECT * FROM keys ORDER BY created_seq")
        return self._rows(
            KeyRow, "SELECT * FROM keys WHERE actor = ? ORDER BY created_seq", [actor]
        )

    def first_unhashed_event(self) -> int | None:
        """The first event whose stored body and chain do not give its stored hash.

        Each row holds the exact ledger line's parts, so the catalog's copy of the ledger can
        be checked on its own, in DuckDB, without reading the ledger again.
        """
        row = self.con.execute(
            "SELECT seq FROM (SELECT seq, hash, body, "
            "lag(hash, 1, repeat('0', 64)) OVER (ORDER BY seq) AS prev FROM events) "
            "WHERE sha256(CAST(seq AS VARCHAR) || ' ' || prev || ' ' || body) <> hash "
            "ORDER BY seq LIMIT 1"
        ).fetchone()
        return int(row[0]) if row else None

    def event_bodies(self, seqs: list[int]) -> dict[int, bytes]:
        """The stored bodies of some events, by number (those the catalog holds)."""
        if not seqs:
            return {}
        rows = self.con.execute(
            "SELECT seq, body FROM events WHERE seq IN (SELECT unnest(?::BIGINT[]))", [seqs]
        ).fetchall()
        return {int(r[0]): str(r[1]).encode() for r in rows}

    def events(
        self,
        *,
        since: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        subject: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[EventRow]:
        """Events matching every given filter (``action`` matches a prefix, e.g. ``key.``)."""
        where, params = ["TRUE"], []
        if since:
            where.append("ts >= ?")
            params.append(since)
        if actor:
            where.append("actor = ?")
            params.append(actor)
        if action:
            where.append("(action = ? OR starts_with(action, ?))")
            params += [action, action.rstrip(".") + "."]
        if subject:
            where.append("list_contains(subjects, ?)")
            params.append(subject)
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT * FROM events WHERE {' AND '.join(where)} ORDER BY seq {order}"
        if limit is not None:
            # DuckDB's LIMIT is a BIGINT; a larger one asks for every event anyway.
            sql += f" LIMIT {min(int(limit), 2**63 - 1)}"
        return self._rows(EventRow, sql, params)

    def snapshot(self, ref: str) -> SnapshotRow | None:
        """One snapshot by ``dataset@version``."""
        rows = self._rows(SnapshotRow, "SELECT * FROM snapshots WHERE ref = ?", [ref])
        return rows[0] if rows else None

    def snapshots(self, dataset: str | None = None) -> list[SnapshotRow]:
        """All snapshots, or one dataset's, by dataset then version."""
        if dataset is None:
            return self._rows(SnapshotRow, "SELECT * FROM snapshots ORDER BY dataset, version")
        return self._rows(
            SnapshotRow, "SELECT * FROM snapshots WHERE dataset = ? ORDER BY version", [dataset]
        )

    def snapshots_by_digest(self, prefix: str) -> list[SnapshotRow]:
        """Snapshots whose table, raw or Parquet digest starts with ``prefix``."""
        return self._rows(
            SnapshotRow,
            "SELECT * FROM snapshots WHERE starts_with(table_digest, ?) "
            "OR starts_with(raw_digest, ?) OR starts_with(parquet_digest, ?) ORDER BY ref",
            [prefix, prefix, prefix],
        )

    def validations(self, snapshot: str | None = None) -> list[ValidationRow]:
        """Recorded validation runs, oldest first."""
        if snapshot is None:
            return self._rows(ValidationRow, "SELECT * FROM validations ORDER BY seq")
        return self._rows(
            ValidationRow, "SELECT * FROM validations WHERE snapshot = ? ORDER BY seq", [snapshot]
        )

    def run(self, run_id: str) -> RunRow | None:
        """One training run by id (``run:`` prefix optional, unique id prefix allowed)."""
        rid = run_id.removeprefix("run:")
        rows = self._rows(
            RunRow, "SELECT * FROM runs WHERE starts_with(run_id, ?) ORDER BY seq", [rid]
        )
        exact = [r for r in rows if r.run_id == rid]
        return exact[0] if exact else rows[0] if len(rows) == 1 else None

    def runs(self) -> list[RunRow]:
        """All runs, oldest first."""
        return self._rows(RunRow, "SELECT * FROM runs ORDER BY seq")

    def model(self, ref: str) -> ModelRow | None:
        """One model version by ``name@version``."""
        rows = self._rows(ModelRow, "SELECT * FROM models WHERE ref = ?", [ref])
        return rows[0] if rows else None

    def models(self, name: str | None = None) -> list[ModelRow]:
        """All model versions, or one model's."""
        if name is None:
            return self._rows(ModelRow, "SELECT * FROM models ORDER BY name, version")
        return self._rows(ModelRow, "SELECT * FROM models WHERE name = ? ORDER BY version", [name])

    def signatures(self, subject: str) -> list[SignatureRow]:
        """Signatures recorded over a subject (``model:name@version``), oldest first."""
        return self._rows(
            SignatureRow, "SELECT * FROM signatures WHERE subject = ? ORDER BY seq", [subject]
        )

    def model_inventory(self, limit: int) -> list[dict[str, Any]]:
        """The newest model versions, with metrics, signatures, gate and latest evaluation.

        One query, for the workstation's overview. The gate is the validation the training run
        was admitted by; its state is the newest result of that suite on the same snapshot.
        """
        cur = self.con.execute(
            """
            WITH gate AS (
                SELECT substr(g.src, 5) AS run_id, v.snapshot, v.suite_name
                FROM edges g JOIN validations v ON g.dst = 'validation:' || v.seq
                WHERE g.relation = 'gated-by'
            ), latest AS (
                SELECT snapshot, suite_name, passed, errors, warnings,
                       row_number() OVER (PARTITION BY snapshot, suite_name ORDER BY seq DESC)
                           AS k
                FROM validations
            )
            SELECT m.ref, m.run_id, m.created_at, r.metrics,
                   (SELECT count(*) FROM signatures s WHERE s.subject = 'model:' || m.ref)
                       AS signatures,
                   (SELECT count(*) FROM signatures s JOIN keys k ON k.key_id = s.key_id
                    WHERE s.subject = 'model:' || m.ref AND k.status = 'revoked')
                       AS revoked_signatures,
                   g.suite_name AS gate_suite, l.passed AS gate_passed,
                   l.errors AS gate_errors, l.warnings AS gate_warnings,
                   e.passed AS evaluation_passed, e.errors AS evaluation_errors,
                   e.warnings AS evaluation_warnings, e.verdict AS evaluation_verdict
            FROM models m
            LEFT JOIN runs r ON r.run_id = m.run_id
            LEFT JOIN gate g ON g.run_id = m.run_id
            LEFT JOIN latest l
                ON l.snapshot = g.snapshot AND l.suite_name = g.suite_name AND l.k = 1
            LEFT JOIN (SELECT model, passed, errors, warnings, verdict,
                              row_number() OVER (PARTITION BY model ORDER BY seq DESC) AS k
                       FROM evaluations) e ON e.model = m.ref AND e.k = 1
            ORDER BY m.seq DESC
            LIMIT ?
            """,
            [limit],
        )
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def evaluations(self, model: str) -> list[EvaluationRow]:
        """Recorded evaluations of a model version, oldest first."""
        return self._rows(
            EvaluationRow, "SELECT * FROM evaluations WHERE model = ? ORDER BY seq", [model]
        )

    def score_evaluations(self, subject: str | None = None) -> list[ScoreEvaluationRow]:
        """Recorded evaluations of existing scores (of one ``score:`` subject), oldest first."""
        if subject is None:
            return self._rows(ScoreEvaluationRow, "SELECT * FROM score_evaluations ORDER BY seq")
        return self._rows(
            ScoreEvaluationRow,
            "SELECT * FROM score_evaluations WHERE subject = ? ORDER BY seq",
            [subject],
        )

    def reproductions(self, run_id: str) -> list[ReproductionRow]:
        """Reproduction outcomes of a run."""
        return self._rows(
            ReproductionRow, "SELECT * FROM reproductions WHERE run_id = ? ORDER BY seq", [run_id]
        )

    def lineage(self, node: str, *, down: bool = False, depth: int = 50) -> list[EdgeRow]:
        """Edges reachable from ``node`` upstream (what it derives from) or downstream.

        One recursive query over the generic edges table; cycles cannot occur because every
        edge points from a newer record to an older one.
        """
        near, far = ("dst", "src") if down else ("src", "dst")
        return self._rows(
            EdgeRow,
            f"""
            WITH RECURSIVE walk(src, dst, relation, seq, depth) AS (
                SELECT src, dst, relation, seq, 1 FROM edges WHERE {near} = ?
                UNION
                SELECT e.src, e.dst, e.relation, e.seq, w.depth + 1
                FROM edges e JOIN walk w ON e.{near} = w.{far}
                WHERE w.depth < ?
            )
            SELECT DISTINCT src, dst, relation, seq FROM walk ORDER BY seq, src, dst
            """,
            [node, depth],
        )

    def edges_from(self, src: str) -> list[EdgeRow]:
        """Lineage edges leaving ``src``."""
        return self._rows(EdgeRow, "SELECT * FROM edges WHERE src = ? ORDER BY seq, dst", [src])

    def event_hashes(self, first: int = 1, last: int | None = None) -> list[str]:
        """Indexed event hashes from ``first`` to ``last``, in order."""
        rows = self.con.execute(
            "SELECT hash FROM events WHERE seq >= ? AND seq <= ? ORDER BY seq",
            [first, last if last is not None else 2**62],
        ).fetchall()
        return [r[0] for r in rows]

    def segment_digests(self, segment_size: int) -> dict[int, tuple[int, str]]:
        """Per ledger segment: how many events the catalog holds and the digest of their hashes.

        The same digest as ``storage.ledger_scan.hashes_digest``, computed inside DuckDB, so the
        witness comparison moves one row per segment instead of every hash.
        """
        rows = self.con.execute(
            "SELECT (seq - 1) // ? AS seg, count(*), sha256(string_agg(hash, '' ORDER BY seq)) "
            "FROM events GROUP BY seg",
            [segment_size],
        ).fetchall()
        return {int(seg): (int(n), str(digest)) for seg, n, digest in rows}
