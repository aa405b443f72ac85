"""An insider with write access to the workspace and the same OS account tries to fake records.

Each test is one attack from the identity issue: a forged event at the tail, a relabelled
actor, a forged mid-ledger event, a backdated event, hand edits of roles, key states and the
catalog's copy of events. Every one must be caught by ``audit verify`` (exit 3, the first bad
event named) or refused by the command it would enable.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from core.audit import verification
from core.identity import actors, signer
from core.kernel.events import Event, now_iso
from core.kernel.workspace import Workspace
from storage.ledger import GENESIS
from tests.conftest import run_cli_here

Lines = list[tuple[int, bytes]]


def _lines(ws: Workspace) -> Lines:
    return [(e.seq, e.body) for e in ws.ledger.iter_entries()]


def _rewrite(ws: Workspace, edit: Callable[[Lines], Lines]) -> None:
    """Replace the ledger with ``edit`` of its bodies, every hash chained afresh."""
    bodies = edit(_lines(ws))
    prev = GENESIS
    out = []
    for seq, body in bodies:
        line = b"%d %s %s" % (seq, prev.encode(), body)
        out.append(line + b"\n")
        prev = hashlib.sha256(line).hexdigest()
    [segment] = sorted((ws.root / "ledger" / "segments").glob("*.log"))
    segment.write_bytes(b"".join(out))
    signer.forget()


def _verify(ws: Workspace) -> verification.VerifyReport:
    signer.forget()
    return verification.verify(Workspace.open(ws.root))


def _sealed_as(ws: Workspace, actor: str, event: Event) -> bytes:
    """An event signed with ``actor``'s real key, as an insider sharing their keyring could."""
    with ws.session(actor) as s:
        sig = signer.prove(s, signer.authority_of(s))
    return sig.seal(event)


def test_a_forged_unsigned_event_at_the_tail_is_an_integrity_failure(ws: Workspace) -> None:
    forged = Event("alice", "actor.add", ["actor:mallory"], {"name": "mallory", "roles": ["admin"]})
    ws.ledger.append([forged.body()])
    report = _verify(ws)
    assert not report.ok
    assert report.first_bad_event == 4
    assert "carries no signature" in report.failures[0]
    # And no command builds on it: the authority walk refuses the head.
    result = run_cli_here("--workspace", str(ws.root), "--as", "alice", "audit", "checkpoint")
    assert result.returncode == 3, result.stderr
    assert "event #4" in result.stderr


def test_a_tail_event_signed_by_the_wrong_actors_key_is_refused(ws: Workspace) -> None:
    # sam signs an actor.add "by alice": the key is real, but it is not alice's.
    ev = Event("sam", "actor.add", ["actor:mallory"], {"name": "mallory", "roles": ["admin"]})
    body = _sealed_as(ws, "sam", ev).replace(b'"actor":"sam"', b'"actor":"alice"', 1)
    ws.ledger.append([body])
    report = _verify(ws)
    assert report.first_bad_event == 4
    assert "signed by a key of 'sam'" in report.failures[0]


def test_an_insider_may_not_record_what_their_roles_do_not_allow(ws: Workspace) -> None:
    # sam (a data scientist) signs, with his own key, an actor.add no command would let him make.
    ev = Event("sam", "actor.add", ["actor:mallory"], {"name": "mallory", "roles": ["admin"]})
    ws.ledger.append([_sealed_as(ws, "sam", ev)])
    report = _verify(ws)
    assert report.first_bad_event == 4
    assert "not admin" in report.failures[0]


def test_relabelling_an_actor_mid_ledger_is_caught_at_that_event(ws: Workspace) -> None:
    actors.add(ws, "alice", "dana", ["data-steward"])

    def relabel(lines: Lines) -> Lines:
        seq, body = lines[2]  # sam's actor.add by alice becomes "by bob"
        lines[2] = (seq, body.replace(b'"actor":"alice"', b'"actor":"bob"', 1))
        return lines

    _rewrite(ws, relabel)
    report = _verify(ws)
    assert report.first_bad_event == 3
    assert "claims actor 'bob'" in report.failures[0]


def test_a_forged_mid_ledger_event_is_caught_even_with_the_chain_redone(ws: Workspace) -> None:
    actors.add(ws, "alice", "dana", ["data-steward"])
    forged = Event(
        "alice", "actor.add", ["actor:mallory"], {"name": "mallory", "roles": ["admin"]}
    ).body()

    def insert(lines: Lines) -> Lines:
        bodies = [b for _, b in lines]
        bodies.insert(2, forged)
        return list(enumerate(bodies, start=1))

    _rewrite(ws, insert)
    report = _verify(ws)
    assert report.first_bad_event == 3


def test_a_garbled_body_is_reported_not_a_crash(ws: Workspace) -> None:
    def garble(lines: Lines) -> Lines:
        lines[1] = (lines[1][0], b'{"action":"actor.add","actor":"alice",')
        return lines

    _rewrite(ws, garble)
    report = _verify(ws)
    assert not report.ok
    assert report.first_bad_event == 2
    cli = run_cli_here("--workspace", str(ws.root), "--as", "alice", "audit", "verify")
    assert cli.returncode == 3
    assert "Traceback" not in cli.stderr


def test_a_backdated_event_is_caught(ws: Workspace) -> None:
    ev = Event("alice", "actor.add", ["actor:old"], {"name": "old", "roles": ["auditor"]})
    ev = dataclasses.replace(ev, ts="2020-01-01T00:00:00.000000Z")
    ws.ledger.append([_sealed_as(ws, "alice", ev)])
    report = _verify(ws)
    assert report.first_bad_event == 4
    assert "earlier than the event before it" in report.failures[0]


def test_the_newest_event_at_its_true_time_verifies(ws: Workspace) -> None:
    ev = Event("alice", "actor.add", ["actor:new"], {"name": "new", "roles": ["auditor"]})
    ws.ledger.append([_sealed_as(ws, "alice", dataclasses.replace(ev, ts=now_iso()))])
    report = _verify(ws)
    # An actor added this way has no key, which is allowed; the event itself is good.
    assert report.ok, report.failures


def _catalog(ws: Workspace) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(ws.catalog_path))


def test_a_hand_edited_role_grants_nothing_and_verify_names_the_table(ws: Workspace) -> None:
    with _catalog(ws) as con:
        con.execute("UPDATE actors SET roles = ['admin'] WHERE name = 'sam'")
    refused = run_cli_here(
        "--workspace", str(ws.root), "--as", "sam", "actor", "add", "mallory", "--role", "admin"
    )
    assert refused.returncode == 2
    assert "lacks the role 'admin'" in refused.stderr
    report = _verify(ws)
    assert not report.ok
    assert "actors table" in " ".join(report.failures)


def test_a_hand_reactivated_key_signs_nothing(ws: Workspace) -> None:
    from core.identity import keys

    extra, _ = keys.create(ws, "alice", owner="sam", label="sam-extra")
    keys.revoke(ws, "alice", extra.key_id, "retired")
    with _catalog(ws) as con:
        con.execute(
            "UPDATE keys SET status = 'active', status_seq = NULL WHERE label = 'sam-extra'"
        )
    result = run_cli_here(
        "--workspace", str(ws.root), "--as", "sam", "key", "rotate", extra.key_id[:16]
    )
    assert result.returncode == 2
    assert "revoked" in result.stderr
    assert not _verify(ws).ok


def test_an_edited_copy_of_an_event_in_the_catalog_is_detected(ws: Workspace) -> None:
    with _catalog(ws) as con:
        body = con.execute("SELECT body FROM events WHERE seq = 2").fetchone()[0]
        doc = json.loads(body)
        doc["data"]["roles"] = ["admin"]
        con.execute("UPDATE events SET body = ? WHERE seq = 2", [json.dumps(doc)])
    # Commands read authority through signed pointers: the edit is ignored ...
    ok = run_cli_here("--workspace", str(ws.root), "--as", "alice", "actor", "list")
    assert ok.returncode == 0
    refused = run_cli_here(
        "--workspace", str(ws.root), "--as", "bob", "actor", "add", "x", "--role", "admin"
    )
    assert refused.returncode == 2
    # ... and verify reports it.
    report = _verify(ws)
    assert not report.ok
    assert "event #2" in " ".join(report.failures)


@pytest.mark.parametrize("flip", range(0, 400, 83))
def test_flipping_any_byte_of_a_signed_event_is_caught(ws: Workspace, flip: int) -> None:
    def damage(lines: Lines) -> Lines:
        seq, body = lines[-1]
        at = flip % len(body)
        lines[-1] = (seq, body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1 :])
        return lines

    _rewrite(ws, damage)
    report = _verify(ws)
    assert not report.ok
    assert report.first_bad_event == 3, report.failures


def test_the_ledger_untouched_verifies(ws: Workspace, tmp_path: Path) -> None:
    report = _verify(ws)
    assert report.ok, report.failures
    assert "3 events signed" in report.signatures


def test_the_seal_member_is_canonical_json() -> None:
    from core.kernel.events import Seal, seal, split_sealed
    from storage.canonical import canonical_bytes

    unsigned = Event("a", "x.y", [], {"k": "v"}).body()
    sig = Seal("ab" * 32, "ecdsa-p256", bytes(range(70)))
    sealed = seal(unsigned, sig)
    assert sealed == canonical_bytes({**json.loads(unsigned), "~sig": sig.to_json()})
    assert split_sealed(sealed) == (unsigned, sig)


def test_the_sliced_fields_equal_the_parsed_ones_or_are_refused(ws: Workspace) -> None:
    from core.identity.authority import head_fields
    from core.kernel.events import split_sealed

    ev = Event("sam", "attestation.create", ["f"], {"nested": {"ts": "1999", "actor": "x"}})
    ws.ledger.append([_sealed_as(ws, "sam", ev)])
    for _, body in _lines(ws):
        sealed = split_sealed(body)
        assert sealed is not None
        fields = head_fields(sealed[0])
        if fields is not None:
            doc = json.loads(body)
            assert fields == {k: doc[k] for k in ("action", "actor", "auth", "ts", "v")}
    escaped = _sealed_as(ws, "sam", ev).replace(b'"actor":"sam"', b'"actor":"s\\u0061m"', 1)
    assert head_fields(split_sealed(escaped)[0]) is None  # type: ignore[index]


def test_a_garbled_public_key_in_the_founding_event_is_reported_not_a_crash(ws: Workspace) -> None:
    def garble(lines: Lines) -> Lines:
        seq, body = lines[0]
        lines[0] = (
            seq,
            body.replace(b"BEGIN PUBLIC KEY-----\\nMFkw", b"BEGIN PUBLIC KEY-----\\nMFkx", 1),
        )
        assert lines[0][1] != body
        return lines

    _rewrite(ws, garble)
    report = _verify(ws)
    assert not report.ok and report.first_bad_event == 1


def test_a_second_founding_event_cannot_bring_its_own_organisation_key(ws: Workspace) -> None:
    first = json.loads(_lines(ws)[0][1])
    data = dict(first["data"], founder="alice")
    ev = Event("alice", "workspace.init", ["workspace:again"], data)
    ws.ledger.append([_sealed_as(ws, "alice", ev)])
    report = _verify(ws)
    assert report.first_bad_event == 4
    assert "a second time" in report.failures[0]


def test_a_replayed_copy_of_a_signed_event_is_caught(ws: Workspace) -> None:
    # A real signed event, then the same bytes again: same actor, same authority pointer.
    ev = Event("sam", "attestation.create", ["file:x"], {"envelope": "e", "key_id": "k"})
    signed = _sealed_as(ws, "sam", ev)
    ws.ledger.append([signed])
    assert _verify(ws).ok
    ws.ledger.append([signed])
    report = _verify(ws)
    assert not report.ok and report.first_bad_event == 5
    assert "replayed copy" in report.failures[0]
