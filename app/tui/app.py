"""LedgerApp: the workstation over a workspace, or read-only over an exported bundle."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, ProgressBar, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from app.tui.dialogs import ActionDialog, ErrorDialog
from app.tui.panes import (
    BundlePane,
    DataPane,
    LedgerPane,
    LineagePane,
    ModelsPane,
    OverviewPane,
    Pane,
)

TABS = ("overview", "data", "models", "lineage", "ledger", "bundle")
WRITE_ACTIONS = {
    "checkpoint",
    "sign_model",
    "evaluate_model",
    "export_bundle",
    "validate_snapshot",
    "add_snapshot",
    "train_model",
}


class AfterFirstPaint(Widget):
    """Stands in for a hidden tab's pane until the first frame is painted.

    Like Textual's ``Lazy``: mounting the five hidden panes (their tables, tree, inputs and the
    CSS of every widget class) took about a third of the CPU before the first paint. Unlike
    ``Lazy``, nothing is mounted into a tab that is already gone (the app quit within its first
    frame), and a pane whose tab was opened before it arrived loads at once.
    """

    DEFAULT_CSS = "AfterFirstPaint { display: none; }"

    def __init__(self, pane: Pane) -> None:
        super().__init__()
        self.pane = pane

    async def swap(self) -> None:
        """Put the pane in this placeholder's place (the app calls it once it is Ready)."""
        tab = self.parent
        if not isinstance(tab, Widget) or not tab.is_attached or not self.is_attached:
            return
        await tab.mount(self.pane, after=self)
        await self.remove()
        app = self.app
        opened = isinstance(app, LedgerApp) and app.workspace is not None
        if opened and app.query_one("#tabs", TabbedContent).active == tab.id:
            self.pane.reload()


class LedgerApp(App[None]):
    """Keyboard-first audit workstation. State changes ask for a reason and run in workers."""

    TITLE = "ledgerml"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("1", "tab('overview')", "Overview", show=False),
        Binding("2", "tab('data')", "Data", show=False),
        Binding("3", "tab('models')", "Models", show=False),
        Binding("4", "tab('lineage')", "Lineage", show=False),
        Binding("5", "tab('ledger')", "Ledger", show=False),
        Binding("6", "tab('bundle')", "Bundle", show=False),
        Binding("r", "refresh", "Refresh"),
        Binding("v", "verify", "Verify"),
        Binding("c", "checkpoint", "Checkpoint"),
        Binding("s", "sign_model", "Sign"),
        Binding("e", "evaluate_model", "Evaluate"),
        Binding("x", "export_bundle", "Export"),
        Binding("p", "prove", "Prove", show=False),
        Binding("a", "add_snapshot", "Add snapshot", show=False),
        Binding("V", "validate_snapshot", "Validate", show=False),
        Binding("t", "train_model", "Train", show=False),
        Binding("ctrl+t", "toggle_dark", "Theme", show=False),
        Binding("ctrl+x", "cancel_action", "Cancel job", show=False),
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
        mode = "read-only review" if read_only else f"acting as {self.actor}"
        self.sub_title = f"{ws.root} · {mode}"
        self.refresh_bindings()
        self._reload_active()

    def _reload_active(self) -> None:
        active = self.query_one("#tabs", TabbedContent).active
        for pane in self.query(Pane):
            if pane.id == f"pane-{active}":
                pane.reload()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if self.workspace is not None:
            self._reload_active()
        if event.pane.id == "lineage":  # the tab's first job is typing a record's name
            self.query_one(LineagePane).focus_prompt()

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
                    ),
                    start=1,
                ):
                    with TabPane(f"{key} {tab.capitalize()}", id=tab):
                        widget = pane(id=f"pane-{tab}")
                        yield widget if tab == "overview" else AfterFirstPaint(widget)
        yield ProgressBar(id="action-progress", show_eta=False)
        yield Footer()

    def on_mount(self) -> None:
        self.cancel_requested = threading.Event()
        self.query_one("#action-progress", ProgressBar).display = False
        if self.bundle_only:
            self.sub_title = f"{self.bundle_path} · read-only review"
        else:
            self.sub_title = "opening the workspace…"

    def on_ready(self) -> None:
        # Ready follows the first paint. What is not needed for it starts now: the hidden
        # tabs' panes, and the worker that opens the workspace (DuckDB's import and the
        # catalog's open would otherwise compete with the paint).
        for holder in self.query(AfterFirstPaint):
            holder.call_later(holder.swap)
        if not self.bundle_only:
            self._open_workspace()

    # -- navigation ---------------------------------------------------------------------

    def action_tab(self, tab: str) -> None:
        tabs = self.query_one("#tabs", TabbedContent)
        if tabs.query(f"#{tab}"):
            # Focus left inside the old pane would be moved by Textual to a focusable widget
            # there, and a focused widget's pane becomes active again: drop it first.
            self.set_focus(None)
            if tabs.active == tab == "lineage":  # no TabActivated: go back to the prompt
                self.query_one(LineagePane).focus_prompt()
            tabs.active = tab

    def jump_to(self, node: str) -> None:
        """Open the record's screen (from the lineage tree)."""
        if node.startswith("model:"):
            self.action_tab("models")
            self.query_one(ModelsPane).show(node.removeprefix("model:"))
        elif node.startswith("snapshot:"):
            self.action_tab("data")
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
            ("Sign a checkpoint", "Workspace key signs the ledger's root", "checkpoint"),
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
        ]
        for title, help_text, action in commands:
            if self.check_action(action, ()):
                yield SystemCommand(title, help_text, getattr(self, f"action_{action}"))

    # -- state-changing actions: a reason, a worker, a message ----------------------------

    def _ask(
        self,
        title: str,
        fields: list[tuple[str, str, str]],
        run: Callable[[dict[str, str], Any], str],
        details: list[tuple[str, str, str]] | None = None,
    ) -> None:
        def done(values: dict[str, str] | None) -> None:
            if values is not None:
                self._run_action(title, run, values)

        self.push_screen(ActionDialog(title, fields, details), done)

    @work(thread=True, exit_on_error=False, group="actions")
    def _run_action(
        self, title: str, run: Callable[[dict[str, str], Any], str], values: dict[str, str]
    ) -> None:
        from core.kernel.progress import JobCancelledError

        bar = self.query_one("#action-progress", ProgressBar)

        def progress(done: int, total: int | None, note: str = "") -> None:
            # Core reports progress between steps, before anything is recorded: stopping here
            # leaves the workspace as it was.
            if self.cancel_requested.is_set():
                raise JobCancelledError(f"{title} cancelled; nothing was recorded")
            self.call_from_thread(bar.update, total=total, progress=done)

        self.call_from_thread(setattr, bar, "display", True)
        self.call_from_thread(self.notify, f"{title}… (ctrl+x cancels)", timeout=3)
        try:
            progress(0, None)
            message = run(values, progress)
        finally:
            self.cancel_requested.clear()
            self.call_from_thread(setattr, bar, "display", False)
        self.call_from_thread(self.notify, message, title=title)
        self.call_from_thread(self.action_refresh)

    def action_cancel_action(self) -> None:
        self.cancel_requested.set()
        self.notify("Cancelling at the next step…", timeout=3)

    def _selected_model(self) -> str:
        return self.query_one(ModelsPane).selected or ""

    def action_verify(self) -> None:
        self.action_tab("ledger")
        self.query_one(LedgerPane).verify()

    def action_prove(self) -> None:
        seq = self.query_one(LedgerPane).selected_seq
        if seq is not None:
            self.query_one(LedgerPane).prove(seq)

    def action_checkpoint(self) -> None:
        from core.audit import trail as audit

        def run(values: dict[str, str], progress: Any) -> str:
            cp, created = audit.checkpoint(self.workspace, self.actor)
            return f"checkpoint {'signed' if created else 'already signed'} at #{cp.size}"

        self._ask("Sign a checkpoint", [], run)

    def action_sign_model(self) -> None:
        from core.modelling import models

        def run(values: dict[str, str], progress: Any) -> str:
            row = models.sign(self.workspace, self.actor, values["model"], reason=values["reason"])
            return f"signed {row.subject} at event #{row.seq}"

        self._ask("Sign a model", [("model", "Model version", self._selected_model())], run)

    def action_evaluate_model(self) -> None:
        from core.evidence import evaluation

        def run(values: dict[str, str], progress: Any) -> str:
            seq, ev = evaluation.evaluate(
                self.workspace,
                self.actor,
                values["model"],
                Path(values["suite"]),
                reason=values["reason"],
                progress=progress,
            )
            return f"evidence #{seq}: {'passed' if ev['passed'] else 'FAILED'}"

        self._ask(
            "Evaluate a model",
            [
                ("model", "Model version", self._selected_model()),
                ("suite", "Evaluation suite (TOML)", ""),
            ],
            run,
        )

    def action_export_bundle(self) -> None:
        from core.audit import bundle

        def run(values: dict[str, str], progress: Any) -> str:
            result = bundle.export(
                self.workspace,
                self.actor,
                values["model"],
                Path(values["path"]),
                data=values["data"] or "full",
                reason=values["reason"],
                progress=progress,
            )
            return f"bundle written: {result['path']} ({result['members']} members)"

        model = self._selected_model()
        stem = model.replace("@", "-") or "bundle"
        # Export never replaces a file: propose the first free name.
        path = next(
            name
            for n in range(1, 10_000)
            if not Path(name := f"{stem}.zip" if n == 1 else f"{stem}-{n}.zip").exists()
        )
        self._ask(
            "Export an audit bundle",
            [
                ("model", "Model version", model),
                ("path", "Bundle file", path),
                ("data", "Data level (full or hashes)", "full"),
            ],
            run,
        )

    def action_add_snapshot(self) -> None:
        from core.data import snapshots

        def run(values: dict[str, str], progress: Any) -> str:
            # The same request `ledgerml snapshot add` builds from its options.
            request = snapshots.SnapshotRequest(
                Path(values["file"]),
                values["dataset"],
                provenance={k: values[k] for k in snapshots.PROVENANCE_FIELDS},
                pii=snapshots.split_columns(values["pii"]),
                sensitive=snapshots.split_columns(values["sensitive"]),
                retention=values["retention"],
                reason=values["reason"],
            )
            snap, created = snapshots.submit(self.workspace, self.actor, request, progress=progress)
            if created:
                return f"{snap.ref} recorded"
            ignored = request.unapplied(snap)
            return f"{snap.ref} already holds these bytes" + (
                f"; not applied: {', '.join(ignored)} (a version's description is fixed when "
                "it is recorded)"
                if ignored
                else ""
            )

        self._ask(
            "Add a snapshot",
            [("file", "File (CSV, Parquet, JSON Lines)", ""), ("dataset", "Dataset name", "")],
            run,
            # The options of `ledgerml snapshot add`, with its help texts; all optional.
            details=[
                ("source", "Source", "where the data came from"),
                ("collected_by", "Collected by", "who collected it"),
                ("collection_method", "Collection method", "how it was collected"),
                ("legal_basis", "Legal basis", "GDPR Art. 6 basis, contract…"),
                ("consent", "Consent", "consent obtained, and how"),
                ("pii", "PII columns", "comma-separated columns holding PII"),
                ("sensitive", "Sensitive columns", "comma-separated (sex, age…)"),
                ("retention", "Retention", "how long to keep it: 90d, 18m, 7y"),
            ],
        )

    def action_validate_snapshot(self) -> None:
        from core.data import validation

        def run(values: dict[str, str], progress: Any) -> str:
            row, _ = validation.run(
                self.workspace,
                self.actor,
                values["snapshot"],
                Path(values["suite"]),
                reason=values["reason"],
                progress=progress,
            )
            return f"validation #{row.seq}: {'passed' if row.passed else 'FAILED'}"

        self._ask(
            "Validate a snapshot",
            [("snapshot", "Snapshot", ""), ("suite", "Suite (TOML)", "")],
            run,
        )

    def action_train_model(self) -> None:
        from core.modelling import training

        def run(values: dict[str, str], progress: Any) -> str:
            row = training.train(
                self.workspace,
                self.actor,
                Path(values["spec"]),
                reason=values["reason"],
                progress=progress,
            )
            return f"run:{row.run_id} recorded"

        self._ask("Train a model", [("spec", "Training spec (TOML)", "")], run)

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
