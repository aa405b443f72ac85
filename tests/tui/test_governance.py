"""The governance screens driven by Pilot on a real workspace: queue, approve/reject, inventory,
history.

The workspace is real: german-credit trained by dana (a data scientist who also holds the
validator role, so separation of duties is what keeps her out of her own queue), registered as
two models under the default policy pack: credit-risk (tier 3: one validator) and
credit-risk-hi (tier 1), whose challenge evaluation by vic FAILS its fairness check, which the
pack refuses to approve at a high tier. Each test gets its own copy of the workspace.

Attacks written next to the guarantee they test:
- self-approval: the developer opens the dialog on her own version from the Models tab;
- a wrong secret: the dialog asks for the approver's passphrase, and a wrong one records nothing;
- a policy refusal: shown in the dialog with the policy's own reason, recorded as policy.deny;
- a read-only reviewer (auditor, or an exported bundle) is offered no approve or reject.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Static
from textual.worker import WorkerCancelled

from app.tui.app import LedgerApp, make_app
from app.tui.dialogs import ApprovalDialog, SecretDialog
from app.tui.panes.approvals import ApprovalsPane, verdicts_text
from app.tui.panes.governance import InventoryPane, natural, timeline_text
from core.data import features, snapshots, validation
from core.evidence import evaluation
from core.identity import actors
from core.identity.keys.backends import forget_unlocked
from core.kernel.workspace import Workspace
from core.modelling import models, training

SAMPLE = Path(__file__).parents[2] / "sample_data" / "german-credit"
POLICY = Path(__file__).parents[2] / "sample_data" / "policies" / "default"
COMPAT = Path(__file__).parents[1] / "data" / "bundles" / "v1" / "credit-risk-1.zip"
PIA_SECRET = "pia's long passphrase"


@pytest.fixture(scope="module")
def base_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained, tiered workspace (built once; tests work on copies)."""
    from core.audit import admin
    from core.governance import policy, risk

    root = tmp_path_factory.mktemp("gov") / "ws"
    ws = admin.init(root, "alice")
    actors.add(ws, "alice", "audrey", ["auditor"])
    actors.add(ws, "alice", "dana", ["data-scientist", "validator"])
    actors.add(ws, "alice", "vic", ["validator"])
    actors.add(ws, "alice", "apu", ["approver"])
    secret = tmp_path_factory.mktemp("secret") / "secret"
    secret.write_text(PIA_SECRET + "\n")
    os.environ["LEDGERML_SECRET_FILE"] = str(secret)
    try:  # pia's key is under a passphrase: the TUI must ask her for it
        actors.add(ws, "alice", "pia", ["validator"], backend="passphrase")
    finally:
        del os.environ["LEDGERML_SECRET_FILE"]
    snapshots.add(ws, "alice", SAMPLE / "german.data", dataset="german-credit")
    features.build(ws, "alice", SAMPLE / "features.toml")
    validation.run(ws, "alice", "german-credit-features", SAMPLE / "features_suite.toml")
    run = training.train(ws, "dana", SAMPLE / "train.toml")
    models.register(ws, "dana", run.run_id, "credit-risk")
    models.register(ws, "dana", run.run_id, "credit-risk-hi")
    policy.install(ws, "alice", POLICY, reason="governance tests")
    # A fairness bound no model meets: the evaluation is recorded and its fairness FAILS.
    strict = tmp_path_factory.mktemp("suite") / "strict.toml"
    strict.write_text(
        '[evaluation]\nseed = 1\n[fairness]\nattributes = ["sex"]\nbootstrap = 20\n'
        "max_demographic_parity_difference = -1\n"
    )
    evaluation.evaluate(ws, "vic", "credit-risk-hi@1", strict, reason="challenge")
    lenient = strict.with_name("lenient.toml")
    lenient.write_text(
        '[evaluation]\nseed = 1\n[fairness]\nattributes = ["sex"]\nbootstrap = 20\n'
        "max_demographic_parity_difference = 1\nmin_disparate_impact = 0\n"
    )
    evaluation.evaluate(ws, "vic", "credit-risk@1", lenient, reason="challenge")
    risk.assess(
        ws,
        "vic",
        "credit-risk",
        impact=2,
        likelihood=2,
        rationale="internal triage",
        owner="ops",
        reason="assessed",
    )
    risk.assess(
        ws,
        "vic",
        "credit-risk-hi",
        impact=5,
        likelihood=4,
        rationale="decides consumer credit",
        reason="assessed",
    )
    return root


@pytest.fixture
def gws(base_ws: Path, tmp_path: Path) -> Iterator[Workspace]:
    root = tmp_path / "ws"
    shutil.copytree(base_ws, root)
    forget_unlocked()  # every test starts with no key unlocked in this process
    yield Workspace.open(root)
    forget_unlocked()


async def settle(app: LedgerApp, pilot: Any) -> None:
    """Until no worker runs (bounded): panes fill from workers that start other workers."""
    for _ in range(80):
        with contextlib.suppress(WorkerCancelled):
            await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.is_running for w in app.workers):
            return
    raise AssertionError("workers kept running")


async def until(pilot: Any, test: Any) -> None:
    """Until ``test()`` holds (a dialog pushed from a worker arrives a few frames later)."""
    for _ in range(200):
        if test():
            return
        await pilot.pause()
    raise AssertionError("the screen never reached the expected state")


def approvals_in(ws: Workspace) -> list[dict[str, Any]]:
    with ws.session() as s:
        return [json.loads(e.body) for e in s.catalog.events(action="model.approve")]


def denials_in(ws: Workspace) -> list[dict[str, Any]]:
    with ws.session() as s:
        return [json.loads(e.body) for e in s.catalog.events(action="policy.deny")]


def queue_refs(app: LedgerApp) -> list[str]:
    table = app.query_one("#queue", DataTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


async def open_queue(app: LedgerApp, pilot: Any) -> None:
    await settle(app, pilot)
    await pilot.press("7")
    await settle(app, pilot)


async def choose(app: LedgerApp, pilot: Any, ref: str) -> None:
    table = app.query_one("#queue", DataTable)
    table.move_cursor(row=queue_refs(app).index(ref))
    await settle(app, pilot)


async def decide(app: LedgerApp, pilot: Any, key: str, reason: str) -> ApprovalDialog:
    await pilot.press(key)
    await until(pilot, lambda: isinstance(app.screen, ApprovalDialog))
    dialog = app.screen
    assert isinstance(dialog, ApprovalDialog)
    dialog.query_one("#reason", Input).value = reason
    await pilot.press("enter")
    return dialog


async def test_the_queue_shows_a_version_to_a_validator_and_not_to_its_developer(
    gws: Workspace,
) -> None:
    app = LedgerApp(gws, actor="vic")
    async with app.run_test(size=(140, 40)) as pilot:
        await open_queue(app, pilot)
        assert sorted(queue_refs(app)) == ["credit-risk-hi@1", "credit-risk@1"]
        await choose(app, pilot, "credit-risk-hi@1")
        info = str(app.query_one("#queue-info", Static).render())
        assert "tier 1" in info and "validator" in info and "dana" in info
        assert "fairness FAIL" in info and "reproduction none" in info  # none is never blank
    # Dana holds the validator role too, but she trained and registered both versions.
    app = LedgerApp(gws, actor="dana")
    async with app.run_test(size=(140, 40)) as pilot:
        await open_queue(app, pilot)
        assert queue_refs(app) == []
        assert "Waiting for dana[/b] (0)" in str(app.query_one("#queue-title", Static).content)


async def test_approving_in_the_dialog_records_an_approval_signed_by_the_approver(
    gws: Workspace,
) -> None:
    from core.audit import verification
    from core.identity.signing import verify_envelope

    app = LedgerApp(gws, actor="vic")
    async with app.run_test(size=(140, 40)) as pilot:
        await open_queue(app, pilot)
        await choose(app, pilot, "credit-risk@1")
        await pilot.press("A")
        await until(pilot, lambda: isinstance(app.screen, ApprovalDialog))
        app.screen.query_one("#conditions", Input).value = "not for applicants under 21; ops only"
        app.screen.query_one("#reason", Input).value = "challenge evaluation reviewed"
        await pilot.press("enter")
        await settle(app, pilot)
        await until(pilot, lambda: not isinstance(app.screen, ApprovalDialog))
        assert "credit-risk@1" not in queue_refs(app)  # decided: out of vic's queue
    [body] = approvals_in(gws)
    assert body["actor"] == "vic" and body["reason"] == "challenge evaluation reviewed"
    data = body["data"]
    assert data["approver"] == "vic" and data["decision"] == "approve"
    assert data["model"] == "credit-risk@1" and data["role"] == "validator"
    assert data["conditions"] == ["not for applicants under 21", "ops only"]
    assert body["policy"]["allow"] is True and body["policy"]["gate"] == "approve"
    # The statement is signed by vic's own key, and the whole ledger verifies.
    with gws.session() as s:
        vic_keys = {k.key_id: k.public_pem for k in s.catalog.keys_of("vic")}
    assert data["key_id"] in vic_keys
    envelope = json.loads(gws.objects.read_verified(data["envelope"].removeprefix("sha256:")))
    verified = verify_envelope(envelope, vic_keys)
    statement = json.loads(verified.payload)
    assert statement["predicate"]["approver"] == "vic"
    assert statement["subject"][0]["name"] == "model:credit-risk@1"
    assert verification.verify(gws, full=True).ok


async def test_a_policy_denial_is_shown_in_the_dialog_with_its_reason(gws: Workspace) -> None:
    app = LedgerApp(gws, actor="vic")
    async with app.run_test(size=(140, 40)) as pilot:
        await open_queue(app, pilot)
        await choose(app, pilot, "credit-risk-hi@1")
        dialog = await decide(app, pilot, "A", "looks fine to me")
        await settle(app, pilot)
        await until(pilot, lambda: "FAILS its fairness checks" in dialog.error_text)
        assert app.screen is dialog  # still open: the reviewer reads why, and may cancel
        assert "Refused by policy" in dialog.error_text
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is not dialog
    assert approvals_in(gws) == []
    [denial] = denials_in(gws)  # the refusal is an attempt event, signed by vic
    assert denial["actor"] == "vic" and denial["policy"]["allow"] is False
    assert any("FAILS its fairness checks" in r for r in denial["policy"]["reasons"])


async def test_a_rejection_needs_no_evidence_and_is_recorded(gws: Workspace) -> None:
    app = LedgerApp(gws, actor="vic")
    async with app.run_test(size=(140, 40)) as pilot:
        await open_queue(app, pilot)
        await choose(app, pilot, "credit-risk-hi@1")
        dialog = await decide(app, pilot, "J", "no evaluation on record")
        await settle(app, pilot)
        await until(pilot, lambda: app.screen is not dialog)
    [body] = approvals_in(gws)
    assert body["data"]["decision"] == "reject" and body["data"]["model"] == "credit-risk-hi@1"


async def test_self_approval_is_refused_in_the_dialog(gws: Workspace) -> None:
    """The attack: the developer skips the queue and approves her own version from Models."""
    app = LedgerApp(gws, actor="dana")
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("3")
        await settle(app, pilot)
        table = app.query_one("#model-table", DataTable)
        table.focus()
        refs = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        table.move_cursor(row=refs.index("credit-risk@1"))
        await settle(app, pilot)
        dialog = await decide(app, pilot, "A", "I know it is good")
        await settle(app, pilot)
        await until(pilot, lambda: bool(dialog.error_text) and not dialog.busy)
        assert app.screen is dialog
        assert "dana" in dialog.error_text
        assert "develop" in dialog.error_text or "separation" in dialog.error_text
    assert approvals_in(gws) == []


async def test_a_wrong_secret_records_nothing_and_the_right_one_signs(gws: Workspace) -> None:
    app = LedgerApp(gws, actor="pia")
    head = gws.ledger.head()
    async with app.run_test(size=(140, 40)) as pilot:
        await open_queue(app, pilot)
        await choose(app, pilot, "credit-risk@1")
        dialog = await decide(app, pilot, "A", "reviewed")
        await until(pilot, lambda: isinstance(app.screen, SecretDialog))
        secret_input = app.screen.query_one("#secret", Input)
        assert secret_input.password  # never echoed
        await pilot.press(*"wrong", "enter")
        await settle(app, pilot)
        await until(pilot, lambda: "passphrase" in dialog.error_text)
        assert app.screen is dialog and "wrong" in dialog.error_text
        assert gws.ledger.head() == head  # nothing at all: not even an attempt event
        assert PIA_SECRET not in dialog.error_text
        await pilot.click("#decide")
        await until(pilot, lambda: isinstance(app.screen, SecretDialog))
        await pilot.press(*PIA_SECRET, "enter")
        await settle(app, pilot)
        await until(pilot, lambda: app.screen is not dialog)
    [body] = approvals_in(gws)
    assert body["actor"] == "pia" and body["data"]["approver"] == "pia"


async def test_read_only_reviewers_are_offered_no_approval(gws: Workspace) -> None:
    app = LedgerApp(gws, actor="audrey")
    head = gws.ledger.head()
    async with app.run_test(size=(140, 40)) as pilot:
        await open_queue(app, pilot)
        assert app.read_only
        for key in "AJ":
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, ApprovalDialog), key
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert not any("Approve" in t or "Reject" in t for t in titles)
    assert gws.ledger.head() == head


def registry_rows(app: LedgerApp) -> list[tuple[str, ...]]:
    table = app.query_one("#gov-inventory", DataTable)
    return [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


async def test_inventory_by_tier_time_travel_and_a_models_history_as_a_timeline(
    gws: Workspace,
) -> None:
    from core.governance import approvals, lifecycle

    before = gws.ledger.head()[0]  # nothing approved or promoted yet
    approvals.approve(gws, "vic", "credit-risk@1", reason="ok for ops", conditions=["ops only"])
    lifecycle.promote(gws, "vic", "credit-risk@1", to="validated", reason="challenge passed")
    lifecycle.promote(gws, "vic", "credit-risk@1", to="approved", reason="k of n reached")
    app = LedgerApp(gws, actor="alice")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        await pilot.press("8")
        await settle(app, pilot)
        rows = registry_rows(app)
        # Highest risk first; the approved model names who approved it.
        assert [r[:3] for r in rows] == [
            ("credit-risk-hi@1", "tier 1", "candidate"),
            ("credit-risk@1", "tier 3", "approved"),
        ]
        assert rows[1][3] == "ops" and rows[1][6] == "vic (validator) — counts"
        assert rows[0][6] == "-"
        # The evidence column is the newest evaluation's verdict (never a green "validated").
        assert rows[1][5] == "PASS" and rows[0][5] == "FAIL"
        assert "Inventory now" in str(app.query_one("#registry-title", Static).render())
        pane = app.query_one(InventoryPane)
        pane.sort_by("stage")  # what a click on the column's header does
        await pilot.pause()
        assert [r[2] for r in registry_rows(app)] == ["approved", "candidate"]
        pane.sort_by("stage")  # again: the other way round
        await pilot.pause()
        assert [r[2] for r in registry_rows(app)] == ["candidate", "approved"]
        table = app.query_one("#gov-inventory", DataTable)
        assert app.focused is table
        await pilot.press("down")
        await settle(app, pilot)
        card = str(app.query_one("#card", Static).render())
        assert "owner: ops" in card and "developers: dana" in card
        assert "approvals: vic (validator)" in card
        timeline = str(app.query_one("#timeline", Static).render())
        assert "History of credit-risk" in timeline
        lines = timeline.splitlines()
        risk = next(i for i, line in enumerate(lines) if " risk " in line)
        approve = next(i for i, line in enumerate(lines) if " approve " in line)
        promote = [i for i, line in enumerate(lines) if " promote " in line]
        assert risk < approve < promote[0] < promote[1]  # oldest first
        assert "by vic" in lines[approve]
        assert any("policy sha256:" in line for line in lines[approve + 1 : approve + 3])
        assert "why: ok for ops" in timeline and "tier 3 (impact 2 x 2)" in timeline
        assert "conditions: ops only" in timeline and "validated -> approved" in timeline
        # Back in time: before the approval, the version was a candidate with no approver.
        await pilot.click("#registry-at")
        await pilot.press(*str(before), "enter")
        await settle(app, pilot)
        title = str(app.query_one("#registry-title", Static).render())
        assert f"Registry at {before}" in title and "policy default 1" in title
        then = registry_rows(app)[1]
        assert then[:3] == ("credit-risk@1", "tier 3", "candidate") and then[4] == "-"
        await pilot.press("down")
        await settle(app, pilot)
        past = str(app.query_one("#timeline", Static).render())
        assert " approve " not in past and " risk " in past


async def test_bundle_review_has_no_approvals_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "empty"))
    app = make_app(bundle=COMPAT)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert not app.query(ApprovalsPane)
        for key in "AJ7":
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, ApprovalDialog), key
        assert not app.check_action("approve_version", ())
        assert not app.check_action("reject_version", ())


def test_sorting_reads_numbers_as_numbers() -> None:
    assert sorted(["#12", "#9", "tier 10", "tier 2"], key=natural) == [
        "#9",
        "#12",
        "tier 2",
        "tier 10",
    ]


def test_missing_evidence_is_red_and_recorded_text_is_never_markup() -> None:
    text = verdicts_text({"validation": "PASS", "evaluation": None, "fairness": "WARN"})
    # Card markup in the terminal colours the cells and the legend draw (ansi_ names).
    assert "validation [ansi_green]PASS" in text
    assert "evaluation [ansi_red]none" in text and "fairness [ansi_yellow]WARN" in text

    class Entry:
        seq, ts, actor, ref, what = 7, "2026-03-01T09:00:00.000Z", "vic", "m@1", "approve"
        detail, reason, policy = "[red]forged[/red]", "see [link=x]here[/link]", "sha256:ab"

    shown = timeline_text("m", [Entry()])  # type: ignore[list-item]
    assert "\\[red]forged" in shown and "\\[link=x]" in shown


# -- pictures: the governance screens on a reproducible governed workspace ----------------

FIXED_ROOT = Path("/tmp/ledgerml-tui-governance-snapshots/ws")
FIXED_ROOT_LOCK = Path("/tmp/ledgerml-tui-governance-snapshots.lock")
GOLDEN = Path(__file__).parent / "snapshots"
PICTURE_POLICY = Path(__file__).parent / "policy"
"""A fixed pack: the pictures show its digest, which must not move when the default pack does."""


@pytest.fixture(scope="module")
def frozen_gov_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The governed workspace with a frozen clock, counted UUIDs and counter-derived keys.

    As in test_screens.py: the folder is fixed (its path is in the pictures), so a lock held
    while it exists keeps two processes from building it at once.
    """
    import fcntl
    import itertools
    import uuid
    from datetime import UTC, datetime, timedelta

    from cryptography.hazmat.primitives.asymmetric import ec

    from core.audit import admin
    from core.governance import policy, risk

    lock = FIXED_ROOT_LOCK.open("a")
    fcntl.flock(lock, fcntl.LOCK_EX)
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
    # Counted UUIDs of their own: key handles (``key-<uuid>``) are keyring names shared by
    # every process of a run, so they must not be the TUI pictures' (test_screens.py) ones.
    mp.setattr(uuid, "uuid4", lambda: uuid.UUID(int=(2 << 96) + next(counter)))
    mp.setattr(
        ec,
        "generate_private_key",
        lambda curve: ec.derive_private_key(2000 + next(keys_made), curve),
    )
    shutil.rmtree(FIXED_ROOT.parent, ignore_errors=True)
    suites = tmp_path_factory.mktemp("frozen-suites")
    try:
        ws = admin.init(FIXED_ROOT, "alice")
        actors.add(ws, "alice", "dana", ["data-scientist", "validator"])
        actors.add(ws, "alice", "vic", ["validator"])
        snapshots.add(ws, "alice", SAMPLE / "german.data", dataset="german-credit")
        features.build(ws, "alice", SAMPLE / "features.toml")
        validation.run(ws, "alice", "german-credit-features", SAMPLE / "features_suite.toml")
        run = training.train(ws, "dana", SAMPLE / "train.toml")
        models.register(ws, "dana", run.run_id, "credit-risk")
        models.register(ws, "dana", run.run_id, "credit-risk-hi")
        policy.install(ws, "alice", PICTURE_POLICY, reason="pictures")
        risk.assess(
            ws,
            "vic",
            "credit-risk",
            impact=2,
            likelihood=2,
            rationale="internal triage",
            owner="ops",
            purpose="orders the review queue",
            reason="assessed",
        )
        risk.assess(
            ws,
            "vic",
            "credit-risk-hi",
            impact=5,
            likelihood=4,
            rationale="decides consumer credit",
            reason="assessed",
        )
        strict = suites / "strict.toml"
        strict.write_text(
            '[evaluation]\nseed = 1\n[fairness]\nattributes = ["sex"]\nbootstrap = 20\n'
            "max_demographic_parity_difference = -1\n"
        )
        evaluation.evaluate(ws, "vic", "credit-risk-hi@1", strict, reason="challenge")
        yield ws
    finally:
        mp.undo()
        shutil.rmtree(FIXED_ROOT.parent, ignore_errors=True)
        lock.close()


@pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(("tab", "actor"), [("approvals", "vic"), ("registry", "alice")])
async def test_governance_screen_snapshot(
    frozen_gov_ws: Workspace, tab: str, actor: str, size: tuple[int, int]
) -> None:
    from .snapshot import assert_matches_baseline, settled_screenshot

    app = LedgerApp(frozen_gov_ws, actor=actor)
    async with app.run_test(size=size) as pilot:
        await settled_screenshot(app, pilot)
        app.action_tab(tab)
        svg = await settled_screenshot(app, pilot)
    assert_matches_baseline(svg, GOLDEN / f"workspace-{tab}-{size[0]}x{size[1]}.svg")


async def test_an_unexpected_error_leaves_the_dialog_usable(
    gws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in core (here: a failure injected into approve) is shown, never a stuck dialog."""
    from app.tui.dialogs import ErrorDialog
    from core.governance import approvals

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(approvals, "approve", broken)
    app = LedgerApp(gws, actor="vic")
    async with app.run_test(size=(140, 40)) as pilot:
        await open_queue(app, pilot)
        await choose(app, pilot, "credit-risk@1")
        dialog = await decide(app, pilot, "A", "reviewed")
        await settle(app, pilot)
        await until(pilot, lambda: isinstance(app.screen, ErrorDialog))
        assert not dialog.busy and "disk on fire" in dialog.error_text
        await pilot.press("escape")  # closes the error
        await pilot.press("escape")  # and the dialog, which is not stuck
        await settle(app, pilot)
        assert not isinstance(app.screen, ApprovalDialog | ErrorDialog)
    assert approvals_in(gws) == []
