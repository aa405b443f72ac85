"""The registry tab: the inventory with tiers and stages, and a model's history as a timeline.

The inventory is :func:`core.governance.inventory.inventory`, the history
:func:`core.governance.lifecycle.history`: the same answers as ``ledgerml inventory`` and
``ledgerml model history NAME``, drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from app.tui.panes.approvals import tier_text
from app.tui.panes.base import Pane, Table

if TYPE_CHECKING:
    from core.governance.inventory import InventoryLine
    from core.governance.lifecycle import HistoryEntry

WHAT_COLOUR = {
    "approve": "green",
    "reject": "red",
    "deny": "red",
    "promote": "cyan",
    "risk": "magenta",
}
"""How a timeline entry's kind is marked; a refusal is red wherever it appears."""


def by_tier(lines: list[InventoryLine]) -> list[InventoryLine]:
    """Highest risk first (tier 1), then by name; untiered versions last, never hidden."""
    return sorted(lines, key=lambda m: (m.tier is None, m.tier or 0, m.ref))


def timeline_text(name: str, entries: list[HistoryEntry]) -> str:
    """A model's history, oldest first: when, who, what, on which version, why, under which
    policy (a denial shows the policy's reasons in its detail)."""
    if not entries:
        return f"[b]{escape(name)}[/b]: no history recorded."
    lines = [f"[b]History of {escape(name)}[/b] ({len(entries)} events, oldest first)", ""]
    for e in entries:
        colour = WHAT_COLOUR.get(e.what, "white")
        policy = f" · policy {escape(e.policy[:19])}…" if e.policy else ""
        lines.append(
            f"[dim]#{e.seq:<5}[/dim] {escape(e.ts[:19])}  [{colour}]{escape(e.what):<8}"
            f"[/{colour}] {escape(e.ref)} by [b]{escape(e.actor)}[/b]{policy}"
        )
        if e.detail:
            lines.append(f"        {escape(e.detail)}")
        if e.reason:
            lines.append(f"        [i]why: {escape(e.reason)}[/i]")
    return "\n".join(lines)


class InventoryPane(Pane):
    """The inventory above (highest tier first); the highlighted model's timeline below."""

    def compose(self) -> ComposeResult:
        yield Table(id="gov-inventory", cursor_type="row")
        with VerticalScroll(id="gov-history"):
            yield Static("Select a model to see its history.", id="timeline")

    def on_mount(self) -> None:
        self.query_one("#gov-inventory", DataTable).add_columns(
            "model",
            "tier",
            "stage",
            "owner",
            "validation",
            "approvals",
            "last change",
            "next revalidation",
        )
        self.names: dict[str, str] = {}

    def reload(self) -> None:
        if self.shown:  # every action refreshes all panes; the inventory only when seen
            self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="inventory")
    def _load(self) -> None:
        from core.governance import inventory

        lines = inventory.inventory(self.ledger_app.workspace, self.ledger_app.actor)
        self.app.call_from_thread(self._fill, by_tier(lines))

    def _fill(self, lines: list[InventoryLine]) -> None:
        table = self.query_one("#gov-inventory", DataTable)
        table.clear()
        self.names = {}
        for m in lines:
            self.names[m.ref] = m.name
            table.add_row(
                m.ref,
                tier_text(m.tier),
                m.stage,
                m.owner or "",
                m.validation or "none",
                str(len(m.approvals)),
                (m.last_change or "")[:19],
                (m.next_revalidation or "")[:10],
                key=m.ref,
            )

    @on(DataTable.RowHighlighted, "#gov-inventory")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        name = self.names.get(str(event.row_key.value))
        if name:
            self.show_history(name)

    @work(thread=True, exclusive=True, exit_on_error=False, group="history")
    def show_history(self, name: str) -> None:
        from core.governance import lifecycle

        entries: list[Any] = lifecycle.history(
            self.ledger_app.workspace, name, actor=self.ledger_app.actor
        )
        text = timeline_text(name, entries)
        self.app.call_from_thread(self.query_one("#timeline", Static).update, text)
