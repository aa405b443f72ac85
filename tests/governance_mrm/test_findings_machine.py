"""A Hypothesis state machine over finding updates by every member of the cast.

Whatever order people try things in, the ledger never holds a separation-of-duties
violation: only a finding's owner reports remediation, and no owner, developer of the
version or holder of no finding role closes, accepts or reopens one. The catalog's row is
always the newest recorded word, and the gate facts count exactly the findings that stand.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from core.governance import findings
from core.governance.events import FINDING_ROLES, FINDING_STATUSES
from core.kernel.errors import PermissionDeniedError, UsageError
from core.kernel.workspace import Workspace
from tests.conftest import budget
from tests.governance_mrm.conftest import MODEL

FAR = "2999-12-31"
ROLES = {
    "olga": {"data-scientist"},
    "ada": {"approver"},
    "val": {"validator"},
    "sam": {"data-scientist", "data-steward", "validator"},
    "alice": {"admin"},
    "bob": {"auditor"},
}
DEVELOPERS = {"sam"}  # trained, registered and signed credit-risk@1


def test_no_sequence_of_updates_breaks_separation_of_duties(base: Path) -> None:
    class Machine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.dir = Path(tempfile.mkdtemp())
            shutil.copytree(base, self.dir / "ws")
            self.ws = Workspace.open(self.dir / "ws")
            self.status: dict[int, str] = {}
            self.owner: dict[int, str] = {}

        def teardown(self) -> None:
            shutil.rmtree(self.dir, ignore_errors=True)

        @initialize(owner=st.sampled_from(["olga", "ada"]), severity=st.just("high"))
        def first(self, owner: str, severity: str) -> None:
            self.add(owner, severity)

        @rule(owner=st.sampled_from(["olga", "ada"]), severity=st.sampled_from(["low", "high"]))
        def add(self, owner: str, severity: str) -> None:
            row = findings.add(
                self.ws,
                "val",
                MODEL,
                severity=severity,
                owner=owner,
                title="t",
                due=FAR,
                reason="r",
            )
            self.status[row.seq], self.owner[row.seq] = "open", owner

        @rule(
            pick=st.integers(0, 10),
            actor=st.sampled_from(sorted(ROLES)),
            status=st.sampled_from(FINDING_STATUSES),
        )
        def update(self, pick: int, actor: str, status: str) -> None:
            if not self.status:
                return
            seq = sorted(self.status)[pick % len(self.status)]
            owner, current = self.owner[seq], self.status[seq]
            if status == "in-remediation":
                allowed = actor == owner and current != status
            else:
                allowed = (
                    bool(ROLES[actor] & set(FINDING_ROLES))
                    and actor != owner
                    and actor not in DEVELOPERS
                    and (current != status or status == "accepted")
                )
            expires = FAR if status == "accepted" else None
            try:
                row = findings.update(
                    self.ws, actor, seq, status=status, reason="r", expires=expires
                )
            except (PermissionDeniedError, UsageError):
                assert not allowed, f"{actor} was refused {current} -> {status} on #{seq}"
                return
            assert allowed, f"{actor} moved #{seq} {current} -> {status} (owner {owner})"
            assert row.status == status and row.updated_by == actor
            self.status[seq] = status

        @invariant()
        def the_ledger_holds_no_violation(self) -> None:
            with self.ws.session("") as s:
                owners = {
                    e.seq: json.loads(e.body)["data"]["owner"]
                    for e in s.catalog.events(action="finding.open")
                }
                for e in s.catalog.events(action="finding.update"):
                    data = json.loads(e.body)["data"]
                    owner = owners[data["finding"]]
                    if data["status"] == "in-remediation":
                        assert e.actor == owner
                    else:
                        assert e.actor != owner and e.actor not in DEVELOPERS
                        assert ROLES[e.actor] & set(FINDING_ROLES)

        @invariant()
        def the_catalog_and_the_facts_agree_with_what_was_recorded(self) -> None:
            with self.ws.session("") as s:
                rows = {r.seq: r.status for r in findings.rows(s)}
                counts = findings.open_counts(s, MODEL)
            assert rows == self.status
            standing = [seq for seq, st_ in self.status.items() if st_ in findings.OPEN]
            assert sum(counts.values()) == len(standing)

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=budget(5, 60),
            stateful_step_count=budget(8, 20),
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
