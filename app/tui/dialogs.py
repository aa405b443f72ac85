"""Modal dialogs: a reason (and inputs) before any state change, and errors."""

from __future__ import annotations

from collections.abc import Callable

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

Field = tuple[str, str, str]
"""An input of a dialog: its key in the values returned, its label and its initial value."""
Detail = tuple[str, str, str]
"""An optional input: its key, its label and a placeholder saying what it takes."""
Recorded = Callable[[dict[str, str]], list[tuple[str, str]]]
"""What an action will record, from the dialog's current values: (label, value) lines such as
("actor", "alice"), ("records", "model.sign"), ("target", "credit-risk@1")."""


def recorded_text(lines: list[tuple[str, str]]) -> str:
    """The confirmation block: one ``label: value`` line each, every value escaped."""
    width = max((len(label) for label, _ in lines), default=0)
    return "\n".join(f"[b]{label:<{width}}[/b]  {escape(value)}" for label, value in lines)


class ActionDialog(ModalScreen[dict[str, str] | None]):
    """Confirm a state change: what will be recorded, a reason, and any fields it needs.

    ``recorded`` says exactly what confirming records (actor, event, target), redrawn as the
    fields change; nothing runs until Run (or Enter) is pressed, and Escape records nothing.
    ``details`` are optional fields (a snapshot's provenance and tags), drawn one line each
    under the main fields so that a long form still fits the screen. ``reason`` is False for
    an action that records no event (a checkpoint is a signed file): it asks for none.
    """

    DEFAULT_CSS = """
    ActionDialog { align: center middle; }
    ActionDialog > Vertical { width: 70; height: auto; max-height: 100%; overflow-y: auto;
                              border: thick $accent; padding: 1 2; background: $surface; }
    ActionDialog Input { margin-bottom: 1; }
    ActionDialog Horizontal { height: auto; align-horizontal: right; }
    ActionDialog Grid { grid-size: 2; grid-columns: 24 1fr; height: auto; margin-bottom: 1; }
    ActionDialog Grid Input { margin: 0; }
    ActionDialog #action-record { border: round $warning; padding: 0 1; margin-bottom: 1;
                                  height: auto; }
    """
    BINDINGS = [("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        fields: list[Field] | None = None,
        details: list[Detail] | None = None,
        summary: str = "",
        recorded: Recorded | None = None,
        verb: str = "Run",
        *,
        reason: bool = True,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.asks_reason = reason
        self.fields = fields or []
        self.details = details or []
        self.summary = summary  # what will change, in words (markup): the confirmation
        self.recorded = recorded
        self.verb = verb

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self.title_text}[/b]")
            if self.summary:
                yield Static(self.summary, id="action-summary")
            if self.recorded is not None:
                record = Static(id="action-record")
                record.border_title = "Confirming records"
                yield record
            for key, label, value in self.fields:
                yield Label(label)
                yield Input(value=value, id=f"field-{key}")
            if self.details:
                with Grid():
                    for key, label, placeholder in self.details:
                        yield Label(label)
                        yield Input(placeholder=placeholder, id=f"field-{key}", compact=True)
            if self.asks_reason:
                yield Label("Reason (recorded in the ledger)")
                yield Input(placeholder="why are you doing this?", id="reason")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button(self.verb, id="run", variant="primary")

    def on_mount(self) -> None:
        self._show_recorded()
        fields = self.query(Input)
        # Nothing to type (a checkpoint): Enter on the focused button confirms.
        (fields.first() if fields else self.query_one("#run", Button)).focus()

    def on_input_changed(self) -> None:
        self._show_recorded()

    def _show_recorded(self) -> None:
        found = self.query("#action-record")
        if self.recorded is not None and found:
            found.first(Static).update(recorded_text(self.recorded(self.values)))

    @property
    def record_text(self) -> str:
        """What the confirmation block says will be recorded (empty without one)."""
        found = self.query("#action-record")
        return str(found.first(Static).render()) if found else ""

    @property
    def values(self) -> dict[str, str]:
        """The fields as typed so far, and the reason."""
        keys = [key for key, _, _ in (*self.fields, *self.details)]
        values = {key: self.query_one(f"#field-{key}", Input).value for key in keys}
        if self.asks_reason:
            values["reason"] = self.query_one("#reason", Input).value
        return values

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "run":
            self._submit()
        else:
            self.dismiss(None)

    def on_input_submitted(self) -> None:
        self._submit()

    def _submit(self) -> None:
        self.dismiss(self.values)

    def action_cancel(self) -> None:
        self.dismiss(None)


class SecretDialog(ModalScreen[str | None]):
    """Ask for a passphrase or PIN; nothing typed is shown, kept or logged."""

    DEFAULT_CSS = """
    SecretDialog { align: center middle; }
    SecretDialog > Vertical { width: 60; height: auto; border: thick $warning; padding: 1 2;
                              background: $surface; }
    SecretDialog Horizontal { height: auto; align-horizontal: right; margin-top: 1; }
    """
    BINDINGS = [("escape", "cancel", "Cancel")]

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self.what}[/b]")
            yield Label("Esc cancels; nothing is recorded.")
            yield Input(password=True, id="secret")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Unlock", id="unlock", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#secret", Input).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(
            self.query_one("#secret", Input).value if event.button.id == "unlock" else None
        )

    def on_input_submitted(self) -> None:
        self.dismiss(self.query_one("#secret", Input).value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ErrorDialog(ModalScreen[None]):
    """An unexpected error, with its details; the app keeps running."""

    DEFAULT_CSS = """
    ErrorDialog { align: center middle; }
    ErrorDialog > Vertical { width: 90; height: auto; max-height: 80%; border: thick $error;
                             padding: 1 2; background: $surface; }
    """
    BINDINGS = [("escape", "close", "Close")]

    def __init__(self, title: str, detail: str) -> None:
        super().__init__()
        self.title_text, self.detail = title, detail

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self.title_text}[/b]")
            yield Static(self.detail, markup=False)
            yield Button("Close", id="close", variant="error")

    def on_button_pressed(self) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class RevealDialog(ModalScreen[dict[str, str] | None]):
    """Ask which PII column to reveal and why, saying that the reveal is recorded first."""

    DEFAULT_CSS = """
    RevealDialog { align: center middle; }
    RevealDialog > Vertical { width: 70; height: auto; border: thick $warning; padding: 1 2;
                              background: $surface; }
    RevealDialog Input { margin-bottom: 1; }
    RevealDialog Horizontal { height: auto; align-horizontal: right; }
    """
    BINDINGS = [("escape", "cancel", "Cancel")]

    def __init__(self, snapshot: str, pii: list[str]) -> None:
        super().__init__()
        self.snapshot, self.pii = snapshot, pii

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]Reveal PII values of {self.snapshot}[/b]")
            yield Label(
                "Data stewards and auditors only. Who, which column and why are recorded in "
                "the ledger before any value is shown."
            )
            yield Label(f"Column (PII: {', '.join(self.pii)})")
            yield Input(value=self.pii[0] if len(self.pii) == 1 else "", id="column")
            yield Label("Reason (recorded in the ledger)")
            yield Input(placeholder="why do you need to see these values?", id="reason")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Reveal", id="reveal", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#column" if len(self.pii) != 1 else "#reason", Input).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "reveal":
            self._submit()
        else:
            self.dismiss(None)

    def on_input_submitted(self) -> None:
        self._submit()

    def _submit(self) -> None:
        column = self.query_one("#column", Input).value.strip()
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.notify("Give a reason: it is recorded with the reveal.", severity="warning")
            return
        self.dismiss({"column": column, "reason": reason})

    def action_cancel(self) -> None:
        self.dismiss(None)


class RevealedDialog(ErrorDialog):
    """The values a recorded reveal showed; closing it is the end of them on screen."""

    DEFAULT_CSS = """
    RevealedDialog { align: center middle; }
    RevealedDialog > Vertical { width: 90; height: auto; max-height: 80%; border: thick $warning;
                                padding: 1 2; background: $surface; }
    """


class ApprovalDialog(ModalScreen[bool | None]):
    """Approve or reject one model version: role, conditions and a reason, then sign.

    The dialog stays open while the decision is recorded, and any refusal is shown in it
    (a wrong secret, a policy's denial with its reasons, a refused self-approval), so the
    reviewer can correct and try again. The secret itself is asked for by core, in the
    :class:`SecretDialog` drawn over this one, and is never shown or kept here.
    ``submit`` records the decision (the app runs it in a worker); it is given the values.
    """

    DEFAULT_CSS = """
    ApprovalDialog { align: center middle; }
    ApprovalDialog > Vertical { width: 84; height: auto; max-height: 100%; overflow-y: auto;
                                border: thick $accent; padding: 1 2; background: $surface; }
    ApprovalDialog.reject > Vertical { border: thick $error; }
    ApprovalDialog Input { margin-bottom: 1; }
    ApprovalDialog #approval-summary { margin-bottom: 1; }
    ApprovalDialog #action-record { border: round $warning; padding: 0 1; margin-bottom: 1;
                                    height: auto; }
    ApprovalDialog #approval-error { color: $error; height: auto; margin-bottom: 1; }
    ApprovalDialog Horizontal { height: auto; align-horizontal: right; }
    """
    BINDINGS = [("escape", "cancel", "Cancel")]

    def __init__(
        self,
        ref: str,
        summary: str,
        submit: Callable[[ApprovalDialog, dict[str, str]], object],
        *,
        stage: str = "approved",
        reject: bool = False,
        role: str = "",
        recorded: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(classes="reject" if reject else "")
        self.ref, self.summary, self.submit, self.reject = ref, summary, submit, reject
        self.recorded = recorded or []
        self.stage = stage
        self.role = role
        self.busy = False

    def compose(self) -> ComposeResult:
        verb = "Reject" if self.reject else "Approve"
        with Vertical():
            yield Label(f"[b]{verb} {escape(self.ref)} for stage {escape(self.stage)}[/b]")
            yield Static(self.summary, id="approval-summary")
            if self.recorded:
                record = Static(recorded_text(self.recorded), id="action-record")
                record.border_title = "Confirming records"
                yield record
            yield Label("Role you decide in (empty: the missing role you hold)")
            yield Input(value=self.role, id="role")
            if not self.reject:
                yield Label("Conditions (optional, separated by ';')")
                yield Input(placeholder="e.g. not for applicants under 21", id="conditions")
            yield Label("Reason (recorded in the ledger and in the signed statement)")
            yield Input(placeholder="why?", id="reason")
            yield Static("", id="approval-error")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button(verb, id="decide", variant="error" if self.reject else "primary")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "decide":
            self._submit()
        else:
            self.dismiss(None)

    def on_input_submitted(self) -> None:
        self._submit()

    def _submit(self) -> None:
        if self.busy:
            return
        values = {
            "role": self.query_one("#role", Input).value.strip(),
            "conditions": self.query_one("#conditions", Input).value if not self.reject else "",
            "reason": self.query_one("#reason", Input).value.strip(),
        }
        if not values["reason"]:
            self.show_error("Give a reason: it is recorded with your decision.")
            return
        self.busy = True
        self.query_one("#decide", Button).disabled = True
        self.query_one("#approval-error", Static).update("Signing and recording…")
        self.submit(self, values)

    def show_error(self, text: str) -> None:
        """A refusal, in the dialog; the reviewer may correct and try again."""
        self.busy = False
        self.query_one("#decide", Button).disabled = False
        self.query_one("#approval-error", Static).update(escape(text))
        self.query_one("#reason", Input).focus()  # Enter there tries again

    @property
    def error_text(self) -> str:
        """What the dialog says went wrong (empty while nothing did)."""
        return str(self.query_one("#approval-error", Static).render())

    def action_cancel(self) -> None:
        if not self.busy:  # a decision being signed finishes, or fails, before the dialog goes
            self.dismiss(None)
