"""Render every report once, as Markdown, and make its self-contained HTML from that Markdown.

One source per report: ``stem.md.j2`` is the only template; markdown-it turns its output
into the body of one page shell (the shared screen and print rules), so the two renderings
cannot drift. Charts are not Markdown: a template writes ``{{ figure(svg, caption) }}``, which
leaves an HTML comment in the Markdown (invisible where Markdown is rendered, one readable
line where it is read raw, beside the figures in words) and the chart in the HTML.

Renderers are pure: they read only the context they are given (no clock, no I/O beyond the
packaged templates), so the same evidence always renders to the same bytes.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import logging
import re
from collections.abc import Sequence

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from reports.charts import bar_chart, line_chart, robustness_axis
from reports.contexts import DatasheetContext, ImpactContext, ModelCardContext
from reports.formatting import FILTERS, PROPORTIONS

_ENV = Environment(
    loader=PackageLoader("reports", "templates"),
    undefined=StrictUndefined,
    autoescape=select_autoescape(enabled_extensions=("html", "html.j2")),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def _bars(counts: list[int]) -> str:
    """A tiny text histogram (for Markdown, HTML and terminals alike)."""
    blocks = " ▁▂▃▄▅▆▇█"
    top = max(counts, default=0)
    if not top:
        return ""
    return "".join(blocks[round(8 * c / top)] if c else " " for c in counts)


_ENV.filters["bars"] = _bars
_ENV.filters.update(FILTERS)
_ENV.globals.update(
    bar_chart=bar_chart,
    line_chart=line_chart,
    robustness_axis=robustness_axis,
    proportions=PROPORTIONS,
)

# A figure's place in the Markdown. Only these comments pass into the HTML as raw HTML.
_FIGURE = re.compile(r"<!-- figure (\d+): [^<>]*? -->")

# How a verdict word at the start of a table cell, list item or bold span is coloured.
_VERDICT_CLASSES = (
    ("INCONCLUSIVE", "inconclusive"),
    ("PASS", "pass"),
    ("WARN", "warn"),
    ("FAIL", "fail"),
    ("BREACHED", "fail"),
    ("FLAG", "fail"),
    ("DROP?", "warn"),
    ("NOT met", "fail"),
    ("in force", "fail"),
)
# A table cell under one of these headings holds a recorded state; only a cell that is exactly
# one of the states below is coloured (so "refused: 0", a count or a reason is never).
_STATUS_HEADINGS = frozenset({"status", "outcome", "state"})
_STATUS_CLASSES = {
    # decisions (core.operations.scoring), incidents and their actions (monitor_events)
    "refused": "fail",
    "error": "fail",
    "failed": "fail",
    "open": "fail",
    "breached": "fail",
    "rolled back": "fail",
    "ok": "pass",
    "done": "pass",
    "closed": "pass",
}
# A paragraph that opens so is a legend (reports/templates/_legend.md.j2): set apart, each of
# its words in the colour it has in the report.
_LEGENDS = ("Verdicts: ", "States: ")
# Sections that list what is wrong or missing: their list is set apart (unless it says none).
_GAP_HEADINGS = {
    "Gaps",
    "Flags",
    "Evidence checks not passed",
    "Stated mitigations not checked",
    "Stated mitigations the evidence breaches",
    "Still unanswered",
}

# A paragraph that opens so warns that not everything passed; it is set apart like the gaps.
_WARNING = "**Not every check passed**"


class _Figures:
    """The charts one rendering places: each call keeps the SVG and returns its marker."""

    def __init__(self) -> None:
        self.svgs: list[str] = []

    def __call__(self, svg: str, caption: str) -> str:
        if not svg:
            return ""
        self.svgs.append(svg)
        words = re.sub(r"[<>]|--", " ", caption).strip() or "chart"
        return f"<!-- figure {len(self.svgs)}: {words} (a chart in the HTML and PDF) -->"


def _verdict_class(text: str) -> str:
    """The colour class of text that opens with a verdict word, or ""."""
    text = text.lstrip("*").lstrip()
    for word, cls in _VERDICT_CLASSES:
        rest = text[len(word) : len(word) + 1]
        if text.startswith(word) and not (rest.isalnum() or rest == "_"):
            return cls
    return ""


def _plain(inline: Token) -> str:
    """An inline token's text, without its Markdown."""
    return "".join(c.content for c in inline.children or [] if c.type in ("text", "code_inline"))


def _status_cells(tokens: list[Token]) -> None:
    """Colour each status cell by the state it records: red for a failing one, green for done.

    A cell qualifies by its column (headed "status", "outcome" or "state") and by being
    exactly a known state, never by a word inside it.
    """
    headings: list[str] = []
    column = 0
    for i, tok in enumerate(tokens):
        if tok.type == "thead_open":
            headings = []
        elif tok.type == "tr_open":
            column = 0
        elif tok.type == "th_open":
            headings.append(_plain(tokens[i + 1]).strip().lower())
        elif tok.type == "td_open":
            heading = headings[column] if column < len(headings) else ""
            column += 1
            if heading in _STATUS_HEADINGS:
                cls = _STATUS_CLASSES.get(_plain(tokens[i + 1]).strip().lower())
                if cls:
                    tok.attrSet("class", cls)


CARD_COLUMNS = 5
"""A table of this many columns or more shows each row as a card in a narrow window (one
line per cell, under its column's heading): kept in its shape it would not fit. The shared
style sheet's narrow-screen rules and the bundle's cover page use the same number."""
NARROW_WINDOW = "52rem"
"""Below this width a page takes its narrow-screen rules (the reports' style sheet and the
bundle's cover page); PDF rendering knows that block by it, to skip it quietly."""
VERDICT_CSS = {"pass": "#1a7f37", "warn": "#9a6700", "inconclusive": "#8250df", "fail": "#cf222e"}
"""Each verdict's colour on a page (each its own: a check that could not decide is not a
warning; all above 4.5:1 on white). The reports' style sheet and the bundle's cover page
both read it, so a verdict has one colour wherever an auditor reads it."""


def _labelled_cells(tokens: list[Token]) -> None:
    """Label each body cell of a wide table with its column's heading (``data-label``).

    A table of :data:`CARD_COLUMNS` columns or more shows each row as a card in a narrow
    window, each cell on a line of its own under this label (the shared style sheet's
    narrow-screen rules); on a wide window and on paper the label is unused. A narrower
    table keeps its shape everywhere, so its cells carry none.
    """
    headings: list[str] = []
    column = 0
    for i, tok in enumerate(tokens):
        if tok.type == "thead_open":
            headings = []
        elif tok.type == "tr_open":
            column = 0
        elif tok.type == "th_open":
            headings.append(" ".join(_plain(tokens[i + 1]).split()))
        elif tok.type == "td_open":
            wide = len(headings) >= CARD_COLUMNS
            if wide and column < len(headings) and headings[column]:
                tok.attrSet("data-label", headings[column])
            column += 1


def _house_rules(state: StateCore) -> None:
    """Keep the HTML safe and give it the report's classes.

    Raw HTML in the Markdown is ours only where it is a figure marker; anything else came
    from recorded text (a team's answers, a reason) and is shown as text, never run. Verdict
    words are coloured; the paragraph under the title is its meta line; the list of a gaps
    section is set apart; a status cell is coloured by its state (:func:`_status_cells`);
    a wide table's cells carry their column's heading (:func:`_labelled_cells`).
    """
    tokens = state.tokens
    _status_cells(tokens)
    _labelled_cells(tokens)
    for i, tok in enumerate(tokens):
        if tok.type == "html_block" and not _FIGURE.fullmatch(tok.content.strip()):
            tok.content = f"<p>{html_lib.escape(tok.content.strip())}</p>\n"
        if tok.type == "inline":
            children = tok.children or []
            legend = tok.content.startswith(_LEGENDS)
            for j, child in enumerate(children):
                if child.type == "html_inline" and not _FIGURE.fullmatch(child.content):
                    child.type = "text"
                if child.type == "strong_open" and j + 1 < len(children):
                    word = children[j + 1].content
                    cls = _verdict_class(word)
                    if not cls and legend:  # a legend's state takes its cells' colour
                        cls = _STATUS_CLASSES.get(word.strip().lower(), "")
                    if cls:
                        child.attrSet("class", cls)
            opener = tokens[i - 1] if i else None
            if opener is not None and opener.type == "paragraph_open" and i >= 2:
                opener = tokens[i - 2] if tokens[i - 2].type == "list_item_open" else opener
            if opener is not None and opener.type in ("td_open", "list_item_open"):
                cls = _verdict_class(tok.content)
                if cls:
                    opener.attrSet("class", cls)
        if tok.type == "paragraph_open" and i >= 3 and tokens[i - 1].tag == "h1":
            tok.attrSet("class", "meta")
        elif tok.type == "paragraph_open" and tokens[i + 1].content.startswith(_WARNING):
            tok.attrSet("class", "gap")
        elif tok.type == "paragraph_open" and tokens[i + 1].content.startswith(_LEGENDS):
            tok.attrSet("class", "legend")  # what each colour means
        if tok.type == "bullet_list_open" and i >= 2 and tokens[i - 1].type == "heading_close":
            title, first = tokens[i - 2], tokens[i + 3] if i + 3 < len(tokens) else None
            said = first.content if first is not None else ""
            if _plain(title) in _GAP_HEADINGS and not said.startswith(("None", "Nothing")):
                tok.attrSet("class", "gap")


# Tables on; images off: a page that loaded one from recorded text would not be
# self-contained (and a PDF of it would be refused).
_MD = MarkdownIt("commonmark", {"html": True}).enable("table").disable("image")
_MD.core.ruler.push("ledgerml_house_rules", _house_rules)


def markdown_to_html(markdown: str, figures: Sequence[str] = ()) -> str:
    """A report's Markdown as a complete, self-contained HTML page.

    The title is the first heading's text; each figure marker becomes its chart (the
    ``figures`` in the order they were placed); the page carries the shared screen and
    print rules.

    Args:
        markdown: A rendered report.
        figures: The SVG of each figure the Markdown marks.

    Returns:
        The HTML page.
    """
    tokens = _MD.parse(markdown)
    titles = [_plain(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "heading_open"]
    body = _MD.renderer.render(tokens, _MD.options, {})

    def place(found: re.Match[str]) -> str:
        number = int(found.group(1))
        return f"<figure>{figures[number - 1]}</figure>" if number <= len(figures) else ""

    body = _FIGURE.sub(place, body)
    page = _ENV.get_template("_page.html.j2").render(
        title=titles[0] if titles else "Report",
        css=_ENV.get_template("_page.css.j2").render(
            card_columns=CARD_COLUMNS, verdict_css=VERDICT_CSS, narrow_window=NARROW_WINDOW
        ),
        body=body,
    )
    return page


def render_pair(stem: str, ctx: object) -> tuple[str, str]:
    """Render ``stem.md.j2`` with ``ctx`` as ``(markdown, html)``.

    The HTML is made from the Markdown (:func:`markdown_to_html`): every report is
    written once and given twice, for reading and for filing.
    """
    figures = _Figures()
    markdown = _ENV.get_template(f"{stem}.md.j2").render(d=ctx, figure=figures)
    return markdown, markdown_to_html(markdown, figures.svgs)


def document_id(stem: str, subject: str, markdown: str) -> str:
    """How a filed report names itself in every page's margin.

    What it is, about what, and its Markdown's digest (which the report's event records).
    """
    digest = hashlib.sha256(markdown.encode()).hexdigest()
    return f"{stem} · {subject} · md sha256:{digest[:12]}"


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

    _quiet_screen_rules()

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


class _ScreenRulesOnly(logging.Filter):
    """Drops WeasyPrint's warning about the narrow-window rules, and only that one.

    The shared stylesheet's ``@media screen and (max-width: …)`` block is for browsers;
    WeasyPrint reads media types only, so it skips the block, which is what a printed page
    needs (an A4 text column is narrower than the breakpoint: a print engine that honoured
    the query would print wide tables as cards). Any other warning still reaches the log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        ours = "media type" in message and f"(max-width: {NARROW_WINDOW})" in message
        return not (ours and "screen" in message and "print" not in message)


def _quiet_screen_rules() -> None:
    """Installs :class:`_ScreenRulesOnly` on WeasyPrint's logger once."""
    log = logging.getLogger("weasyprint")
    if not any(isinstance(f, _ScreenRulesOnly) for f in log.filters):
        log.addFilter(_ScreenRulesOnly())


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
