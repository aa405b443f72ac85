"""The lineage tab: a record's upstream or downstream walk as a tree, which opens records."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Input, Tree

from app.tui.panes.base import Pane


class LineagePane(Pane):
    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="/ then name@N or run:<id>, Enter ('-name@N': downstream)",
            id="lineage-ref",
        )
        yield Tree("lineage", id="lineage-tree")

    @on(Input.Submitted, "#lineage-ref")
    def _submitted(self, event: Input.Submitted) -> None:
        self.query_one("#lineage-tree", Tree).focus()
        self.walk(event.value.strip())

    @work(thread=True, exclusive=True, exit_on_error=False, group="lineage")
    def walk(self, text: str) -> None:
        from core.audit import lineage

        down = text.startswith("-")
        walk = lineage.walk(
            self.ledger_app.workspace, text.lstrip("-"), down=down, actor=self.ledger_app.actor
        )
        self.app.call_from_thread(self._fill, walk)

    def _fill(self, walk: Any) -> None:
        tree = self.query_one("#lineage-tree", Tree)
        tree.clear()
        tree.root.set_label(f"{walk.root} ({walk.direction})")
        tree.root.data = walk.root
        down = walk.direction == "downstream"
        children: dict[str, list[Any]] = {}
        for e in walk.edges:
            children.setdefault(e.dst if down else e.src, []).append(e)

        def add(node: Any, name: str, seen: frozenset[str]) -> None:
            for e in children.get(name, []):
                child = e.src if down else e.dst
                sub = node.add(Text(f"[{e.relation}] {child}"), data=child, expand=True)
                if child not in seen:
                    add(sub, child, seen | {child})

        add(tree.root, walk.root, frozenset({walk.root}))
        tree.root.expand()

    @on(Tree.NodeSelected, "#lineage-tree")
    async def _jump(self, event: Tree.NodeSelected[Any]) -> None:
        target = str(event.node.data or "")
        if target.startswith(("snapshot:", "model:")):
            await self.ledger_app.jump_to(target)
