"""The data tab: the snapshots, and one snapshot's profile, validations and data sheet."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Static

from app.tui.panes.base import Pane, Table, bars, counted, fmt, key_values, verdict_markup

# A run's verdict and each check's mark: a warning never looks like a pass.
# In the colours every other view and the legend use (card markup: verdict_markup).
VERDICT_STYLE = {
    v: verdict_markup(v, text)
    for v, text in (
        ("PASS", "PASS"),
        ("WARN", "PASS with warnings (WARN)"),
        ("INCONCLUSIVE", "INCONCLUSIVE"),
        ("FAIL", "FAIL"),
    )
}
MARKS = {
    v: verdict_markup(v, text)
    for v, text in (
        ("PASS", "✓"),
        ("WARN", "! WARN"),
        ("INCONCLUSIVE", "? INCONCLUSIVE"),
        ("FAIL", "✗ FAIL"),
    )
}

if TYPE_CHECKING:
    from core.data.reveal import Revealed
    from core.data.views import SnapshotDetail


class DataPane(Pane):
    BINDINGS = [Binding("R", "reveal", "Reveal PII")]
    selected: str | None = None
    selected_pii: list[str] = []

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Table(id="snapshot-table", cursor_type="row")
            with VerticalScroll(id="snapshot-detail"):
                yield Static("Select a snapshot.", id="snapshot-info")

    def on_mount(self) -> None:
        self.query_one("#snapshot-table", DataTable).add_columns("snapshot", "kind")

    @work(thread=True, exclusive=True, exit_on_error=False, group="data")
    def reload(self) -> None:
        from core.data import snapshots

        rows = snapshots.list_snapshots(self.ledger_app.workspace, self.ledger_app.actor)
        self.app.call_from_thread(self._fill, rows)

    def _fill(self, rows: list[Any]) -> None:
        table = self.query_one("#snapshot-table", DataTable)
        table.clear()
        for r in rows:
            # "erased" alone, and no row count: the detail says both, and the table fits in
            # the 45% of 80 columns it has.
            kind = r.kind if r.erased_seq is None else "erased"
            table.add_row(r.ref, kind, key=r.ref)

    @on(DataTable.RowHighlighted, "#snapshot-table")
    def _selected(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self.show(str(event.row_key.value))

    @work(thread=True, exclusive=True, exit_on_error=False, group="data-detail")
    def show(self, ref: str) -> None:
        from core.data import views
        from core.documents.views import latest_datasheet

        ws, actor = self.ledger_app.workspace, self.ledger_app.actor
        detail = views.snapshot_detail(ws, ref, actor)
        self.selected, self.selected_pii = detail.snapshot.ref, list(detail.snapshot.pii)
        sheet = views.sheet_shown(ws, detail, latest_datasheet(ws, detail.snapshot.ref, actor))
        text = detail_text(detail, sheet)
        self.app.call_from_thread(self.query_one("#snapshot-info", Static).update, text)

    def action_reveal(self) -> None:
        """Ask for a PII column and a reason, record the reveal, then show the values."""
        from app.tui.dialogs import RevealDialog

        if self.selected is None:
            self.notify("Select a snapshot first.", severity="warning")
            return
        if not self.selected_pii:
            self.notify(f"{self.selected} has no PII column: its profile shows every value.")
            return
        ref = self.selected

        def done(values: dict[str, str] | None) -> None:
            if values is not None:
                self._reveal(ref, values["column"], values["reason"])

        self.app.push_screen(RevealDialog(ref, self.selected_pii), done)

    @work(thread=True, exclusive=True, exit_on_error=False, group="data-reveal")
    def _reveal(self, ref: str, column: str, reason: str) -> None:
        from core.data import reveal

        shown = reveal.reveal(
            self.ledger_app.workspace, self.ledger_app.actor, ref, column, reason=reason
        )
        self.app.call_from_thread(self._show_revealed, shown)

    def _show_revealed(self, shown: Revealed) -> None:
        from app.tui.dialogs import RevealedDialog

        lines = [f"{'(null)' if v is None else v}  ×{n}" for v, n in shown.values]
        self.app.push_screen(
            RevealedDialog(
                f"{shown.snapshot} {shown.column}: top values (recorded as event #{shown.seq})",
                "\n".join(lines) or "no rows",
            )
        )


def detail_text(detail: SnapshotDetail, sheet: str | None) -> str:
    """The snapshot's detail as Rich markup (every recorded value escaped)."""
    snap = detail.snapshot
    lines = [
        f"[b]{snap.ref}[/b] · {counted(snap.rows, 'rows')} · "
        f"table sha256:{snap.table_digest[:16]}…",
        "provenance:",
        *key_values(snap.provenance),
        f"PII: {', '.join(snap.pii) or 'none'} · sensitive: "
        f"{', '.join(snap.sensitive) or 'none'} · retention: {snap.retention or '-'}",
        "",
        "[b]Profile[/b]",
    ]
    if snap.erased_seq is not None:
        lines.insert(1, f"[b red]ERASED at #{snap.erased_seq}[/b red]: its rows no longer exist")
    # Names and types as wide as the longest, not a fixed 24 and 8: at 80 columns the detail
    # is some 45 wide, and padded names wrapped every profile line in two.
    name_w = min(24, max((len(c.name) for c in detail.columns), default=0))
    type_w = max((len(c.type) for c in detail.columns), default=0)
    for col in detail.columns:
        st = col.stats
        if "withheld" in st:
            summary = "values withheld (PII): counts only"
        elif "mean" in st:
            summary = (
                f"{fmt(st['min'])} … {fmt(st['max'])} mean {fmt(st['mean'])} "
                f"{bars(st.get('histogram', {}).get('counts', []))}"
            )
        else:
            summary = ", ".join(f"{escape(str(v))}×{n}" for v, n in st.get("top_values", [])[:3])
        nulls = f" nulls {st['nulls']}" if st["nulls"] else ""
        lines.append(f"{escape(col.name):<{name_w}} {col.type:<{type_w}}{nulls} {summary}")
    if sheet is None:
        sheet = f"none recorded: `ledgerml report datasheet {snap.ref}` writes one"
    lines += ["", "[b]Validation[/b]"]
    for run in detail.validations:
        lines.append(f"#{run.seq} {escape(run.suite_name)} {VERDICT_STYLE[run.verdict]}")
        for c in run.checks:
            lines.append(f"   {MARKS[c.verdict]} {escape(c.name)}: {escape(_figure(c.observed))}")
    if not detail.validations:
        lines.append("none recorded")
    lines += ["", "[b]Data sheet[/b] (latest recorded)", escape(sheet[:6000])]
    return "\n".join(lines)


def _figure(value: Any) -> str:
    """A check's observed figure: numbers to three places, structures in words (no dicts)."""
    from reports.formatting import humane

    return fmt(value) if isinstance(value, float | int | str) else humane(value)
