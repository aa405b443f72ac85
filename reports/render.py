"""Render reports as Markdown and self-contained HTML from the same Jinja2 templates.

Renderers are pure: they read only the context they are given (no clock, no I/O beyond the
packaged templates), so the same evidence always renders to the same bytes.
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from reports.charts import bar_chart, line_chart
from reports.contexts import DatasheetContext, ImpactContext, ModelCardContext

_ENV = Environment(
    loader=PackageLoader("reports", "templates"),
    undefined=StrictUndefined,
    autoescape=select_autoescape(enabled_extensions=("html", "html.j2")),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def _bars(counts: list[int]) -> str:
    """A tiny text histogram (for Markdown and terminals)."""
    blocks = " ▁▂▃▄▅▆▇█"
    top = max(counts, default=0)
    if not top:
        return ""
    return "".join(blocks[round(8 * c / top)] if c else " " for c in counts)


_ENV.filters["bars"] = _bars
_ENV.globals.update(bar_chart=bar_chart, line_chart=line_chart)


def render_pair(stem: str, ctx: object) -> tuple[str, str]:
    """Render ``stem.md.j2`` and ``stem.html.j2`` with ``ctx`` as ``(markdown, html)``.

    Every report is written twice, for reading and for filing; one environment (its filters,
    escaping and strictness) renders both.
    """
    return (
        _ENV.get_template(f"{stem}.md.j2").render(d=ctx),
        _ENV.get_template(f"{stem}.html.j2").render(d=ctx),
    )


def render_datasheet(ctx: DatasheetContext) -> tuple[str, str]:
    """Return the data sheet as ``(markdown, html)``."""
    return render_pair("datasheet", ctx)


def render_model_card(ctx: ModelCardContext) -> tuple[str, str]:
    """Return the model card as ``(markdown, html)``."""
    return render_pair("model_card", ctx)


def render_impact(ctx: ImpactContext) -> tuple[str, str]:
    """Return the impact assessment as ``(markdown, html)``."""
    return render_pair("impact", ctx)
