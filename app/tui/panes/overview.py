"""The overview tab: the workspace's head and counts, the model inventory, recent events."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from app.tui.panes.base import Pane, Table, fmt, verdict_text


class OverviewPane(Pane):
    def compose(self) -> ComposeResult:
        yield Static("Loading…", id="summary")
        yield Static("[b]Model inventory[/b]")
        yield Table(id="inventory", cursor_type="row")
        yield Static("[b]Recent events[/b]")
        yield Table(id="recent", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#inventory", DataTable).add_columns(
            "model", "ROC AUC", "signatures", "validation", "evaluation", "not passed", "registered"
        )
        self.query_one("#recent", DataTable).add_columns("#", "time", "actor", "action", "reason")

    @work(thread=True, exclusive=True, exit_on_error=False, group="overview")
    def reload(self) -> None:
        from core.audit import inventory

        data = inventory.overview(self.ledger_app.workspace, self.ledger_app.actor)
        self.app.call_from_thread(self._fill, data)

    def _fill(self, data: Any) -> None:
        cp = f"#{data.last_checkpoint}" if data.last_checkpoint else "none"
        counts = ", ".join(f"{v} {k}" for k, v in data.counts.items() if v)
        self.query_one("#summary", Static).update(
            f"[b]{escape(data.workspace)}[/b]\nledger head #{data.head} · last checkpoint {cp}"
            f" · {counts}" + ("\n[yellow]auditor: read-only[/yellow]" if data.auditor_only else "")
        )
        table = self.query_one("#inventory", DataTable)
        table.clear()
        for m in data.models:
            table.add_row(
                m.ref,
                fmt(m.roc_auc),
                m.signatures,
                _marked(m.validation),
                _marked(m.evaluation),
                Text("; ".join(m.failing), style="yellow" if m.failing else ""),
                m.created_at[:19],
                key=m.ref,
            )
        recent = self.query_one("#recent", DataTable)
        recent.clear()
        for e in data.recent:
            recent.add_row(str(e["seq"]), e["ts"][:19], e["actor"], e["action"], e["reason"])


def _marked(state: str) -> Text:
    """A ``suite VERDICT`` or ``VERDICT`` cell with the verdict in its colour."""
    head, _, last = state.rpartition(" ")
    return Text.from_markup((escape(head) + " " if head else "") + verdict_text(last))
