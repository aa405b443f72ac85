"""Break-glass promotions stay open until someone other than the promoter reviews them."""

from __future__ import annotations

import duckdb
import pytest

from core.audit import verification
from core.governance import breakglass
from core.kernel.errors import NotFoundError, PermissionDeniedError, UsageError
from core.kernel.workspace import Workspace
from tests.governance_mrm.conftest import MODEL, break_glass, promote


def _ledger(ws: Workspace) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((ws.root / "ledger").rglob("*.log")))


def test_a_break_glass_promotion_is_open_until_reviewed(mws: Workspace) -> None:
    seq = break_glass(mws, reason="outage fix")  # a normal promotion to validated first
    normal = seq - 1
    [open_one] = breakglass.list_breakglass(mws, open_only=True)
    assert open_one.promotion.seq == seq and open_one.open
    assert open_one.to_json()["status"] == "open" and open_one.to_json()["by"] == "alice"
    assert normal not in [b.promotion.seq for b in breakglass.list_breakglass(mws)]
    row = breakglass.review(mws, "val", seq, reason="the emergency was real", outcome="upheld")
    assert (row.promotion, row.outcome, row.created_by) == (seq, "upheld", "val")
    assert breakglass.list_breakglass(mws, open_only=True) == []
    [done] = breakglass.list_breakglass(mws)
    assert done.to_json()["review"]["outcome"] == "upheld"
    assert verification.verify(mws).ok


def test_the_promoter_cannot_review_their_own_emergency(mws: Workspace) -> None:
    seq = break_glass(mws)
    before = _ledger(mws)
    with pytest.raises(PermissionDeniedError, match="broke the glass"):
        breakglass.review(mws, "alice", seq, reason="I was right")
    assert _ledger(mws) == before


def test_a_developer_of_the_version_cannot_review(mws: Workspace) -> None:
    seq = break_glass(mws)
    with pytest.raises(PermissionDeniedError, match="developed credit-risk@1"):
        breakglass.review(mws, "sam", seq, reason="fine")  # sam trained it; holds validator


def test_review_needs_a_review_role(mws: Workspace) -> None:
    seq = break_glass(mws)
    with pytest.raises(PermissionDeniedError, match="lacks the role"):
        breakglass.review(mws, "bob", seq, reason="x")  # auditor


def test_one_promotion_has_one_review(mws: Workspace) -> None:
    seq = break_glass(mws)
    breakglass.review(mws, "val", seq, reason="ok", outcome="reversed")
    before = _ledger(mws)
    with pytest.raises(UsageError, match="already reviewed"):
        breakglass.review(mws, "ada", seq, reason="actually fine", outcome="upheld")
    assert _ledger(mws) == before


def test_only_break_glass_promotions_can_be_reviewed(mws: Workspace) -> None:
    normal = promote(mws, "alice", MODEL, "validated")
    with pytest.raises(NotFoundError, match="not a break-glass promotion"):
        breakglass.review(mws, "val", normal, reason="x")
    with pytest.raises(NotFoundError, match="#4242"):
        breakglass.review(mws, "val", 4242, reason="x")


@pytest.mark.parametrize(("outcome", "reason"), [("approved", "x"), ("upheld", " ")])
def test_bad_reviews_are_refused(mws: Workspace, outcome: str, reason: str) -> None:
    seq = break_glass(mws)
    with pytest.raises(UsageError):
        breakglass.review(mws, "val", seq, reason=reason, outcome=outcome)


def test_a_review_row_written_into_the_catalog_is_caught(mws: Workspace) -> None:
    seq = break_glass(mws)
    con = duckdb.connect(str(mws.catalog_path))
    con.execute(
        "INSERT INTO breakglass_reviews VALUES (?, ?, ?, 'upheld', 'forged', "
        "'2026-01-01T00:00:00.000000Z', 'val')",
        [seq + 100, seq, MODEL],
    )
    con.close()
    assert breakglass.list_breakglass(mws, open_only=True) == []  # the index was fooled
    report = verification.verify(mws)
    assert not report.ok and any("breakglass_reviews table differs" in f for f in report.failures)
