"""The event-kind registry: every action written is declared, and payloads keep the bytes."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.audit import admin, verification
from core.identity import actors, attest, keys
from core.kernel import kinds
from core.kernel.workspace import Workspace
from storage.canonical import canonical_bytes

COMPAT = Path(__file__).parents[1] / "data" / "bundles"


def _bundle_bodies() -> Iterator[dict[str, Any]]:
    """The event bodies of the compatibility bundles (events written by earlier releases)."""
    for path in sorted(COMPAT.glob("*/*.zip")):
        with zipfile.ZipFile(path) as archive:
            for line in archive.read("ledger/events.jsonl").decode().splitlines():
                yield json.loads(line.split(" ", 2)[2])


def _workspace_bodies(ws: Workspace) -> Iterator[dict[str, Any]]:
    size, _ = ws.ledger.head()
    for seq in range(1, size + 1):
        yield ws.ledger.entry(seq).decode()


@pytest.fixture
def busy(ws: Workspace, tmp_path: Path) -> Workspace:
    """A workspace that also rotated and revoked keys and attested a file."""
    key, _ = keys.create(ws, "alice")
    keys.rotate(ws, "alice", key.key_id)
    other, _ = keys.create(ws, "alice", label="spare")
    keys.revoke(ws, "alice", other.key_id, "retired")
    note = tmp_path / "note.txt"
    note.write_text("signed\n")
    attest.create(ws, "alice", note)
    return ws


def _round_trip(body: dict[str, Any]) -> None:
    kind = kinds.kind(body["action"])
    assert kind is not None, f"{body['action']} is written but no context declares it"
    payload = kind.decode(body)
    assert canonical_bytes(payload.to_data()) == canonical_bytes(body["data"])


def test_compatibility_events_are_declared_and_round_trip() -> None:
    bodies = list(_bundle_bodies())
    assert len({b["action"] for b in bodies}) >= 15
    for body in bodies:
        _round_trip(body)


def test_workspace_events_are_declared_and_round_trip(busy: Workspace) -> None:
    actions = set()
    for body in _workspace_bodies(busy):
        _round_trip(body)
        actions.add(body["action"])
    assert {"key.rotate", "key.revoke", "attestation.create"} <= actions


def test_verify_compares_the_declared_tables_and_replays_the_projected_kinds() -> None:
    assert verification._STATE_TABLES[:16] == (
        "actors",
        "keys",
        "policies",
        "model_risk",
        "approvals",
        "lifecycle",
        "findings",
        "breakglass_reviews",
        "validations",
        "data_access",
        "runs",
        "models",
        "signatures",
        "reproductions",
        "evaluations",
        "score_evaluations",
    )
    # operations' and privacy's tables follow, as their parts declare them; the tables
    # several contexts write (lineage edges; snapshots, which erasure marks; decision
    # batches, whose stored copy a decision-log erasure replaces) come last
    assert set(verification._STATE_TABLES[-3:]) == {"edges", "snapshots", "decision_batches"}
    assert "deployments" in verification._STATE_TABLES
    assert set(verification._STATE_TABLES[15:-3]) <= {
        "score_evaluations",
        "erasures",
        "holds",
        "retention_rules",
        "retention_runs",
        "deployments",
        "throttles",
        "api_tokens",
        "decision_overrides",
        "outcome_batches",
        "ops_configs",
        "monitor_runs",
        "ops_alerts",
        "incidents",
        "incident_actions",
        "pipeline_runs",
    }
    assert "attestation.create" not in kinds.projected()
    assert "snapshot.add" in kinds.projected()


def test_every_bundle_carries_keys_actors_and_exports() -> None:
    assert kinds.always_in_bundle() == (
        "actor.add",
        "actor.remove",
        "actor.resume",
        "actor.suspend",
        "bundle.export",
        "data.erase",
        "key.create",
        "key.revoke",
        "key.rotate",
        "policy.install",
        "role.grant",
        "role.revoke",
        "workspace.init",
    )


def test_the_authority_kinds_are_the_identity_kinds() -> None:
    # Exports and erasures are in every bundle as the access and deletion logs, not authority.
    assert set(kinds.authority_actions()) == set(kinds.always_in_bundle()) - {
        "bundle.export",
        "data.erase",
    }


def test_an_undeclared_action_only_enters_the_event_index(ws: Workspace) -> None:
    from core.identity import signer
    from core.kernel.events import Event

    with ws.session("alice") as s:
        signer.prove(s, signer.authority_of(s))  # a newer release's action, signed as any
        s.commit(Event("alice", "monitor.drift", ["model:x@1"], {"psi": 0.3}))
        assert [e.action for e in s.catalog.events(action="monitor.")] == ["monitor.drift"]
    assert verification.verify(ws).ok
    assert admin.status(ws, "alice", run_verify=False).counts["actors"] == 3
    assert actors.show(ws, "bob").roles == ["auditor"]


def test_an_undeclared_key_in_a_declared_kind_is_malformed() -> None:
    kind = kinds.kind("actor.add")
    assert kind is not None
    with pytest.raises(KeyError):
        kind.decode({"data": {"name": "x", "roles": [], "extra": 1}})
