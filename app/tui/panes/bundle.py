"""The bundle tab: review an exported bundle, verified first, then its coverage and reports."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Static

from app.tui.panes.base import Pane, Table, verdict_markup

if TYPE_CHECKING:
    from core.audit.views import BundleReview


class BundlePane(Pane):
    # Markdown is imported where it is used (markdown-it and Pygments cost ~55 ms of CPU): the
    # bundle tab mounts when it is first shown, unless it is the only tab.
    def compose(self) -> ComposeResult:
        from textual.widgets import Markdown

        yield Input(
            placeholder="/ then the path of a bundle to open and verify, Enter", id="bundle-path"
        )
        yield Static("", id="bundle-verdict")
        with Horizontal():
            yield Table(id="coverage", cursor_type="row")
            yield Table(id="bundle-reports", cursor_type="row")
            yield Markdown("", id="bundle-report")

    def on_mount(self) -> None:
        self.texts: dict[str, str] = {}
        self.query_one("#coverage", DataTable).add_columns("item", "answered by")
        self.query_one("#bundle-reports", DataTable).add_columns("read")
        if self.ledger_app.bundle_path:
            self.query_one("#bundle-path", Input).value = str(self.ledger_app.bundle_path)
            self.open_bundle(str(self.ledger_app.bundle_path))

    @on(Input.Submitted, "#bundle-path")
    def _submitted(self, event: Input.Submitted) -> None:
        self.leave_prompt()
        self.open_bundle(event.value.strip())

    @work(thread=True, exclusive=True, exit_on_error=False, group="bundle")
    def open_bundle(self, path: str) -> None:
        from core.audit import views
        from core.kernel.errors import LedgerError

        verdict = self.query_one("#bundle-verdict", Static)
        self.app.call_from_thread(verdict.update, f"Verifying {escape(path)}…")
        try:
            review = views.review_bundle(Path(path))
        except LedgerError as err:  # no such file: nothing was checked, so no verdict
            self.app.call_from_thread(
                verdict.update, f"[ansi_red b]{err.title}[/]: {escape(err.msg)}"
            )
            return
        if review.rejected is not None:
            reason = review.rejected
            self.app.call_from_thread(verdict.update, f"[ansi_red b]REJECTED[/]: {escape(reason)}")
            self.ledger_app.bundle_verdict = f"REJECTED: {reason}"
            return
        lines = "\n".join(f"✓ {escape(c)}" for c in review.checked)
        evidence = evidence_text(review)
        if review.anchored:
            self.ledger_app.bundle_verdict = "VERIFIED"
            head = f"bundle integrity [ansi_green b]VERIFIED[/] · {evidence}"
        else:
            self.ledger_app.bundle_verdict = "SELF-CONSISTENT, UNANCHORED"
            head = (
                f"bundle integrity [ansi_yellow b]SELF-CONSISTENT but UNANCHORED[/] · {evidence}"
                ": pin the organisation's key (trusted-keys file, or `ledgerml bundle verify "
                "--key`) to trust it"
            )
        self.app.call_from_thread(verdict.update, f"{head}\n{lines}")
        self.texts = review.texts
        # Textual awaits a coroutine callback; its stubs cannot say so for a coroutine function.
        self.app.call_from_thread(self._fill, review)  # type: ignore[arg-type]

    async def _fill(self, review: BundleReview) -> None:
        # Awaited to the end (call_from_thread waits for a coroutine): the Markdown widget
        # parses and mounts its blocks asynchronously, and until it has, the review shows an
        # empty card. The worker, and so anyone waiting on it, ends only once the card is up.
        from textual.widgets import Markdown

        table = self.query_one("#coverage", DataTable)
        table.clear()
        for row in review.coverage:
            table.add_row(row.item, ", ".join(row.files) or "MISSING")
        reports = self.query_one("#bundle-reports", DataTable)
        reports.clear()
        for name in self.texts:
            reports.add_row(name, key=name)
        card = review.texts.get(review.first, "_Nothing to read in this bundle._")
        await self.query_one("#bundle-report", Markdown).update(card)

    @on(DataTable.RowSelected, "#bundle-reports")
    def _read(self, event: DataTable.RowSelected) -> None:
        from textual.widgets import Markdown

        name = str(event.row_key.value)
        self.query_one("#bundle-report", Markdown).update(self.texts.get(name, ""))


def evidence_text(review: BundleReview) -> str:
    """The bundle's evidence verdict in its colour, with the model and the evaluation's event.

    Shown beside the integrity verdict, never folded into it: a bundle whose every byte
    verifies can carry evidence that failed.
    """
    model = escape(review.model)
    if review.evidence_verdict is None:
        return f"evidence {verdict_markup(None, 'none recorded')} · {model}"
    verdict = verdict_markup(review.evidence_verdict)
    return f"evidence [b]{verdict}[/b] · {model} (evaluation #{review.evidence_seq})"
