"""The operations tab: what is deployed where, what it decided, how it is watched.

Everything is read through :func:`core.operations.views.board` (the same reads as
``ledgerml deployments``): deployments per environment with their arm, model, since when,
canary share and throttle; decisions logged per environment; the latest monitoring runs with
their verdicts; open incidents. Rolling back and withdrawing are the tab's actions (B and W),
each behind a dialog that says what will change and asks for a reason before anything runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from app.tui.panes.base import Pane, Table, counted, verdict_cell, verdict_colour, when
from app.tui.plots import Chart, Line, Series

if TYPE_CHECKING:
    from core.operations.views import Board, DriftPoint


def share_text(value: float | None) -> str:
    """A share of traffic for a cell: ``10%``, or ``-`` when it does not apply."""
    return "-" if value is None else f"{value:.0%}"


def drift_series(points: list[DriftPoint]) -> Series | None:
    """Input drift (largest feature PSI) per monitoring run, one line per environment.

    The x axis is the run's event number, which orders the windows in time; a run that could
    not measure drift (no logged inputs) is left out, not drawn as zero.
    """
    measured = [p for p in points if p.psi is not None]
    if not measured:
        return None
    envs = sorted({p.env for p in measured})
    return Series(
        title="Input drift over time",
        xlabel="monitoring run (event #)",
        ylabel="max feature PSI",
        lines=[
            Line(
                env,
                [float(p.seq) for p in measured if p.env == env],
                [float(p.psi or 0.0) for p in measured if p.env == env],
            )
            for env in envs
        ],
        xticks=[(float(p.seq), f"#{p.seq}") for p in measured],
    )


class OperationsPane(Pane):
    """Deployments on the left (the selection the actions act on); the rest on the right."""

    DEFAULT_CSS = """
    OperationsPane #ops-left { width: 3fr; }
    OperationsPane #ops-right { width: 2fr; }
    OperationsPane DataTable { height: auto; max-height: 14; margin-bottom: 1; }
    """

    def compose(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="ops-left"):
                yield Static("[b]Deployed now[/b]", id="ops-deployed-title")
                yield Table(id="ops-deployments", cursor_type="row")
                yield Static("", id="ops-detail")
            with VerticalScroll(id="ops-right"):
                yield Static("[b]Decisions logged[/b]")
                yield Table(id="ops-decisions", cursor_type="row")
                yield Static("[b]Latest monitoring runs[/b]")
                yield Table(id="ops-monitoring", cursor_type="row")
                yield Chart(id="ops-drift")
                yield Static("[b]Open incidents[/b]")
                yield Table(id="ops-incidents", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#ops-deployments", DataTable).add_columns(
            "env", "arm", "model", "since", "share", "throttle"
        )
        self.query_one("#ops-decisions", DataTable).add_columns(
            "env", "decisions", "refused", "errors", "batches", "last"
        )
        self.query_one("#ops-monitoring", DataTable).add_columns(
            "#", "env", "window end", "verdict", "decisions"
        )
        self.query_one("#ops-incidents", DataTable).add_columns(
            "#", "env", "severity", "status", "title"
        )
        self.board: Board | None = None
        self.rows: dict[str, Any] = {}

    @property
    def selected(self) -> Any:
        """The highlighted deployment (a :class:`core.operations.deployments.Deployment`)."""
        table = self.query_one("#ops-deployments", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.rows.get(str(key))

    def reload(self) -> None:
        if self.shown:
            self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="operations")
    def _load(self) -> None:
        from core.operations import views

        board = views.board(self.ledger_app.workspace, self.ledger_app.actor)
        self.app.call_from_thread(self._fill, board)

    def fit_columns(self) -> None:
        # Narrow, "since" is a short time, so a refused arm's longer cell leaves the columns
        # after it in view at 80 columns.
        if self.board is not None:
            self._fill(self.board)

    def _fill(self, board: Board) -> None:
        self.board = board
        deployed = self.query_one("#ops-deployments", DataTable)
        deployed.clear()
        self.rows = {}
        for d in board.now.deployments:
            r = d.row
            self.rows[d.deployment_id] = d
            refused = board.now.refusal(d.deployment_id) is not None  # deployed, answering none
            deployed.add_row(
                r.env,
                Text(f"{r.arm}, refused", style=verdict_colour("FAIL")) if refused else r.arm,
                r.model,
                f"#{r.seq} {when(r.created_at, self.is_narrow)[:16]}",
                share_text(r.share),
                share_text(board.now.throttles.get(r.env)),
                key=d.deployment_id,
            )
        self.query_one("#ops-deployed-title", Static).update(
            f"[b]Deployed now[/b] ({len(board.now.deployments)} in "
            f"{counted(len({d.row.env for d in board.now.deployments}), 'environments')})"
        )
        decisions = self.query_one("#ops-decisions", DataTable)
        decisions.clear()
        for c in board.decisions:
            decisions.add_row(
                c.env, c.decisions, c.refused, c.errors, c.batches, when(c.last_ts or "", False)
            )
        runs = self.query_one("#ops-monitoring", DataTable)
        runs.clear()
        for m in board.runs:
            runs.add_row(
                m.seq,
                m.env,
                when(m.window_end, False),
                verdict_cell(m.verdict),
                m.decisions,
            )
        incidents = self.query_one("#ops-incidents", DataTable)
        incidents.clear()
        for i in board.incidents:
            incidents.add_row(i.seq, i.env, i.severity, i.status, i.title)
        self.query_one("#ops-drift", Chart).show(drift_series(board.drift))
        self._show(self.selected)

    def _show(self, dep: Any) -> None:
        info = self.query_one("#ops-detail", Static)
        if dep is None:
            info.update(
                "Nothing is deployed. `ledgerml deploy NAME@N --env ENV --reason …` puts a "
                "version to work; the policy's deploy gate decides."
            )
            return
        r = dep.row
        lines = [
            f"[b]{escape(r.model)}[/b] in [b]{escape(r.env)}[/b] as {r.arm} · {r.deployment_id}",
            f"deployed at event #{r.seq} by {escape(r.created_by)}: {escape(r.reason)}",
            f"retention {r.retention} · model digest {r.model_digest[:19]}",
        ]
        refused = self.board.now.refusal(r.deployment_id) if self.board else None
        if refused:
            lines.append(f"[ansi_red]scoring here refuses it now[/]: {escape(refused)}")
        for c in dep.conditions:
            how = (
                f"enforced by scoring ({escape(c.where)})"
                if c.where
                else "recorded only: scoring cannot check it"
            )
            lines.append(f"condition: {escape(c.text)} [dim]({escape(c.by)}; {how})[/dim]")
        lines.append(
            "\n[dim]B rolls this environment back to its previous approved model, W withdraws "
            "this deployment: each shows what will change and asks for a reason first.[/dim]"
        )
        info.update("\n".join(lines))

    @on(DataTable.RowHighlighted, "#ops-deployments")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(self.rows.get(str(event.row_key.value)))

    def focus_table(self) -> None:
        """Focus the deployments, so the cursor keys choose what B and W act on.

        Without scrolling: the table sits under its heading, which must stay in view (a
        scroll that depended on whether layout had run first made the tab's picture vary).
        """
        self.query_one("#ops-deployments", DataTable).focus(scroll_visible=False)
