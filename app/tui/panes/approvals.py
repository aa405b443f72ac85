"""The approvals tab: the versions waiting for an approval the acting actor may give.

The queue is :func:`core.governance.approvals.pending`: core decides who may approve what
(a missing role they hold, not a developer of the version, not decided yet), so a version
never shows to its own developer here and the TUI holds no twin of that rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from app.tui.panes.base import Pane, Table, verdict_markup

if TYPE_CHECKING:
    from core.governance.approvals import Pending

EVIDENCE_KINDS = ("validation", "evaluation", "fairness", "reproduction")
"""The evidence a reviewer reads first, in the order a model was built and checked."""


def tier_text(tier: int | None) -> str:
    """A tier for a cell; an unassessed version says so instead of borrowing a number."""
    return "untiered" if tier is None else f"tier {tier}"


def verdicts_text(verdicts: dict[str, Any]) -> str:
    """Each evidence kind's newest verdict in its colour; a missing one is red, never blank.

    Verdicts are never kinder than the evidence: no evidence is not a pass.
    """
    parts = []
    for kind in (*EVIDENCE_KINDS, *sorted(set(verdicts) - set(EVIDENCE_KINDS))):
        verdict = verdicts.get(kind)
        parts.append(f"{kind} {verdict_markup(str(verdict) if verdict else None)}")
    return " · ".join(parts)


def pending_summary(item: Pending) -> str:
    """What a reviewer needs before deciding: tier, roles still missing, evidence, developers."""
    from core.governance.approvals import in_words

    missing = ", ".join(item.missing_roles) or "none (k not reached)"
    again = (
        [
            "[ansi_yellow]asked again[/]: your decision no longer counts "
            f"({escape(in_words(item.again))})"
        ]
        if item.again
        else []
    )
    return "\n".join(
        [
            f"[b]{escape(item.ref)}[/b] · waiting for stage [b]{escape(item.stage)}[/b] · "
            f"{tier_text(item.tier)}",
            *again,
            f"missing roles: {escape(missing)}",
            f"developers (may not approve): {escape(', '.join(item.developers)) or 'none'}",
            "evidence: " + verdicts_text(dict(item.evidence)),
        ]
    )


def pending_text(item: Pending) -> str:
    """The queue's detail: the summary and how to decide."""
    return (
        pending_summary(item)
        + "\n\n[dim]A approves, J rejects: each asks for a reason, then your secret, and "
        "signs with your own key.[/dim]"
    )


class ApprovalsPane(Pane):
    """The queue on the left; the selected version's evidence summary on the right."""

    def compose(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="queue-side"):
                yield Static("", id="queue-title")
                yield Table(id="queue", cursor_type="row")
            with VerticalScroll(id="queue-detail"):
                yield Static("Nothing is waiting for you.", id="queue-info")

    def on_mount(self) -> None:
        self.query_one("#queue", DataTable).add_columns("version", "for", "tier", "you cover")
        self.items: dict[str, Pending] = {}

    @property
    def selected(self) -> Pending | None:
        """The highlighted version of the queue, if any."""
        table = self.query_one("#queue", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.items.get(str(key))

    def focus_queue(self) -> None:
        """Focus the queue, so the cursor keys move through it."""
        self.query_one("#queue", DataTable).focus()

    def reload(self) -> None:
        # Asked of core only when shown: the queue is read for one actor, at the moment
        # they look at it (every action refreshes all panes).
        if self.shown:
            self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="approvals")
    def _load(self) -> None:
        from core.governance import approvals

        items = approvals.pending(self.ledger_app.workspace, self.ledger_app.actor)
        self.app.call_from_thread(self._fill, items)

    def _fill(self, items: list[Pending]) -> None:
        table = self.query_one("#queue", DataTable)
        table.clear()
        # Highest risk first: a tier-1 version waiting is the one to look at.
        ordered = sorted(items, key=lambda i: (i.tier, i.ref))
        self.items = {f"{i.ref}/{i.stage}": i for i in ordered}
        for key, i in self.items.items():
            table.add_row(
                i.ref, i.stage, tier_text(i.tier), ", ".join(i.roles) or "any role", key=key
            )
        who = escape(self.ledger_app.actor or "nobody")
        self.query_one("#queue-title", Static).update(f"[b]Waiting for {who}[/b] ({len(items)})")
        if not items:
            self.query_one("#queue-info", Static).update(
                "Nothing is waiting for an approval you may give: versions you developed, "
                "decided, or whose missing roles you do not hold are not listed."
            )

    @on(DataTable.RowHighlighted, "#queue")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        item = self.items.get(str(event.row_key.value))
        if item is not None:
            self.query_one("#queue-info", Static).update(pending_text(item))
