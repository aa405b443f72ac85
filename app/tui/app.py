"""LedgerApp: the workstation over a workspace, or read-only over an exported bundle."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, ProgressBar, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from app.tui.actions import WRITE_ACTIONS, WriteActions
from app.tui.dialogs import ErrorDialog, SecretDialog
from app.tui.help import HelpScreen, LedgerCommands, VerdictLegend
from app.tui.panes import (
    ApprovalsPane,
    BundlePane,
    DataPane,
    InventoryPane,
    LedgerPane,
    LineagePane,
    ModelsPane,
    OperationsPane,
    OverviewPane,
    Pane,
)
from app.tui.panes.base import NARROW  # below it the tabs drop their numbers

TABS = (
    "overview",
    "data",
    "models",
    "lineage",
    "ledger",
    "bundle",
    "approvals",
    "registry",
    "operations",
)
VERDICT_TABS = ("overview", "data", "models", "approvals", "registry", "operations")
"""The tabs that show verdicts, each with the colour legend under it."""


class FirstShow(Widget):
    """Stands in for a hidden tab's content until the tab is first shown.

    A tab nobody opens costs nothing: its pane (tables, tree, inputs, plots) and its verdict
    legend are mounted when the tab is first shown, and load then. Mounting the eight hidden
    tabs after the first paint, as before, tripled the widgets on the screen, and every
    restyle, every frame's bookkeeping and every wait for the screen walked all of them.
    """

    DEFAULT_CSS = "FirstShow { display: none; }"

    def __init__(self, pane: Pane, *extra: Widget) -> None:
        super().__init__()
        self.pane = pane
        self.extra = extra

    async def swap(self) -> None:
        """Put the pane (and what goes under it) in this placeholder's place."""
        tab = self.parent
        if not isinstance(tab, Widget) or not tab.is_attached or not self.is_attached:
            return
        await tab.mount(self.pane, *self.extra, after=self)
        await self.remove()


class LedgerApp(WriteActions):
    """Keyboard-first audit workstation. State changes ask for a reason and run in workers."""

    TITLE = "ledgerml"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {LedgerCommands}
    # Every key that records something opens a dialog that says what it will record; the help
    # (?) and the palette (ctrl+p) are generated from this list.
    BINDINGS = [
        *(
            Binding(str(n), f"tab('{tab}')", tab.capitalize(), show=False)
            for n, tab in enumerate(TABS, start=1)
        ),
        Binding("question_mark", "help", "Keys", key_display="?", tooltip="Every key, here"),
        Binding(
            "slash",
            "focus_prompt",
            "Type",
            key_display="/",
            show=False,
            tooltip="Type in this tab's field (lineage, ledger filter, bundle path)",
        ),
        Binding("r", "refresh", "Refresh", tooltip="Reload every tab from the workspace"),
        Binding("v", "verify", "Verify", tooltip="Recompute chain, Merkle roots, signatures"),
        Binding("c", "checkpoint", "Checkpoint", tooltip="Sign the ledger's root (confirms)"),
        Binding("s", "sign_model", "Sign", tooltip="Sign the selected model (confirms)"),
        Binding(
            "e",
            "evaluate_model",
            "Evaluate",
            tooltip="Evaluate the selected model with a suite (confirms)",
        ),
        Binding("x", "export_bundle", "Export", tooltip="Export an audit bundle (confirms)"),
        Binding("p", "prove", "Prove", show=False, tooltip="Merkle proof of the selected event"),
        Binding(
            "a",
            "add_snapshot",
            "Add snapshot",
            show=False,
            tooltip="Record a dataset version (confirms)",
        ),
        Binding(
            "V",
            "validate_snapshot",
            "Validate",
            show=False,
            tooltip="Run a validation suite on a snapshot (confirms)",
        ),
        Binding(
            "t", "train_model", "Train", show=False, tooltip="Train from a training spec (confirms)"
        ),
        Binding(
            "A",
            "approve_version",
            "Approve",
            show=False,
            tooltip="Approve the selected version (confirms, signs)",
        ),
        Binding(
            "J",
            "reject_version",
            "Reject",
            show=False,
            tooltip="Reject the selected version (confirms, signs)",
        ),
        Binding(
            "B",
            "rollback_deployment",
            "Roll back",
            show=False,
            tooltip="Roll the selected environment back (confirms)",
        ),
        Binding(
            "W",
            "withdraw_deployment",
            "Withdraw",
            show=False,
            tooltip="Withdraw the selected deployment (confirms)",
        ),
        Binding("ctrl+t", "toggle_dark", "Theme", show=False, tooltip="Light or dark"),
        Binding(
            "ctrl+x",
            "cancel_action",
            "Cancel job",
            show=False,
            tooltip="Stop the running action before it records",
        ),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        workspace: Any = None,
        *,
        actor: str = "",
        bundle_path: Path | None = None,
        workspace_path: Path | None = None,
    ) -> None:
        super().__init__()
        self.workspace = workspace
        self.workspace_path = workspace_path
        self.actor = actor
        self.bundle_path = bundle_path
        self.bundle_verdict: str | None = None
        # Read-only until the actor's roles are known; always for a bundle.
        self.read_only = True
        self.bundle_only = bundle_path is not None and workspace is None and workspace_path is None

    @work(thread=True, exit_on_error=False, group="startup")
    def _open_workspace(self) -> None:
        # Heavy imports (DuckDB, SQLModel) and the catalog open happen after the first paint.
        from core.audit import views
        from core.kernel.workspace import Workspace

        ws = self.workspace or Workspace.open(self.workspace_path)
        self.call_from_thread(self._workspace_ready, ws, views.read_only(ws, self.actor))

    def _workspace_ready(self, ws: Any, read_only: bool) -> None:
        self.workspace, self.read_only = ws, read_only
        mode = "read-only" if read_only else f"as {self.actor}"
        # The folder's name, not its path: at 80 columns a long path cut the title off.
        self.sub_title = f"{Path(ws.root).name} · {mode}"
        self.refresh_bindings()
        self._reload_active()

    def _reload_active(self) -> None:
        active = self.query_one("#tabs", TabbedContent).active
        for pane in self.query(Pane):
            if pane.id == f"pane-{active}":
                pane.reload()

    async def _first_show(self, tab: str) -> bool:
        """Mount the tab's pane if this is the first time it is shown; whether it was."""
        holders = list(self.query(f"#{tab} > FirstShow").results(FirstShow))
        for holder in holders:
            await holder.swap()
        return bool(holders)

    def panes(self) -> list[Pane]:
        """Every tab's pane, mounted or still waiting for its tab to be shown."""
        return [*self.query(Pane), *(h.pane for h in self.query(FirstShow))]

    async def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        fresh = await self._first_show(str(event.pane.id))
        if self.workspace is not None:
            self._reload_active()
        if fresh:  # focus scrolls the focused table into view: only once it is laid out
            self.call_after_refresh(self._focus_shown, event.pane)
        else:
            self._focus_shown(event.pane)

    def _focus_shown(self, shown: TabPane) -> None:
        """Give the shown tab's table or tree the focus, unless a key already chose."""
        focused = self.focused
        if focused is not None and shown in focused.ancestors:
            # A key that followed the digit (/ on the field) already chose; in a terminal both
            # arrive before this message, and moving focus now would send the typed name to
            # the bindings instead of the field.
            return
        # No input takes focus by itself (the digits would be typed into it): / does that.
        if shown.id == "lineage":
            for lineage in self.query(LineagePane):
                lineage.leave_prompt()
        elif shown.id == "bundle":
            for bundle in self.query(BundlePane):
                bundle.leave_prompt()
        elif shown.id == "ledger":  # the cursor keys walk the events at once
            for ledger in self.query(LedgerPane):
                ledger.leave_prompt()
        elif shown.id == "approvals":  # the cursor keys walk the queue at once
            for pane in self.query(ApprovalsPane):
                pane.focus_queue()
        elif shown.id == "registry":
            for registry in self.query(InventoryPane):
                registry.focus_table()
        elif shown.id == "operations":
            for ops in self.query(OperationsPane):
                ops.focus_table()

    def compose(self) -> ComposeResult:
        yield Header()
        if self.bundle_only:
            with TabbedContent(initial="bundle", id="tabs"), TabPane("Bundle", id="bundle"):
                yield BundlePane()
        else:
            # The tab keys are shown on the tabs themselves, which keeps the footer short enough
            # for the action keys at 120 columns.
            with TabbedContent(initial="overview", id="tabs"):
                for key, (tab, pane) in enumerate(
                    (
                        ("overview", OverviewPane),
                        ("data", DataPane),
                        ("models", ModelsPane),
                        ("lineage", LineagePane),
                        ("ledger", LedgerPane),
                        ("bundle", BundlePane),
                        ("approvals", ApprovalsPane),
                        ("registry", InventoryPane),
                        ("operations", OperationsPane),
                    ),
                    start=1,
                ):
                    with TabPane(f"{key} {tab.capitalize()}", id=tab):
                        widget = pane(id=f"pane-{tab}")
                        legend = [VerdictLegend()] if tab in VERDICT_TABS else []
                        if tab == "overview":
                            yield from (widget, *legend)
                        else:
                            yield FirstShow(widget, *legend)
        yield ProgressBar(id="action-progress", show_eta=False)
        yield Footer()

    def on_resize(self) -> None:
        # Nine numbered tabs need 100 columns: narrower, the names alone fit in 80 (the digits
        # still switch, and ? lists them), so no tab is cut off or scrolled out of sight.
        narrow = self.size.width < NARROW
        self.set_class(narrow, "-narrow")
        for footer in self.query(Footer):
            footer.compact = narrow  # every key's label in 80 columns
        found = self.query("#tabs")
        if not found:
            return
        tabs = found.first(TabbedContent)
        for n, tab in enumerate(TABS, start=1):
            if tabs.query(f"#{tab}"):
                tabs.get_tab(tab).label = tab.capitalize() if narrow else f"{n} {tab.capitalize()}"

    def on_mount(self) -> None:
        from core.identity import secrets

        secrets.PROMPT = self._ask_secret
        self.cancel_requested = threading.Event()
        self.query_one("#action-progress", ProgressBar).display = False
        if self.bundle_only:
            self.sub_title = f"{self.bundle_path} · read-only review"
        else:
            self.sub_title = "opening the workspace…"

    def on_unmount(self) -> None:
        from core.identity import secrets

        if self._ask_secret == secrets.PROMPT:
            secrets.PROMPT = None

    def _ask_secret(self, what: str) -> str | None:
        """Core asks for a secret from an action's worker thread: show a dialog and wait."""
        if threading.current_thread() is threading.main_thread():
            return None  # the event loop must never block; actions run in workers
        answer: list[str | None] = []
        ready = threading.Event()

        def done(value: str | None) -> None:
            answer.append(value)
            ready.set()

        self.call_from_thread(self.push_screen, SecretDialog(what), done)
        ready.wait()
        return answer[0]

    def on_ready(self) -> None:
        # Ready follows the first paint. The worker that opens the workspace starts now
        # (DuckDB's import and the catalog's open would otherwise compete with the paint);
        # the hidden tabs' panes wait until their tab is shown.
        if not self.bundle_only:
            self._open_workspace()

    # -- navigation ---------------------------------------------------------------------

    def action_tab(self, tab: str) -> None:
        tabs = self.query_one("#tabs", TabbedContent)
        if tabs.query(f"#{tab}"):
            # Focus left inside the old pane would be moved by Textual to a focusable widget
            # there, and a focused widget's pane becomes active again: drop it first.
            self.set_focus(None)
            tabs.active = tab

    async def action_focus_prompt(self) -> None:
        """Put the cursor in the shown tab's field; Escape leaves it, Enter runs it."""
        active = self.query_one("#tabs", TabbedContent).active
        # A / typed right behind the digit of a tab never shown arrives before its pane.
        await self._first_show(active)
        for pane in self.query(Pane):
            if pane.id == f"pane-{active}":
                pane.focus_prompt()

    async def run_pane_action(self, tab: str, action: str) -> None:
        """Run a tab's action as its key does there, showing the tab first (the palette)."""
        self.action_tab(tab)
        await self._first_show(tab)
        for pane in self.query(Pane):
            if pane.id == f"pane-{tab}":
                await pane.run_action(action)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def jump_to(self, node: str) -> None:
        """Open the record's screen (from the lineage tree)."""
        if node.startswith("model:"):
            self.action_tab("models")
            await self._first_show("models")
            self.query_one(ModelsPane).show(node.removeprefix("model:"))
        elif node.startswith("snapshot:"):
            self.action_tab("data")
            await self._first_show("data")
            self.query_one(DataPane).show(node.removeprefix("snapshot:"))

    def action_refresh(self) -> None:
        for pane in self.query(Pane):
            pane.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in WRITE_ACTIONS and self.read_only:
            return False
        return not (self.workspace is None and action in ("verify", "prove", "refresh"))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        commands = [
            ("Verify the ledger", "Recompute chain, Merkle roots, signatures", "verify"),
            ("Prove the selected event", "Merkle inclusion proof", "prove"),
            ("Sign a checkpoint", "Your own key signs the ledger's root", "checkpoint"),
            ("Sign the selected model", "DSSE + OpenSSF signature", "sign_model"),
            (
                "Evaluate the selected model",
                "Fairness, SHAP, robustness, privacy",
                "evaluate_model",
            ),
            ("Export a bundle", "One verifiable zip for auditors", "export_bundle"),
            ("Add a snapshot", "Immutable dataset version", "add_snapshot"),
            ("Validate a snapshot", "Run a validation suite", "validate_snapshot"),
            ("Train a model", "From a training spec", "train_model"),
            ("Approve the selected version", "Sign an approval (approvals tab)", "approve_version"),
            ("Reject the selected version", "Sign a rejection (approvals tab)", "reject_version"),
            (
                "Roll back the selected environment",
                "To its previous approved model (operations tab)",
                "rollback_deployment",
            ),
            (
                "Withdraw the selected deployment",
                "Out of service, nothing in its place (operations tab)",
                "withdraw_deployment",
            ),
        ]
        for title, help_text, action in commands:
            if self.check_action(action, ()):
                yield SystemCommand(title, help_text, getattr(self, f"action_{action}"))

    # -- read actions ----------------------------------------------------------------

    async def action_verify(self) -> None:
        self.action_tab("ledger")
        await self._first_show("ledger")
        self.query_one(LedgerPane).verify()

    def action_prove(self) -> None:
        for ledger in self.query(LedgerPane):  # none until the ledger tab was shown
            seq = ledger.selected_seq
            if seq is not None:
                ledger.prove(seq)

    # -- errors: a notification or a dialog, never a crash --------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR or event.worker.error is None:
            return
        self.show_error(event.worker.error)

    def show_error(self, error: BaseException) -> None:
        from core.kernel.errors import LedgerError, WorkspaceBusyError

        if isinstance(error, WorkspaceBusyError):
            self.notify(
                f"{error.msg}. Press r to retry.",
                title="Workspace busy",
                severity="warning",
                timeout=8,
            )
        elif isinstance(error, LedgerError):
            self.notify(
                error.msg + (f"\n{error.hint}" if error.hint else ""),
                title=error.title,
                severity="error",
                timeout=10,
            )
        else:
            detail = "".join(traceback.format_exception(error))[-3000:]
            self.push_screen(ErrorDialog(f"Unexpected error: {error!r}", detail))


def make_app(
    workspace_path: Path | None = None, *, actor: str = "", bundle: Path | None = None
) -> LedgerApp:
    """The app for a workspace, or for read-only review of a bundle (no workspace needed).

    The workspace opens in a worker after the first paint, so the screen appears at once.
    """
    if bundle is not None:
        return LedgerApp(None, actor=actor, bundle_path=bundle)
    from core.kernel.paths import locate

    return LedgerApp(None, actor=actor, workspace_path=locate(workspace_path))
