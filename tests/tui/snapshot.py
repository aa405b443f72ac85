"""Compare a Textual SVG screenshot with its committed baseline, failing with a readable diff.

An SVG diff is unreadable (every class name embeds a hash of the whole screen), so the screen's
text is compared first; a mismatch writes the actual picture next to the test run's temp files
for a human to open.
"""

from __future__ import annotations

import contextlib
import difflib
import html
import os
import re
import tempfile
from pathlib import Path

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import DataTable
from textual.worker import WorkerCancelled

_TEXT = re.compile(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>')


def screen_text(svg: str) -> list[str]:
    """The screen's rows as plain text, in the order they are drawn."""
    rows: dict[float, list[tuple[float, str]]] = {}
    for m in _TEXT.finditer(svg):
        rows.setdefault(float(m.group(2)), []).append((float(m.group(1)), m.group(3)))
    return [
        "".join(html.unescape(t) for _, t in sorted(parts)).replace("\xa0", " ").rstrip()
        for _, parts in sorted(rows.items())
    ]


def assert_matches_baseline(svg: str, golden: Path) -> None:
    if not golden.exists():  # a missing baseline is written, and the test fails until committed
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(svg)
        raise AssertionError(f"no baseline: wrote {golden}; look at it, then commit it")
    expected = golden.read_text()
    if svg == expected:
        return
    out = Path(os.environ.get("LEDGERML_SNAPSHOT_OUT", tempfile.gettempdir())) / golden.name
    out.write_text(svg)
    diff = "\n".join(
        difflib.unified_diff(
            screen_text(expected), screen_text(svg), "baseline", "actual", lineterm=""
        )
    )
    raise AssertionError(
        f"screen differs from {golden.name} (actual written to {out}):\n"
        + (diff or "same text, different colours or styles")
    )


_PENDING = ("_repaint_required", "_layout_required", "_scroll_required", "_refresh_styles_required")


def _work_pending(app: App[object]) -> bool:
    """Work Textual defers to idle time: a table measures its new rows only when idle, a
    widget asks the screen to repaint or lay out only when idle, and the screen does it later.
    These are private attributes (read with defaults, so a Textual that renames them degrades
    to the worker and stable-drawing checks)."""
    screen = app.screen
    widgets = list(screen.walk_children(with_self=True))
    return (
        any(w.is_running for w in app.workers)
        or any(
            getattr(t, "_require_update_dimensions", False) or getattr(t, "_updated_cells", None)
            for t in screen.query(DataTable)
        )
        or any(getattr(w, name, False) for w in widgets for name in _PENDING)
        or bool(getattr(screen, "_dirty_widgets", None))
    )


async def settled_screenshot(app: App[object], pilot: Pilot[object], rounds: int = 50) -> str:
    """The screen once workers are done and two drawings in a row agree (no sleeping).

    Panes fill from worker threads that post back to the app, and a filled table posts a
    highlight that starts another worker, so one wait is not enough on a slower machine.
    (CI once caught a table drawn before it had measured its rows, twice.) Animations are
    off: a tab's underline starts moving from a 20 ms timer, which a loaded machine can
    fire after three quiet rounds, drawing the underline under the previous tab.
    """
    app.animation_level = "none"
    app.set_focus(None)
    previous, same = "", 0
    for _ in range(rounds):
        # An exclusive worker replaced by a newer one ends cancelled: that is normal here.
        with contextlib.suppress(WorkerCancelled):
            await app.workers.wait_for_complete()
        await pilot.pause()
        svg = app.export_screenshot()
        same = same + 1 if svg == previous and not _work_pending(app) else 0
        if same == 3:  # three quiet rounds in a row: nothing is left to arrive
            return svg
        previous = svg
    raise AssertionError(f"the screen kept changing for {rounds} rounds")
