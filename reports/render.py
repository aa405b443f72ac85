"""Render reports as Markdown and self-contained HTML from the same Jinja2 templates.

Renderers are pure: they read only the context they are given (no clock, no I/O beyond the
packaged templates), so the same evidence always renders to the same bytes.
"""

from __future__ import annotations

import re

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from reports.charts import bar_chart, line_chart, robustness_axis
from reports.contexts import DatasheetContext, ImpactContext, ModelCardContext
from reports.formatting import FILTERS

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
_ENV.filters.update(FILTERS)
_ENV.globals.update(bar_chart=bar_chart, line_chart=line_chart, robustness_axis=robustness_axis)


# A table's first row when it holds only header cells (no ``<td``): it becomes a <thead>, so a
# table split across printed pages repeats its header on each.
_HEADER_ROW = re.compile(r"(<table[^>]*>)\s*(<tr>(?:(?!</tr>|<td).)*</tr>)", re.S)
# Core writes commands and digests in its sentences as Markdown code spans; in HTML they are
# <code>, never literal backticks (the text between them is already escaped).
_CODE_SPAN = re.compile(r"`([^`<>\n]+)`")


def _page_ready(html: str) -> str:
    """Add the shared screen and print rules and mark each table's header row as its head.

    One place for every report, so A4 pages, page numbers, repeated table headers, no
    orphaned headings, narrow-screen wrapping and code spans hold for all of them alike.
    """
    css = _ENV.get_template("_page.css.j2").render()
    html = _HEADER_ROW.sub(r"\1<thead>\2</thead>", html)
    html = _CODE_SPAN.sub(r"<code>\1</code>", html)
    return html.replace("</head>", f"<style>\n{css}</style>\n</head>", 1)


def render_pair(stem: str, ctx: object) -> tuple[str, str]:
    """Render ``stem.md.j2`` and ``stem.html.j2`` with ``ctx`` as ``(markdown, html)``.

    Every report is written twice, for reading and for filing; one environment (its filters,
    escaping and strictness) renders both.
    """
    return (
        _ENV.get_template(f"{stem}.md.j2").render(d=ctx),
        _page_ready(_ENV.get_template(f"{stem}.html.j2").render(d=ctx)),
    )


def render_pdf(html: str, *, doc_id: str, created: str) -> bytes:
    """The report's HTML as an A4 PDF/A-3b, for filing.

    Deterministic: the same HTML, id and time give the same bytes, because the PDF's dates
    are ``created`` (the recording event's time, never the clock) and nothing is fetched
    (the HTML is self-contained; a ``url_fetcher`` that refuses keeps it so). ``doc_id``
    (what the report is and its Markdown digest) and the date go in every page's top
    margin, beside the title and "page N of M" the shared print rules put there.

    Args:
        html: A rendered report (from :func:`render_pair`).
        doc_id: The document's identity as a reader cites it.
        created: An ISO 8601 UTC time, ``YYYY-MM-DDTHH:MM:SS…Z``.

    Returns:
        The PDF bytes.

    Raises:
        ValueError: The HTML refers to something outside itself (an image, a stylesheet).
    """
    import weasyprint  # slow to import: only when a PDF is asked for
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    class Refuse(URLFetcher):  # type: ignore[misc]
        """Fetches nothing but inline ``data:`` URLs; anything else stops the rendering."""

        def fetch(self, url: str, headers: object = None) -> object:
            if url.startswith("data:"):
                return super().fetch(url, headers)
            raise ValueError(url)

    when = created[:19] + "Z"
    margin = weasyprint.CSS(
        string="@page { @top-right { content: "
        + _css_string(f"{doc_id} · {when[:10]}")
        + "; font: 9px sans-serif; color: #57606a; } }"
    )
    try:
        document = weasyprint.HTML(string=html, url_fetcher=Refuse(fail_on_errors=True)).render(
            stylesheets=[margin], pdf_variant="pdf/a-3b"
        )
    except FatalURLFetchingError as err:
        raise ValueError(f"reports are self-contained; refusing to fetch: {err}") from None
    document.metadata.created = when
    document.metadata.modified = when
    pdf: bytes = document.write_pdf(pdf_variant="pdf/a-3b")
    return pdf


def _css_string(text: str) -> str:
    """``text`` as a quoted CSS string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def render_datasheet(ctx: DatasheetContext) -> tuple[str, str]:
    """Return the data sheet as ``(markdown, html)``."""
    return render_pair("datasheet", ctx)


def render_model_card(ctx: ModelCardContext) -> tuple[str, str]:
    """Return the model card as ``(markdown, html)``."""
    return render_pair("model_card", ctx)


def render_impact(ctx: ImpactContext) -> tuple[str, str]:
    """Return the impact assessment as ``(markdown, html)``."""
    return render_pair("impact", ctx)
