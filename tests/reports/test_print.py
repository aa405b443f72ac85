"""Reports people file: the PDF of every report (its text held to golden files, its digest
recorded), the shared print rules, and every report's HTML and a real bundle's cover page in a
real headless Chromium at a desktop and a phone width: nothing overflows sideways, tables
included, and nothing is fetched."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import textwrap
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pypdf
import pytest

from core.data import snapshots
from core.documents import (
    datasheet,
    modelcard,
    operations_reports,
    privacy_reports,
    retention_report,
)
from core.evidence import evaluation
from core.identity import actors
from core.kernel.workspace import Workspace
from core.modelling import models, training
from reports.render import render_pdf
from tests.conftest import copy_workspace, run_cli_here

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "sample_data" / "german-credit"
GOLDEN = Path(__file__).parents[1] / "data" / "golden" / "reports" / "pdf"
UPDATE = os.environ.get("LEDGERML_UPDATE_GOLDENS") == "1"  # regenerate, then review the diff


@pytest.fixture(scope="module")
def written(credit_keyed: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Path]:
    """One representative workspace (a trained, evaluated model) with every report written
    as Markdown, HTML and PDF into one folder."""
    root = tmp_path_factory.mktemp("print")
    ws = copy_workspace(credit_keyed, root / "ws")  # trained, registered, val has a key
    evaluation.evaluate(ws, "val", "credit-risk@1", SAMPLE / "evaluation.toml")
    operate(ws, root)
    out = root / "reports"
    card = SAMPLE / "model_card.toml"
    modelcard.write_card(ws, "val", "credit-risk@1", out, answers_path=card, pdf=True)
    impact = SAMPLE / "impact_answers.toml"
    modelcard.write_impact(ws, "val", "credit-risk@1", out, answers_path=impact, pdf=True)
    datasheet.write(ws, "alice", "german-credit@1", out, pdf=True)
    for kind in ("monitoring", "incidents", "decisions"):
        operations_reports.write(ws, "alice", kind, "production", out, pdf=True)
    privacy_reports.write_access(ws, "alice", out, pdf=True)
    privacy_reports.write_minimisation(ws, "alice", out, pdf=True)
    retention_report.write(ws, "alice", out, formats=("md", "html", "pdf"))
    score_card(ws, root, out)  # last: the reports above list no vendor snapshot or its events
    return ws, out


def score_card(ws: Workspace, root: Path, out: Path) -> None:
    """Audit an existing score and write its card: the generated corpus's vendor score (a
    probability of default that scores rural applicants worse), the spec and suite of the
    score-evaluation tests, evaluated and signed by val."""
    from core.documents import scorecard
    from core.evidence import score_evaluation
    from tests.core.test_predictions import FAIRNESS, VENDOR_SPEC
    from tests.corpus import generate

    table = generate.vendor_scores(root)
    snapshots.add(ws, "alice", table.path, dataset="vendor", sensitive=table.sensitive)
    (root / "score.toml").write_text(VENDOR_SPEC)
    (root / "suite.toml").write_text(FAIRNESS)
    score_evaluation.evaluate(ws, "val", "vendor@1", root / "score.toml", root / "suite.toml")
    scorecard.write(ws, "val", "vendor#vendor_score", out, pdf=True)


def operate(ws: Workspace, root: Path) -> None:
    """Put credit-risk@1 to work in production, so the operations reports have real content.

    Signed, approved by two validators (the operations tests' policy: tier 2 takes two), and
    deployed with its input rows kept (retention ``rows``: input drift is measurable) under
    the sample SLOs and playbook. Real applicants are scored, a few outcomes and one
    override are recorded, and monitoring runs twice: over the calm batch (it passes), then
    after a batch whose loans run three times longer (their inputs drift). That breach opens
    an incident; its automatic rollback is refused (no earlier version served production),
    an operator throttles by hand and closes it.
    """
    import pandas as pd

    from core.governance import approvals, lifecycle, policy
    from core.operations import (
        deployments,
        incidents,
        monitoring,
        ops_config,
        outcomes,
        overrides,
        scoring,
    )
    from tests.operations.conftest import POLICY

    ref, env = "credit-risk@1", "production"
    actors.add(ws, "alice", "tess", ["validator"])
    actors.add(ws, "alice", "opal", ["operator"])
    policy.install(ws, "alice", POLICY, reason="model-risk policy")
    models.sign(ws, "alice", ref)
    lifecycle.promote(ws, "val", ref, to="validated", reason="independent validation done")
    approvals.approve(ws, "val", ref, role="validator", reason="evidence reviewed")
    approvals.approve(
        ws,
        "tess",
        ref,
        role="validator",
        reason="second review",
        conditions=["not for applicants under 21 [where age_years >= 21]"],
    )
    lifecycle.promote(ws, "val", ref, to="approved", reason="two validators approved")
    deployments.deploy(ws, "opal", ref, env=env, retention="rows", reason="approved for production")
    operations = ROOT / "sample_data" / "operations"
    for kind in ("slo", "playbook"):
        ops_config.install(ws, "opal", kind, operations / f"{kind}.toml", env=env, reason="plan")
    with ws.session() as s:
        snap = snapshots.resolve(s.catalog, "german-credit-features@1")
        run = s.catalog.run(s.catalog.model(ref).run_id)  # type: ignore[union-attr]
    assert run is not None
    spec = training.load_run_spec(ws, run)
    rows = training.load_table(ws, snap, [*spec.features, "age_years", "sex", "bad_credit"])
    calm = rows.sample(200, random_state=5).reset_index(drop=True)
    scorer = scoring.Scorer.open(ws, env, "opal")
    first = scorer.score(calm.drop(columns="bad_credit"), caller="opal", explain=3)
    answers = first.answers.to_pylist()
    labels = root / "outcomes.csv"
    pd.DataFrame(
        {"request_id": [a["request_id"] for a in answers[:40]], "outcome": calm["bad_credit"][:40]}
    ).to_csv(labels, index=False)
    outcomes.add(ws, "opal", labels, reason="collections data for the first loans")
    turned = next(a for a in answers if a["decision"] == "declined")
    overrides.override(
        ws, "opal", turned["request_id"], outcome="approved", reason="officer review: collateral"
    )
    monitoring.run(ws, "opal", env=env, window="7d", reason="weekly review")
    longer = calm.drop(columns="bad_credit").assign(duration_months=calm["duration_months"] * 3)
    scorer.score(longer, caller="opal", explain=3)
    drifted = monitoring.run(ws, "opal", env=env, window="7d", reason="weekly review")
    [ticket] = drifted.incidents
    incidents.act(ws, "opal", ticket.seq, step=2, reason="answer half, review the rest")
    incidents.close(ws, "opal", ticket.seq, reason="a new feed sent durations in weeks: fixed")


REPORTS = [
    "model-card-credit-risk-1",
    "impact-assessment-credit-risk-1",
    "datasheet-german-credit-1",
    "monitoring-production",
    "incidents-production",
    "decisions-production",
    "access-log",
    "minimisation",
    "retention",
    "score-card-vendor-1-vendor_score",
]


def _mask(text: str) -> str:
    """``text`` with what differs between two builds of the same workspace masked: the
    workspace's id, times, dates, digests, keys and the git commit's dirty flag."""
    # A PDF line may break anywhere inside an id (where depends on the id's glyphs).
    hexes = [rf"[0-9a-f](?:\s?[0-9a-f]){{{n - 1}}}" for n in (8, 4, 4, 4, 12)]
    text = re.sub(r"-\s?".join(hexes), "<uuid>", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?", "<time>", text)
    text = re.sub(r"\d{4}-\d\d-\d\d\s+\d\d:\d\d(:\d\d)?\s+UTC", "<time>", text)  # in words
    text = re.sub(r"\d{4}-\d\d-\d\d", "<date>", text)
    text = re.sub(r"[0-9a-f]{8,}", "<hex>", text)
    return re.sub(r"(dirty|uncommitted changes): (yes|no)", r"\1: <flag>", text)


def stable_source(text: str) -> str:
    """A Markdown or HTML rendering as its golden file holds it: masked (:func:`_mask`),
    and without the style sheet, which every report shares and a test of its own checks."""
    return _mask(re.sub(r"<style>.*?</style>\n?", "", text, flags=re.S))


def stable_text(pdf: bytes) -> str:
    """The PDF's words, page by page, with what differs between two builds of the same
    workspace (digests, keys, ids, times, the git commit and its dirty flag) masked.

    Lines are refilled to 100 columns: a masked value of another width moves a line break
    but never a word or a page, and those are what the golden file holds.
    """
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    pages = []
    for number, page in enumerate(reader.pages, 1):
        text = page.extract_text()
        # A digest wrapped at the line's end goes on on the next line: one digest, masked whole.
        text = re.sub(r"([0-9a-f]{8,})\n([0-9a-f]{1,63})(?=[\s…,.)]|$)", r"\1\2", text)
        # A decision's request id (r-HEX12-NNNNNNN) or a deployment's id wraps in a narrow
        # column where its random hex's glyphs put the breaks: one id, masked whole.
        text = re.sub(r"r-\s?(?:[0-9a-f]\s?){11}[0-9a-f]-(?:\s?\d){7}", "<request>", text)
        text = re.sub(r"dep-(?:[0-9a-f]\s?){11}[0-9a-f]", "dep-<hex>", text)
        # An id that ends a line may reach the next line's word with no space between.
        words = " ".join(re.sub(r"<uuid>(?=[A-Za-z])", "<uuid> ", _mask(text)).split())
        pages.append(f"--- page {number} ---\n" + textwrap.fill(words, 100, break_on_hyphens=False))
    return "\n".join(pages) + "\n"


@pytest.mark.parametrize("stem", REPORTS)
def test_every_report_pdf_matches_its_golden_text(
    written: tuple[Workspace, Path], stem: str
) -> None:
    _, out = written
    pdf = (out / f"{stem}.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    text = stable_text(pdf)
    golden = GOLDEN / f"{stem}.txt"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), f"{stem}.pdf text changed; review, then regenerate"
    words = " ".join(text.split())
    assert re.search(r"page 1 of \d+", words)  # the margin boxes: page numbers …
    assert "md sha256:<hex>" in words  # … and the document id


@pytest.mark.parametrize("stem", REPORTS)
@pytest.mark.parametrize("suffix", ["md", "html"])
def test_every_report_source_matches_its_golden_file(
    written: tuple[Workspace, Path], stem: str, suffix: str
) -> None:
    """The Markdown and the HTML made from it, held to golden files: a change to either is a
    change to what people file, reviewed in the diff."""
    _, out = written
    text = stable_source((out / f"{stem}.{suffix}").read_text())
    golden = GOLDEN.parent / suffix / f"{stem}.{suffix}"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), f"{stem}.{suffix} changed; review, then regenerate"


# What a report must never write in its own words: code names, data structures, the
# "(s)" of a sentence that did not count, comparison signs and floats nobody rounded.
_CODE_LIKE = {
    "snake_case identifier": re.compile(r"(?<![\w-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w-])"),
    "brace": re.compile(r"[{}]"),
    "empty list": re.compile(r"\[\]"),
    "(s) plural": re.compile(r"\w\(s\)"),
    "comparison sign": re.compile(r"<=|>="),
    "unrounded float": re.compile(r"\d\.\d{5,}"),
}
# Where code-ish text belongs and is left alone: code spans, file names, figure markers.
_CODE_CONTEXTS = (
    re.compile(r"`[^`\n]*`"),
    re.compile(r"[\w./-]+\.(?:toml|csv|json|md|html|pdf|parquet|txt|skops)\b"),
)


def recorded_words(ws: Workspace) -> list[str]:
    """What a report shows as recorded rather than in its own words, longest first.

    The columns of every snapshot and the values of their categorical columns (data is
    shown as it is: ``checking_account = 0 <= ... < 200 DM``), and every reason and approval
    condition a person recorded (their words, quoted).
    """
    import duckdb

    found: set[str] = set()
    with ws.session("") as s:
        snaps = s.catalog.con.execute("SELECT columns, parquet_digest FROM snapshots").fetchall()
    con = duckdb.connect()
    for columns, digest in snaps:
        parsed = json.loads(columns)
        names = [c["name"] if isinstance(c, dict) else str(c) for c in parsed]
        found.update(names)
        path = ws.objects.path(digest)
        for name in names:
            rows = con.execute(
                f'SELECT DISTINCT CAST("{name}" AS VARCHAR) FROM read_parquet(?) LIMIT 60',
                [str(path)],
            ).fetchall()
            if len(rows) < 60:
                found.update(str(r[0]) for r in rows if r[0] is not None)
    for entry in ws.ledger.iter_entries():
        event = entry.decode()
        found.add(str(event.get("reason") or ""))
        found.update(str(c) for c in (event.get("data") or {}).get("conditions") or [])
    return sorted((w for w in found if len(w) > 2), key=len, reverse=True)


def code_like(text: str, recorded: list[str]) -> list[str]:
    """Each place ``text`` reads like code outside the contexts where code belongs."""
    for context in _CODE_CONTEXTS:
        text = context.sub(" ", text)
    for words in recorded:
        text = re.sub(rf"(?<![\w-]){re.escape(words)}(?![\w-])", " ", text)
    found = []
    for what, pattern in _CODE_LIKE.items():
        for hit in pattern.finditer(text):
            line = text[text.rfind("\n", 0, hit.start()) + 1 : text.find("\n", hit.end())]
            found.append(f"{what} {hit.group()!r} in: {line.strip()[:160]}")
    return found


@pytest.mark.parametrize("stem", REPORTS)
def test_no_report_reads_like_code(written: tuple[Workspace, Path], stem: str) -> None:
    """Filed reports speak words: outside code spans, file names and recorded data (column
    names, values, people's own words), no identifier, data structure, comparison sign,
    "(s)" or unrounded float appears in any report of the workspace."""
    ws, out = written
    found = code_like((out / f"{stem}.md").read_text(), recorded_words(ws))
    assert found == [], f"{stem} reads like code:\n" + "\n".join(found)
    words = " ".join(stable_text((out / f"{stem}.pdf").read_bytes()).split())
    for raw in ("{'", '{"', "[]", "roc_auc", "log_loss"):  # and so does its PDF
        assert raw not in words, f"{stem}.pdf shows {raw!r}"


def test_the_code_like_rule_catches_what_it_names() -> None:
    """The rule is seen to fail: each kind of slip is caught, and recorded data is not."""
    slips = [
        "estimator: logistic_regression",
        "code: {'git': 1}",
        "conditions: []",
        "3 incident(s)",
        "predicted 1 at probability >= 0.5",
        "observed 0.545879",
    ]
    for slip in slips:
        assert code_like(slip, []), slip
    fine = "duration_months = 0 <= ... < 200 DM in `sha256:ab_cd` and model_card.toml"
    assert code_like(fine, ["0 <= ... < 200 DM", "duration_months"]) == []


@pytest.mark.parametrize("stem", REPORTS)
def test_every_report_that_colours_words_says_what_the_colours_mean(
    written: tuple[Workspace, Path], stem: str
) -> None:
    """A colour without a legend is a code the reader must guess: every report with a
    coloured word carries the shared legend, whose words take the same colours."""
    _, out = written
    page = (out / f"{stem}.html").read_text()
    body = page[page.index("<body>") :]
    legends = re.findall(r'<p class="legend">(.*?)</p>', body, re.S)
    coloured = re.sub(r'<p class="legend">.*?</p>', "", body, flags=re.S)
    classes = set(re.findall(r'class="(pass|warn|inconclusive|fail)"', coloured))
    if not classes:
        return  # nothing coloured here (a legend may still say what would be)
    assert len(legends) == 1, f"{stem} colours {sorted(classes)} without one legend"
    shown = set(re.findall(r'<strong class="(pass|warn|inconclusive|fail)">', legends[0]))
    assert classes <= shown, f"{stem}: colours {sorted(classes - shown)} are not in its legend"


def test_each_pdf_digest_is_recorded_in_its_report_event(written: tuple[Workspace, Path]) -> None:
    ws, out = written
    recorded: dict[str, str] = {}
    for entry in ws.ledger.iter_entries():
        event = entry.decode()
        if str(event["action"]).startswith("report."):
            data = event["data"]
            if data.get("pdf"):
                recorded[data["markdown"]] = data["pdf"]
                objects = {o["sha256"]: o["media_type"] for o in event["objects"]}
                assert objects[data["pdf"]] == "application/pdf"
    for stem in REPORTS:
        md = hashlib.sha256((out / f"{stem}.md").read_bytes()).hexdigest()
        pdf = hashlib.sha256((out / f"{stem}.pdf").read_bytes()).hexdigest()
        assert recorded[md] == pdf, stem


def test_a_pdf_is_pdfa_and_a_pure_function_of_html_id_and_time(
    written: tuple[Workspace, Path],
) -> None:
    _, out = written
    html = (out / "access-log.html").read_text()
    one = render_pdf(html, doc_id="access-log", created="2026-03-01T09:30:00.000001Z")
    assert one == render_pdf(html, doc_id="access-log", created="2026-03-01T09:30:00.000001Z")
    reader = pypdf.PdfReader(io.BytesIO(one))
    assert reader.metadata is not None
    assert reader.metadata["/CreationDate"].startswith("D:20260301093000")
    xmp = reader.xmp_metadata
    assert xmp is not None and "pdfaid" in xmp.rdf_root.toxml()  # the PDF/A-3b claim
    later = render_pdf(html, doc_id="access-log", created="2026-03-02T09:30:00Z")
    assert later != one  # the date is in the bytes (metadata and margin), never the clock


def test_printing_a_report_warns_of_nothing_and_other_warnings_still_show(
    written: tuple[Workspace, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """The screen-only rules are skipped by design: not a warning; anything else is one."""
    _, out = written
    html = (out / "model-card-credit-risk-1.html").read_text()
    assert "@media screen and (max-width" in html
    with caplog.at_level(logging.WARNING):
        render_pdf(html, doc_id="model-card", created="2026-03-01T09:30:00Z")
        assert [r.getMessage() for r in caplog.records if r.name == "weasyprint"] == []
        logging.getLogger("weasyprint").warning("Ignored `color: nonsense` at 1:1")
        # a rule that would also print is not the one skipped by design: still said
        render_pdf(
            "<html><head><style>@media print, screen and (max-width: 52rem) { p { color: red } }"
            "</style></head><body><p>x</p></body></html>",
            doc_id="x",
            created="2026-03-01T09:30:00Z",
        )
    said = [r.getMessage() for r in caplog.records]
    assert said[0] == "Ignored `color: nonsense` at 1:1" and len(said) > 1, said
    assert all("print" in m for m in said[1:]), said


def test_a_report_that_would_fetch_something_is_refused() -> None:
    page = '<html><head></head><body><img src="http://example.invalid/x.png"></body></html>'
    with pytest.raises(ValueError, match="self-contained"):
        render_pdf(page, doc_id="x", created="2026-03-01T09:30:00Z")


def test_the_shared_print_rules_are_in_every_html_report(written: tuple[Workspace, Path]) -> None:
    _, out = written
    for stem in REPORTS:
        page = (out / f"{stem}.html").read_text()
        assert "size: A4" in page and 'counter(page) " of " counter(pages)' in page, stem
        assert "thead { display: table-header-group; }" in page and "break-after: avoid" in page
        assert "overflow-wrap: anywhere" in page
        assert "<table><tr><th>" not in page  # every header row is a <thead>, repeated per page
        assert not re.search(r"`[^`<>\n]+`", page), stem  # code spans, not literal backticks


def test_each_html_is_its_markdown_with_the_charts_placed(written: tuple[Workspace, Path]) -> None:
    """The Markdown stays readable (no SVG, a marker per chart); the HTML has every chart in
    its place and no Markdown left over."""
    _, out = written
    charts = 0
    for stem in REPORTS:
        markdown = (out / f"{stem}.md").read_text()
        page = (out / f"{stem}.html").read_text()
        body = page[page.index("<body>") :]
        assert "<svg" not in markdown and "<style" not in markdown, stem
        markers = len(re.findall(r"<!-- figure \d+: [^>]+ -->", markdown))
        assert body.count("<figure><svg") == markers, stem
        assert "<!--" not in body and "**" not in body and "`" not in body, stem
        assert body.count("<h2>") == len(re.findall(r"^## ", markdown, re.M)), stem
        charts += markers
    assert charts >= 3  # the card: feature importance and the two robustness curves


# --- a real browser -------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium")
# One page that opens every report in an iframe exactly ``width`` px wide and writes what it
# measured into the DOM, so one browser launch per width covers all of them.
HARNESS = """<!DOCTYPE html><html><body style="margin:0"><pre id="probe"></pre><script>
const names = NAMES, out = {}; let left = names.length;
for (const n of names) {
  const f = document.createElement('iframe');
  f.style.cssText = 'width: WIDTHpx; height: 900px; border: 0; display: block';
  f.onload = () => {
    try {
      const d = f.contentDocument, e = d.documentElement;
      const wide = [...d.querySelectorAll('body *')]
        .filter(x => x.getBoundingClientRect().right > e.clientWidth + 1)
        .map(x => x.tagName + (x.className ? '.' + x.className : '')).slice(0, 5);
      const fetched = f.contentWindow.performance.getEntriesByType('resource')
        .map(r => r.name).filter(u => !u.startsWith('file:') && !u.startsWith('data:'));
      const links = [...d.querySelectorAll('[href], [src]')].map(x => x.href || x.src);
      out[n] = {scroll: e.scrollWidth, client: e.clientWidth, wide, fetched, links,
                text: d.body.innerText};
    } catch (err) { out[n] = {error: String(err)}; }
    if (--left === 0) document.getElementById('probe').textContent = JSON.stringify(out);
  };
  f.src = n; document.body.appendChild(f);
}
</script></body></html>"""


def browse(folder: Path, names: list[str], width: int, profile: Path) -> dict[str, Any]:
    """Open each page of ``folder`` in headless Chromium at ``width`` px; what was measured.

    The proxy is a closed port, so anything a page tried to fetch from the network would
    fail; each page's resource timing entries say what it tried to load.
    """
    harness = folder / "probe.html"
    harness.write_text(HARNESS.replace("NAMES", json.dumps(names)).replace("WIDTH", str(width)))
    proc = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--proxy-server=127.0.0.1:9",
            "--allow-file-access-from-files",  # the harness reads its iframes' documents
            f"--window-size={width + 40},900",
            "--virtual-time-budget=5000",
            "--dump-dom",
            harness.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert found and found.group(1), f"no probe output from chromium: {proc.stderr[-2000:]}"
    seen: dict[str, Any] = json.loads(found.group(1).replace("&quot;", '"'))
    return seen


# A table too wide for any window, in a box that scrolls it: the document never overflows,
# so only the per-element check sees it.
WIDE_TABLE = (
    '<html><body><div style="overflow-x: auto"><table><tr>'
    '<td style="min-width: 2000px">x</td></tr></table></div></body></html>'
)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/system-deps)")
@pytest.mark.parametrize("width", [1280, 420])
def test_every_report_fits_the_window_and_fetches_nothing(
    written: tuple[Workspace, Path], tmp_path: Path, width: int
) -> None:
    _, out = written
    pages = tmp_path / "pages"
    pages.mkdir()
    for stem in REPORTS:
        html = (out / f"{stem}.html").read_text()
        urls = re.findall(r"""(?:src|href)\s*=\s*["']?(https?://[^"' >]+)""", html)
        assert urls == [], f"{stem} links outside itself: {urls}"
        assert not re.search(r"url\(\s*['\"]?https?:", html) and "@import" not in html
        shutil.copy(out / f"{stem}.html", pages / f"{stem}.html")
    # The control: a page that does overflow, so the probe is seen to catch one.
    (pages / "too-wide.html").write_text(
        '<html><body><div style="width: 2000px">x</div><img src="http://example.invalid/a.png">'
    )
    # … and one whose table scrolls inside its own box: the page fits, the table does not.
    (pages / "wide-table.html").write_text(WIDE_TABLE)
    names = [f"{stem}.html" for stem in REPORTS] + ["too-wide.html", "wide-table.html"]
    seen = browse(pages, names, width, tmp_path / "profile")
    control = seen["too-wide.html"]
    assert control["scroll"] > control["client"] and control["fetched"], control
    assert "TABLE" in seen["wide-table.html"]["wide"], seen["wide-table.html"]
    for stem in REPORTS:
        fit = seen[f"{stem}.html"]
        assert "error" not in fit, fit
        assert fit["scroll"] <= fit["client"], f"{stem} at {width}px overflows: {fit}"
        assert fit["wide"] == [], f"{stem} at {width}px: elements past the edge: {fit}"
        assert fit["fetched"] == [], f"{stem} fetched {fit['fetched']}"


@pytest.fixture(scope="module")
def bundled(written: tuple[Workspace, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle of credit-risk@1 (signed, approved twice with a condition, deployed, its
    reports filed) as ``bundle export`` writes it, unpacked into a folder."""
    from core.audit import bundle

    ws, _ = written
    root = tmp_path_factory.mktemp("bundle")
    archive = root / "credit-risk-1.zip"
    bundle.export(ws, "alice", "credit-risk@1", archive, reason="audit")
    folder = root / "unpacked"
    with zipfile.ZipFile(archive) as z:
        z.extractall(folder)
    return folder


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/system-deps)")
@pytest.mark.parametrize("width", [1280, 420])
def test_the_bundle_cover_page_fits_links_only_its_members_and_states_its_verdicts(
    bundled: Path, tmp_path: Path, width: int
) -> None:
    """The cover page an auditor opens first, in a real browser: it fits a desktop and a
    phone window (tables too), fetches nothing, every link opens a file of the bundle, and
    it says both what was verified (at export, not by the page) and the evidence verdict."""
    members = {p.relative_to(bundled).as_posix() for p in bundled.rglob("*") if p.is_file()}
    page = (bundled / "index.html").read_text()
    assert not re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert not re.search(r"url\(|@import", page)
    pages = tmp_path / "pages"
    shutil.copytree(bundled, pages)
    (pages / "wide-table.html").write_text(WIDE_TABLE)
    seen = browse(pages, ["index.html", "wide-table.html"], width, tmp_path / "profile")
    assert "TABLE" in seen["wide-table.html"]["wide"], seen["wide-table.html"]
    cover = seen["index.html"]
    assert "error" not in cover, cover
    assert cover["scroll"] <= cover["client"], f"the cover at {width}px overflows: {cover}"
    assert cover["wide"] == [], f"the cover at {width}px: elements past the edge: {cover}"
    assert cover["fetched"] == [], cover["fetched"]
    base = pages.as_uri() + "/"
    linked = set()
    for url in cover["links"]:
        assert url.startswith(base), f"the cover links outside the bundle: {url}"
        linked.add(unquote(url.removeprefix(base).partition("#")[0]))
    assert linked <= members, sorted(linked - members)  # every link opens a member …
    assert members - linked == {"index.html"}, sorted(members - linked)  # … and each is linked
    text = " ".join(cover["text"].split())
    assert "Verified at export, not by this page." in text
    assert "ledgerml bundle verify BUNDLE.zip --key org.pem" in text
    newest = max(
        members & {f"evidence/{p.name}" for p in (bundled / "evidence").glob("evaluation-*")},
        key=lambda name: int(re.findall(r"\d+", name)[-1]),
    )
    verdict = json.loads((bundled / newest).read_text())["verdict"]
    assert f"Evidence verdict (newest) {verdict}" in text, text[:2000]


def test_the_cli_writes_the_pdf_by_default_and_skips_it_when_asked(
    written: tuple[Workspace, Path], tmp_path: Path
) -> None:
    ws, _ = written
    base = ("--workspace", str(ws.root), "--as", "alice", "--json", "report", "access")
    with_pdf = run_cli_here(*base, "-o", str(tmp_path / "a"))
    assert with_pdf.returncode == 0, with_pdf.stderr
    files = json.loads(with_pdf.stdout)
    assert Path(files["pdf"]).read_bytes().startswith(b"%PDF-")
    assert "access-log.pdf" in with_pdf.stderr
    without = run_cli_here(*base, "-o", str(tmp_path / "b"), "--no-pdf")
    assert without.returncode == 0, without.stderr
    assert "pdf" not in json.loads(without.stdout)
    assert not (tmp_path / "b" / "access-log.pdf").exists()
    event = list(ws.ledger.iter_entries())[-1].decode()
    assert event["action"] == "report.access" and "pdf" not in event["data"]
