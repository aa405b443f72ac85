"""The verdict vocabulary, shown everywhere: a check that failed, warned or could not be judged
is never summarised as passed or trusted, in any report, the CLI, the TUI or a bundle's cover.

The model is trained once on the generated loans table (not German credit), signed, and each
test evaluates a copy of that workspace with a suite built to FAIL, WARN or be INCONCLUSIVE.
"""

from __future__ import annotations

import json
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app as cli_app
from core.audit import admin, bundle, inventory
from core.data import snapshots
from core.documents import modelcard
from core.evidence import evaluation, views
from core.identity import actors, keys
from core.kernel.errors import UsageError
from core.kernel.workspace import Workspace
from core.modelling import models, training
from tests.conftest import copy_workspace
from tests.corpus import generate

SUITES = {
    # The loans model fails the four-fifths rule on "group" (see test_corpus_pipeline).
    "FAIL": '[evaluation]\nseed = 1\n\n[fairness]\nattributes = ["group"]\nbootstrap = 20\n'
    'min_group_size = 30\nmin_disparate_impact = 0.8\nseverity = "error"\n',
    "WARN": '[evaluation]\nseed = 1\n\n[fairness]\nattributes = ["group"]\nbootstrap = 20\n'
    'min_group_size = 30\nmin_disparate_impact = 0.8\nseverity = "warn"\n',
    # group × gender has a cell of a few rows: the comparison cannot be judged.
    "INCONCLUSIVE": '[evaluation]\nseed = 1\n\n[fairness]\nattributes = ["gender"]\n'
    'intersections = [["group", "gender"]]\nbootstrap = 20\nmin_group_size = 30\n'
    "min_disparate_impact = 0.0\nmax_demographic_parity_difference = 1.0\n"
    'severity = "warn"\n',
}
REF = "loans@1"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with the loans model trained, registered and signed (no evidence yet)."""
    folder = tmp_path_factory.mktemp("verdicts")
    table = generate.loans_repaid(folder)
    ws = admin.init(folder / "ws", "alice", reason="verdicts")
    actors.add(ws, "alice", "val", ["validator"])
    keys.create(ws, "val")
    snapshots.add(ws, "alice", table.path, dataset="loans", sensitive=["group", "gender"])
    from core.data import validation

    suite = folder / "suite.toml"
    suite.write_text('[suite]\nname = "loans"\n\n[[checks]]\ntype = "row_count"\nmin = 100\n')
    validation.run(ws, "alice", "loans@1", suite)
    spec = folder / "train.toml"
    outcome = "\n".join(f"{k} = {json.dumps(v)}" for k, v in table.outcome.items())
    spec.write_text(
        '[run]\nname = "loans"\ninput = "loans@1"\nsuite = "loans"\ntarget = "repaid"\n'
        'features = ["income", "debt", "purpose"]\nsensitive = ["group", "gender"]\n'
        'seed = 3\ntest_size = 0.4\n\n[estimator]\ntype = "logistic_regression"\n\n'
        f"[outcome]\n{outcome}\n"
    )
    run = training.train(ws, "alice", spec)
    models.register(ws, "alice", run.run_id, "loans")
    models.sign(ws, "val", REF)
    return ws.root


def evaluated(trained: Path, tmp_path: Path, verdict: str) -> Workspace:
    """A private copy of the trained workspace whose newest evidence has ``verdict``."""
    ws = copy_workspace(trained, tmp_path / "ws")
    suite = tmp_path / f"{verdict}.toml"
    suite.write_text(SUITES[verdict])
    _, evidence = evaluation.evaluate(ws, "val", REF, suite, reason="verdict test")
    assert evidence.verdict == verdict, [(c.name, c.verdict) for c in evidence.checks]
    return ws


def section(markdown: str, title: str) -> str:
    """The body of one ``## title`` section of a Markdown report."""
    body = markdown.split(f"## {title}\n", 1)[1]
    return body.split("\n## ", 1)[0]


def model_show(ws: Workspace) -> str:
    result = CliRunner().invoke(
        cli_app, ["--workspace", str(ws.root), "--as", "val", "model", "show", REF]
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def not_kind(text: str) -> None:
    """No summary that reads as success: no 'trusted', no 'passed' but in a negation."""
    assert not re.search(r"\btrusted\b", text, re.IGNORECASE), text
    negated = re.sub(r"(not every check|not) passed", "", text, flags=re.IGNORECASE)
    assert not re.search(r"\bpassed\b(?! at event)", negated, re.IGNORECASE), text


def test_a_fail_is_never_summarised_as_pass_or_trusted(trained: Path, tmp_path: Path) -> None:
    ws = evaluated(trained, tmp_path, "FAIL")
    md, html = modelcard.write_card(ws, "val", REF, tmp_path / "card")
    card = md.read_text()
    assert "Signature: **valid**" in card and "Evidence verdict: **FAIL**" in card
    assert "**Not every check passed**: the evidence verdict is FAIL" in card
    header = card.split("## Purpose", 1)[0]
    not_kind(header)
    gaps = section(card, "Gaps")
    assert "FAIL: fairness check 'disparate impact on loan offered (group)'" in gaps
    page = html.read_text()
    assert '<strong class="fail">FAIL</strong>' in page and "trusted" not in page.lower()
    assert 'class="legend"' in page  # the colours are explained
    shown = model_show(ws)
    assert "signature      valid" in shown and "FAILED: 1 error" in shown
    assert "not passed     FAIL: fairness check 'disparate impact on loan offered" in shown
    not_kind(shown.split("\nrun ", 1)[0])
    line = inventory.overview(ws, "val").models[0]
    assert line.evaluation == "FAIL" and "1 evaluation error" in line.failing
    from app.tui.panes.models import detail_text

    screen = detail_text(views.model_detail(ws, REF, "val"))
    assert "signature [b]valid[/b]" in screen and "[ansi_red]FAIL[/]" in screen
    assert "disparate impact on loan offered (group)" in screen and "trusted" not in screen


def test_a_warn_shows_in_the_gap_list(trained: Path, tmp_path: Path) -> None:
    ws = evaluated(trained, tmp_path, "WARN")
    md, html = modelcard.write_card(ws, "val", REF, tmp_path / "card")
    card = md.read_text()
    gaps = section(card, "Gaps")
    assert "WARN: fairness check 'disparate impact on loan offered (group)'" in gaps
    assert "- None." not in gaps and "Evidence verdict: **WARN**" in card
    assert "WARN: fairness check" in html.read_text().split("<h2>Gaps</h2>", 1)[1]
    line = inventory.overview(ws, "val").models[0]
    # Evaluated without an error, the inventory still says it warned, and counts it.
    assert line.evaluation == "WARN"
    assert line.failing == ["1 evaluation check warned or inconclusive"]
    imd, _ = modelcard.write_impact(ws, "val", REF, tmp_path / "aia", answers_path=None)
    listed = section(imd.read_text(), "Evidence checks not passed")
    assert "WARN: fairness check 'disparate impact on loan offered (group)'" in listed


def test_inconclusive_is_not_pass(trained: Path, tmp_path: Path) -> None:
    from app.tui.panes.base import verdict_colour

    ws = evaluated(trained, tmp_path, "INCONCLUSIVE")
    md, _ = modelcard.write_card(ws, "val", REF, tmp_path / "card")
    card = md.read_text()
    assert "INCONCLUSIVE: fairness check" in section(card, "Gaps")
    assert "Evidence verdict: **INCONCLUSIVE**" in card
    shown = model_show(ws)
    assert "INCONCLUSIVE: no check failed" in shown and "not passed     INCONCLUSIVE" in shown
    not_kind(shown.split("\nrun ", 1)[0])
    assert inventory.overview(ws, "val").models[0].evaluation == "INCONCLUSIVE"
    assert verdict_colour("INCONCLUSIVE") != verdict_colour("PASS")
    detail = views.model_detail(ws, REF, "val")
    assert detail.evidence is not None and detail.evidence.gaps
    assert all(g.verdict != "PASS" for g in detail.evidence.gaps)
    # The gap lines read in words: no raw dict or list, no code name for a bound (a 95%
    # interval is written [low, high], as the card's Checks table writes it).
    gap_lines = [line for line in shown.splitlines() if line.startswith("not passed")]
    words = [re.sub(r"\(95% CI \[[^\]]*\]\)", "", g) for g in gap_lines]
    assert gap_lines and not any(re.search(r"[{}\[\]]|min_|max_", g) for g in words)


@pytest.mark.parametrize("verdict", ["WARN", "INCONCLUSIVE", "FAIL"])
def test_verify_and_json_say_both_statuses(trained: Path, tmp_path: Path, verdict: str) -> None:
    """`model verify` (text and --json) and `model show --json` never say a bare TRUSTED."""
    ws = evaluated(trained, tmp_path, verdict)
    base = ["--workspace", str(ws.root), "--as", "val"]
    result = CliRunner().invoke(cli_app, [*base, "model", "verify", REF])
    assert result.exit_code == 0, result.output  # the exit code is about the signature only
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("signature and provenance: TRUSTED · evidence: " + verdict), last
    assert "not passed" in last
    assert "TRUSTED" not in result.stdout.replace("provenance: TRUSTED · evidence", "")
    doc = json.loads(CliRunner().invoke(cli_app, [*base, "--json", "model", "verify", REF]).stdout)
    assert doc["trusted"] is True and doc["evidence_verdict"] == verdict
    assert doc["checks_not_passed"] >= 1 and f"evidence: {verdict}" in doc["summary"]
    shown = json.loads(CliRunner().invoke(cli_app, [*base, "--json", "model", "show", REF]).stdout)
    assert shown["evidence_verdict"] == verdict and f"evidence: {verdict}" in shown["summary"]


def test_an_aia_mitigation_breached_is_flagged(trained: Path, tmp_path: Path) -> None:
    ws = evaluated(trained, tmp_path, "WARN")
    [check] = [
        c
        for c in evaluation.latest_evidence(ws, REF, "val")[0].checks  # type: ignore[index]
        if c.name.startswith("disparate impact")
    ]
    answers = tmp_path / "answers.toml"
    answers.write_text(
        'mitigations = "Suspension of the model if disparate impact falls below 0.8."\n'
        '[[thresholds]]\nmeasure = "disparate_impact"\nmin = 0.8\nattributes = ["group"]\n'
        'action = "suspension of the model"\n\n'
        '[[thresholds]]\nmeasure = "roc_auc"\nmin = 0.01\naction = "retraining"\n'
    )
    md, html = modelcard.write_impact(ws, "val", REF, tmp_path / "aia", answers_path=answers)
    text = md.read_text()
    flagged = section(text, "Stated mitigations the evidence breaches")
    assert (
        "BREACHED: the assessment states suspension of the model if disparate impact falls "
        f"below 0.8; the recorded disparate impact for group is {check.observed:.3f}"
    ) in flagged
    assert "retraining" not in flagged  # the met threshold is not flagged
    assert text.index("BREACHED") < text.index("Why this level")  # at the top
    assert "BREACHED: the assessment states suspension" in html.read_text()
    # Figures in free text are not parsed: the assessment says they could not be checked.
    words = tmp_path / "words.toml"
    words.write_text('mitigations = "Suspension if disparate impact falls below 0.8."\n')
    wmd, _ = modelcard.write_impact(ws, "val", REF, tmp_path / "w", answers_path=words)
    assert "BREACHED" not in wmd.read_text()
    assert "states a figure in words only" in section(
        wmd.read_text(), "Stated mitigations not checked"
    )
    # A malformed threshold is refused and records nothing.
    head = ws.ledger.head()
    for bad, message in (
        ('[[thresholds]]\nmeasure = "vibes"\nmin = 1\n', "unknown measure 'vibes'"),
        ('[[thresholds]]\nmeasure = "roc_auc"\n', "exactly one of min or max"),
        ('[[thresholds]]\nmeasure = "roc_auc"\nmin = "high"\n', "must be a number"),
        ('[[thresholds]]\nmeasure = "roc_auc"\nmin = 1\nattributes = ["group"]\n', "no attrib"),
    ):
        answers.write_text(bad)
        with pytest.raises(UsageError, match=message):
            modelcard.write_impact(ws, "val", REF, tmp_path / "bad", answers_path=answers)
    assert ws.ledger.head() == head


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.text: list[str] = []
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))
        for key in ("src", "srcset"):
            if found.get(key):
                self.sources.append(str(found[key]))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_bundle_cover_page_links_every_member_and_shows_the_verdict(
    trained: Path, tmp_path: Path
) -> None:
    from urllib.parse import unquote

    ws = evaluated(trained, tmp_path, "FAIL")
    out = tmp_path / "loans.zip"
    bundle.export(ws, "alice", REF, out, data="hashes")
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        page = z.read("index.html").decode()
    parsed = _Page()
    parsed.feed(page)
    text = " ".join(" ".join(parsed.text).split())
    assert not parsed.sources and "http://" not in page and "https://" not in page
    assert "<style>" in page  # styled inline
    linked = {unquote(h) for h in parsed.links}
    assert linked <= names, sorted(linked - names)  # every link resolves inside the bundle
    assert names - linked == {"index.html"}, sorted(names - linked)  # every other member
    assert "Evidence verdict (newest) FAIL" in text
    assert "Verified at export, not by this page." in text and "ledgerml bundle verify" in text
    assert "Model loans" in text and "Version 1 (loans@1)" in text
    assert re.search(r"\d+(\.\d)? (B|KiB|MiB)\b", text) and "bytes" not in text.split("Members")[-1]
    assert "trusted" not in text.lower().replace("your trusted copy of verify.py", "")


def test_human_sizes() -> None:
    from core.audit.bundle_pages import human_size

    assert [human_size(n) for n in (0, 1023, 1024, 1536, 5 * 1024**2)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "1.5 KiB",
        "5.0 MiB",
    ]
