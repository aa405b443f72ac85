"""Modal dialogs: a reason (and inputs) before any state change, and errors."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

Field = tuple[str, str, str]
"""An input of a dialog: its key in the values returned, its label and its initial value."""
Detail = tuple[str, str, str]
"""An optional input: its key, its label and a placeholder saying what it takes."""


class ActionDialog(ModalScreen[dict[str, str] | None]):
    """Ask for a reason (recorded in the ledger) and any fields the action needs.

    ``details`` are optional fields (a snapshot's provenance and tags), drawn one line each
    under the main fields so that a long form still fits the screen.
    """

    DEFAULT_CSS = """
    ActionDialog { align: center middle; }
    ActionDialog > Vertical { width: 70; height: auto; max-height: 100%; overflow-y: auto;
                              border: thick $accent; padding: 1 2; background: $surface; }
    ActionDialog Input { margin-bottom: 1; }
    ActionDialog Horizontal { height: auto; align-horizontal: right; }
    ActionDialog Grid { grid-size: 2; grid-columns: 24 1fr; height: auto; margin-bottom: 1; }
    ActionDialog Grid Input { margin: 0; }
    """
    BINDINGS = [("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        fields: list[Field] | None = None,
        details: list[Detail] | None = None,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.fields = fields or []
        self.details = details or []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self.title_text}[/b]")
            for key, label, value in self.fields:
                yield Label(label)
                yield Input(value=value, id=f"field-{key}")
            if self.details:
                with Grid():
                    for key, label, placeholder in self.details:
                        yield Label(label)
                        yield Input(placeholder=placeholder, id=f"field-{key}", compact=True)
            yield Label("Reason (recorded in the ledger)")
            yield Input(placeholder="why are you doing this?", id="reason")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Run", id="run", variant="primary")

    def on_mount(self) -> None:
        first = self.query(Input).first()
        first.focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "run":
            self._submit()
        else:
            self.dismiss(None)

    def on_input_submitted(self) -> None:
        self._submit()

    def _submit(self) -> None:
        keys = [key for key, _, _ in (*self.fields, *self.details)]
        values = {key: self.query_one(f"#field-{key}", Input).value for key in keys}
        values["reason"] = self.query_one("#reason", Input).value
        self.dismiss(values)

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
