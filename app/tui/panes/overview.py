"""The overview tab: the workspace's head and counts, the model inventory, recent events.

Below 100 columns the tab takes a narrower column set rather than cutting columns off the
right: the inventory shows verdicts without the suite's name, signatures as a count, the
not-passed checks as a count and the registration date only, and a line under the table
spells out the highlighted version in full (suite, every not-passed check, the time). The
recent events' reason takes the width left, cut after a word, and a line under that table
gives the highlighted event's reason in full.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from app.tui.panes.base import (
    Pane,
    Table,
    clip,
    counted,
    fmt,
    rest_width,
    verdict_cell,
    when,
)

HEADLINE = (
    "events",
    "actors",
    "snapshots",
    "models",
    "evaluations",
    "approvals",
    "deployments",
    "incidents",
)
"""The counts a narrow summary keeps (the full list needs four lines or more at 80 columns)."""
WIDE_COLUMNS = (
    "model",
    "ROC AUC",
    "signatures",
    "validation",
    "evaluation",
    "not passed",
    "registered",
)
NARROW_COLUMNS = ("model", "AUC", "signed", "validation", "evaluation", "gaps", "registered")
"""``AUC`` is the ROC AUC; ``signed`` counts signatures; ``gaps`` counts checks not passed."""
RECENT_COLUMNS = ("#", "time", "actor", "action", "reason")


class OverviewPane(Pane):
    DEFAULT_CSS = """
    OverviewPane #inventory-line, OverviewPane #recent-line {
        height: auto; padding: 0 1; color: $text-muted;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static("Loading…", id="summary")
        yield Static("[b]Model inventory[/b]", id="inventory-title")
        yield Table(id="inventory", cursor_type="row")
        yield Static("", id="inventory-line")
        yield Static("[b]Recent events[/b]")
        yield Table(id="recent", cursor_type="row")
        yield Static("", id="recent-line")

    def on_mount(self) -> None:
        self.data: Any = None
        self.narrow = self.is_narrow
        self._columns()
        self.query_one("#recent-line", Static).display = False

    def _columns(self) -> None:
        """(Re)build both tables' columns for the terminal's width."""
        inventory = self.query_one("#inventory", DataTable)
        inventory.clear(columns=True)
        inventory.add_columns(*(NARROW_COLUMNS if self.narrow else WIDE_COLUMNS))
        recent = self.query_one("#recent", DataTable)
        recent.clear(columns=True)
        recent.add_columns(*RECENT_COLUMNS)

    def fit_columns(self) -> None:
        self._columns()
        if self.data is not None:
            self._fill(self.data)

    @work(thread=True, exclusive=True, exit_on_error=False, group="overview")
    def reload(self) -> None:
        from core.audit import inventory

        data = inventory.overview(self.ledger_app.workspace, self.ledger_app.actor)
        self.app.call_from_thread(self._fill, data)

    def _fill(self, data: Any) -> None:
        self.data = data
        narrow = bool(self.narrow)
        cp = f"#{data.last_checkpoint}" if data.last_checkpoint else "none"
        shown = {k: v for k, v in data.counts.items() if v and (not narrow or k in HEADLINE)}
        counts = ", ".join(counted(v, k) for k, v in shown.items())
        self.query_one("#summary", Static).update(
            f"[b]{escape(data.workspace)}[/b]\nledger head #{data.head} · last checkpoint {cp}"
            f" · {counts}" + ("\n[ansi_yellow]auditor: read-only[/]" if data.auditor_only else "")
        )
        self.query_one("#inventory-title", Static).update(
            "[b]Model inventory[/b]"
            + (
                " [dim](AUC: ROC AUC · signed: signatures · gaps: checks not passed)[/dim]"
                if narrow
                else ""
            )
        )
        table = self.query_one("#inventory", DataTable)
        table.clear()
        for m in data.models:
            table.add_row(*(_narrow_row(m) if narrow else _wide_row(m)), key=m.ref)
        self._line(data.models[0] if data.models else None)
        recent = self.query_one("#recent", DataTable)
        recent.clear()
        cells = [
            (str(e["seq"]), when(e["ts"], narrow), e["actor"], e["action"]) for e in data.recent
        ]
        # Narrow, the reason takes the width left, cut after a word; the line under the table
        # spells out the highlighted event's reason in full.
        room = rest_width(recent, RECENT_COLUMNS[:-1], cells) if narrow else 0
        for e, row in zip(data.recent, cells, strict=True):
            reason = Text(clip(e["reason"], room) if narrow else e["reason"])  # never markup
            recent.add_row(*row, reason, key=str(e["seq"]))
        self._recent_line(data.recent[0] if data.recent else None)

    def _line(self, m: Any) -> None:
        """The highlighted version in full, under the table (narrow only: wide shows it all)."""
        line = self.query_one("#inventory-line", Static)
        line.display = bool(self.narrow and m is not None)
        if m is None or not self.narrow:
            return
        gaps = "; ".join(m.failing) or "none"
        line.update(
            f"{escape(m.ref)}: validation {_marked(m.validation)} · {escape(m.signatures)}"
            f" · not passed: {escape(gaps)} · registered {when(m.created_at, False)[:16]}"
        )

    def _recent_line(self, e: dict[str, Any] | None) -> None:
        """The highlighted event's reason in full, under the table (narrow only)."""
        line = self.query_one("#recent-line", Static)
        line.display = bool(self.narrow and e is not None and e["reason"])
        if line.display and e is not None:
            line.update(f"#{e['seq']} {escape(e['action'])}: {escape(e['reason'])}")

    @on(DataTable.RowHighlighted, "#recent")
    def _recent_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.data is None:
            return
        found = [e for e in self.data.recent if str(e["seq"]) == event.row_key.value]
        self._recent_line(found[0] if found else None)

    @on(DataTable.RowHighlighted, "#inventory")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.data is None:
            return
        found = [m for m in self.data.models if m.ref == event.row_key.value]
        self._line(found[0] if found else None)


def _wide_row(m: Any) -> tuple[Any, ...]:
    return (
        m.ref,
        fmt(m.roc_auc),
        m.signatures,
        _marked(m.validation),
        _marked(m.evaluation),
        Text("; ".join(m.failing), style="yellow" if m.failing else ""),
        when(m.created_at, False),
    )


def _narrow_row(m: Any) -> tuple[Any, ...]:
    """The row in under 80 columns: verdicts alone, counts for lists, the date alone."""
    signed = m.signatures.removeprefix("signed ").split(" ")[0]  # "×2", or "unsigned"
    revoked = "(" in m.signatures
    return (
        m.ref,
        fmt(m.roc_auc),
        Text(signed + ("!" if revoked else ""), style="yellow" if revoked else ""),
        _marked(m.validation.rpartition(" ")[2]),
        _marked(m.evaluation),
        Text(str(m.gaps), style="yellow" if m.failing else ""),
        m.created_at[:10],
    )


def _marked(state: str) -> Text:
    """A ``suite VERDICT`` or ``VERDICT`` cell with the verdict in its colour."""
    head, _, last = state.rpartition(" ")
    return verdict_cell(last, head)
