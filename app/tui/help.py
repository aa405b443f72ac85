"""The keys screen (`?`), the verdict legend and the palette's tabs and actions.

Everything here is generated from the bindings the app and its panes declare, so a key added
to a ``BINDINGS`` list shows in the help and the palette without a second list to keep.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Label, Static

if TYPE_CHECKING:
    from app.tui.app import LedgerApp

VERDICTS = ("PASS", "WARN", "FAIL", "INCONCLUSIVE")
"""The evidence vocabulary, in the order the legend shows it."""


class VerdictLegend(Horizontal):
    """One line saying what each verdict colour means, beside every view of verdicts."""

    DEFAULT_CSS = """
    VerdictLegend { height: 1; width: 1fr; padding: 0 1; }
    VerdictLegend Label { margin-right: 2; }
    """

    def compose(self) -> ComposeResult:
        from app.tui.panes.base import verdict_colour  # the colours the table cells take
        from core.kernel.verdict import TINY_LEGEND  # the words every report's legend uses

        # A Rich Text in the cells' Rich style, not CSS: the tables draw verdicts as Rich
        # text, and a theme colour here would be a second, different green.
        for verdict, meaning in TINY_LEGEND:
            yield Label(Text.assemble((verdict, f"bold {verdict_colour(verdict)}"), f" {meaning}"))


def binding_sections(app: LedgerApp) -> list[tuple[str, list[Binding]]]:
    """Every binding, grouped where it acts: everywhere, in a tab, in a dialog."""
    from app.tui.dialogs import ActionDialog

    sections: list[tuple[str, list[Binding]]] = [
        ("Everywhere", list(Binding.make_bindings(type(app).BINDINGS)))
    ]
    for pane in sorted(app.panes(), key=lambda p: str(p.id)):
        own = [
            b
            for cls in type(pane).__mro__
            if issubclass(cls, DOMNode) and "BINDINGS" in cls.__dict__
            for b in Binding.make_bindings(cls.__dict__["BINDINGS"])
        ]
        if own:
            tab = str(pane.id).removeprefix("pane-").capitalize()
            sections.append((f"{tab} tab", own))
    sections.append(("Dialogs", list(Binding.make_bindings(ActionDialog.BINDINGS))))
    return sections


class HelpScreen(ModalScreen[None]):
    """Every key, generated from the bindings; Escape, q or ? closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 76; max-width: 100%; height: auto; max-height: 100%;
                            border: thick $accent; background: $surface; padding: 0 1; }
    HelpScreen VerticalScroll { height: auto; max-height: 100%; }
    """
    BINDINGS = [
        Binding("escape", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
        Binding("question_mark", "close", "Close", key_display="?", show=False),
    ]

    def compose(self) -> ComposeResult:
        app: LedgerApp = self.app  # type: ignore[assignment]
        lines: list[str] = []
        for title, bindings in binding_sections(app):
            lines += ["", f"[b]{escape(title)}[/b]"]
            for b in bindings:
                key = b.key_display or app.get_key_display(b)
                lines.append(f"  [b $accent]{escape(key):>8}[/]  {escape(b.description)}")
        # The heading sits in the frame, not in a row above the list: the list may take the
        # whole height the screen gives the frame (max-height 100%), and a row above it pushed
        # the list's last row below the screen where no scrolling reached it.
        frame = Vertical()
        frame.border_title = "[b]Keys[/b] (Esc closes · ctrl+p searches every action)"
        with frame, VerticalScroll():
            yield Static("\n".join(lines[1:]), id="help-keys")

    def action_close(self) -> None:
        self.dismiss(None)

    @property
    def text(self) -> str:
        """What the screen lists (for tests and screen readers)."""
        return str(self.query_one("#help-keys", Static).render())


class LedgerCommands(Provider):
    """The palette's entries for every tab and every key-bound action of the app."""

    def _entries(self) -> Iterator[tuple[str, str, str]]:
        from app.tui.app import TABS, LedgerApp

        app = self.app
        if not isinstance(app, LedgerApp):
            return
        tabs = app.query("#tabs")
        for number, tab in enumerate(TABS, start=1):
            if tabs and tabs.first().query(f"#{tab}"):
                yield f"{tab.capitalize()} tab", f"show the {tab} tab (key {number})", f"tab:{tab}"
        for b in Binding.make_bindings(LedgerApp.BINDINGS):
            if b.action.startswith("tab(") or not app.check_action(b.action, ()):
                continue
            key = b.key_display or app.get_key_display(b)
            yield b.description, f"key {key}", b.action

    async def _run(self, action: str) -> None:
        app: LedgerApp = self.app  # type: ignore[assignment]
        if action.startswith("tab:"):
            app.action_tab(action.removeprefix("tab:"))
        else:
            await app.run_action(action)

    async def discover(self) -> Hits:
        for title, help_text, action in self._entries():
            yield DiscoveryHit(title, partial(self._run, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(title), partial(self._run, action), help=help_text
                )
