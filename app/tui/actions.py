"""The workstation's state-changing actions: a dialog confirms, a worker runs it.

No key records anything by itself: each opens a dialog that says exactly what confirming
records (the actor, the event and its target, the reason) and runs only on Run or Enter;
Escape closes it with nothing written.

Each action calls the same core function as its CLI command (the snapshot dialog builds the
same :class:`core.data.snapshots.SnapshotRequest` as ``ledgerml snapshot add``). Core reports
progress between steps, before anything is recorded, so ctrl+x cancels with nothing written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App
from textual.widgets import ProgressBar, TabbedContent

from app.tui.dialogs import ActionDialog, ApprovalDialog, Detail, Field, Recorded
from app.tui.panes import ApprovalsPane, ModelsPane, OperationsPane
from app.tui.panes.approvals import pending_summary
from app.tui.panes.base import counted

WRITE_ACTIONS = {
    "checkpoint",
    "sign_model",
    "evaluate_model",
    "export_bundle",
    "validate_snapshot",
    "add_snapshot",
    "train_model",
    "approve_version",
    "reject_version",
    "rollback_deployment",
    "withdraw_deployment",
}


class WriteActions(App[None]):
    """The actions that change state; :class:`app.tui.app.LedgerApp` binds their keys."""

    workspace: Any
    actor: str
    cancel_requested: threading.Event

    def action_refresh(self) -> None:
        """Reload every pane after an action (the app defines it)."""
        raise NotImplementedError

    def action_tab(self, tab: str) -> None:
        """Show a tab (the app defines it)."""
        raise NotImplementedError

    def _ask(
        self,
        title: str,
        fields: list[Field],
        run: Callable[[dict[str, str], Any], str],
        details: list[Detail] | None = None,
        summary: str = "",
        *,
        recorded: Recorded,
        verb: str = "Run",
        reason: bool = True,
    ) -> None:
        def done(values: dict[str, str] | None) -> None:
            if values is not None:
                self._run_action(title, run, values)

        dialog = ActionDialog(title, fields, details, summary, recorded, verb, reason=reason)
        self.push_screen(dialog, done)

    def _recorded(
        self,
        event: str,
        target: Callable[[dict[str, str]], str],
        signed: bool = False,
        reason: bool = True,
    ) -> Recorded:
        """The confirmation lines of an action: who records which event on what, and why
        (``reason`` False: the action records no event, so no reason either)."""

        def lines(values: dict[str, str]) -> list[tuple[str, str]]:
            return [
                ("actor", self.actor),
                ("records", event + (f" (signed with {self.actor}'s key)" if signed else "")),
                ("target", target(values).strip() or "(not given yet)"),
                *(
                    [("reason", values.get("reason", "").strip() or "(none given)")]
                    if reason
                    else []
                ),
            ]

        return lines

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
        panes = self.query(ModelsPane)  # none until the Models tab was shown
        return (panes.first().selected or "") if panes else ""

    def action_checkpoint(self) -> None:
        from core.audit import checkpoints

        def run(values: dict[str, str], progress: Any) -> str:
            cp, created = checkpoints.checkpoint(self.workspace, self.actor)
            return f"checkpoint {'signed' if created else 'already signed'} at #{cp.size}"

        head = self.workspace.ledger.head()[0]
        self._ask(
            "Sign a checkpoint",
            [],
            run,
            recorded=self._recorded(
                "a signed checkpoint file (no ledger event, so no reason)",
                lambda v: f"the ledger's root at event #{head}",
                signed=True,
                reason=False,
            ),
            verb="Sign",
            reason=False,
        )

    def action_sign_model(self) -> None:
        from core.modelling import models

        def run(values: dict[str, str], progress: Any) -> str:
            row = models.sign(self.workspace, self.actor, values["model"], reason=values["reason"])
            return f"signed {row.subject} at event #{row.seq}"

        self._ask(
            "Sign a model",
            [("model", "Model version", self._selected_model())],
            run,
            recorded=self._recorded("model.sign", lambda v: v["model"], signed=True),
            verb="Sign",
        )

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
            return f"evidence #{seq}: verdict {ev.verdict}" + (
                f" ({ev.errors} failed, {ev.warnings} warning or inconclusive)"
                if ev.verdict != "PASS"
                else ""
            )

        self._ask(
            "Evaluate a model",
            [
                ("model", "Model version", self._selected_model()),
                ("suite", "Evaluation suite (TOML)", ""),
            ],
            run,
            recorded=self._recorded(
                "model.evaluate", lambda v: f"{v['model']} with suite {v['suite'] or '(none)'}"
            ),
            verb="Evaluate",
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
            return f"bundle written: {result['path']} ({counted(result['members'], 'members')})"

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
            recorded=self._recorded(
                "bundle.export",
                lambda v: f"{v['model']} to {v['path']} ({v['data'] or 'full'} data)",
            ),
            verb="Export",
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
                encrypt=_yes_no(values["encrypt"], "Encrypt at rest"),
            )
            added = snapshots.submit_detailed(
                self.workspace, self.actor, request, progress=progress
            )
            snap, created = added.snapshot, added.created
            if created:
                # What the reading did that the user did not spell out: never silent.
                return f"{snap.ref} recorded" + "".join(f"; {n}" for n in added.notices)
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
                ("encrypt", "Encrypt at rest", "yes or no (empty: the workspace's PII default)"),
            ],
            recorded=self._recorded(
                "snapshot.add", lambda v: f"{v['file']} as dataset {v['dataset'] or '(none)'}"
            ),
            verb="Add",
        )

    def action_validate_snapshot(self) -> None:
        from core.data import validation

        def run(values: dict[str, str], progress: Any) -> str:
            row, result = validation.run(
                self.workspace,
                self.actor,
                values["snapshot"],
                Path(values["suite"]),
                reason=values["reason"],
                progress=progress,
            )
            return f"validation #{row.seq}: {result.verdict}" + (
                f" ({counted(result.warnings, 'warnings')})" if result.warnings else ""
            )

        self._ask(
            "Validate a snapshot",
            [("snapshot", "Snapshot", ""), ("suite", "Suite (TOML)", "")],
            run,
            recorded=self._recorded(
                "validation.run", lambda v: f"{v['snapshot']} with suite {v['suite'] or '(none)'}"
            ),
            verb="Validate",
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

        self._ask(
            "Train a model",
            [("spec", "Training spec (TOML)", "")],
            run,
            recorded=self._recorded("train.run", lambda v: v["spec"]),
            verb="Train",
        )

    # -- approvals: the dialog stays open and shows any refusal ----------------------------

    def action_approve_version(self) -> None:
        self._decide(reject=False)

    def action_reject_version(self) -> None:
        self._decide(reject=True)

    def _decide(self, *, reject: bool) -> None:
        """Open the decision dialog for the queue's highlighted version (or the Models tab's).

        From the Models tab any version can be chosen, including one the queue leaves out
        (your own work): core refuses it in the dialog, with its reason, and records nothing
        but what the policy records of a refusal.
        """
        active = self.query_one("#tabs", TabbedContent).active
        panes = list(self.query(ApprovalsPane))
        item = panes[0].selected if panes and active == "approvals" else None
        model = self._selected_model() if active == "models" else ""
        role = ""
        if item is not None:
            ref, stage, summary = item.ref, item.stage, pending_summary(item)
            role = item.roles[0] if len(item.roles) == 1 else ""
        elif model:
            ref, stage = model, "approved"
            summary = (
                "Not from your approvals queue: your role, separation of duties and the "
                "policy are checked before anything is signed."
            )
        else:
            self.action_tab("approvals")
            self.notify("Select a version in the approvals queue first.", timeout=4)
            return
        self.push_screen(
            ApprovalDialog(
                ref,
                summary,
                lambda dialog, values: self._record_decision(dialog, ref, stage, values, reject),
                stage=stage,
                reject=reject,
                role=role,
                recorded=[
                    ("actor", self.actor),
                    (
                        "records",
                        f"model.approve ({'reject' if reject else 'approve'}, signed "
                        f"with {self.actor}'s key)",
                    ),
                    ("target", f"{ref} for stage {stage}"),
                ],
            )
        )

    @work(thread=True, exit_on_error=False, group="actions")
    def _record_decision(
        self,
        dialog: ApprovalDialog,
        ref: str,
        stage: str,
        values: dict[str, str],
        reject: bool,
    ) -> None:
        """Record the approval or rejection (core asks for the secret in its own dialog)."""
        from core.governance import approvals
        from core.kernel.errors import LedgerError

        conditions = [c.strip() for c in values["conditions"].split(";") if c.strip()]
        try:
            row = approvals.approve(
                self.workspace,
                self.actor,
                ref,
                stage=stage,
                role=values["role"] or None,
                reason=values["reason"],
                conditions=conditions,
                reject=reject,
            )
        except LedgerError as err:
            text = f"{err.title}: {err.msg}" + (f"\n{err.hint}" if err.hint else "")
            self.call_from_thread(dialog.show_error, text)
            return
        except Exception as err:
            # A bug, not a refusal: the app shows its details; the dialog must not stay busy.
            self.call_from_thread(dialog.show_error, f"Unexpected error: {err!r}")
            raise
        verb = "rejected" if reject else "approved"
        self.call_from_thread(dialog.dismiss, True)
        self.call_from_thread(
            self.notify,
            f"{ref} {verb} for stage {stage} as {row.role}, signed, event #{row.seq}",
            title="Decision recorded",
        )
        self.call_from_thread(self.action_refresh)

    # -- operations: each names what will change and asks for a reason before it runs ----

    def _selected_deployment(self) -> Any:
        """The operations tab's highlighted deployment, or None (with a hint) elsewhere."""
        active = self.query_one("#tabs", TabbedContent).active
        panes = list(self.query(OperationsPane))
        dep = panes[0].selected if panes and active == "operations" else None
        if dep is None:
            self.action_tab("operations")
            self.notify("Select a deployment in the operations tab first.", timeout=4)
        return dep

    def action_rollback_deployment(self) -> None:
        dep = self._selected_deployment()
        if dep is not None:
            self._preview_rollback(dep.row.env)

    @work(thread=True, exit_on_error=False, group="actions")
    def _preview_rollback(self, env: str) -> None:
        from core.operations import views

        now, target = views.rollback_preview(self.workspace, self.actor, env)
        self.call_from_thread(self._confirm_rollback, env, now, target)

    def _confirm_rollback(self, env: str, now: Any, target: Any) -> None:
        from rich.markup import escape

        from core.operations import deployments

        def run(values: dict[str, str], progress: Any) -> str:
            new, restored = deployments.rollback(
                self.workspace, self.actor, env=env, reason=values["reason"]
            )
            return (
                f"{env}: {new.row.model} live again as {new.deployment_id} "
                f"(event #{new.row.seq}, the model of {restored.deployment_id})"
            )

        summary = (
            f"[b]{escape(env)}[/b]: {escape(now.row.model)} ({now.deployment_id}) stops "
            f"answering; {escape(target.row.model)} (deployed at event #{target.row.seq}) "
            "answers again, as a new deployment. Any canary ends with it. The policy's "
            "deploy gate decides, and the restored model must still verify."
        )
        self._ask(
            f"Roll back {env}",
            [],
            run,
            summary=summary,
            recorded=self._recorded(
                "model.rollback", lambda v: f"env:{env} back to {target.row.model}"
            ),
            verb="Roll back",
        )

    def action_withdraw_deployment(self) -> None:
        from rich.markup import escape

        from core.operations import deployments

        dep = self._selected_deployment()
        if dep is None:
            return
        env, arm = dep.row.env, dep.row.arm

        def run(values: dict[str, str], progress: Any) -> str:
            ended = deployments.withdraw(
                self.workspace, self.actor, env=env, arms=[arm], reason=values["reason"]
            )
            return f"withdrew {', '.join(ended)} from {env}"

        after = (
            f"{escape(env)} then answers no request at all (scoring refuses)"
            if arm == "live"
            else f"the live model of {escape(env)} goes on answering alone"
        )
        summary = (
            f"[b]{escape(dep.row.model)}[/b] ({dep.deployment_id}, {arm}) is taken out of "
            f"service with nothing in its place: {after}."
        )
        self._ask(
            f"Withdraw the {arm} deployment of {env}",
            [],
            run,
            summary=summary,
            recorded=self._recorded(
                "deploy.withdraw", lambda v: f"env:{env} {arm} ({dep.row.model})"
            ),
            verb="Withdraw",
        )


def _yes_no(text: str, field: str) -> bool | None:
    """A yes/no field of a form: True, False, or None when left empty (the default)."""
    from core.kernel.errors import UsageError

    answer = text.strip().lower()
    if not answer:
        return None
    if answer in ("y", "yes", "true", "on"):
        return True
    if answer in ("n", "no", "false", "off"):
        return False
    raise UsageError(f"{field}: answer yes or no, not {text!r}")
