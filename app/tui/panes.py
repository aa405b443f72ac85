"""The workstation's panes. Each loads through core in a thread worker, then renders."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import DataTable, Input, ProgressBar, Static, Tree
from textual.widgets.data_table import RowKey

if TYPE_CHECKING:
    from app.tui.app import LedgerApp

BARS = " ▁▂▃▄▅▆▇█"


def bars(counts: list[int]) -> str:
    top = max(counts, default=0)
    return "".join(BARS[round(8 * c / top)] if top and c else " " for c in counts)


def fmt(value: Any, digits: int = 3) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return "" if value is None else str(value)


class Pane(Widget):
    """A tab's content: reloads through core when shown or refreshed."""

    DEFAULT_CSS = "Pane { height: 1fr; width: 1fr; } Pane Horizontal { height: 1fr; }"

    @property
    def ledger_app(self) -> LedgerApp:
        return self.app  # type: ignore[return-value]

    def reload(self) -> Any:
        """Load this pane's data in a worker."""
        return None


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


class OverviewPane(Pane):
    def compose(self) -> ComposeResult:
        yield Static("Loading…", id="summary")
        yield Static("[b]Model inventory[/b]")
        yield Table(id="inventory", cursor_type="row")
        yield Static("[b]Recent events[/b]")
        yield Table(id="recent", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#inventory", DataTable).add_columns(
            "model", "ROC AUC", "signatures", "validation", "evaluation", "failing", "registered"
        )
        self.query_one("#recent", DataTable).add_columns("#", "time", "actor", "action", "reason")

    @work(thread=True, exclusive=True, exit_on_error=False, group="overview")
    def reload(self) -> None:
        from core.audit import inventory

        data = inventory.overview(self.ledger_app.workspace, self.ledger_app.actor)
        self.app.call_from_thread(self._fill, data)

    def _fill(self, data: Any) -> None:
        cp = f"#{data.last_checkpoint}" if data.last_checkpoint else "none"
        counts = ", ".join(f"{v} {k}" for k, v in data.counts.items() if v)
        self.query_one("#summary", Static).update(
            f"[b]{escape(data.workspace)}[/b]\nledger head #{data.head} · last checkpoint {cp}"
            f" · {counts}" + ("\n[yellow]auditor: read-only[/yellow]" if data.auditor_only else "")
        )
        table = self.query_one("#inventory", DataTable)
        table.clear()
        for m in data.models:
            table.add_row(
                m.ref,
                fmt(m.roc_auc),
                m.signatures,
                m.validation,
                m.evaluation,
                "; ".join(m.failing),
                m.created_at[:19],
                key=m.ref,
            )
        recent = self.query_one("#recent", DataTable)
        recent.clear()
        for e in data.recent:
            recent.add_row(str(e["seq"]), e["ts"][:19], e["actor"], e["action"], e["reason"])


def _datasheet_text(pane: Pane, ref: str) -> str:
    """The newest recorded data sheet of a snapshot, as Markdown text."""
    from core.audit import trail as audit

    ws = pane.ledger_app.workspace
    rows = audit.log(
        ws,
        action="report.datasheet",
        subject=f"snapshot:{ref}",
        limit=1,
        as_actor=pane.ledger_app.actor,
    )
    if not rows:
        return f"none recorded: `ledgerml report datasheet {ref}` writes one"
    digest = json.loads(rows[-1].body)["data"]["markdown"]
    return str(ws.objects.read_verified(digest).decode())[:6000]


class DataPane(Pane):
    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Table(id="snapshot-table", cursor_type="row")
            with VerticalScroll(id="snapshot-detail"):
                yield Static("Select a snapshot.", id="snapshot-info")

    def on_mount(self) -> None:
        self.query_one("#snapshot-table", DataTable).add_columns("snapshot", "kind", "rows")

    @work(thread=True, exclusive=True, exit_on_error=False, group="data")
    def reload(self) -> None:
        from core.data import snapshots

        rows = snapshots.list_snapshots(self.ledger_app.workspace, self.ledger_app.actor)
        self.app.call_from_thread(self._fill, rows)

    def _fill(self, rows: list[Any]) -> None:
        table = self.query_one("#snapshot-table", DataTable)
        table.clear()
        for r in rows:
            table.add_row(r.ref, r.kind, str(r.rows), key=r.ref)

    @on(DataTable.RowHighlighted, "#snapshot-table")
    def _selected(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self.show(str(event.row_key.value))

    @work(thread=True, exclusive=True, exit_on_error=False, group="data-detail")
    def show(self, ref: str) -> None:
        from core.data import snapshots, validation

        ws = self.ledger_app.workspace
        snap = snapshots.show(ws, ref, self.ledger_app.actor)
        profile = snapshots.load_profile(ws, snap)
        with ws.session(self.ledger_app.actor) as s:
            runs = s.catalog.validations(snap.ref)
        results = [(v, validation.load_result(ws, v)) for v in runs[-3:]]
        lines = [
            f"[b]{snap.ref}[/b] · {snap.rows} rows · table sha256:{snap.table_digest[:16]}…",
            f"provenance: {escape(snap.provenance)}",
            f"PII: {', '.join(snap.pii) or 'none'} · sensitive: "
            f"{', '.join(snap.sensitive) or 'none'} · retention: {snap.retention or '-'}",
            "",
            "[b]Profile[/b]",
        ]
        for col in json.loads(snap.columns):
            st = profile["columns"][col["name"]]
            if "mean" in st:
                detail = (
                    f"{fmt(st['min'])} … {fmt(st['max'])} mean {fmt(st['mean'])} "
                    f"{bars(st.get('histogram', {}).get('counts', []))}"
                )
            else:
                detail = ", ".join(f"{escape(str(v))}×{n}" for v, n in st["top_values"][:3])
            lines.append(
                f"{escape(col['name']):<24} {col['type']:<8} nulls {st['nulls']:<5} {detail}"
            )
        sheet = _datasheet_text(self, snap.ref)
        lines += ["", "[b]Validation[/b]"]
        for v, result in results:
            verdict = "[green]passed[/green]" if v.passed else "[red]FAILED[/red]"
            lines.append(f"#{v.seq} {escape(v.suite_name)} {verdict}")
            for c in result["checks"]:
                mark = "✓" if c["passed"] else "✗"
                lines.append(f"   {mark} {escape(c['name'])}: {escape(fmt(c['observed']))}")
        if not results:
            lines.append("none recorded")
        lines += ["", "[b]Data sheet[/b] (latest recorded)", escape(sheet)]
        self.app.call_from_thread(self.query_one("#snapshot-info", Static).update, "\n".join(lines))


class ModelsPane(Pane):
    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Table(id="model-table", cursor_type="row")
            with VerticalScroll(id="model-detail"):
                yield Static("Select a model version.", id="model-info")

    def on_mount(self) -> None:
        self.query_one("#model-table", DataTable).add_columns("model", "run")

    @property
    def selected(self) -> str | None:
        table = self.query_one("#model-table", DataTable)
        if table.row_count == 0:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="models")
    def reload(self) -> None:
        from core.modelling import models

        rows = models.list_models(self.ledger_app.workspace, self.ledger_app.actor)
        self.app.call_from_thread(self._fill, rows)

    def _fill(self, rows: list[Any]) -> None:
        table = self.query_one("#model-table", DataTable)
        table.clear()
        for r in rows:
            table.add_row(r.ref, r.run_id, key=r.ref)

    @on(DataTable.RowHighlighted, "#model-table")
    def _selected(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self.show(str(event.row_key.value))

    @work(thread=True, exclusive=True, exit_on_error=False, group="model-detail")
    def show(self, ref: str) -> None:
        from core.evidence import evaluation
        from core.modelling import models

        ws = self.ledger_app.workspace
        info = models.show(ws, ref, self.ledger_app.actor)
        found = evaluation.latest(ws, ref, self.ledger_app.actor)
        m = info["metrics"]
        lines = [
            f"[b]{ref}[/b] · status [b]{info['status']}[/b]",
            f"run:{info['run']['run_id']} {info['run']['estimator']} · input "
            f"{info['inputs']['ref']}",
            " · ".join(
                f"{k} {fmt(m.get(k))}"
                for k in ("roc_auc", "accuracy", "recall", "precision", "brier")
            ),
            "",
            "[b]Signatures[/b]",
        ]
        for sig in info["signatures"]:
            lines.append(
                f"#{sig['seq']} key {sig['key_id'][:12]} ({sig['key_status']}) "
                f"{'valid' if sig['ok'] else 'INVALID'} · OpenSSF {sig['openssf']}"
            )
        if not info["signatures"]:
            lines.append("[red]unsigned[/red]")
        for r in info["reproductions"]:
            lines.append(f"reproduction #{r['seq']}: {'passed' if r['passed'] else 'FAILED'}")
        if found:
            ev, seq = found
            sections = ev["sections"]
            lines += [
                "",
                f"[b]Evidence[/b] (event #{seq}, {'passed' if ev['passed'] else 'FAILED'})",
            ]
            for attr, g in sections.get("fairness", {}).get("groups", {}).items():
                lo, hi = g["intervals_95"]["disparate_impact"]
                lines.append(
                    f"fairness {escape(attr)}: DI {fmt(g['disparate_impact'])} "
                    f"[{fmt(lo)}, {fmt(hi)}] · DPD "
                    f"{fmt(g['demographic_parity_difference'])}"
                )
                for row in g["table"]:
                    lines.append(
                        f"   {escape(row['group']):<28} n {row['count']:<4} approved "
                        f"{fmt(row['approval_rate'])} TPR {fmt(row['tpr'])} "
                        f"FPR {fmt(row['fpr'])}"
                    )
            imp = sections.get("explainability", {}).get("importance", [])[:8]
            top = max((i["mean_abs_shap"] for i in imp), default=1.0) or 1.0
            if imp:
                lines.append("SHAP mean |value|:")
            for i in imp:
                lines.append(
                    f"   {escape(i['feature']):<24} "
                    f"{'█' * max(1, round(20 * i['mean_abs_shap'] / top))} "
                    f"{fmt(i['mean_abs_shap'])}"
                )
            for case in sections.get("explainability", {}).get("representative", [])[:3]:
                lines.append(f"   {escape(case['case'])}: {escape('; '.join(case['in_words']))}")
            for kind, curve in sections.get("robustness", {}).get("curves", {}).items():
                lines.append(
                    f"robustness {kind}: "
                    + ", ".join(f"{p['strength']}→{fmt(p['roc_auc'])}" for p in curve)
                )
            priv = sections.get("privacy")
            if priv:
                lines.append(
                    f"privacy: membership-inference AUC {fmt(priv['roc_auc'])}, "
                    f"advantage {fmt(priv['advantage'])}"
                )
        self.app.call_from_thread(self.query_one("#model-info", Static).update, "\n".join(lines))


class LineagePane(Pane):
    BINDINGS = [Binding("escape", "leave_prompt", "Leave prompt")]

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="name@N, run:<id> … then Enter (prefix with '-' for downstream)",
            id="lineage-ref",
        )
        yield Tree("lineage", id="lineage-tree")

    def focus_prompt(self) -> None:
        """Focus the prompt, so typed letters go into it instead of firing app bindings."""
        self.query_one("#lineage-ref", Input).focus()

    def action_leave_prompt(self) -> None:
        self.query_one("#lineage-tree", Tree).focus()

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
    def _jump(self, event: Tree.NodeSelected[Any]) -> None:
        target = str(event.node.data or "")
        if target.startswith(("snapshot:", "model:")):
            self.ledger_app.jump_to(target)


class LedgerPane(Pane):
    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="filter: actor=NAME action=PREFIX subject=X since=2h|2026-03-01",
            id="ledger-filter",
        )
        yield ProgressBar(id="verify-progress", show_eta=False)
        yield Static("", id="verify-result")
        yield Table(id="events", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#events", DataTable).add_columns(
            "#", "time", "actor", "action", "subjects", "reason"
        )
        self.query_one("#verify-progress", ProgressBar).display = False

    @on(Input.Submitted, "#ledger-filter")
    def _filter(self) -> None:
        self.reload()

    @work(thread=True, exclusive=True, exit_on_error=False, group="ledger")
    def reload(self) -> None:
        from core.audit import inventory

        text = self.app.call_from_thread(lambda: self.query_one("#ledger-filter", Input).value)
        filters = dict(part.split("=", 1) for part in text.split() if "=" in part)
        rows = inventory.events_page(
            self.ledger_app.workspace,
            self.ledger_app.actor,
            by=filters.get("actor"),
            action=filters.get("action"),
            subject=filters.get("subject"),
            since=filters.get("since"),
        )
        self.app.call_from_thread(self._fill, rows)

    def _fill(self, rows: list[dict[str, Any]]) -> None:
        table = self.query_one("#events", DataTable)
        table.clear()
        for e in rows:
            table.add_row(
                str(e["seq"]),
                e["ts"][:19],
                e["actor"],
                e["action"],
                " ".join(e["subjects"])[:60],
                e["reason"],
                key=str(e["seq"]),
            )

    @work(thread=True, exclusive=True, exit_on_error=False, group="verify")
    def verify(self) -> None:
        from core.audit import trail as audit

        bar = self.query_one("#verify-progress", ProgressBar)
        self.app.call_from_thread(setattr, bar, "display", True)

        def progress(done: int, total: int | None, note: str = "") -> None:
            self.app.call_from_thread(bar.update, total=total, progress=done)

        report = audit.verify(self.ledger_app.workspace, progress=progress)
        if report.ok:
            text = (
                f"[green]VERIFIED[/green] {report.events} events; anchored up to "
                f"#{report.anchored}; catalog {report.catalog}"
            )
            if report.unanchored:
                text += f"; [yellow]{report.unanchored} events unanchored[/yellow]"
        else:
            text = "[red]INTEGRITY FAILURE[/red] " + escape("; ".join(report.failures[:3]))
        self.app.call_from_thread(self.query_one("#verify-result", Static).update, text)
        self.app.call_from_thread(setattr, bar, "display", False)

    @property
    def selected_seq(self) -> int | None:
        table = self.query_one("#events", DataTable)
        if table.row_count == 0:
            return None
        return int(str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))

    @work(thread=True, exclusive=True, exit_on_error=False, group="prove")
    def prove(self, seq: int) -> None:
        from core.audit import trail as audit

        doc = audit.prove(self.ledger_app.workspace, seq)
        text = (
            f"event #{seq} is included under checkpoint #{doc['tree_size']} (root "
            f"{doc['root'][:16]}…), proof of {len(doc['proof'])} hashes: "
            + " ".join(h[:8] for h in doc["proof"])
        )
        self.app.call_from_thread(self.query_one("#verify-result", Static).update, text)


class BundlePane(Pane):
    # Markdown is imported where it is used (markdown-it and Pygments cost ~55 ms of CPU): the
    # bundle tab mounts after the first paint, unless it is the only tab.
    def compose(self) -> ComposeResult:
        from textual.widgets import Markdown

        yield Input(placeholder="path of a bundle to open and verify, then Enter", id="bundle-path")
        yield Static("", id="bundle-verdict")
        with Horizontal():
            yield Table(id="coverage", cursor_type="row")
            yield Table(id="bundle-reports", cursor_type="row")
            yield Markdown("", id="bundle-report")

    def on_mount(self) -> None:
        self.texts: dict[str, str] = {}
        self.query_one("#coverage", DataTable).add_columns("item", "answered by")
        self.query_one("#bundle-reports", DataTable).add_columns("read")
        if self.ledger_app.bundle_path:
            self.query_one("#bundle-path", Input).value = str(self.ledger_app.bundle_path)
            self.open_bundle(str(self.ledger_app.bundle_path))

    @on(Input.Submitted, "#bundle-path")
    def _submitted(self, event: Input.Submitted) -> None:
        self.open_bundle(event.value.strip())

    @work(thread=True, exclusive=True, exit_on_error=False, group="bundle")
    def open_bundle(self, path: str) -> None:
        import zipfile

        from core.audit import bundle
        from core.kernel.errors import IntegrityError, LedgerError

        verdict = self.query_one("#bundle-verdict", Static)
        self.app.call_from_thread(verdict.update, f"Verifying {escape(path)}…")
        try:
            report = bundle.verify(Path(path))  # the same checks as `ledgerml bundle verify`
        except IntegrityError as err:
            reason = err.msg.removeprefix("bundle rejected: ")
            self.app.call_from_thread(verdict.update, f"[red b]REJECTED[/red b]: {escape(reason)}")
            self.ledger_app.bundle_verdict = f"REJECTED: {reason}"
            return
        except LedgerError as err:  # no such file: nothing was checked, so no verdict
            self.app.call_from_thread(
                verdict.update, f"[red b]{err.title}[/red b]: {escape(err.msg)}"
            )
            return
        with zipfile.ZipFile(path) as archive:
            coverage = json.loads(archive.read("coverage.json"))
            readable = [
                n for n in archive.namelist() if n.endswith(".md") or n == "lineage/tree.txt"
            ]
            texts = {n: archive.read(n).decode(errors="replace") for n in sorted(readable)}
        texts = {n: (t if n.endswith(".md") else f"```\n{t}\n```") for n, t in texts.items()}
        first = "reports/model-card.md" if "reports/model-card.md" in texts else "coverage.md"
        card = texts.get(first, "_Nothing to read in this bundle._")
        self.ledger_app.bundle_verdict = "VERIFIED"
        lines = "\n".join(f"✓ {escape(c)}" for c in report["checked"])
        self.app.call_from_thread(
            verdict.update, f"[green b]VERIFIED[/green b] {escape(str(report['model']))}\n{lines}"
        )
        self.texts = texts
        # Textual awaits a coroutine callback; its stubs cannot say so for a coroutine function.
        self.app.call_from_thread(self._fill, coverage, card)  # type: ignore[arg-type]

    async def _fill(self, coverage: dict[str, Any], card: str) -> None:
        # Awaited to the end (call_from_thread waits for a coroutine): the Markdown widget
        # parses and mounts its blocks asynchronously, and until it has, the review shows an
        # empty card. The worker, and so anyone waiting on it, ends only once the card is up.
        from textual.widgets import Markdown

        table = self.query_one("#coverage", DataTable)
        table.clear()
        for row in coverage["auditors"] + coverage["annex_iv"]:
            table.add_row(row["item"], ", ".join(row["files"]) or "MISSING")
        reports = self.query_one("#bundle-reports", DataTable)
        reports.clear()
        for name in self.texts:
            reports.add_row(name, key=name)
        await self.query_one("#bundle-report", Markdown).update(card)

    @on(DataTable.RowSelected, "#bundle-reports")
    def _read(self, event: DataTable.RowSelected) -> None:
        from textual.widgets import Markdown

        name = str(event.row_key.value)
        self.query_one("#bundle-report", Markdown).update(self.texts.get(name, ""))
