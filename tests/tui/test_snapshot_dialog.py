"""The TUI's snapshot dialog builds the same request as `ledgerml snapshot add`.

Driven by Pilot on the real app: a snapshot added from the TUI carries its provenance and
tags, and a bad tag is refused with the very message the CLI prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import Input

from app.tui.app import LedgerApp
from app.tui.dialogs import ActionDialog
from core.data import snapshots
from core.kernel.workspace import Workspace

from .test_app import settle

SAMPLE = Path(__file__).parents[2] / "sample_data" / "german-credit" / "german.data"


@pytest.fixture
def admin_ws(tmp_path: Path) -> Workspace:
    from core.audit import admin

    return admin.init(tmp_path / "ws", "alice")


async def add_from_the_tui(ws: Workspace, values: dict[str, str]) -> list[tuple[str, str]]:
    """Fill the dialog the `a` key opens, run it; the notifications' (title, message)."""
    app = LedgerApp(ws, actor="alice")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ActionDialog)
        for key, value in values.items():
            dialog.query_one("#reason" if key == "reason" else f"#field-{key}", Input).value = value
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.is_running and not isinstance(app.screen, ActionDialog)
        return [(str(n.title), n.message) for n in app._notifications]


async def test_a_snapshot_added_from_the_tui_carries_its_tags(admin_ws: Workspace) -> None:
    await add_from_the_tui(
        admin_ws,
        {
            "file": str(SAMPLE),
            "dataset": "german-credit",
            "source": "UCI",
            "legal_basis": "contract",
            "pii": "column00",
            "sensitive": "column12, column08",
            "retention": "7y",
            "reason": "intake from the TUI",
        },
    )
    snap = snapshots.show(admin_ws, "german-credit@1")
    assert json.loads(snap.provenance) == {"source": "UCI", "legal_basis": "contract"}
    assert snap.pii == ["column00"] and snap.sensitive == ["column08", "column12"]
    assert snap.retention == "7y"
    event = json.loads(admin_ws.ledger.entry(snap.created_seq).body)
    assert event["reason"] == "intake from the TUI"


@pytest.mark.parametrize(
    ("field", "value"), [("pii", "email"), ("sensitive", "sex"), ("retention", "1x")]
)
async def test_a_bad_tag_is_refused_as_the_cli_refuses_it(
    admin_ws: Workspace, field: str, value: str
) -> None:
    from tests.conftest import run_cli

    head = admin_ws.ledger.head()
    shown = await add_from_the_tui(
        admin_ws, {"file": str(SAMPLE), "dataset": "german-credit", field: value}
    )
    assert admin_ws.ledger.head() == head
    cli = run_cli(
        "snapshot",
        "add",
        str(SAMPLE),
        "--dataset",
        "german-credit",
        f"--{field}",
        value,
        env={"LEDGERML_WORKSPACE": str(admin_ws.root), "LEDGERML_ACTOR": "alice"},
    )
    assert cli.returncode == 2
    errors = [(t, m) for t, m in shown if t == "Invalid request"]
    assert len(errors) == 1, shown
    title, message = errors[0]
    said, *hint = message.split("\n")
    assert f"{title}: {said}" in cli.stderr
    assert all(f"hint: {h}" in cli.stderr for h in hint)
    assert admin_ws.ledger.head() == head


async def test_what_the_reading_did_is_told_in_the_tui_too(
    admin_ws: Workspace, tmp_path: Path
) -> None:
    """A title line above the header is skipped and said, as `snapshot add` says it."""
    titled = tmp_path / "titled.csv"
    titled.write_text(
        "Export of 2026-11-30, confidential\nid,score,label\n"
        + "".join(f"{i},{i % 7 / 7:.3f},{i % 2}\n" for i in range(200))
    )
    shown = await add_from_the_tui(
        admin_ws, {"file": str(titled), "dataset": "titled", "reason": "intake"}
    )
    [message] = [m for _, m in shown if "titled@1 recorded" in m]
    assert "Export of 2026-11-30" in message and "skipped" in message
