"""The workstation's ledger tab on an attached workspace: the shared ledger's heads, and a
teammate's event appearing after a sync (the real app, driven by its Pilot)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Static

from app.tui.app import LedgerApp
from core.identity import actors
from core.kernel.workspace import Workspace
from core.team import remotes
from tests.tui.test_app import settle


async def test_the_ledger_tab_shows_the_shared_ledger(
    ws: Workspace, shared_db: str, tmp_path: Path
) -> None:
    remotes.add(ws, "alice", "origin", shared_db)
    teammate = remotes.clone(shared_db, tmp_path / "b")
    actors.add(teammate, "alice", "val", ["validator"])  # recorded at the other workstation
    app = LedgerApp(Workspace.open(ws.root), actor="alice")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        await pilot.press("5")
        await settle(app, pilot)
        line = str(app.query_one("#verify-result", Static).render())
        assert "shared ledger origin" in line and "1 new on the server" in line
        table = app.query_one("#events", DataTable)
        assert str(ws.ledger.head()[0] + 1) not in [str(k.value) for k in table.rows]
        remotes.sync(Workspace.open(ws.root), "bob")
        await pilot.press("r")
        await settle(app, pilot)
        await pilot.press("5")
        await settle(app, pilot)
        line = str(app.query_one("#verify-result", Static).render())
        assert "current" in line and "last sync" in line
        keys = [str(k.value) for k in app.query_one("#events", DataTable).rows]
        assert str(teammate.ledger.head()[0]) in keys  # the teammate's event, now here
