"""Reveal: a PII column's top values, for stewards and auditors only, recorded before shown."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pandas as pd
import pytest
from textual.widgets import Input, Static
from textual.worker import WorkerCancelled

from app.tui.app import LedgerApp
from app.tui.dialogs import RevealDialog, RevealedDialog
from core.data import reveal, snapshots
from core.identity import actors
from core.kernel.errors import PermissionDeniedError, UsageError
from core.kernel.workspace import Workspace


@pytest.fixture
def pii_ws(ws: Workspace, tmp_path: Path) -> Workspace:
    """Alice (admin), bob (auditor), sam (data scientist), stella (steward); a PII table."""
    names = [f"Ottoline Wix-{i % 7}" for i in range(40)]
    pd.DataFrame({"name": names, "score": range(40)}).to_csv(tmp_path / "p.csv", index=False)
    actors.add(ws, "alice", "stella", ["data-steward"])
    snapshots.add(ws, "stella", tmp_path / "p.csv", dataset="people", pii=["name"])
    return ws


def _reveals(ws: Workspace) -> list[dict[str, object]]:
    with ws.session() as s:
        return [json.loads(e.body) for e in s.catalog.events(action="data.reveal")]


def test_only_stewards_and_auditors_reveal_and_every_reveal_is_recorded(
    pii_ws: Workspace, tmp_path: Path
) -> None:
    for who in ("sam", "alice"):  # a data scientist; an admin without a data role
        with pytest.raises(PermissionDeniedError):
            reveal.reveal(pii_ws, who, "people@1", "name", reason="curious")
    with pytest.raises(UsageError, match="needs a reason"):
        reveal.reveal(pii_ws, "stella", "people@1", "name", reason="  ")
    with pytest.raises(UsageError, match="not a PII column"):
        reveal.reveal(pii_ws, "stella", "people@1", "score", reason="check")
    assert _reveals(pii_ws) == []
    shown = reveal.reveal(pii_ws, "bob", "people@1", "name", reason="is the PII tag right?")
    expected = pd.read_csv(tmp_path / "p.csv")["name"].value_counts()
    assert dict(shown.values) == {k: int(v) for k, v in expected.items()}
    [body] = _reveals(pii_ws)
    assert body["actor"] == "bob" and body["reason"] == "is the PII tag right?"
    assert body["data"] == {"snapshot": "people@1", "column": "name"}  # never the values
    assert "Wix" not in json.dumps(body)


async def _settle(app: LedgerApp, pilot) -> None:  # type: ignore[no-untyped-def]
    for _ in range(50):
        with contextlib.suppress(WorkerCancelled):
            await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.is_running for w in app.workers):
            return
    raise AssertionError("workers kept running")


async def _open_reveal(app: LedgerApp, pilot) -> None:  # type: ignore[no-untyped-def]
    await _settle(app, pilot)
    await pilot.press("2")
    await _settle(app, pilot)
    app.query_one("#snapshot-table").focus()
    await _settle(app, pilot)
    info = str(app.query_one("#snapshot-info", Static).render())
    assert "values withheld (PII)" in info and "Wix" not in info
    await pilot.press("R")
    await _settle(app, pilot)
    assert isinstance(app.screen, RevealDialog)


async def test_the_tui_reveals_after_a_reason_and_records_it(pii_ws: Workspace) -> None:
    app = LedgerApp(pii_ws, actor="stella")
    async with app.run_test(size=(120, 40)) as pilot:
        await _open_reveal(app, pilot)
        app.screen.query_one("#reason", Input).value = "checking the intake"
        await pilot.press("enter")
        await _settle(app, pilot)
        assert isinstance(app.screen, RevealedDialog)
        assert "Ottoline Wix-0" in app.screen.detail
    [body] = _reveals(pii_ws)
    assert body["actor"] == "stella" and body["reason"] == "checking the intake"


async def test_the_tui_refuses_a_reveal_without_reason_or_role(pii_ws: Workspace) -> None:
    app = LedgerApp(pii_ws, actor="sam")
    async with app.run_test(size=(120, 40)) as pilot:
        await _open_reveal(app, pilot)
        await pilot.press("enter")  # no reason: the dialog stays
        await _settle(app, pilot)
        assert isinstance(app.screen, RevealDialog)
        app.screen.query_one("#reason", Input).value = "just looking"
        await pilot.press("enter")
        await _settle(app, pilot)
        assert not isinstance(app.screen, RevealedDialog)
    assert _reveals(pii_ws) == []


async def test_the_palette_finds_reveal_and_it_asks_as_the_key_does(pii_ws: Workspace) -> None:
    """The palette lists the tabs' own actions too (before, only the app's keys): typing
    "reveal" finds the data tab's Reveal PII, and running it opens the same dialog as R,
    which records nothing until confirmed."""
    from textual.command import CommandPalette
    from textual.widgets import OptionList

    app = LedgerApp(pii_ws, actor="stella")
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(app, pilot)
        await pilot.press("2")
        await _settle(app, pilot)
        app.query_one("#snapshot-table").focus()
        await _settle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"reveal")
        titles: list[str] = []
        for _ in range(200):  # the palette searches in a worker: wait for its answer
            await pilot.pause()
            options = app.screen.query_one(OptionList)
            titles = [
                str(options.get_option_at_index(i).prompt) for i in range(options.option_count)
            ]
            if titles and "Reveal PII" in titles[0]:
                break
        assert titles and "Reveal PII" in titles[0], titles
        await pilot.press("enter")
        await _settle(app, pilot)
        assert isinstance(app.screen, RevealDialog)
        await pilot.press("escape")
        await _settle(app, pilot)
    assert _reveals(pii_ws) == []
