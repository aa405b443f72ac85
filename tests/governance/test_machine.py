"""A Hypothesis state machine over every governance entry point, with a cast of insiders.

Actions: risk assessments, approvals and rejections (core calls and the CLI), offline
approvals (request, sign with no workspace, import), promotions (core and CLI, break-glass
included) and role grants that turn a developer into an approver. Any action may be refused;
a refusal is fine, a violation is not. After every step:

- no approval a promotion counted breaks separation of duties (a developer of the version,
  a service, a rejection, another digest, or one person counted twice);
- no promotion to ``approved`` stands without ``approval_check`` passing (unless
  break-glass), as ``audit verify`` re-counts it from the signed events;

and ``audit verify`` is clean at the end.

Cost: one model trained per session (conftest); each example starts from a copy of that
workspace. Every step signs and appends real events (0.2-1 s each on a shared machine), so
the everyday run is kept to ``MAX_EXAMPLES`` examples of at most ``STEPS`` steps;
``LEDGERML_HYPOTHESIS=campaign`` runs the long campaign (run it when changing the rules).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from typer.testing import CliRunner

from app.cli import app
from core.governance import approvals, lifecycle, offline, risk
from core.governance.facts import developers
from core.identity import actors
from core.kernel.errors import LedgerError
from core.kernel.rows import ApprovalRow, LifecycleRow
from core.kernel.workspace import Workspace
from tests.conftest import budget
from tests.governance.conftest import Gov

MAX_EXAMPLES = budget(4, 40)
STEPS = budget(12, 30)
CAST = ["sam", "vic", "cora", "dora", "sec", "tess", "bot", "alice"]
VERSIONS = ["credit-risk@1", "scorecard@1"]
ROLES = [None, "validator", "compliance", "data-owner", "security", "approver"]
STAGES = ["validated", "approved", "retired"]
LIKELY = ["vic", "tess", "vic", "tess", "cora", "dora", "bot", "sam", "alice"]
"""Approvers for the release path, weighted towards the validators the default tier needs."""
ROLE_OF = {"tess": "validator", "bot": "validator", "sam": "validator", "alice": "approver"}


class Governance(RuleBasedStateMachine):
    """The governed workspace under random use."""

    def __init__(self, source: Path) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="gov-machine-"))
        self.root = self.tmp / "ws"
        shutil.copytree(source, self.root)
        self.ws = Workspace.open(self.root)
        self.refused = 0

    def _try(self, action: object) -> None:
        try:
            action()  # type: ignore[operator]
        except LedgerError:
            self.refused += 1

    def _cli(self, *args: str) -> None:
        result = CliRunner().invoke(app, ["--workspace", str(self.root), *args])
        assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output)

    @rule(
        who=st.sampled_from(CAST),
        name=st.sampled_from(["credit-risk", "scorecard"]),
        impact=st.integers(1, 5),
        likelihood=st.integers(1, 5),
    )
    def assess(self, who: str, name: str, impact: int, likelihood: int) -> None:
        self._try(
            lambda: risk.assess(
                self.ws, who, name, impact=impact, likelihood=likelihood,
                rationale="machine", dpia="DPIA-1", reason="machine",
            )
        )  # fmt: skip

    @rule(
        who=st.sampled_from(CAST),
        ref=st.sampled_from(VERSIONS),
        role=st.sampled_from(ROLES),
        reject=st.booleans(),
        via_cli=st.booleans(),
    )
    def approve(self, who: str, ref: str, role: str | None, reject: bool, via_cli: bool) -> None:
        if via_cli:
            extra = (["--role", role] if role else []) + (["--reject"] if reject else [])
            self._cli("--as", who, "approve", ref, "--reason", "machine", *extra)
            return
        self._try(
            lambda: approvals.approve(self.ws, who, ref, role=role, reason="machine", reject=reject)
        )

    @rule(
        approver=st.sampled_from(CAST),
        importer=st.sampled_from(["alice", "vic", "sam"]),
        ref=st.sampled_from(VERSIONS),
        role=st.sampled_from(ROLES),
    )
    def approve_offline(self, approver: str, importer: str, ref: str, role: str | None) -> None:
        req, out = self.tmp / "req.json", self.tmp / "approval.json"
        out.unlink(missing_ok=True)

        def go() -> None:
            offline.request(self.ws, "alice", ref, stage="approved", out=req)
            offline.sign(req, out, approver=approver, role=role, reason="machine")
            offline.import_approval(self.ws, importer, out, "machine")

        self._try(go)

    @rule(
        who=st.sampled_from(CAST),
        ref=st.sampled_from(VERSIONS),
        to=st.sampled_from(STAGES),
        glass=st.booleans(),
        via_cli=st.booleans(),
    )
    def promote(self, who: str, ref: str, to: str, glass: bool, via_cli: bool) -> None:
        if via_cli:
            extra = ["--break-glass"] if glass else []
            self._cli("--as", who, "model", "promote", ref, "--to", to, "--reason", "m", *extra)
            return
        self._try(
            lambda: lifecycle.promote(self.ws, who, ref, to=to, reason="machine", break_glass=glass)
        )

    @rule(
        ref=st.sampled_from(VERSIONS),
        first=st.sampled_from(LIKELY),
        second=st.sampled_from(LIKELY),
        who=st.sampled_from(["sam", "vic", "alice", "bot"]),
    )
    def release(self, ref: str, first: str, second: str, who: str) -> None:
        """The usual path, with a random cast: two approvals, then the next stage(s)."""
        for approver in (first, second):
            self._try(lambda a=approver: approvals.approve(self.ws, a, ref, reason="release",
                                                            role=ROLE_OF.get(a)))  # fmt: skip
        for to in ("validated", "approved"):
            self._try(lambda t=to: lifecycle.promote(self.ws, who, ref, to=t, reason="release"))

    @rule(
        who=st.sampled_from(["sam", "alice", "bot", "dora"]),
        role=st.sampled_from(["validator", "compliance", "approver"]),
    )
    def grant(self, who: str, role: str) -> None:
        self._try(lambda: actors.change(self.ws, "alice", who, "grant", "machine", role=role))

    @invariant()
    def no_counted_approval_breaks_separation_of_duties(self) -> None:
        from core.identity.signer import authority_of

        with self.ws.session("") as s:
            auth = authority_of(s)
            moves = s.catalog.rows(LifecycleRow, "SELECT * FROM lifecycle ORDER BY seq")
            by_seq = {a.seq: a for a in s.catalog.rows(ApprovalRow, "SELECT * FROM approvals")}
            for move in moves:
                counted = [by_seq[c] for c in json.loads(move.approvals)]
                model = s.catalog.model(move.model)
                assert model is not None
                devs = set(developers(s, model))
                people = [a.approver for a in counted]
                assert len(people) == len(set(people)), f"#{move.seq} counts a person twice"
                for a in counted:
                    state = auth.actor_at(a.approver, a.seq)
                    assert a.approver not in devs, f"#{move.seq} counts developer {a.approver}"
                    assert state is not None and state.kind == "person"
                    assert a.decision == "approve" and a.model_digest == move.model_digest
                    assert a.model == move.model and a.seq < move.seq
                if move.to_stage == "approved" and not move.break_glass:
                    assert counted, f"#{move.seq} approved {move.model} counting nothing"

    @invariant()
    def every_promotion_to_approved_passes_approval_check(self) -> None:
        from core.audit import governance_checks
        from core.identity.signer import authority_of

        problems: list[str] = []
        with self.ws.session("") as s:
            events = [(e.seq, json.loads(e.body)) for e in s.catalog.events()]
            governance_checks.check(
                self.ws, authority_of(s), events, lambda msg, _: problems.append(msg)
            )
        assert problems == []

    def teardown(self) -> None:
        from core.audit import verification

        try:
            report = verification.verify(self.ws)
            assert report.ok, report.failures
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def test_governance_state_machine(team: Gov) -> None:
    run_state_machine_as_test(
        lambda: Governance(team.root),
        settings=settings(
            max_examples=MAX_EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            derandomize=True,
        ),
    )
