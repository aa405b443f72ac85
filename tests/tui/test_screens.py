"""SVG snapshots of every workspace screen at a fixed size.

The workspace is made reproducible for the picture: a fixed folder, a frozen clock, counted
UUIDs and keys derived from counters. Everything else is the real pipeline on sample_data.
"""

from __future__ import annotations

import fcntl
import itertools
import re
import secrets
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from textual.widgets import DataTable

from app.tui.app import LedgerApp
from app.tui.plots import Chart
from core.data import features, snapshots, validation
from core.evidence import evaluation, views
from core.identity import actors, keys
from core.kernel.workspace import Workspace
from core.modelling import models, training

from .snapshot import assert_matches_baseline, settled_screenshot

SAMPLE = Path(__file__).parents[2] / "sample_data" / "german-credit"
GOLDEN = Path(__file__).parent / "snapshots"
OPS_POLICY = Path(__file__).parents[1] / "operations" / "policy"
FIXED_ROOT = Path("/tmp/ledgerml-tui-snapshots/ws")
# The folder is fixed (its path is in the pictures), so two processes must never build it at
# once: `--dist loadfile` keeps this module on one worker, and this lock, held while the
# workspace exists, serialises any other process (another worker, another checkout's run).
FIXED_ROOT_LOCK = Path("/tmp/ledgerml-tui-snapshots.lock")


@pytest.fixture(scope="module")
def frozen_ws() -> Iterator[Workspace]:
    from core.audit import admin

    lock = FIXED_ROOT_LOCK.open("a")
    fcntl.flock(lock, fcntl.LOCK_EX)  # waits while another process has the folder
    mp = pytest.MonkeyPatch()
    ticks = itertools.count()
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
            return start + timedelta(seconds=next(ticks))

    counter = itertools.count(1)
    keys_made = itertools.count(1)
    mp.setattr("core.kernel.events.datetime", Clock)

    tokens = itertools.count(1)
    # Deployment ids are random hex tokens: counted, like the UUIDs.
    mp.setattr(secrets, "token_hex", lambda n=32: f"{next(tokens):0{2 * n}x}")
    mp.setattr(uuid, "uuid4", lambda: uuid.UUID(int=next(counter)))
    mp.setattr(
        ec,
        "generate_private_key",
        lambda curve: ec.derive_private_key(1000 + next(keys_made), curve),
    )
    shutil.rmtree(FIXED_ROOT.parent, ignore_errors=True)
    try:
        ws = admin.init(FIXED_ROOT, "alice")
        # Two reasons, one longer than an 80-column ledger has room for.
        actors.add(ws, "alice", "audrey", ["auditor"], reason="External audit, read-only")
        snapshots.add(
            ws,
            "alice",
            SAMPLE / "german.data",
            dataset="german-credit",
            reason="Applicant file as delivered by the data steward for the 2026 model review",
        )
        features.build(ws, "alice", SAMPLE / "features.toml")
        validation.run(ws, "alice", "german-credit-features", SAMPLE / "features_suite.toml")
        run = training.train(ws, "alice", SAMPLE / "train.toml")
        models.register(ws, "alice", run.run_id, "credit-risk")
        keys.create(ws, "alice")
        models.sign(ws, "alice", "credit-risk@1")
        # Evidence, so the models tab draws its SHAP and robustness plots in the pictures.
        evaluation.evaluate(ws, "alice", "credit-risk@1", SAMPLE / "evaluation.toml")
        _operate(ws)
        yield ws
    finally:
        mp.undo()
        shutil.rmtree(FIXED_ROOT.parent, ignore_errors=True)
        lock.close()  # releases the lock


def _operate(ws: Workspace) -> None:
    """Put credit-risk@1 into staging and score a few rows, so the operations tab has a
    deployment and logged decisions to show: the operations policy, an operator, a validator
    who validates the version (staging takes validated versions), then one scored batch."""
    from core.data import snapshots as snaps
    from core.governance import lifecycle, policy
    from core.operations import deployments, scoring

    policy.install(ws, "alice", OPS_POLICY, reason="the operations policy")
    actors.add(ws, "alice", "opal", ["operator"], reason="Runs the scoring service")
    actors.add(ws, "alice", "vic", ["validator"], reason="Model validation")
    lifecycle.promote(ws, "vic", "credit-risk@1", to="validated", reason="validated")
    deployments.deploy(ws, "opal", "credit-risk@1", env="staging", reason="acceptance run")
    with ws.session() as s:
        snap = snaps.resolve(s.catalog, "german-credit-features@1")
        model = s.catalog.model("credit-risk@1")
        assert model is not None
        run = s.catalog.run(model.run_id)
    assert run is not None
    spec = training.load_run_spec(ws, run)
    frame = training.load_table(ws, snap, [*spec.features, "age_years", "sex"])
    rows = frame.sample(40, random_state=5).reset_index(drop=True)
    scoring.Scorer.open(ws, "staging", "opal").score(rows, caller="opal")


SIZES = [(80, 24), (160, 50)]
"""The smallest terminal the workstation is made for, and a large one."""


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(
    "tab", ["overview", "data", "models", "lineage", "ledger", "bundle", "operations"]
)
async def test_screen_snapshot(frozen_ws: Workspace, tab: str, size: tuple[int, int]) -> None:
    app = LedgerApp(frozen_ws, actor="alice")
    async with app.run_test(size=size) as pilot:
        await settled_screenshot(app, pilot)
        app.action_tab(tab)
        await settled_screenshot(app, pilot)
        if tab == "lineage":
            await pilot.press("slash", *"credit-risk@1", "enter")
        if tab == "ledger":
            # The raw file's snapshot: its reason is cut in an 80-column table and given in
            # full under it. A signed event would not do: its subjects name a DSSE envelope,
            # and an ECDSA signature (so the envelope's hash) differs on every run.
            events = app.query_one("#events", DataTable)
            events.move_cursor(row=events.get_row_index("3"))  # event #3: the raw snapshot
        svg = await settled_screenshot(app, pilot)
    if tab == "operations":
        svg = without_model_digest(svg)
    assert_matches_baseline(svg, GOLDEN / f"workspace-{tab}-{size[0]}x{size[1]}.svg")


def without_model_digest(svg: str) -> str:
    """The picture with the deployed model's digest zeroed: a model's bytes differ from one
    process to the next (skops names the arrays in its zip by object ids), so its digest
    does too. The screen's hash in the SVG's class names goes with it."""
    svg = re.sub(r"(model&#160;digest&#160;)([0-9a-f]+)", lambda m: m[1] + "0" * len(m[2]), svg)
    return re.sub(r"terminal-\d+", "terminal-0", svg)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", ["help", "sign"])
async def test_overlay_snapshot(frozen_ws: Workspace, screen: str, size: tuple[int, int]) -> None:
    """The keys screen, and the confirmation a write key opens (what will be recorded)."""
    app = LedgerApp(frozen_ws, actor="alice")
    async with app.run_test(size=size) as pilot:
        await settled_screenshot(app, pilot)
        if screen == "sign":
            app.action_tab("models")
            await settled_screenshot(app, pilot)
        await pilot.press("question_mark" if screen == "help" else "s")
        svg = await settled_screenshot(app, pilot)
    assert_matches_baseline(svg, GOLDEN / f"workspace-{screen}-{size[0]}x{size[1]}.svg")


async def test_models_plots_draw_the_recorded_evidence(frozen_ws: Workspace) -> None:
    """The plots' data are the signed evidence's figures, one quantity per axis."""
    ev = views.model_detail(frozen_ws, "credit-risk@1", "alice").evidence
    assert ev is not None and ev.importance and set(ev.robustness) >= {"noise", "flip"}
    app = LedgerApp(frozen_ws, actor="alice")
    async with app.run_test(size=(160, 50)) as pilot:
        await settled_screenshot(app, pilot)
        app.action_tab("models")
        await settled_screenshot(app, pilot)
        shap = app.query_one("#plot-shap", Chart).series
        noise = app.query_one("#plot-noise", Chart).series
        flip = app.query_one("#plot-flip", Chart).series
    assert shap is not None and noise is not None and flip is not None
    assert shap.bars == [(i.feature, i.mean_abs_shap) for i in reversed(ev.importance[:8])]
    assert (shap.xlabel, shap.ylabel) == ("mean |SHAP| (log-odds)", "feature")
    [line] = noise.lines
    assert line.x == [float(s) for s, _ in ev.robustness["noise"]]
    assert line.y == [float(auc) for _, auc in ev.robustness["noise"]]
    assert noise.ylabel == "ROC AUC" and "σ" in noise.xlabel
    assert flip.lines[0].x == [100 * float(s) for s, _ in ev.robustness["flip"]]  # percent
    assert flip.xlabel == "categorical values flipped (%)" and flip.ylabel == "ROC AUC"
