"""Verified-up-to records: the past is not re-checked, unless it changed or `--full`."""

from __future__ import annotations

import hashlib
import json

import pytest

from core.audit import verification, verified
from core.identity import actors, signer
from core.kernel.errors import PermissionDeniedError
from core.kernel.workspace import Workspace
from storage.ledger import GENESIS


def _record(ws: Workspace, actor: str = "bob") -> verification.VerifyReport:
    report = verification.verify(ws)
    assert report.ok, report.failures
    tail = ws.ledger.tail()
    assert tail is not None
    verified.write(ws, actor, report.events, report.root, report.head, str(tail.decode()["ts"]))
    return report


def test_a_record_spares_the_past_and_new_events_are_checked(ws: Workspace) -> None:
    first = _record(ws)
    actors.add(ws, "alice", "dana", ["data-steward"])
    report = verification.verify(ws)
    assert report.ok and report.verified_up_to == first.events
    assert f"#{first.events + 1}..#{report.events} checked now" in report.signatures
    assert verification.verify(ws, full=True).verified_up_to == 0


def test_a_change_under_the_record_voids_it(ws: Workspace) -> None:
    _record(ws)
    [segment] = sorted((ws.root / "ledger" / "segments").glob("*.log"))
    bodies = [line.split(b" ", 2)[2] for line in segment.read_bytes().splitlines()]
    bodies[1] = bodies[1].replace(b'"auditor"', b'"admin"', 1)  # bob made an admin
    prev, out = GENESIS, []
    for seq, body in enumerate(bodies, start=1):
        line = b"%d %s %s" % (seq, prev.encode(), body)
        out.append(line + b"\n")
        prev = hashlib.sha256(line).hexdigest()
    segment.write_bytes(b"".join(out))
    signer.forget()
    report = verification.verify(Workspace.open(ws.root))
    assert not report.ok and report.first_bad_event == 2
    assert report.verified_up_to == 0


def test_only_admins_and_auditors_record_and_a_forged_record_is_ignored(ws: Workspace) -> None:
    with pytest.raises(PermissionDeniedError):
        _record(ws, actor="sam")
    path = _record(ws)  # bob, an auditor
    [kept] = verified.records(ws)
    # sam re-signs the same statement with his own key: the record is not his to make.
    with ws.session("sam") as s:
        sam = signer.prove(s, signer.authority_of(s))
    from core.identity.signing import envelope, pae

    payload = __import__("base64").b64decode(kept.envelope["payload"])
    forged = envelope(
        verified.PAYLOAD_TYPE,
        payload,
        sam.key.key_id,
        sam.sign(pae(verified.PAYLOAD_TYPE, payload)),
    )
    kept.path.write_text(json.dumps(forged))
    report = verification.verify(ws)
    assert report.ok and report.verified_up_to == 0
    assert any("not an active admin or auditor" in n for n in report.notes)
    del path
