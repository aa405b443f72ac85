"""The models tab: the model versions, and one version's signatures and evidence."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Static

from app.tui.panes.base import Pane, Table, fmt, verdict_markup, verdict_text
from app.tui.plots import Chart, Line, Series

ROBUSTNESS_AXES = {
    "noise": ("noise σ (× feature std dev)", 1.0),
    "flip": ("categorical values flipped (%)", 100.0),
}
"""Each perturbation kind's x axis, in words with its unit, and the factor to that unit."""

if TYPE_CHECKING:
    from core.evidence.views import Evidence, ModelDetail


class ModelsPane(Pane):
    DEFAULT_CSS = "ModelsPane #plot-shap { height: 14; }"

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Table(id="model-table", cursor_type="row")
            with VerticalScroll(id="model-detail"):
                yield Static("Select a model version.", id="model-info")
                yield Chart(id="plot-shap")
                for kind in ROBUSTNESS_AXES:
                    yield Chart(id=f"plot-{kind}")

    def on_mount(self) -> None:
        self.query_one("#model-table", DataTable).add_columns("model", "run")
        for chart in self.query(Chart):
            chart.show(None)

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
        from core.evidence import views

        detail = views.model_detail(self.ledger_app.workspace, ref, self.ledger_app.actor)
        text = detail_text(detail)
        self.app.call_from_thread(self._show_detail, text, detail.evidence)

    def _show_detail(self, text: str, ev: Evidence | None) -> None:
        self.query_one("#model-info", Static).update(text)
        self.query_one("#plot-shap", Chart).show(shap_series(ev) if ev else None)
        for kind in ROBUSTNESS_AXES:
            chart = self.query_one(f"#plot-{kind}", Chart)
            chart.show(robustness_series(ev, kind) if ev else None)


def shap_series(ev: Evidence) -> Series | None:
    """The eight largest mean |SHAP| values as horizontal bars (None without explanations)."""
    top = ev.importance[:8]
    if not top:
        return None
    return Series(
        title="SHAP importance",
        xlabel="mean |SHAP| (log-odds)",
        ylabel="feature",
        bars=[(i.feature, float(i.mean_abs_shap)) for i in reversed(top)],
    )


def robustness_series(ev: Evidence, kind: str) -> Series | None:
    """ROC AUC against one perturbation's strength (None when the kind was not run)."""
    curve = ev.robustness.get(kind)
    if not curve:
        return None
    label, factor = ROBUSTNESS_AXES.get(kind, (f"{kind} strength", 1.0))
    return Series(
        title=f"Robustness: {kind}",
        xlabel=label,
        ylabel="ROC AUC",
        lines=[Line(kind, [float(x) * factor for x, _ in curve], [float(y) for _, y in curve])],
    )


def detail_text(info: ModelDetail) -> str:
    """The model version's detail as Rich markup (every recorded name escaped)."""
    from reports.formatting import metric_name

    m = info.metrics
    lines = [
        f"[b]{escape(info.ref)}[/b] · signature [b]{escape(info.status)}[/b] · evidence "
        + (
            f"verdict [b]{verdict_text(info.evidence.verdict)}[/b]"
            if info.evidence
            else "[ansi_yellow]none recorded[/]"
        ),
        f"run:{info.run_id} {info.estimator.replace('_', ' ')} · input {info.input_ref}",
        " · ".join(
            f"{metric_name(k)} {fmt(m.get(k))}"
            for k in ("roc_auc", "accuracy", "recall", "precision", "brier")
        ),
        "",
        "[b]Signatures[/b]",
    ]
    for sig in info.signatures:
        lines.append(
            f"#{sig.seq} key {sig.key_id[:12]} ({sig.key_status}) "
            f"{'valid' if sig.ok else 'INVALID'} · OpenSSF {sig.openssf}"
        )
    if not info.signatures:
        lines.append("[ansi_red]unsigned[/]")
    for seq, passed in info.reproductions:
        lines.append(f"reproduction #{seq}: {'passed' if passed else 'FAILED'}")
    if info.evidence:
        lines += evidence_lines(info.evidence)
    return "\n".join(lines)


def evidence_lines(ev: Evidence) -> list[str]:
    """The newest evidence: fairness per attribute, SHAP, cases, robustness, privacy."""
    from core.documents.reporting import check_in_words  # the filed reports' sentence

    # The verdict is the worst check's: an INCONCLUSIVE or WARN check never reads as passed.
    lines = ["", f"[b]Evidence[/b] (event #{ev.seq}, verdict {verdict_markup(ev.verdict)})"]
    for gap in ev.gaps:
        lines.append(f"   {verdict_text(gap.verdict)}: {escape(check_in_words(gap))}")
    for f in ev.fairness:
        lo, hi = f.interval_95
        mark = ""
        if f.verdict is not None:
            mark = f" · {verdict_markup(f.verdict)}"
        lines.append(
            f"fairness {escape(f.attribute)}: DI {fmt(f.disparate_impact)} "
            f"[{fmt(lo)}, {fmt(hi)}] · DPD {fmt(f.parity_difference)}{mark}"
        )
        for row in f.groups:
            lines.append(
                f"   {escape(row.group):<28} n {row.count:<4} {escape(ev.favourable)} "
                f"{fmt(row.approval_rate)} TPR {fmt(row.tpr)} FPR {fmt(row.fpr)}"
            )
    imp = ev.importance[:8]
    if imp:  # the figures; the chart under the text draws them
        lines.append("SHAP mean |value| (plotted below):")
    for i in imp:
        lines.append(f"   {escape(i.feature):<24} {fmt(i.mean_abs_shap)}")
    for case in ev.cases[:3]:
        lines.append(f"   {escape(case.case)}: {escape('; '.join(case.in_words))}")
    for kind, curve in ev.robustness.items():
        lines.append(
            f"robustness {kind} (plotted below): "
            + ", ".join(f"{s}→{fmt(auc)}" for s, auc in curve)
        )
    if ev.privacy:
        auc, advantage = ev.privacy
        lines.append(f"privacy: membership-inference AUC {fmt(auc)}, advantage {fmt(advantage)}")
    return lines
