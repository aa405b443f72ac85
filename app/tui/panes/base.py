"""What every pane shares: the base class, a table that redraws after measuring, formatting."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import DataTable, Input
from textual.widgets.data_table import RowKey

if TYPE_CHECKING:
    from app.tui.app import LedgerApp

BARS = " ▁▂▃▄▅▆▇█"
NARROW = 100
"""Below this many columns the tabs take their narrow forms (names only, shorter cells)."""


def when(ts: str, narrow: bool) -> str:
    """A recorded time as people write it: to the second, or ``MM-DD HH:MM`` when narrow."""
    return ts[5:16].replace("T", " ") if narrow else ts[:19].replace("T", " ")


def clip(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells: whole, or cut after a word and ended with ``…``.

    A single word longer than the width (a hash) is cut where it must be.
    """
    text = " ".join(text.split())  # a newline would make the row taller
    if cell_len(text) <= width:
        return text
    room = max(width - 1, 0)
    cut = text[:room]
    while cell_len(cut) > room:
        cut = cut[:-1]
    if " " in cut and text[len(cut)] != " ":
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + "…"


def rest_width(
    table: DataTable[Any], headers: Sequence[str], rows: Sequence[Sequence[str]], least: int = 8
) -> int:
    """The cells left for a table's last column once the columns before it fit.

    ``headers`` and each row hold those leading columns' labels and cells. Room for the
    vertical scrollbar is kept, so the table never scrolls sideways whether its rows overflow
    or not; ``least`` is the floor when little is left.
    """
    # The outer width includes a scrollbar that is shown; the room for it is taken off always.
    total = (table.outer_size.width or table.app.size.width) - table.styles.scrollbar_size_vertical
    pad = 2 * table.cell_padding
    used = sum(
        max([cell_len(header), *(cell_len(row[i]) for row in rows)]) + pad
        for i, header in enumerate(headers)
    )
    return max(total - used - pad, least)


def counted(n: int, plural: str) -> str:
    """``n`` and the noun, singular for one: ``1 incident``, ``2 incidents``, ``1 policy``.

    ``plural`` may be a table's name (``decision_batches``): its words are spaced, and only
    the last one takes the number.
    """
    words = plural.replace("_", " ")
    if n != 1:
        return f"{n} {words}"
    if words.endswith("ies"):
        one = words[:-3] + "y"
    elif words.endswith(("ches", "shes", "sses", "xes")):
        one = words[:-2]
    elif words.endswith("s") and not words.endswith("ss"):
        one = words[:-1]
    else:
        one = words
    return f"{n} {one}"


def bars(counts: list[int]) -> str:
    """A histogram as one line of block characters."""
    top = max(counts, default=0)
    return "".join(BARS[round(8 * c / top)] if top and c else " " for c in counts)


def fmt(value: Any, digits: int = 3) -> str:
    """A statistic in a cell: floats to ``digits`` places, None as nothing."""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return "" if value is None else str(value)


def key_values(text: str, indent: str = "   ") -> list[str]:
    """A recorded JSON object as ``key: value`` lines (nested keys dotted), markup escaped.

    Provenance was shown as one raw JSON line; an auditor reads fields. Text that is not a
    JSON object is shown as it is, and an empty object as "none recorded".
    """
    import json

    from rich.markup import escape

    try:
        doc = json.loads(text) if text else {}
    except ValueError:
        return [indent + escape(text)]
    if not isinstance(doc, dict):
        return [indent + escape(text)]
    if not doc:
        return [indent + "none recorded"]

    def flat(value: Any, prefix: str) -> Iterable[tuple[str, str]]:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                yield from flat(v, f"{prefix}.{k}" if prefix else str(k))
        elif isinstance(value, list):
            yield prefix, ", ".join(str(v) for v in value) or "none"
        else:
            yield prefix, "none" if value in (None, "", {}) else str(value)

    pairs = list(flat(doc, ""))
    if not pairs:
        return [indent + "none recorded"]
    width = max(len(k) for k, _ in pairs)
    return [f"{indent}{escape(k) + ':':<{width + 1}} {escape(v)}" for k, v in pairs]


class Pane(Widget):
    """A tab's content: reloads through core when shown or refreshed.

    A pane's field (lineage name, ledger filter, bundle path) takes focus only when asked
    (``/``, or a click), so the digits switch tabs from every tab; Escape leaves it.
    """

    DEFAULT_CSS = "Pane { height: 1fr; width: 1fr; } Pane Horizontal { height: 1fr; }"
    BINDINGS = [Binding("escape", "leave_prompt", "Leave the field", show=False)]

    narrow: bool | None = None
    """Whether the columns were last fitted to a narrow terminal (None: not yet fitted)."""
    fitted_width = 0
    """The pane's width when its columns were last fitted."""

    @property
    def ledger_app(self) -> LedgerApp:
        return self.app  # type: ignore[return-value]

    def reload(self) -> Any:
        """Load this pane's data in a worker."""
        return None

    def focus_prompt(self) -> None:
        """Focus this pane's field, if it has one."""
        fields = self.query(Input)
        if fields:
            # At once, not after the next refresh (Widget.focus): keys typed right behind the
            # / are already queued, and must reach the field, not the bindings.
            self.screen.set_focus(fields.first())
        else:
            self.notify("This tab has no field to type in.", timeout=3)

    def leave_prompt(self) -> None:
        """Focus the pane's first table or tree (not a field), so keys act as bindings again."""
        for widget in self.query("*"):
            if widget.focusable and not isinstance(widget, Input):
                widget.focus()
                return
        self.app.set_focus(None)

    def action_leave_prompt(self) -> None:
        self.leave_prompt()

    @property
    def is_narrow(self) -> bool:
        """Whether the terminal is below ``NARROW`` columns, where tables take narrow sets."""
        return self.app.size.width < NARROW

    def fit_columns(self) -> None:
        """Rebuild the tables' columns, and redraw their rows, for the terminal's width.

        A pane with a narrow column set overrides it; ``narrow`` says which set to build.
        """

    def on_resize(self, event: events.Resize) -> None:
        # Crossing NARROW swaps the column sets; a narrow pane's last column takes the width
        # left, so a narrow pane refits on any change of width too.
        if self.narrow != self.is_narrow or (self.narrow and event.size.width != self.fitted_width):
            self.narrow, self.fitted_width = self.is_narrow, event.size.width
            self.fit_columns()

    @property
    def shown(self) -> bool:
        """Whether this pane's tab is the one on screen."""
        tabs = self.app.query("#tabs")
        return bool(tabs) and f"pane-{getattr(tabs.first(), 'active', '')}" == self.id


class Table(DataTable[Any]):
    """A DataTable that redraws rows it painted before measuring them.

    DataTable measures new rows when its queue goes idle, and it caches drawn lines under an
    update count that measuring does not bump. A frame painted in between therefore kept
    header-wide columns until the cursor moved; CI caught it in the snapshot tests. Bumping
    the count after measuring redraws with the measured widths.
    """

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        super()._update_dimensions(new_rows)
        self._update_count += 1
        self.refresh()


VERDICT_COLOURS = {"PASS": "green", "WARN": "yellow", "INCONCLUSIVE": "blue", "FAIL": "red"}
"""The one source of the verdict colours, as terminal (ANSI) colour names: every cell, card and
the legend take them from here, so the legend's colour always means what a cell in that colour
says. Only PASS is green; WARN and INCONCLUSIVE never look like it."""


def verdict_colour(verdict: str | None) -> str:
    """A verdict's colour as Rich names it, for Rich text (table cells, the legend).

    Anything outside the vocabulary (no evidence, ``none``) takes FAIL's colour: no evidence is
    never shown kinder than a failure.
    """
    return VERDICT_COLOURS.get(verdict or "", VERDICT_COLOURS["FAIL"])


def verdict_markup(verdict: str | None, shown: str | None = None) -> str:
    """``shown`` (the verdict itself by default) in the verdict's colour, as Textual markup.

    For cards (a Static's markup). Textual reads a bare ``green`` as the CSS colour #008000,
    while Rich text reads it as the terminal's green: the ``ansi_`` name is the terminal's, the
    colour the cells and the legend draw.
    """
    from rich.markup import escape

    text = escape(verdict or "none") if shown is None else shown
    return f"[ansi_{verdict_colour(verdict)}]{text}[/]"


def verdict_text(verdict: str) -> str:
    """A verdict as card markup in its colour (``none`` and other words stay plain)."""
    from rich.markup import escape

    if verdict not in VERDICT_COLOURS:
        return escape(verdict)
    return verdict_markup(verdict)


def verdict_cell(verdict: str, head: str = "") -> Text:
    """A table cell: ``head`` then the verdict in its colour (other words stay plain)."""
    cell = Text(f"{head} " if head else "")
    cell.append(verdict, style=verdict_colour(verdict) if verdict in VERDICT_COLOURS else "")
    return cell
