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


def pane_bindings(pane: DOMNode) -> list[Binding]:
    """The bindings a tab's pane declares, its own and those of the classes it extends."""
    return [
        b
        for cls in type(pane).__mro__
        if issubclass(cls, DOMNode) and "BINDINGS" in cls.__dict__
        for b in Binding.make_bindings(cls.__dict__["BINDINGS"])
    ]


def tab_sections(app: LedgerApp) -> list[tuple[str, list[Binding]]]:
    """Each tab with bindings of its own, by tab id (``data``), in the help's order."""
    sections = []
    for pane in sorted(app.panes(), key=lambda p: str(p.id)):
        if own := pane_bindings(pane):
            sections.append((str(pane.id).removeprefix("pane-"), own))
    return sections


def binding_sections(app: LedgerApp) -> list[tuple[str, list[Binding]]]:
    """Every binding, grouped where it acts: everywhere, in a tab, in a dialog."""
    from app.tui.dialogs import ActionDialog

    return [
        ("Everywhere", list(Binding.make_bindings(type(app).BINDINGS))),
        *((f"{tab.capitalize()} tab", own) for tab, own in tab_sections(app)),
        ("Dialogs", list(Binding.make_bindings(ActionDialog.BINDINGS))),
    ]


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
    """The palette's entries: every tab, and every action the help lists with its key.

    The app's actions, then each tab's (Reveal PII on the data tab): running a tab's action
    shows its tab first, then runs it as its key does there (asking for the same
    confirmation). Left out are the keys that act on what the palette itself replaces: a
    dialog's keys, and Escape leaving a tab's field.
    """

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
        for tab, own in tab_sections(app):
            for b in own:
                if b.action == "leave_prompt":
                    continue
                key = b.key_display or app.get_key_display(b)
                yield b.description, f"{tab} tab, key {key}", f"pane:{tab}:{b.action}"

    async def _run(self, action: str) -> None:
        app: LedgerApp = self.app  # type: ignore[assignment]
        if action.startswith("tab:"):
            app.action_tab(action.removeprefix("tab:"))
        elif action.startswith("pane:"):
            _, tab, pane_action = action.split(":", 2)
            await app.run_pane_action(tab, pane_action)
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
