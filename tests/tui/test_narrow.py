"""The ledger tab and the overview's recent events at 80 columns: nothing scrolls sideways,
no column is cut, and every recorded reason can be read in full; at 160 the wide layout stays.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import DataTable

from app.tui.app import LedgerApp
from app.tui.panes.base import clip
from core.data import snapshots
from core.identity import actors
from core.kernel.workspace import Workspace

from .test_app import settle as settle_workers

SAMPLE = Path(__file__).parents[2] / "sample_data" / "german-credit"
REASONS = (
    "External auditor from the regulator, read-only access for the annual model review",
    "Model validation lead for the Q2 credit-risk release [ticket RISK-1423], per MRM-7 4.2",
    "Quarterly refresh of the applicant file as delivered by the data steward on 2026-02-27",
)
"""Longer than the width an 80-column table has left for a reason; one holds brackets."""


@pytest.fixture
def reasons_ws(ws: Workspace) -> Workspace:
    """The shared three-actor workspace plus three events with long reasons."""
    actors.add(ws, "alice", "audrey", ["auditor"], reason=REASONS[0])
    actors.add(ws, "alice", "vera", ["validator"], reason=REASONS[1])
    snapshots.add(ws, "alice", SAMPLE / "german.data", dataset="german-credit", reason=REASONS[2])
    return ws


async def settle(app: LedgerApp, pilot: Pilot[object]) -> None:
    """The app tests' settle, then one more pause so the screen has caught up."""
    await settle_workers(app, pilot)
    await pilot.pause()


def drawn(widget: Widget) -> str:
    """What the widget draws in its region, its lines joined by spaces."""
    lines = widget.render_lines(Region(0, 0, *widget.outer_size))  # border and padding too
    return " ".join(" ".join(strip.text.split()) for strip in lines).strip()


def labels(table: DataTable[object]) -> list[str]:
    return [str(c.label) for c in table.columns.values()]


def assert_fits(table: DataTable[object]) -> None:
    """Every column, header and cells, is inside the table: nothing scrolls sideways."""
    assert table.max_scroll_x == 0, labels(table)
    widths = sum(c.get_render_width(table) for c in table.columns.values())
    assert widths <= table.scrollable_content_region.width, (widths, table.size)


def assert_cut_after_a_word(cell: str, reason: str) -> None:
    """A reason cell is the reason, or its start up to a whole word followed by an ellipsis."""
    if cell == reason:
        return
    assert cell.endswith("…"), (cell, reason)
    kept = cell[:-1]
    assert reason.startswith(kept) and reason[len(kept)] == " ", (cell, reason)


def test_clip_cuts_after_a_word() -> None:
    assert clip("short enough", 12) == "short enough"
    assert clip("one two three", 10) == "one two…"
    assert clip("one two three", 8) == "one two…"
    assert clip("one two three", 7) == "one…"
    assert clip("sha256:0123456789abcdef", 10) == "sha256:01…"  # one word: cut where it must
    assert clip("a reason\non two lines", 30) == "a reason on two lines"


async def test_ledger_at_80_columns_shows_every_reason_in_full(reasons_ws: Workspace) -> None:
    app = LedgerApp(reasons_ws, actor="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("5")
        await settle(app, pilot)
        table = app.query_one("#events", DataTable)
        detail = app.query_one("#event-detail")
        assert labels(table) == ["#", "time", "actor", "action", "reason"]
        assert_fits(table)
        assert app.focused is table  # the cursor keys walk the events at once
        shown: set[str] = set()
        cut = 0
        for row in range(table.row_count):
            if row:
                await pilot.press("down")
                await pilot.pause()
            assert table.cursor_row == row
            seq, *_, cell = table.get_row_at(row)
            [event] = [e for e in app.query_one("LedgerPane").rows if str(e["seq"]) == seq]
            assert_cut_after_a_word(str(cell), event["reason"])
            cut += str(cell) != event["reason"]
            text = drawn(detail)
            assert f"#{seq} {event['action']} by {event['actor']}" in text, text
            assert f"reason {event['reason'] or 'none recorded'}" in text, text
            assert " ".join(event["subjects"]) in text, text
            shown.add(event["reason"])
        assert set(REASONS) <= shown
        assert cut  # some reason was too long for the table, so the detail was needed


async def test_overview_at_80_columns_spells_out_the_highlighted_reason(
    reasons_ws: Workspace,
) -> None:
    app = LedgerApp(reasons_ws, actor="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        recent = app.query_one("#recent", DataTable)
        line = app.query_one("#recent-line")
        assert_fits(recent)
        newest = str(recent.get_row_at(0)[-1])
        assert_cut_after_a_word(newest, REASONS[2])
        assert newest != REASONS[2]  # this one is cut, so the line is needed
        assert drawn(line) == f"#{recent.get_row_at(0)[0]} snapshot.add: {REASONS[2]}"
        recent.focus()
        await pilot.press("down")
        await pilot.pause()
        assert drawn(line).endswith(f"actor.add: {REASONS[1]}")  # brackets shown as typed
        for row in range(recent.row_count):
            seq, *_, cell = recent.get_row_at(row)
            [event] = [e for e in app.query_one("OverviewPane").data.recent if str(e["seq"]) == seq]
            assert_cut_after_a_word(str(cell), event["reason"])


async def test_wide_layout_keeps_its_columns_and_resizing_swaps_them(
    reasons_ws: Workspace,
) -> None:
    app = LedgerApp(reasons_ws, actor="alice")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        recent = app.query_one("#recent", DataTable)
        assert [str(recent.get_row_at(r)[-1]) for r in range(3)] == list(reversed(REASONS))
        assert not app.query_one("#recent-line").display
        await pilot.press("5")
        await settle(app, pilot)
        table = app.query_one("#events", DataTable)
        assert labels(table) == ["#", "time", "actor", "action", "subjects", "reason"]
        assert [str(table.get_row_at(r)[-1]) for r in range(3)] == list(reversed(REASONS))
        assert not app.query_one("#event-detail").display
        await pilot.resize_terminal(80, 24)
        await settle(app, pilot)
        assert labels(table) == ["#", "time", "actor", "action", "reason"]
        assert_fits(table)
        assert app.query_one("#event-detail").display
        await pilot.resize_terminal(160, 50)
        await settle(app, pilot)
        assert labels(table) == ["#", "time", "actor", "action", "subjects", "reason"]
        assert not app.query_one("#event-detail").display
