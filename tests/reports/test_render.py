"""One source per report: the HTML is made from the Markdown, so what either says the other
says; recorded text never becomes markup, and charts live only in the HTML."""

from __future__ import annotations

import re

from reports.contexts import ImpactContext
from reports.render import CARD_COLUMNS, markdown_to_html, render_impact


def _impact(answer: str) -> ImpactContext:
    return ImpactContext(
        ref="demo@1",
        as_of="as of evaluation event #7",
        level="II",
        level_reasons=["1 point"],
        sections=[("Intended purpose", "AI Act Art. 27(1)(a)", answer)],
        evidence=[("signature status", "valid")],
        unanswered=[],
        breaches=[],
        not_passed=["FAIL: fairness check 'disparate impact (sex)'"],
    )


def test_recorded_text_is_shown_never_run() -> None:
    """A team's answer with markup in it reads as that text in the HTML, inline or as a block."""
    answer = 'Scoring <img src="http://x.invalid/a.png"> & more\n\n<script>alert(1)</script>'
    markdown, html = render_impact(_impact(answer))
    assert answer in markdown  # the Markdown keeps the answer verbatim
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Scoring &lt;img src=&quot;http://x.invalid/a.png&quot;&gt; &amp; more" in html


def test_markdown_becomes_headings_lists_tables_and_code_with_verdict_colours() -> None:
    page = markdown_to_html(
        "# Title: x@1\n\nMeta line with `sha256:abc`\n\n## Checks\n"
        "| check | verdict |\n|---|---|\n| a | PASS |\n| b | **FAIL**: missed |\n\n"
        "## Gaps\n- WARN: c\n"
    )
    assert "<title>Title: x@1</title>" in page and "<h1>Title: x@1</h1>" in page
    assert '<p class="meta">Meta line with <code>sha256:abc</code></p>' in page
    assert "<thead>\n<tr>\n<th>check</th>" in page
    assert '<td class="pass">PASS</td>' in page
    assert '<td class="fail"><strong class="fail">FAIL</strong>: missed</td>' in page
    assert '<ul class="gap">\n<li class="warn">WARN: c</li>' in page
    body = page[page.index("<body>") :]
    assert "`" not in body and "**" not in body


def test_a_figure_marker_becomes_its_chart_in_the_html_only() -> None:
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
    marker = "<!-- figure 1: ROC AUC by noise (a chart in the HTML and PDF) -->"
    page = markdown_to_html(f"# R\n\nROC AUC by noise: 0 → 0.8.\n\n{marker}\n", [svg])
    assert f"<figure>{svg}</figure>" in page and "<!--" not in page.split("<body>")[1]
    # A marker that names no figure is dropped, not left as a comment or text.
    assert "figure 2" not in markdown_to_html(f"# R\n\n{marker.replace('1', '2', 1)}\n", [svg])


def test_the_page_is_self_contained() -> None:
    page = markdown_to_html("# R\n\n![a picture](http://example.invalid/a.png)\n")
    assert not re.search(r"<(link|script|img)\b", page)
    assert "size: A4" in page  # the shared print rules are in the shell


def _cells(page: str) -> list[str]:
    return re.findall(r"<td[^>]*>.*?</td>", page)


def test_a_status_cell_is_coloured_by_the_state_it_records() -> None:
    """A refused decision, an open incident and a failed action read red; a done one green."""
    page = markdown_to_html(
        "# Decisions\n\n| request | status | why |\n|---|---|---|\n"
        "| r-1 | **refused** | under 21 |\n| r-2 | ok | approved |\n\n"
        "| incident | state |\n|---|---|\n| #3 | open |\n| #4 | closed |\n\n"
        "| action | outcome |\n|---|---|\n| rollback | failed |\n| throttle | done |\n"
    )
    cells = _cells(page)
    assert '<td class="fail"><strong>refused</strong></td>' in cells
    assert '<td class="pass">ok</td>' in cells
    assert '<td class="fail">open</td>' in cells and '<td class="pass">closed</td>' in cells
    assert '<td class="fail">failed</td>' in cells and '<td class="pass">done</td>' in cells
    assert "<td>under 21</td>" in cells and "<td>approved</td>" in cells  # other columns: plain


def test_a_wide_tables_cells_carry_their_headings_for_a_narrow_window() -> None:
    """A table of CARD_COLUMNS columns or more becomes cards in a narrow window, each cell
    labelled with its heading (markup stripped); the style sheet picks out the same tables;
    a narrower table's cells carry no label."""
    heads = ["event", "**who**", "for `stage`", "decision", "counts now"][:CARD_COLUMNS]
    heads += [f"column {n}" for n in range(len(heads), CARD_COLUMNS)]
    wide = "| " + " | ".join(heads) + " |\n" + "|---" * len(heads) + "|\n"
    wide += "| " + " | ".join(f"v{n}" for n in range(len(heads))) + " |\n"
    page = markdown_to_html(f"# R\n\n{wide}\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    cells = _cells(page)
    plain = [re.sub(r"[*`]", "", h) for h in heads]
    assert cells[: len(heads)] == [f'<td data-label="{h}">v{n}</td>' for n, h in enumerate(plain)]
    assert cells[len(heads) :] == ["<td>1</td>", "<td>2</td>"]
    assert f"table:has(th:nth-child({CARD_COLUMNS})) > tbody > tr > td::before" in page


def test_a_count_or_a_reason_that_names_a_failing_state_is_not_coloured() -> None:
    """Only a whole status cell is a state: a count of refusals, a reason mentioning an error,
    or a failing word outside a status column stays plain."""
    page = markdown_to_html(
        "# Decisions\n\n- **refused**: 0\n- **errors**: 0\n\n"
        "| request | status | why |\n|---|---|---|\n"
        "| r-1 | refused: 0 | a timeout error upstream |\n"
        "| r-2 | ok, after an error | error |\n\n"
        "| request | reason |\n|---|---|\n| r-3 | refused |\n"
    )
    assert 'class="fail"' not in page and 'class="pass"' not in page
    assert "<td>refused: 0</td>" in _cells(page) and "<td>error</td>" in _cells(page)


def test_the_bundle_cover_colours_each_verdict_as_the_reports_do() -> None:
    """One colour per verdict wherever an auditor reads it: the cover had WARN's amber for
    INCONCLUSIVE while the reports gave it its own."""
    from core.audit.bundle_pages import _STYLE

    page = markdown_to_html("| check | verdict |\n|---|---|\n| a | PASS |\n")
    for name in ("pass", "fail", "warn", "inconclusive"):
        [report] = re.findall(rf"\.{name} \{{ color: (#[0-9a-f]{{6}})", page)
        [cover] = re.findall(rf"\.{name}\{{color:(#[0-9a-f]{{6}})", _STYLE)
        assert report == cover, name
    assert re.search(r"[,.]inconclusive[,{]", _STYLE.replace(".inconclusive{color:", "")) is None


def test_each_verdict_has_its_own_colour() -> None:
    """A reader tells WARN from INCONCLUSIVE by colour as well as by word: the page style
    gives each verdict class a colour no other verdict shares."""
    html = markdown_to_html("| check | verdict |\n|---|---|\n| a | WARN |\n| b | INCONCLUSIVE |\n")
    colours = {
        name: re.findall(rf"\.{name} \{{ color: (#[0-9a-f]{{6}})", html)
        for name in ("pass", "fail", "warn", "inconclusive")
    }
    assert all(len(found) == 1 for found in colours.values()), colours
    assert len({found[0] for found in colours.values()}) == 4, colours
    assert 'class="warn"' in html and 'class="inconclusive"' in html
