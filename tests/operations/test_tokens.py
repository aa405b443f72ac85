"""API tokens on a real governed workspace: issued once, checked per call from the ledger.

The attacks: a guessed, malformed or cut token; a revoked one; the actor suspended or their
role revoked while a server runs; a token for another environment; a token row typed into
the catalog; a forged ``token.issue`` line appended to the ledger; a token's secret leaking
into the ledger, the catalog or the CLI's listing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.identity import actors
from core.kernel.errors import NotFoundError, PermissionDeniedError, UsageError
from core.operations import tokens
from core.operations.tokens import CallRefusedError, Gatekeeper
from tests.operations.conftest import CAST, Ops


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with the operations cast and no model: tokens need only actors."""
    from core.audit import admin

    root = tmp_path_factory.mktemp("tokens") / "ws"
    ws = admin.init(root, "alice", reason="test")
    for name, (roles, kind) in CAST.items():
        actors.add(ws, "alice", name, roles, kind=kind)
    return root


@pytest.fixture
def ops(team: Path, tmp_path: Path) -> Ops:
    """A fresh copy of the module's workspace for one test (the keyring is shared)."""
    shutil.copytree(team, tmp_path / "ws")
    return Ops(tmp_path / "ws")


def _refusal(gate: Gatekeeper, header: str | None) -> tuple[int, str]:
    with pytest.raises(CallRefusedError) as info:
        gate.check(header)
    return info.value.status, info.value.message


def _files_with(root: Path, secret: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and secret in p.read_bytes()]


def test_issue_list_revoke_and_the_secret_is_kept_nowhere(ops: Ops) -> None:
    ws = ops.ws
    row, token = tokens.issue(ws, "opal", "cal", env="staging", reason="cal's scoring app")
    assert token.startswith("lml_" + row.token_id + "_") and len(token) == 4 + 16 + 1 + 43
    assert row.actor == "cal" and row.env == "staging" and row.created_by == "opal"
    assert row.digest == tokens.digest_of(token) != hashlib.sha256(token.encode()).hexdigest()
    _, again = tokens.issue(ws, "alice", "scorer", env="staging", reason="a service's own")
    assert again != token
    listed = tokens.list_tokens(ws, env="staging")
    assert [r.actor for r in listed] == ["cal", "scorer"]
    assert tokens.list_tokens(ws, env="production") == []
    revoked = tokens.revoke(ws, "alice", row.token_id, reason="app retired")
    assert revoked.revoked_seq is not None
    with pytest.raises(UsageError, match="already revoked"):
        tokens.revoke(ws, "alice", row.token_id, reason="twice")
    secret = token.split("_", 2)[2].encode()  # the secret may hold "_" itself
    assert len(secret) == 43
    assert _files_with(ops.root, secret) == []  # ledger, catalog, objects: the digest only
    assert _files_with(ops.root, row.digest.encode())  # which is recorded


def test_who_may_issue_and_for_whom(ops: Ops) -> None:
    ws = ops.ws
    before = ws.ledger.head()
    with pytest.raises(PermissionDeniedError, match="issue API tokens"):
        tokens.issue(ws, "cal", "cal", env="staging", reason="self-service")  # a consumer
    with pytest.raises(PermissionDeniedError):
        tokens.issue(ws, "sam", "cal", env="staging", reason="not an operator")
    with pytest.raises(UsageError, match="not consumer or operator"):
        tokens.issue(ws, "opal", "sam", env="staging", reason="a data scientist")
    with pytest.raises(UsageError, match="not a registered actor"):
        tokens.issue(ws, "opal", "ghost", env="staging", reason="nobody")
    with pytest.raises(UsageError, match="reason"):
        tokens.issue(ws, "opal", "cal", env="staging", reason=" ")
    with pytest.raises(UsageError, match="environment"):
        tokens.issue(ws, "opal", "cal", env="Prod!", reason="r")
    with pytest.raises(UsageError, match="not a token id"):
        tokens.revoke(ws, "opal", "lml_tok-0123456789ab_secret", reason="the token itself")
    with pytest.raises(NotFoundError):
        tokens.revoke(ws, "opal", "tok-0123456789ab", reason="unknown")
    assert ws.ledger.head() == before  # every refusal recorded nothing


def test_the_gatekeeper_follows_the_ledger_call_by_call(ops: Ops) -> None:
    ws = ops.ws
    row, token = tokens.issue(ws, "opal", "cal", env="staging", reason="app")
    _, prod = tokens.issue(ws, "opal", "cal", env="production", reason="app in prod")
    gate = Gatekeeper(ws, "staging")
    assert gate.check(f"Bearer {token}").actor == "cal"
    assert gate.check(f"bearer   {token}").token_id == row.token_id
    # nobody authenticated: 401, and a near miss says no more than a wild guess
    assert _refusal(gate, None)[0] == 401
    assert _refusal(gate, token)[0] == 401  # no scheme
    assert _refusal(gate, f"Basic {token}") == (401, "unknown token")
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert _refusal(gate, f"Bearer {wrong}") == (401, "unknown token")
    assert _refusal(gate, f"Bearer {token[:-3]}") == (401, "unknown token")
    assert _refusal(gate, "Bearer lml_tok-000000000000_" + "x" * 43) == (401, "unknown token")
    # a valid token for another environment: authenticated, forbidden
    status, message = _refusal(gate, f"Bearer {prod}")
    assert status == 403 and "for production, not staging" in message
    # the actor suspended while the gate runs: the next call is refused, resumed: answered
    actors.change(ws, "alice", "cal", "suspend", "investigation")
    status, message = _refusal(gate, f"Bearer {token}")
    assert status == 403 and "cal is suspended" in message
    actors.change(ws, "alice", "cal", "resume", "cleared")
    assert gate.check(f"Bearer {token}").actor == "cal"
    # the role revoked: refused at once; the token itself was never touched
    actors.change(ws, "alice", "cal", "revoke-role", "moved team", role="consumer")
    status, message = _refusal(gate, f"Bearer {token}")
    assert status == 403 and "not consumer or operator" in message
    actors.change(ws, "alice", "cal", "grant", "back", role="consumer")
    assert gate.check(f"Bearer {token}").actor == "cal"
    # revoked: no longer a credential at all
    tokens.revoke(ws, "opal", row.token_id, reason="leaked")
    status, message = _refusal(gate, f"Bearer {token}")
    assert status == 401 and "revoked" in message


def test_a_catalog_row_or_a_forged_ledger_line_issues_no_token(ops: Ops) -> None:
    import duckdb

    ws = ops.ws
    real, _ = tokens.issue(ws, "opal", "cal", env="staging", reason="app")
    mine = "lml_tok-0123456789ab_" + "A" * 43
    # the insider types a token of their own into the catalog
    con = duckdb.connect(str(ws.catalog_path))
    con.execute(
        "INSERT INTO api_tokens VALUES ('tok-0123456789ab', 'cal', 'staging', ?, 1, '', "
        "'alice', NULL)",
        [tokens.digest_of(mine)],
    )
    con.close()
    gate = Gatekeeper(ws, "staging")
    assert _refusal(gate, f"Bearer {mine}") == (401, "unknown token")
    # ... or appends a copy of the real issue event, its digest swapped for their token's
    seq, head = ws.ledger.head()
    body = ws.ledger.entry(real.created_seq).body
    forged = body.replace(real.digest.encode(), tokens.digest_of(mine).encode())
    forged = forged.replace(real.token_id.encode(), b"tok-0123456789ab")
    assert json.loads(forged)["data"]["digest"] == tokens.digest_of(mine)
    segment = ws.ledger.segment_files()[-1]
    with segment.open("ab") as handle:
        handle.write(b"%d %s %s\n" % (seq + 1, head.encode(), forged))
    assert _refusal(gate, f"Bearer {mine}") == (401, "unknown token")
    assert [s for s, _ in gate.forged] == [seq + 1]
    assert "signature" in gate.forged[0][1]


def test_token_commands(ops: Ops) -> None:
    from app.cli import app

    runner = CliRunner()

    def invoke(*args: str, actor: str = "opal") -> object:
        return runner.invoke(
            app, ["--workspace", str(ops.root), "--as", actor, *args], catch_exceptions=False
        )

    added = invoke("token", "add", "cal", "--env", "staging", "--reason", "cal's app")
    assert added.exit_code == 0, added.output
    token = added.stdout.strip()
    assert token.startswith("lml_tok-") and "shown once" in added.stderr
    listed = invoke("token", "list", "--json")
    rows = json.loads(listed.stdout)
    assert [(r["actor"], r["env"], r["revoked_seq"]) for r in rows] == [("cal", "staging", None)]
    assert token.split("_", 2)[2] not in listed.stdout + invoke("token", "list").stdout
    denied = invoke("token", "add", "cal", "--env", "staging", "--reason", "r", actor="cal")
    assert denied.exit_code == 2 and "lacks the role" in denied.stderr
    revoked = invoke("token", "revoke", rows[0]["token_id"], "--reason", "rotated")
    assert revoked.exit_code == 0 and "revoked " + rows[0]["token_id"] in revoked.stdout
    assert invoke("token", "revoke", "tok-000000000000", "--reason", "r").exit_code == 2
