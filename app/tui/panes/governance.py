"""The registry tab: the model inventory with tiers and stages, and a model's history.

Now, the table is the inventory (:func:`core.governance.inventory.inventory`, the SR 11-7
fields of ``ledgerml inventory``), highest tier first, with the highlighted model's fields and
its history as a timeline (:func:`core.governance.lifecycle.history`) below.

At a moment in the past (an event number or a time typed in the prompt) the table is
:func:`core.governance.lifecycle.registry_at` (``ledgerml registry at``): each version's
stage then, who approved it into that stage, under which policy; the timeline stops at that
moment too (``model history NAME --at``). "What was approved on 1 March, by whom, under
which policy" is read, not reconstructed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Input, Static

from app.tui.panes.approvals import tier_text
from app.tui.panes.base import Pane, Table, counted, verdict_colour, verdict_text

if TYPE_CHECKING:
    from core.governance.inventory import InventoryLine
    from core.governance.lifecycle import HistoryEntry, RegistryLine

WHAT_COLOUR = {
    "approve": "green",
    "reject": "red",
    "deny": "red",
    "promote": "cyan",
    "risk": "magenta",
}
"""How a timeline entry's kind is marked; a refusal is red wherever it appears."""

INVENTORY_COLUMNS = (
    "model",
    "tier",
    "stage",
    "owner",
    "validation",
    "evidence",
    "approved by",
    "last change",
    "next revalidation",
    "open findings",
)
REGISTRY_COLUMNS = ("version", "tier", "stage", "since", "approved by")


class _Tiered(Protocol):
    @property
    def tier(self) -> int | None: ...
    @property
    def ref(self) -> str: ...


T = TypeVar("T", bound=_Tiered)


def by_tier(lines: list[T]) -> list[T]:
    """Highest risk first (tier 1), then by name; untiered models last, never hidden."""
    return sorted(lines, key=lambda m: (m.tier is None, m.tier or 0, m.ref))


def natural(value: object) -> list[Any]:
    """A sort key that orders the numbers inside text by value ("#9" before "#12")."""
    return [(0, int(t)) if t.isdigit() else (1, t) for t in re.split(r"(\d+)", str(value))]


def approvers_text(line: RegistryLine) -> str:
    """Who approved the version into its stage, each saying whether it counts now
    (break-glass said so, never left blank)."""
    names = "; ".join(line.approvals_text())
    if line.break_glass:
        return "BREAK-GLASS" + (f"; {names}" if names else "")
    return names or "-"


def approved_by(m: InventoryLine) -> str:
    """The approvals an inventory line lists, as ``name (role) — counts`` (or why not)."""
    return "; ".join(f"{a['approver']} ({a['role']}) — {a['standing']}" for a in m.approvals)


def evidence_verdict(m: InventoryLine) -> str:
    """The newest evidence verdict word (``none`` when no evaluation is recorded)."""
    return str((m.evidence or {}).get("verdict") or "none")


def inventory_row(m: InventoryLine) -> tuple[str, ...]:
    """One inventory line as table cells."""
    approved = approved_by(m)
    return (
        m.ref,
        tier_text(m.tier),
        m.stage_line or m.stage,
        m.owner or "",
        m.validation_status,
        evidence_verdict(m),
        approved or "-",
        str(m.last_change.get("ts", ""))[:10],
        (m.next_revalidation or "")[:10],
        "" if m.open_findings is None else str(m.open_findings),
    )


def card_text(m: InventoryLine) -> str:
    """The SR 11-7 inventory fields of one model, as a reviewer reads them.

    Validation is green only when the newest evidence verdict is PASS: the validation
    status alone says a validator acted, not that the evidence holds.
    """

    def v(value: object) -> str:
        return escape(str(value)) if value not in (None, "", [], {}) else "[dim]not recorded[/dim]"

    validation = m.validation_status + (
        f" by {m.validator} on {m.validation_date[:10]}"
        if m.validator and m.validation_date
        else ""
    )
    verdict = (m.evidence or {}).get("verdict")
    # Card markup takes the terminal's colour names (ansi_*), the ones cells and the legend draw.
    colour = "ansi_" + (
        "red"
        if m.validation_status == "rejected"
        else verdict_colour(verdict)
        if m.validation_status == "validated"
        else "yellow"
    )
    evidence = str((m.evidence or {}).get("text") or "not read")
    if verdict:
        evidence = verdict_text(str(verdict)) + escape(evidence.removeprefix(str(verdict)))
    else:
        evidence = f"[ansi_red]{escape(evidence)}[/]"
    approvals = "; ".join(
        f"[{'ansi_green' if a['counts'] else 'ansi_red'}]{escape(str(a['approver']))} "
        f"({escape(str(a['role']))}) — {escape(str(a['standing']))}[/]"
        for a in m.approvals
    )
    stage = escape(m.stage_line or m.stage)
    if m.stage_line and m.stage_line != m.stage:
        stage = f"[ansi_red]{stage}[/]"
    features = m.inputs.get("features") or []
    return "\n".join(
        [
            f"[b]{escape(m.ref)}[/b] ({m.versions} version{'s' if m.versions != 1 else ''}) · "
            f"{tier_text(m.tier)} · {stage}",
            f"purpose: {v(m.purpose)}",
            f"use: {v(m.use)}",
            f"restrictions: {v(m.restrictions)}",
            f"owner: {v(m.owner)}",
            f"inputs: {v(m.inputs.get('snapshot'))} ({len(features)} features)",
            f"outputs: {v(', '.join(m.outputs))}",
            f"developers: {v(', '.join(m.developers))}",
            f"validation: [{colour}]{escape(validation)}[/{colour}]",
            f"evidence: {evidence}",
            f"approvals: {approvals or 'none'}",
            f"valid until: {v(m.valid_until_now)} · "
            f"next revalidation: {v((m.next_revalidation or '')[:10])}",
            "exceptions: "
            + (", ".join(f"{k} {n}" for k, n in m.exceptions.items()) or "none")
            + f" · open findings: {v(m.open_findings)}",
        ]
    )


def registry_card(line: RegistryLine) -> str:
    """One version as it stood at the chosen moment, and whether its approvals count now."""
    policy = (
        f"{escape(line.policy_name or '')} {escape(line.policy_version or '')} "
        f"({escape((line.policy or '')[:19])}…)"
        if line.policy
        else "none in force"
    )
    rows = [
        f"[b]{escape(line.ref)}[/b] · {tier_text(line.tier)} · {escape(line.stage)} "
        f"since #{line.since}",
        f"approved by: {escape(approvers_text(line))}",
        f"policy then: {policy}",
    ]
    if line.stage_now and line.stage_now != line.stage:
        rows.append(f"stage now: {escape(line.stage_now)}")
    return "\n".join(rows)


def timeline_text(name: str, entries: list[HistoryEntry], at: str | None = None) -> str:
    """A model's history, oldest first: when, who, what, on which version, why, and under
    which policy (a refusal carries the policy's reasons in its detail)."""
    if not entries:
        return f"[b]{escape(name)}[/b]: no history recorded."
    upto = f" up to {escape(at)}" if at else ""
    lines = [
        f"[b]History of {escape(name)}[/b]{upto} ({len(entries)} events, oldest first)",
        "",
    ]
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
    """The inventory (or the registry at a moment) above; the highlighted model below."""

    BINDINGS = [Binding("escape", "leave_prompt", "Leave prompt", show=False)]

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="at: an event number or a time (2026-03-01), then Enter; empty is now",
            id="registry-at",
        )
        yield Static("", id="registry-title")
        yield Table(id="gov-inventory", cursor_type="row")
        with Horizontal(id="gov-lower"):
            with VerticalScroll(id="gov-card"):
                yield Static("", id="card")
            with VerticalScroll(id="gov-history"):
                yield Static("Select a model to see its history.", id="timeline")

    def on_mount(self) -> None:
        self.names: dict[str, str] = {}
        self.cards: dict[str, str] = {}
        self.at: str | None = None
        self.sorted_by: tuple[str, bool] | None = None

    def action_leave_prompt(self) -> None:
        self.focus_table()

    def focus_table(self) -> None:
        """Focus the table, so the cursor keys walk it and the detail follows."""
        self.query_one("#gov-inventory", DataTable).focus()

    @on(Input.Submitted, "#registry-at")
    def _moment(self, event: Input.Submitted) -> None:
        self.at = event.value.strip() or None
        self.focus_table()
        self._load(self.at)

    def reload(self) -> None:
        if self.shown:  # every action refreshes all panes; the registry only when seen
            self._load(self.at)

    @work(thread=True, exclusive=True, exit_on_error=False, group="inventory")
    def _load(self, at: str | None) -> None:
        from core.evidence import views
        from core.governance import lifecycle

        ws, actor = self.ledger_app.workspace, self.ledger_app.actor
        if at is None:
            lines = by_tier(views.inventory(ws, actor))
            self.app.call_from_thread(self._fill_inventory, lines)
        else:
            past = by_tier(lifecycle.registry_at(ws, at, actor))
            self.app.call_from_thread(self._fill_registry, past, at)

    def _table(self, columns: tuple[str, ...]) -> DataTable[Any]:
        table = self.query_one("#gov-inventory", DataTable)
        table.clear(columns=True)
        for label in columns:
            table.add_column(label, key=label)
        self.names, self.cards = {}, {}
        self.sorted_by = None
        return table

    @on(DataTable.HeaderSelected, "#gov-inventory")
    def _header(self, event: DataTable.HeaderSelected) -> None:
        self.sort_by(str(event.column_key.value))

    def sort_by(self, column: str) -> None:
        """Sort the table by a column (as people read numbers: #9 before #12); the same
        column again sorts the other way round."""
        reverse = self.sorted_by == (column, False)
        self.query_one("#gov-inventory", DataTable).sort(column, key=natural, reverse=reverse)
        self.sorted_by = (column, reverse)

    def _fill_inventory(self, lines: list[InventoryLine]) -> None:
        table = self._table(INVENTORY_COLUMNS)
        for m in lines:
            self.names[m.ref], self.cards[m.ref] = m.name, card_text(m)
            table.add_row(*inventory_row(m), key=m.ref)
        self.query_one("#registry-title", Static).update(
            f"[b]Inventory now[/b] · {counted(len(lines), 'models')}, highest tier first "
            "(click a column to sort)"
        )
        if not lines:
            self.query_one("#card", Static).update("No model is registered.")

    def _fill_registry(self, lines: list[RegistryLine], at: str) -> None:
        table = self._table(REGISTRY_COLUMNS)
        for m in lines:
            self.names[m.ref], self.cards[m.ref] = m.ref.split("@", 1)[0], registry_card(m)
            table.add_row(
                m.ref, tier_text(m.tier), m.stage, f"#{m.since}", approvers_text(m), key=m.ref
            )
        policy = next((m for m in lines if m.policy), None)
        in_force = (
            f"policy {escape(policy.policy_name or '')} {escape(policy.policy_version or '')}"
            if policy
            else "no policy in force"
        )
        self.query_one("#registry-title", Static).update(
            f"[b]Registry at {escape(at)}[/b] · {len(lines)} versions · {in_force} · "
            "empty the prompt for now"
        )

    @on(DataTable.RowHighlighted, "#gov-inventory")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = str(event.row_key.value)
        self.query_one("#card", Static).update(self.cards.get(key, ""))
        name = self.names.get(key)
        if name:
            self.show_history(name, self.at)

    @work(thread=True, exclusive=True, exit_on_error=False, group="history")
    def show_history(self, name: str, at: str | None = None) -> None:
        from core.governance import lifecycle

        entries: list[Any] = lifecycle.history(
            self.ledger_app.workspace, name, at=at, actor=self.ledger_app.actor
        )
        text = timeline_text(name, entries, at)
        self.app.call_from_thread(self.query_one("#timeline", Static).update, text)
