"""The ledger tab: the events, filtered; verification and inclusion proofs on demand.

Below 100 columns the table drops the subjects, the reason takes the width left (cut after a
word), and a pane under the table gives the highlighted event in full: its time, its
subjects and its reason, wrapped.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import DataTable, Input, ProgressBar, Static

from app.tui.panes.base import Pane, Table, clip, counted, rest_width, when

WIDE_COLUMNS = ("#", "time", "actor", "action", "subjects", "reason")
NARROW_COLUMNS = ("#", "time", "actor", "action", "reason")


class LedgerPane(Pane):
    DEFAULT_CSS = """
    LedgerPane #event-detail {
        height: auto; max-height: 50%; padding: 0 1; border-top: solid $accent;
    }
    """

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="/ to filter: actor=NAME action=PREFIX subject=X since=2h|2026-03-01",
            id="ledger-filter",
        )
        yield ProgressBar(id="verify-progress", show_eta=False)
        yield Static("", id="verify-result")
        yield Table(id="events", cursor_type="row")
        yield Static("", id="event-detail")

    def on_mount(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.narrow = self.is_narrow
        self._columns()
        self.query_one("#verify-progress", ProgressBar).display = False
        self.query_one("#event-detail", Static).display = False

    def _columns(self) -> None:
        table = self.query_one("#events", DataTable)
        table.clear(columns=True)
        table.add_columns(*(NARROW_COLUMNS if self.narrow else WIDE_COLUMNS))

    def fit_columns(self) -> None:
        self._columns()
        self._fill(self.rows)

    @on(Input.Submitted, "#ledger-filter")
    def _filter(self) -> None:
        self.leave_prompt()
        self.reload()

    @work(thread=True, exclusive=True, exit_on_error=False, group="ledger")
    def reload(self) -> None:
        from core.audit import inventory

        text = self.app.call_from_thread(lambda: self.query_one("#ledger-filter", Input).value)
        filters = dict(part.split("=", 1) for part in text.split() if "=" in part)
        rows = inventory.events_page(
            self.ledger_app.workspace,
            self.ledger_app.actor,
            by=filters.get("actor"),
            action=filters.get("action"),
            subject=filters.get("subject"),
            since=filters.get("since"),
        )
        self.app.call_from_thread(self._fill, rows)
        shared = self._shared_line()
        if shared:
            self.app.call_from_thread(self.query_one("#verify-result", Static).update, shared)

    def _shared_line(self) -> str:
        """The shared ledger's heads and last sync, for an attached workspace ('' if not)."""
        from core.team import remotes

        st = remotes.status(self.ledger_app.workspace)
        if st is None:
            return ""
        if st.remote_size is None:
            server = f"[ansi_yellow]server unreachable[/] ({escape(st.problem)})"
        elif (st.remote_size, st.remote_head) == (st.local_size, st.local_head):
            server = "[ansi_green]current[/]"
        elif st.remote_size > st.local_size:
            server = f"[ansi_yellow]{st.remote_size - st.local_size} new on the server[/] (sync)"
        else:
            server = f"[ansi_yellow]server at #{st.remote_size}[/] (sync republishes)"
        last = f"last sync {when(st.last_sync['at'], False)}" if st.last_sync else "never synced"
        return (
            f"shared ledger {escape(st.name)} {escape(st.url)}: this replica #{st.local_size}, "
            f"server #{st.remote_size if st.remote_size is not None else '?'}: {server}; {last}"
        )

    def _fill(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        table = self.query_one("#events", DataTable)
        table.clear()
        narrow = bool(self.narrow)
        cells = [(str(e["seq"]), when(e["ts"], narrow), e["actor"], e["action"]) for e in rows]
        if narrow:
            room = rest_width(table, NARROW_COLUMNS[:-1], cells)
            for e, row in zip(rows, cells, strict=True):
                table.add_row(*row, Text(clip(e["reason"], room)), key=str(e["seq"]))
        else:
            for e, row in zip(rows, cells, strict=True):
                subjects = " ".join(e["subjects"])[:60]
                table.add_row(*row, subjects, Text(e["reason"]), key=str(e["seq"]))
        self._detail(rows[0] if rows else None)

    def _detail(self, e: dict[str, Any] | None) -> None:
        """The highlighted event in full, under the table (narrow only: wide shows the row)."""
        detail = self.query_one("#event-detail", Static)
        detail.display = bool(self.narrow and e is not None)
        if e is None or not self.narrow:
            return
        subjects = " ".join(e["subjects"]) or "none"
        reason = escape(e["reason"]) if e["reason"] else "[dim]none recorded[/dim]"
        detail.update(
            f"[b]#{e['seq']}[/b] {escape(e['action'])} by {escape(e['actor'])} "
            f"at {when(e['ts'], False)}"
            f"\n[b]reason[/b] {reason}"
            f"\n[b]subjects[/b] {escape(subjects)}"
        )

    @on(DataTable.RowHighlighted, "#events")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        found = [e for e in self.rows if str(e["seq"]) == event.row_key.value]
        self._detail(found[0] if found else None)

    @work(thread=True, exclusive=True, exit_on_error=False, group="verify")
    def verify(self) -> None:
        from core.audit import verification

        bar = self.query_one("#verify-progress", ProgressBar)
        self.app.call_from_thread(setattr, bar, "display", True)

        def progress(done: int, total: int | None, note: str = "") -> None:
            self.app.call_from_thread(bar.update, total=total, progress=done)

        report = verification.verify(self.ledger_app.workspace, progress=progress)
        if report.ok:
            text = (
                f"[ansi_green]VERIFIED[/] {counted(report.events, 'events')}; anchored up to "
                f"#{report.anchored}; catalog {report.catalog}"
            )
            if report.unanchored:
                text += f"; [ansi_yellow]{counted(report.unanchored, 'events')} unanchored[/]"
        else:
            text = "[ansi_red]INTEGRITY FAILURE[/] " + escape("; ".join(report.failures[:3]))
        self.app.call_from_thread(self.query_one("#verify-result", Static).update, text)
        self.app.call_from_thread(setattr, bar, "display", False)

    @property
    def selected_seq(self) -> int | None:
        table = self.query_one("#events", DataTable)
        if table.row_count == 0:
            return None
        return int(str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))

    @work(thread=True, exclusive=True, exit_on_error=False, group="prove")
    def prove(self, seq: int) -> None:
        from core.audit import proofs

        doc = proofs.prove(self.ledger_app.workspace, seq)
        text = (
            f"event #{seq} is included under checkpoint #{doc['tree_size']} (root "
            f"{doc['root'][:16]}…), proof of {counted(len(doc['proof']), 'hashes')}: "
            + " ".join(h[:8] for h in doc["proof"])
        )
        self.app.call_from_thread(self.query_one("#verify-result", Static).update, text)
