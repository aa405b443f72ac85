"""Legal holds: placed and lifted with a reason by the right roles, on targets that exist.

Every refusal (wrong role, unknown target, no reason, a hold lifted twice) must change
nothing: the ledger's bytes are compared before and after.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.kernel.errors import NotFoundError, PermissionDeniedError, UsageError
from core.privacy import hold_commands, holds
from tests.conftest import run_cli
from tests.privacy.conftest import Team, cli_in


def _ledger(team: Team) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((team.root / "ledger" / "segments").glob("*")))


def test_a_hold_on_a_dataset_covers_every_version_until_lifted(team: Team) -> None:
    ws = team.ws
    h = hold_commands.place(ws, "dana", "dataset:visits", reason="litigation, case 114")
    assert h.active and h.row.target == "dataset:visits" and h.row.created_by == "dana"
    body = ws.ledger.entry(h.row.seq).decode()
    assert body["action"] == "data.hold" and body["reason"] == "litigation, case 114"
    assert body["subjects"] == ["dataset:visits"]
    with ws.session() as s:
        for snap in s.catalog.snapshots("visits"):
            assert [r.seq for r in holds.blocking(s.catalog, snap)] == [h.row.seq]
        assert holds.blocking(s.catalog, s.catalog.snapshots("claims")[0]) == []
    lifted = hold_commands.release(ws, "apollo", h.row.seq, reason="case closed")
    assert not lifted.active and lifted.row.released_by == "apollo"
    assert lifted.row.released_reason == "case closed"
    with ws.session() as s:
        assert holds.active(s.catalog) == []


def test_a_version_hold_and_its_two_spellings(team: Team) -> None:
    ws = team.ws
    a = hold_commands.place(ws, "dana", "visits@1", reason="audit sample")
    b = hold_commands.place(ws, "alice", "snapshot:visits@1", reason="second matter")
    assert a.row.target == b.row.target == "snapshot:visits@1"
    with ws.session() as s:
        v1, v2 = s.catalog.snapshots("visits")
        assert [r.seq for r in holds.blocking(s.catalog, v1)] == [a.row.seq, b.row.seq]
        assert holds.blocking(s.catalog, v2) == []
    hold_commands.release(ws, "dana", a.row.seq, reason="done")
    with ws.session() as s:  # the other matter still holds it
        assert [r.seq for r in holds.blocking(s.catalog, s.catalog.snapshot("visits@1"))] == [
            b.row.seq
        ]


@pytest.mark.parametrize(
    ("target", "error", "match"),
    [
        ("dataset:nope", NotFoundError, "no dataset named 'nope'"),
        ("visits@9", NotFoundError, "no snapshot visits@9"),
        ("decisions:production", NotFoundError, "no deployment was ever made"),
        ("visits", UsageError, "cannot hold 'visits'"),
        ("model:credit@1", UsageError, "cannot hold"),
        ("dataset:Bad Name", UsageError, "invalid dataset name"),
    ],
)
def test_unknown_or_malformed_targets_are_refused_and_record_nothing(
    team: Team, target: str, error: type[Exception], match: str
) -> None:
    before = _ledger(team)
    with pytest.raises(error, match=match):
        hold_commands.place(team.ws, "dana", target, reason="x")
    assert _ledger(team) == before


def test_a_hold_needs_a_reason_and_a_hold_role(team: Team) -> None:
    before = _ledger(team)
    with pytest.raises(UsageError, match="needs a reason"):
        hold_commands.place(team.ws, "dana", "dataset:visits", reason="  ")
    for who in ("sam", "cora"):  # a data scientist, compliance: neither holds data
        with pytest.raises(PermissionDeniedError):
            hold_commands.place(team.ws, who, "dataset:visits", reason="x")
    assert _ledger(team) == before
    h = hold_commands.place(team.ws, "dana", "dataset:visits", reason="x")
    before = _ledger(team)
    with pytest.raises(PermissionDeniedError):
        hold_commands.release(team.ws, "sam", h.row.seq, reason="let it go")
    with pytest.raises(UsageError, match="needs a reason"):
        hold_commands.release(team.ws, "dana", h.row.seq, reason="")
    assert _ledger(team) == before


def test_lifting_twice_or_an_unknown_hold_is_refused(team: Team) -> None:
    h = hold_commands.place(team.ws, "dana", "dataset:claims", reason="x")
    done = hold_commands.release(team.ws, "dana", h.row.seq, reason="closed")
    before = _ledger(team)
    with pytest.raises(UsageError, match=f"already lifted at #{done.row.released_seq} by dana"):
        hold_commands.release(team.ws, "alice", h.row.seq, reason="again")
    with pytest.raises(NotFoundError, match="placed no legal hold"):
        hold_commands.release(team.ws, "dana", 2, reason="x")  # an actor.add, not a hold
    with pytest.raises(NotFoundError, match="placed no legal hold"):
        hold_commands.release(team.ws, "dana", 10_000, reason="x")
    assert _ledger(team) == before


def test_the_cli_places_lists_and_lifts(team: Team, tmp_path: Path) -> None:
    ws = ["--workspace", str(team.root), "--as", "dana"]
    added = run_cli(*ws, "hold", "add", "loans@1", "--reason", "regulator request R-7")
    assert added.returncode == 0, added.stderr
    assert "hold #" in added.stdout and "snapshot:loans@1" in added.stdout
    missing = cli_in(*ws, "hold", "add", "dataset:nope", "--reason", "x")
    assert missing.returncode == 2 and "no dataset named 'nope'" in missing.stderr
    bare = cli_in(*ws, "hold", "add", "dataset:loans")
    assert bare.returncode == 2 and "needs a reason" in bare.stderr
    listed = cli_in(*ws, "hold", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    doc = json.loads(listed.stdout)
    assert [(h["target"], h["active"], h["reason"]) for h in doc] == [
        ("snapshot:loans@1", True, "regulator request R-7")
    ]
    seq = str(doc[0]["hold"])
    lifted = cli_in(*ws, "hold", "remove", seq, "--reason", "answered")
    assert lifted.returncode == 0, lifted.stderr
    assert "lifted at #" in lifted.stdout
    again = cli_in(*ws, "hold", "remove", seq, "--reason", "answered")
    assert again.returncode == 2 and "already lifted" in again.stderr
    active = cli_in(*ws, "hold", "list", "--active")
    assert active.returncode == 0 and "no legal holds in force" in active.stdout
