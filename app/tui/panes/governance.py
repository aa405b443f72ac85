"""The registry tab: each model version's tier and stage, and a model's history as a timeline.

Both can be seen at a moment in the past (an event number or a time in the prompt): the table
is :func:`core.governance.lifecycle.registry_at` and the timeline
:func:`core.governance.lifecycle.history`, the answers of ``ledgerml registry at`` and
``ledgerml model history NAME --at``, so "what was approved on 1 March, by whom, under which
policy" is read, not reconstructed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Input, Static

from app.tui.panes.approvals import tier_text
from app.tui.panes.base import Pane, Table

if TYPE_CHECKING:
    from core.governance.lifecycle import HistoryEntry, RegistryLine

WHAT_COLOUR = {
    "approve": "green",
    "reject": "red",
    "deny": "red",
    "promote": "cyan",
    "risk": "magenta",
}
"""How a timeline entry's kind is marked; a refusal is red wherever it appears."""


def by_tier(lines: list[RegistryLine]) -> list[RegistryLine]:
    """Highest risk first (tier 1), then by name; untiered versions last, never hidden."""
    return sorted(lines, key=lambda m: (m.tier is None, m.tier or 0, m.ref))


def approvers_text(line: RegistryLine) -> str:
    """Who approved the version into its stage (break-glass said so, never left blank)."""
    names = ", ".join(f"{name} ({role})" for name, role, _ in line.approvers)
    if line.break_glass:
        return "BREAK-GLASS" + (f"; {names}" if names else "")
    return names or "-"


def timeline_text(name: str, entries: list[HistoryEntry]) -> str:
    """A model's history, oldest first: when, who, what, on which version, why, and under
    which policy (a refusal carries the policy's reasons in its detail)."""
    if not entries:
        return f"[b]{escape(name)}[/b]: no history recorded."
    lines = [f"[b]History of {escape(name)}[/b] ({len(entries)} events, oldest first)", ""]
    for e in entries:
        colour = WHAT_COLOUR.get(e.what, "white")
        lines.append(
            f"[{colour}]●[/{colour}] {escape(e.ts[:10])} {escape(e.ts[11:19])}  "
            f"[dim]#{e.seq:<5}[/dim] [{colour}]{escape(e.what or '?'):<8}[/{colour}] "
            f"{escape(e.ref)} by [b]{escape(e.actor)}[/b]"
        )
        # An event without a detail of its own repeats its action name: leave it out.
        if e.detail and not e.detail.startswith("model."):
            lines.append(f"│   {escape(e.detail)}")
        tail = []
        if e.reason and e.reason not in e.detail:  # a refusal's reason is its detail
            tail.append(f"[i]why: {escape(e.reason)}[/i]")
        if e.policy:
            tail.append(f"policy {escape(e.policy[:19])}…")
        if tail:
            lines.append("│   " + " · ".join(tail))
    return "\n".join(lines)


class InventoryPane(Pane):
    """The registry above (highest tier first); the highlighted model's timeline below."""

    BINDINGS = [Binding("escape", "leave_prompt", "Leave prompt", show=False)]

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="at: an event number or a time (2026-03-01), then Enter; empty is now",
            id="registry-at",
        )
        yield Static("", id="registry-title")
        yield Table(id="gov-inventory", cursor_type="row")
        with VerticalScroll(id="gov-history"):
            yield Static("Select a model to see its history.", id="timeline")

    def on_mount(self) -> None:
        self.query_one("#gov-inventory", DataTable).add_columns(
            "model", "tier", "stage", "since", "approved by"
        )
        self.names: dict[str, str] = {}
        self.at: str | None = None

    def action_leave_prompt(self) -> None:
        self.focus_table()

    def focus_table(self) -> None:
        """Focus the registry, so the cursor keys walk it and its timeline follows."""
        self.query_one("#gov-inventory", DataTable).focus()

    @on(Input.Submitted, "#registry-at")
    def _moment(self, event: Input.Submitted) -> None:
        self.at = event.value.strip() or None
        self.query_one("#gov-inventory", DataTable).focus()
        self._load(self.at)

    def reload(self) -> None:
        if self.shown:  # every action refreshes all panes; the registry only when seen
            self._load(self.at)

    @work(thread=True, exclusive=True, exit_on_error=False, group="inventory")
    def _load(self, at: str | None) -> None:
        from core.governance import lifecycle

        when = at or datetime.now(UTC).isoformat()
        lines = lifecycle.registry_at(self.ledger_app.workspace, when, self.ledger_app.actor)
        self.app.call_from_thread(self._fill, by_tier(lines), at)

    def _fill(self, lines: list[RegistryLine], at: str | None) -> None:
        table = self.query_one("#gov-inventory", DataTable)
        table.clear()
        self.names = {}
        policy = next((m for m in lines if m.policy), None)
        in_force = (
            f"policy {escape(policy.policy_name or '')} {escape(policy.policy_version or '')} "
            f"({escape((policy.policy or '')[:19])}…)"
            if policy
            else "no policy in force"
        )
        moment = f"at {escape(at)}" if at else "now"
        self.query_one("#registry-title", Static).update(
            f"[b]Registry {moment}[/b] · {len(lines)} versions · {in_force}"
        )
        for m in lines:
            self.names[m.ref] = m.ref.split("@", 1)[0]
            table.add_row(
                m.ref,
                tier_text(m.tier),
                m.stage,
                f"#{m.since}",
                approvers_text(m),
                key=m.ref,
            )

    @on(DataTable.RowHighlighted, "#gov-inventory")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        name = self.names.get(str(event.row_key.value))
        if name:
            self.show_history(name, self.at)

    @work(thread=True, exclusive=True, exit_on_error=False, group="history")
    def show_history(self, name: str, at: str | None = None) -> None:
        from core.governance import lifecycle

        entries: list[Any] = lifecycle.history(
            self.ledger_app.workspace, name, at=at, actor=self.ledger_app.actor
        )
        text = timeline_text(name, entries)
        self.app.call_from_thread(self.query_one("#timeline", Static).update, text)
