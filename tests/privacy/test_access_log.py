"""The access log: every read of sensitive data and every export, who, when, what and why.

One workspace reads its data every way there is (validation, training and a re-link of an
encrypted, pseudonymised snapshot; a reveal of a plaintext one) and exports two bundles.
The log must list each once with its actor and reason; the filters must hold; a bundle's
``privacy/access-log.json`` must be what its signed events say, so an exporter who edits or
drops an entry (and re-signs the manifest with their own certified key) is caught.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import app
from core.audit import admin, bundle
from core.data import pseudonyms, reveal, snapshots, validation
from core.documents import privacy_reports
from core.identity import actors
from core.kernel.errors import IntegrityError, UsageError
from core.modelling import models, training
from core.privacy import access_log, minimisation
from storage import bundle_verifier
from tests.core.test_bundle import members_of, resign, write_canonical
from tests.privacy.people_data import SUITE, people_csv, spec

FORGED = re.escape("privacy/access-log.json is not what the signed events record")


@pytest.fixture(autouse=True)
def _no_trusted_keys(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tester's own trusted-keys file must not anchor the bundles under test."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))


@pytest.fixture(scope="module")
def accessed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Reads of every kind, a model trained on encrypted data, and two bundles of it."""
    root = tmp_path_factory.mktemp("access")
    ws = admin.init(root / "ws", "alice")
    actors.add(ws, "alice", "dana", ["data-steward"])
    actors.add(ws, "alice", "sam", ["data-scientist"])
    actors.add(ws, "alice", "audrey", ["auditor"])
    pseudonyms.rotate(ws, "dana", reason="first key")
    rows = people_csv(root / "people.csv")
    snapshots.add(
        ws,
        "dana",
        root / "people.csv",
        dataset="people",
        pii=["name", "phone"],
        sensitive=["sex"],
        pseudonymize=["email"],
        reason="customer file, March",
    )
    people_csv(root / "plain.csv", rows=20, tag="plain")
    snapshots.add(ws, "dana", root / "plain.csv", dataset="plain", pii=["name"], encrypt=False)
    (root / "suite.toml").write_text(SUITE)
    validation.run(ws, "sam", "people@1", root / "suite.toml", reason="before training")
    (root / "train.toml").write_text(spec("people@1", "risk", ["age", "income"], ["sex"]))
    run = training.train(ws, "sam", root / "train.toml", reason="first model")
    models.register(ws, "sam", run.run_id, "risk")
    models.sign(ws, "sam", "risk@1")
    pseudonyms.relink(ws, "dana", "people@1", "email", rows[4]["email"], reason="DSAR 4")
    reveal.reveal(ws, "audrey", "plain@1", "name", reason="check the PII tag")
    full = root / "risk-full.zip"
    bundle.export(ws, "audrey", "risk@1", full, reason="for the regulator")
    hashes = root / "risk-hashes.zip"
    bundle.export(ws, "alice", "risk@1", hashes, data="hashes", reason="for the board")
    models.export(ws, "risk@1", root / "model-out", "sam", reason="to the scoring team")
    return {"ws": ws, "root": root, "full": full, "hashes": hashes, "run": run.run_id}


def _by_purpose(entries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        out.setdefault(e["purpose"], []).append(e)
    return out


def test_every_read_and_export_is_listed_once_with_who_and_why(accessed: dict, cli) -> None:  # type: ignore[no-untyped-def]
    ws = accessed["ws"]
    done = cli("--workspace", str(ws.root), "--json", "audit", "access", check=True)
    entries = json.loads(done.stdout)
    assert len({e["seq"] for e in entries}) == len(entries)
    by = _by_purpose(entries)
    assert [(e["actor"], e["reason"], e["snapshots"]) for e in by["validate"]] == [
        ("sam", "before training", ["people@1"])
    ]
    assert [(e["actor"], e["reason"]) for e in by["train"]] == [("sam", "first model")]
    assert [(e["actor"], e["reason"], e["columns"]) for e in by["relink"]] == [
        ("dana", "DSAR 4", ["email"])
    ]
    assert [(e["action"], e["actor"], e["snapshots"], e["columns"]) for e in by["reveal"]] == [
        ("data.reveal", "audrey", ["plain@1"], ["name"])
    ]
    exports = by["export"]
    assert [(e["action"], e["actor"], e["data_level"], e["reason"]) for e in exports] == [
        ("bundle.export", "audrey", "full", "for the regulator"),
        ("bundle.export", "alice", "hashes", "for the board"),
        ("model.export", "sam", None, "to the scoring team"),
    ]
    # the full bundle carried the test predictions (rows of people@1); the hashes one none
    assert exports[0]["snapshots"] == ["people@1"] and exports[1]["snapshots"] is None
    assert "people@1" in exports[0]["what"] and "hashes only" in exports[1]["what"]
    assert exports[2]["snapshots"] == [] and exports[2]["target"] == "model:risk@1"
    for e in exports[:2]:
        recorded = ws.ledger.entry(e["seq"]).decode()["data"]["bundle_sha256"]
        assert e["bundle_sha256"] == recorded
    # nothing else is in the log: every entry is one of the reads or exports above
    assert sum(len(v) for v in by.values()) == len(entries) == 7


def test_the_filters(accessed: dict) -> None:
    ws = accessed["ws"]
    every = access_log.entries(ws)
    middle = every[3]
    later = access_log.entries(ws, since=middle.ts)
    assert [e.seq for e in later] == [e.seq for e in every if e.ts >= middle.ts]
    assert later and len(later) < len(every)
    assert access_log.entries(ws, since="2999-01-01") == []
    assert {e.actor for e in access_log.entries(ws, by="sam")} == {"sam"}
    about_plain = access_log.entries(ws, snapshot="plain")
    assert [e.purpose for e in about_plain] == ["reveal"]
    with pytest.raises(UsageError, match="cannot read --since"):
        access_log.entries(ws, since="last tuesday")
    result = CliRunner().invoke(
        app, ["--workspace", str(ws.root), "audit", "access", "--snapshot", "nosuch@1"]
    )
    assert result.exit_code == 2 and "no snapshot nosuch@1" in result.output
    assert access_log.touching(ws, ["people@1"]) == [
        e.seq for e in every if "people@1" in (e.snapshots or [])
    ]


def test_a_bundle_carries_its_access_log_and_verify_rederives_it(accessed: dict) -> None:
    ws, hashes = accessed["ws"], accessed["hashes"]
    doc = json.loads(members_of(hashes)["privacy/access-log.json"])
    events = [(seq, ws.ledger.entry(seq).decode()) for seq in range(1, ws.ledger.head()[0] + 1)]
    every = bundle_verifier.access_log(events)
    # the second bundle carries the first export and the reads of its model's data; its own
    # export is recorded after it was written, and the reveal of another snapshot is not its
    carried = [e["seq"] for e in doc["entries"]]
    own = next(
        e["seq"] for e in every if e["action"] == "bundle.export" and e["data_level"] == "hashes"
    )
    expected = [
        e["seq"]
        for e in every
        if e["seq"] < own and (e["action"] == "bundle.export" or e["snapshots"] == ["people@1"])
    ]
    assert carried == expected
    report = bundle.verify(hashes)
    assert any(
        "privacy/access-log.json agrees with the signed events" in c for c in report["checked"]
    )
    assert [e["seq"] for e in report["access_log"]] == carried


def test_an_edited_or_dropped_entry_is_caught(accessed: dict, tmp_path: Path) -> None:
    ws, full = accessed["ws"], accessed["full"]
    original = members_of(full)
    doc = json.loads(original["privacy/access-log.json"])
    assert doc["entries"], "the full bundle must carry reads to forge"

    def forged(change: Any, name: str, *, sign: bool = True) -> Path:
        entries = dict(original)
        edited = json.loads(entries["privacy/access-log.json"])
        change(edited["entries"])
        entries["privacy/access-log.json"] = json.dumps(edited).encode()
        if sign:
            resign(ws, entries)  # the exporter's own certified key: an insider
        out = tmp_path / name
        write_canonical(out, entries)
        return out

    with pytest.raises(IntegrityError, match="was changed"):
        bundle.verify(forged(lambda e: e.pop(0), "unsigned.zip", sign=False))
    with pytest.raises(IntegrityError, match=FORGED):
        bundle.verify(forged(lambda e: e.pop(0), "dropped.zip"))
    with pytest.raises(IntegrityError, match=FORGED):
        bundle.verify(forged(lambda e: e[0].update(reason="routine"), "edited.zip"))
    with pytest.raises(IntegrityError, match=FORGED):
        bundle.verify(forged(lambda e: e[0].update(actor="alice"), "blamed.zip"))


def test_the_access_report(accessed: dict, tmp_path: Path) -> None:
    ws = accessed["ws"]
    before = ws.ledger.head()[0]
    md, html, shown = privacy_reports.write_access(ws, "audrey", tmp_path, by="dana")
    assert {e.actor for e in shown} == {"dana"}
    text = md.read_text()
    assert "by dana" in text and "DSAR 4" in text and "What this log cannot show" in text
    assert "plaintext" in text and "air-gapped" in text
    assert "DSAR 4" in html.read_text()
    recorded = ws.ledger.entry(before + 1).decode()
    assert recorded["action"] == "report.access" and recorded["data"]["entries"] == len(shown)


def test_the_bundle_carries_the_models_minimisation(accessed: dict) -> None:
    ws, full = accessed["ws"], accessed["full"]
    doc = json.loads(members_of(full)["privacy/minimisation.json"])
    assert doc["model"] == "risk@1"
    [people] = doc["snapshots"]
    assert people["snapshot"] == "people@1"
    assert people["drop_candidates"] == ["name", "email", "phone"]  # the model reads none
    assert people["pii_used"] == []
    with ws.session() as s:
        model = models.resolve(s.catalog, "risk@1")
        run = models.resolve_run(s.catalog, model.run_id)
        snap = s.catalog.snapshot("people@1")
    assert snap is not None
    assert doc == minimisation.for_model(ws, model, run, [snap])
