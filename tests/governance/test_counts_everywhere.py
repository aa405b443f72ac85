"""One answer to "do these approvals still count?" in every view of a version.

Two states of the governed workspace, each built once: ``credit-risk@1`` approved by vic and
tess (validators) and promoted to approved; in ``voided`` tess then re-evaluates it, and
the newer evidence voids both approvals (``evidence_change = "void"``), so the version is
still *approved* while nothing would approve it now. The model card's sign-off, ``registry
at``, ``inventory`` (table and ``--json``), the bundle cover and the TUI registry card must
all say that, naming the same evaluation event; in ``standing`` they all say the approvals
count. The challenge evaluation is INCONCLUSIVE: the inventory and the TUI card say so and
never show it as passed or green.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import app as cli_app
from app.tui.panes.base import verdict_text
from app.tui.panes.governance import card_text
from core.governance import approvals, lifecycle
from core.governance.inventory import InventoryLine
from core.kernel.workspace import Workspace
from tests.governance.conftest import SAMPLE, Gov

M = "credit-risk@1"
VOIDED = re.compile(r"voided by the evaluation at event #(\d+)")


@dataclass
class State:
    """A built copy of the governed workspace: its folder, the approvals, the void."""

    root: Path
    approvals: list[int]
    evidence: int | None
    bundle: Path

    @property
    def ws(self) -> Workspace:
        return Workspace.open(self.root)


def _build(team: Gov, where: Path, *, void: bool) -> State:
    """Approve and promote credit-risk@1 (vic, tess); with ``void``, re-evaluate it after."""
    from core.audit import bundle
    from core.evidence import evaluation

    root = where / "ws"
    shutil.copytree(team.root, root)
    ws = Workspace.open(root)
    lifecycle.promote(ws, "sam", M, to="validated", reason="challenge done")
    first = approvals.approve(ws, "vic", M, reason="ok")
    second = approvals.approve(ws, "tess", M, role="validator", reason="ok")
    lifecycle.promote(ws, "sam", M, to="approved", reason="two validators")
    evidence = None
    if void:
        evaluation.evaluate(ws, "tess", M, SAMPLE / "evaluation.toml", reason="challenge")
        with ws.session("") as s:
            evidence = s.catalog.evaluations(M)[-1].seq
    out = where / "credit-risk-1.zip"
    bundle.export(ws, "alice", M, out, reason="audit")
    return State(root, [first.seq, second.seq], evidence, out)


@pytest.fixture(scope="module")
def voided(team: Gov, tmp_path_factory: pytest.TempPathFactory) -> State:
    return _build(team, tmp_path_factory.mktemp("voided"), void=True)


@pytest.fixture(scope="module")
def standing(team: Gov, tmp_path_factory: pytest.TempPathFactory) -> State:
    return _build(team, tmp_path_factory.mktemp("standing"), void=False)


def cli(state: State, *args: str) -> Any:
    result = CliRunner().invoke(cli_app, ["--workspace", str(state.root), *args])
    assert result.exit_code == 0, result.output
    return result


def table_rows(text: str) -> dict[str, list[str]]:
    """A rich table's body rows by their first cell, each cell's wrapped lines joined again."""
    rows: dict[str, list[str]] = {}
    current: list[list[str]] = []
    for line in text.splitlines():
        if not line.startswith("│"):
            continue
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if cells[0]:
            current = [[c] for c in cells]
            rows[cells[0]] = []
            key = cells[0]
        else:
            for i, c in enumerate(cells):
                current[i].append(c)
        rows[key] = [" ".join(x for x in parts if x) for parts in current]
    return rows


def flat(text: str) -> str:
    """Every body cell of a rich table, whole, one after another."""
    return " | ".join(" | ".join(cells) for cells in table_rows(text).values())


def voided_events(text: str) -> set[int]:
    return {int(n) for n in VOIDED.findall(text)}


# -- the core answer ----------------------------------------------------------------------


def test_the_sign_off_names_the_void_and_the_stage_says_so(voided: State) -> None:
    now = approvals.sign_off(voided.ws, M)
    assert now.stage == "approved" and now.holds is False
    assert now.stage_line == "approved — but its approvals no longer count"
    shown = {a.seq: a for a in now.approvals}
    for seq in voided.approvals:
        assert shown[seq].counted is False
        assert shown[seq].why_not == f"voided by the evaluation at event #{voided.evidence}"
    assert shown[voided.approvals[0]].text == (
        f"approved by vic (validator) — no longer counts: voided by the evaluation at event "
        f"#{voided.evidence}"
    )
    # The rule's own words stay beside the reading (what `approvals list` has always said).
    assert f"predates evidence #{voided.evidence}" in str(shown[voided.approvals[0]].rule)


def test_standing_approvals_count_and_the_stage_is_plain(standing: State) -> None:
    now = approvals.sign_off(standing.ws, M)
    assert now.holds is True and now.stage_line == "approved" and now.problems == []
    assert [a.counted for a in now.approvals] == [True, True]
    assert now.approvals[0].text == "approved by vic (validator) — counts"


# -- every view ------------------------------------------------------------------------------


def test_the_model_card_says_the_approvals_no_longer_count(voided: State) -> None:
    from core.documents import modelcard
    from reports.render import render_model_card

    md, html = render_model_card(modelcard.card_context(voided.ws, M, {}))
    stage = next(x for x in md.splitlines() if x.startswith("Stage now:"))
    assert "approved" in stage and "its approvals no longer count" in stage
    rows = [x for x in md.splitlines() if x.startswith(("| #19 |", "| #20 |", "| #2"))]
    for seq in voided.approvals:
        [line] = [x for x in rows if x.startswith(f"| #{seq} |")]
        assert line.rstrip().endswith(
            f"| NO: voided by the evaluation at event #{voided.evidence} |"
        )
    assert voided_events(md) == {voided.evidence}
    assert re.search(r"<td( data-label=\"[^\"]*\")?>NO: voided by the evaluation", html)


def test_the_model_card_says_standing_approvals_count(standing: State) -> None:
    from core.documents import modelcard
    from reports.render import render_model_card

    md, _ = render_model_card(modelcard.card_context(standing.ws, M, {}))
    stage = next(x for x in md.splitlines() if x.startswith("Stage now:"))
    assert "no longer count" not in stage
    for seq in standing.approvals:
        [line] = [x for x in md.splitlines() if x.startswith(f"| #{seq} |")]
        assert line.rstrip().endswith("| yes |")


def test_registry_at_says_each_approver_no_longer_counts(voided: State) -> None:
    head = str(voided.ws.ledger.head()[0])
    text = flat(cli(voided, "registry", "at", head).output)
    assert (
        f"vic (validator) — no longer counts: voided by the evaluation at event "
        f"#{voided.evidence}" in text
    )
    assert "tess (validator) — no longer counts" in text
    assert voided_events(text) == {voided.evidence}
    [line] = [
        x for x in json.loads(cli(voided, "--json", "registry", "at", head).output) if x["ref"] == M
    ]
    assert [a["counts"] for a in line["counts_now"]] == [False, False]
    assert {a["seq"] for a in line["counts_now"]} == set(voided.approvals)
    assert line["stage_now"] == "approved — but its approvals no longer count"


def test_registry_at_says_standing_approvals_count(standing: State) -> None:
    head = str(standing.ws.ledger.head()[0])
    text = flat(cli(standing, "registry", "at", head).output)
    assert "vic (validator) — counts" in text and "tess (validator) — counts" in text
    assert "no longer" not in text


def test_inventory_text_and_json_say_so_and_carry_the_evidence_verdict(voided: State) -> None:
    doc = {x["ref"]: x for x in json.loads(cli(voided, "--json", "inventory").output)}[M]
    assert doc["stage"] == "approved"
    assert doc["stage_line"] == "approved — but its approvals no longer count"
    # The recorded validity stays in the data; what the reader is shown says it is void.
    assert doc["valid_until"] is not None and doc["valid_until_now"] == "void"
    assert [(a["approver"], a["counts"]) for a in doc["approvals"]] == [
        ("vic", False),
        ("tess", False),
    ]
    assert {a["why_not"] for a in doc["approvals"]} == {
        f"voided by the evaluation at event #{voided.evidence}"
    }
    # The evidence verdict is the one `model verify` gives, never kinder.
    verify = json.loads(cli(voided, "--json", "model", "verify", M).output)
    assert doc["evidence"]["verdict"] == verify["evidence_verdict"] == "INCONCLUSIVE"
    assert doc["evidence"]["event"] == verify["evidence_event"] == voided.evidence
    assert doc["evidence"]["text"] in verify["summary"]
    text = flat(cli(voided, "inventory").output)
    assert "its approvals no longer count" in text
    assert "vic (validator) — no longer counts: voided by the evaluation at event" in text
    assert f"INCONCLUSIVE (4 checks not passed, event #{voided.evidence})" in text
    assert voided_events(text) == {voided.evidence}
    assert "PASS" not in text


def test_inventory_says_standing_approvals_count(standing: State) -> None:
    doc = {x["ref"]: x for x in json.loads(cli(standing, "--json", "inventory").output)}[M]
    assert doc["stage_line"] == "approved"
    assert doc["valid_until_now"] == doc["valid_until"][:10]  # a date: they stand until then
    assert [a["counts"] for a in doc["approvals"]] == [True, True]
    assert doc["evidence"]["verdict"] is None  # no evaluation recorded: said, not hidden
    text = flat(cli(standing, "inventory").output)
    assert "vic (validator) — counts" in text and "no longer" not in text


def _cover(state: State) -> str:
    return zipfile.ZipFile(state.bundle).read("index.html").decode()


def test_the_bundle_cover_has_a_counts_now_column(voided: State, standing: State) -> None:
    page = _cover(voided)
    assert "<th>counts now</th>" in page
    for seq in voided.approvals:
        row = re.search(rf"<tr><td[^>]*>#{seq}</td>.*?</tr>", page)
        assert row is not None
        assert row.group(0).endswith(
            f"<b class=fail>NO</b>: voided by the evaluation at event #{voided.evidence}</td></tr>"
        )
    assert "its approvals no longer count" in page
    assert voided_events(page) == {voided.evidence}
    good = _cover(standing)
    for seq in standing.approvals:
        row = re.search(rf"<tr><td[^>]*>#{seq}</td>.*?</tr>", good)
        assert row is not None and row.group(0).endswith(">yes</td></tr>")
    assert "no longer count" not in good


async def _tui_card(state: State) -> str:
    from textual.widgets import Static

    from app.tui.app import LedgerApp
    from tests.tui.test_governance import settle

    app = LedgerApp(state.ws, actor="alice")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        await pilot.press("8")
        await settle(app, pilot)
        from textual.widgets import DataTable

        table = app.query_one("#gov-inventory", DataTable)
        table.move_cursor(row=table.get_row_index(M))
        await settle(app, pilot)
        return str(app.query_one("#card", Static).render())


async def test_the_tui_registry_card_says_they_no_longer_count(voided: State) -> None:
    card = await _tui_card(voided)
    assert "its approvals no longer count" in card
    assert (
        f"vic (validator) — no longer counts: voided by the evaluation at event "
        f"#{voided.evidence}" in card
    )
    assert voided_events(card) == {voided.evidence}
    assert f"evidence: INCONCLUSIVE (4 checks not passed, event #{voided.evidence})" in card


async def test_the_tui_registry_card_says_standing_approvals_count(standing: State) -> None:
    card = await _tui_card(standing)
    assert "vic (validator) — counts" in card and "no longer" not in card


# -- the TUI card's colours: only a PASS verdict is green ------------------------------------


def _line(verdict: str | None, *, counts: bool = True) -> InventoryLine:
    text = (
        "none recorded (run `ledgerml evaluate`)"
        if verdict is None
        else "PASS (event #9)"
        if verdict == "PASS"
        else f"{verdict} (2 checks not passed, event #9)"
    )
    return InventoryLine(
        name="m",
        ref="m@1",
        versions=1,
        stage="approved",
        tier=2,
        purpose=None,
        use=None,
        restrictions=None,
        owner=None,
        inputs={},
        outputs=[],
        developers=["sam"],
        validator="vic",
        validation_status="validated",
        validation_date="2026-03-01T09:00:00Z",
        approvals=[
            {
                "approver": "vic",
                "role": "validator",
                "ts": "2026-03-01T09:00:00Z",
                "seq": 7,
                "counts": counts,
                "why_not": None if counts else "voided by the evaluation at event #9",
                "standing": "counts"
                if counts
                else "no longer counts: voided by the evaluation at event #9",
            }
        ],
        stage_line="approved" if counts else "approved — but its approvals no longer count",
        evidence={"verdict": verdict, "event": 9, "not_passed": 2, "text": text},
    )


def _field(card: str, name: str) -> str:
    return next(x for x in card.splitlines() if x.startswith(f"{name}: "))


@pytest.mark.parametrize("verdict", ["INCONCLUSIVE", "WARN", "FAIL", None])
def test_the_card_never_shows_a_verdict_short_of_pass_as_passed_or_green(
    verdict: str | None,
) -> None:
    card = card_text(_line(verdict))
    for name in ("validation", "evidence"):
        line = _field(card, name)
        assert "green]" not in line, (verdict, line)
        assert "passed" not in line.replace("not passed", ""), line
    if verdict:  # the verdict in its own colour (only PASS is green), with its count
        assert f"{verdict_text(verdict)} (2 checks not passed" in _field(card, "evidence")
    else:
        assert _field(card, "evidence").startswith("evidence: [ansi_red]none recorded")


def test_only_a_pass_verdict_makes_the_validation_green() -> None:
    card = card_text(_line("PASS"))
    assert _field(card, "validation").startswith("validation: [ansi_green]")
    assert "[ansi_green]PASS[/]" in _field(card, "evidence")


def test_a_voided_approval_is_red_on_the_card() -> None:
    card = card_text(_line("PASS", counts=False))
    approvals_line = _field(card, "approvals")
    assert "[ansi_red]vic (validator) — no longer counts: voided" in approvals_line
    assert "green]" not in approvals_line
    assert "[ansi_red]approved — but its approvals no longer count[/]" in card.splitlines()[0]


@pytest.fixture(autouse=True)
def _no_trusted_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The tester's own configuration never reaches the TUI under test."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "empty"))
    yield
