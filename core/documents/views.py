"""What a screen shows of the recorded documents: the newest report of a record, as text.

A report (data sheet, model card) is evidence once recorded: its Markdown is an object named
by its ``report.*`` event. Front doors show that recorded text, not a fresh rendering.
"""

from __future__ import annotations

import json

from core.kernel import kinds
from core.kernel.workspace import Workspace


def latest_markdown(ws: Workspace, action: str, subject: str, actor: str = "") -> str | None:
    """The Markdown of the newest ``action`` event about ``subject``, or None if none is."""
    with ws.session(actor) as s:
        rows = s.catalog.events(action=action, subject=subject, limit=1, newest_first=True)
    if not rows:
        return None
    body = json.loads(rows[0].body)
    recorded = kinds.registry()[body["action"]].decode(body)  # a report.* payload
    return ws.objects.read_verified(recorded.markdown).decode()


def latest_datasheet(ws: Workspace, ref: str, actor: str = "") -> str | None:
    """The newest recorded data sheet of the snapshot ``ref`` (exact ``name@N``)."""
    return latest_markdown(ws, "report.datasheet", f"snapshot:{ref}", actor)
