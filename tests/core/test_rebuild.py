"""The catalog is an index: dropping it and replaying the ledger gives the same answers."""

from __future__ import annotations

import duckdb

from core.audit import log
from core.identity import keys
from core.kernel.catalog import Catalog
from core.kernel.workspace import Workspace


def dump(ws: Workspace) -> dict:
    catalog = Catalog.open(ws.catalog_path)
    try:
        return catalog.dump()
    finally:
        catalog.close()


def test_rebuild_gives_an_identical_catalog(ws: Workspace) -> None:
    key, _ = keys.create(ws, "alice", owner="sam", label="sam-second")
    keys.rotate(ws, "alice", key.key_id, reason="r")
    keys.revoke(ws, "alice", keys.list_keys(ws, owner="sam")[-1].key_id, reason="x")
    before = dump(ws)
    assert ws.rebuild() == ws.ledger.head()[0]
    assert dump(ws) == before
    ws.catalog_path.unlink()
    assert len(log.log(ws)) == ws.ledger.head()[0]  # the next unit of work replays
    assert dump(ws) == before


def test_a_catalog_behind_the_ledger_heals_on_open(ws: Workspace) -> None:
    before = dump(ws)
    con = duckdb.connect(str(ws.catalog_path))
    con.execute("DELETE FROM events WHERE seq = 3")
    con.execute("DELETE FROM actors WHERE name = 'sam'")
    con.execute("UPDATE catalog_meta SET value = '2' WHERE key = 'last_seq'")
    con.execute(
        "UPDATE catalog_meta SET value = (SELECT hash FROM events WHERE seq = 2) "
        "WHERE key = 'last_hash'"
    )
    con.close()
    with ws.session("alice"):
        pass
    assert dump(ws) == before
