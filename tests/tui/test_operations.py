"""The operations tab driven by Pilot on the real operations workspace (two approved versions).

Attacks next to the guarantee: a single key never changes state (B and W open a dialog that
names what will change, and Escape leaves the ledger as it was); a rollback with nothing to
return to is an error notification, never a dialog that could record something.
"""

from __future__ import annotations

from textual.widgets import DataTable, Static

from app.tui.app import LedgerApp
from app.tui.dialogs import ActionDialog
from app.tui.plots import Chart
from core.operations import deployments
from tests.operations.conftest import V1, V2, Ops, ops, ops_team  # noqa: F401 - fixtures
from tests.tui.test_app import settle


def _head(ops: Ops) -> int:  # noqa: F811 - the fixture's name is the natural one here
    return int(ops.ws.ledger.head()[0])


def _text(app: LedgerApp, selector: str) -> str:
    return " ".join(str(app.screen.query_one(selector, Static).render()).split())


def _rows(app: LedgerApp) -> list[tuple[str, str, str]]:
    table = app.query_one("#ops-deployments", DataTable)
    return [tuple(str(c) for c in table.get_row_at(i)[:3]) for i in range(table.row_count)]  # type: ignore[misc]


async def test_deployments_rollback_and_withdraw_behind_a_confirmation(ops: Ops) -> None:  # noqa: F811
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", reason="v1")
    deployments.deploy(ws, "opal", V2, env="production", reason="v2")
    deployments.deploy(ws, "opal", V1, env="staging", reason="acceptance")
    deployments.throttle(ws, "opal", env="staging", share=0.5, reason="half")
    app = LedgerApp(ws, actor="opal")
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(app, pilot)
        await pilot.press("9")
        await settle(app, pilot)
        assert app.query_one("#tabs").active == "operations"
        assert _rows(app) == [("production", "live", V2), ("staging", "live", V1)]
        staging = app.query_one("#ops-deployments", DataTable).get_row_at(1)
        assert str(staging[5]) == "50%"  # the throttle travels with the environment
        detail = _text(app, "#ops-detail")
        assert "enforced by scoring (age_years >= 21)" in detail
        assert "reviewed yearly" in detail and "recorded only" in detail
        # no decisions, monitoring runs or incidents yet: empty tables, not errors
        assert app.query_one("#ops-decisions", DataTable).row_count == 0
        assert app.query_one("#ops-incidents", DataTable).row_count == 0
        before = _head(ops)
        await pilot.press("B")
        await settle(app, pilot)
        assert isinstance(app.screen, ActionDialog)
        summary = _text(app, "#action-summary")
        assert f"{V2}" in summary and f"{V1} (deployed at event" in summary
        await pilot.press("escape")
        await settle(app, pilot)
        assert _head(ops) == before  # the key alone changed nothing
        await pilot.press("B")
        await settle(app, pilot)
        await pilot.press(*"v2 drifts", "enter")
        await settle(app, pilot)
        assert not isinstance(app.screen, ActionDialog)
        assert _head(ops) == before + 1
        assert _rows(app) == [("production", "live", V1), ("staging", "live", V1)]
        await pilot.press("down", "W")
        await settle(app, pilot)
        assert isinstance(app.screen, ActionDialog)
        assert "answers no request at all" in _text(app, "#action-summary")
        await pilot.press(*"stop staging", "enter")
        await settle(app, pilot)
        assert _rows(app) == [("production", "live", V1)]
        # a second rollback has nothing to return to: an error, and no dialog
        await pilot.press("B")
        await settle(app, pilot)
        assert not isinstance(app.screen, ActionDialog)
        assert _head(ops) == before + 2
    with ws.session("") as s:
        actions = [e.action for e in s.catalog.events()][-2:]
    assert actions == ["model.rollback", "deploy.withdraw"]


async def test_drift_over_time_is_plotted_from_each_runs_evidence(ops: Ops) -> None:  # noqa: F811
    """Two windows, the second with loans three times longer: the plot's points are the
    runs' signed drift figures, in event order, and the second is the higher."""
    from core.data import snapshots
    from core.modelling import training
    from core.operations import monitoring, scoring, views

    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="staging", reason="v1", retention="rows")
    with ws.session() as s:
        snap = snapshots.resolve(s.catalog, "german-credit-features@1")
        run = s.catalog.run(s.catalog.model(V1).run_id)  # type: ignore[union-attr]
    spec = training.load_run_spec(ws, run)  # type: ignore[arg-type]
    frame = training.load_table(ws, snap, [*spec.features, "age_years", "sex"])
    frame = frame.sample(300, random_state=5).reset_index(drop=True)
    scorer = scoring.Scorer.open(ws, "staging", "scorer")
    scorer.score(frame, caller="opal")
    calm = monitoring.run(ws, "scorer", env="staging", window="1d")
    shifted = frame.assign(duration_months=frame["duration_months"] * 3)
    scorer.score(shifted, caller="opal")
    drifted = monitoring.run(ws, "scorer", env="staging", window="1d")
    psis = [r.evidence["metrics"]["drift_psi"] for r in (calm, drifted)]
    assert psis[1] > psis[0]
    app = LedgerApp(ws, actor="opal")
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(app, pilot)
        await pilot.press("9")
        await settle(app, pilot)
        series = app.query_one("#ops-drift", Chart).series
    assert series is not None
    [line] = series.lines
    assert line.label == "staging"
    assert line.x == [float(calm.row.seq), float(drifted.row.seq)]
    assert line.y == psis
    assert series.ylabel == "max feature PSI" and "event #" in series.xlabel
    assert views.board(ws, "opal").drift[-1].verdict == drifted.row.verdict


async def test_a_deployment_scoring_refuses_is_marked_and_says_why(ops: Ops) -> None:  # noqa: F811
    from core.governance import approvals
    from core.operations import views

    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", reason="v1")
    deployments.deploy(ws, "opal", V1, env="staging", reason="acceptance")
    for who in ("tess", "vic"):
        approvals.approve(ws, who, V1, role="validator", reject=True, reason="bias found")
    [why] = views.deployed_at(ws).refused.values()
    app = LedgerApp(ws, actor="opal")
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(app, pilot)
        await pilot.press("9")
        await settle(app, pilot)
        assert _rows(app) == [
            ("production", "live, refused", V1),
            ("staging", "live", V1),
        ]
        arm = app.query_one("#ops-deployments", DataTable).get_row_at(0)[1]
        from rich.style import Style

        assert Style.parse(str(arm.style)).color.name == "red"  # a colour Rich knows, drawn red
        detail = _text(app, "#ops-detail")
        assert "scoring here refuses it now" in detail
        assert " ".join(why.split())[:60] in detail
        await pilot.press("down")
        await settle(app, pilot)
        assert "refuses" not in _text(app, "#ops-detail")  # staging still answers
