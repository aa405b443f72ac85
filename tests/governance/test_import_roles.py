"""Offline approvals import whoever records them: the approver's role is checked, not theirs.

The signed statement proves the approver held the role at that ledger position (core checks
it on import, ``audit verify`` replays it), so the default pack's role rule asks nothing of
the importer's approval roles for an import, and every approval role (plus admin) may
record one: a compliance officer can import her own approval.
"""

from __future__ import annotations

from pathlib import Path

from core.audit import verification
from core.governance import approvals, offline, policy
from tests.conftest import ROOT
from tests.governance.conftest import Gov

M = "credit-risk@1"
DEFAULT = ROOT / "sample_data" / "policies" / "default"


def _signed_by_cora(gov: Gov, tmp_path: Path) -> Path:
    policy.install(gov.ws, "alice", DEFAULT, reason="the default pack")
    req = offline.request(gov.ws, "alice", M, stage="approved", out=tmp_path / "req.json")
    return offline.sign(
        req, tmp_path / "cora.json", approver="cora", role="compliance", reason="offline review"
    )


def test_an_admin_imports_a_compliance_approval_under_the_default_pack(
    gov: Gov, tmp_path: Path
) -> None:
    env = _signed_by_cora(gov, tmp_path)
    row = offline.import_approval(gov.ws, "alice", env, "by courier")
    assert (row.approver, row.role, row.recorded_by) == ("cora", "compliance", "alice")
    assert approvals.verify_approval(gov.ws, row.seq) is None
    report = verification.verify(gov.ws)
    assert report.ok, report.failures


def test_the_approver_imports_her_own_offline_approval(gov: Gov, tmp_path: Path) -> None:
    env = _signed_by_cora(gov, tmp_path)
    row = offline.import_approval(gov.ws, "cora", env, "carried it back myself")
    assert (row.approver, row.recorded_by) == ("cora", "cora")
    assert approvals.verify_approval(gov.ws, row.seq) is None
    report = verification.verify(gov.ws)
    assert report.ok, report.failures


def test_the_stand_alone_verifier_allows_the_same_importers() -> None:
    from core.governance.events import APPROVER_ROLES, IMPORT_ROLES
    from storage import bundle_verifier

    assert set(IMPORT_ROLES) == {*APPROVER_ROLES, "admin"}
    assert set(bundle_verifier.IMPORT_ROLES) == set(IMPORT_ROLES)
