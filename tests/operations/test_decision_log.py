"""The decision log: every decision provable offline, every edit of a batch detected.

One module fixture logs one batch (V1 live, V2 shadow with ``rows`` retention) and signs a
checkpoint over it; each attack works on its own copy of that workspace.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.audit import checkpoints, decision_proofs
from core.kernel.errors import IntegrityError, KeyStoreError
from core.operations import decision_keys, decision_log, deployments, scoring
from storage import bundle_verifier, merkle
from tests.operations.applicants import FEATURES, applicants
from tests.operations.conftest import V1, V2, Ops


@dataclass
class Logged:
    root: Path
    frame: Any
    batch: Any

    def copy(self, tmp_path: Path) -> Ops:
        shutil.copytree(self.root, tmp_path / "ws")
        return Ops(tmp_path / "ws")


@pytest.fixture(scope="module")
def logged(ops_team: Ops, tmp_path_factory: pytest.TempPathFactory) -> Logged:
    root = tmp_path_factory.mktemp("logged") / "ws"
    shutil.copytree(ops_team.root, root)
    ws = Ops(root).ws
    deployments.deploy(ws, "opal", V1, env="production", reason="go live")
    deployments.deploy(
        ws, "opal", V2, env="production", strategy="shadow", retention="rows", reason="s"
    )
    frame = applicants(ws, 40)
    frame.loc[3, "duration_months"] = None  # an error row is logged and provable too
    frame.loc[4, "age_years"] = 19  # and a refusal (the approval's condition)
    res = scoring.Scorer.open(ws, "production", "scorer").score(frame, caller="cal", explain=1)
    checkpoints.checkpoint(ws, "alice")
    return Logged(root, frame, res.batch)


def test_every_leaf_recomputes_with_the_standalone_code(logged: Logged) -> None:
    ws = Ops(logged.root).ws
    table = decision_log.read_batch(ws, logged.batch)
    rows = table.to_pylist()
    leaves = [bundle_verifier.decision_leaf_hash(r) for r in rows]  # stdlib, row by row
    assert leaves == decision_log.leaf_hashes(table)  # the vectorised DuckDB encoding
    assert merkle.root(leaves).hex() == logged.batch.merkle_root
    for i in (0, 3, len(rows) - 1):
        path = [p.hex() for p in merkle.inclusion_proof(i, leaves)]
        assert bundle_verifier.decision_included(
            rows[i], i, len(rows), path, logged.batch.merkle_root
        )
    statuses = {r["status"] for r in rows}
    assert statuses == {"ok", "refused", "error"}  # refusals and errors are leaves too
    assert decision_log.check_batch(ws, logged.batch) == []


def test_rows_retention_keeps_inputs_only_for_its_deployment(logged: Logged) -> None:
    table = decision_log.read_batch(Ops(logged.root).ws, logged.batch).to_pandas()
    shadow, live = table[table["arm"] == "shadow"], table[table["arm"] == "live"]
    assert "in.age_years" in table.columns
    assert shadow["in.age_years"].tolist() == logged.frame["age_years"].tolist()
    assert live["in.age_years"].isna().all()  # V1's retention is hmac-only


def test_a_decision_proof_verifies_offline_and_an_edit_fails(logged: Logged) -> None:
    ws = Ops(logged.root).ws
    rid = decision_log.read_batch(ws, logged.batch).column("request_id")[5].as_py()
    doc = json.loads(json.dumps(decision_proofs.prove(ws, rid)))  # as written to a file
    assert [d["decision"]["arm"] for d in doc["decisions"]] == ["live", "shadow"]
    check = decision_proofs.verify_proof(doc)
    assert not check.anchored and len(check.checked) == 3
    org = _org_pem(ws)
    anchored = decision_proofs.verify_proof(doc, pinned=[org])
    assert anchored.anchored and "certified by the organisation key" in anchored.anchor
    assert any("scorer's own key, certified" in c for c in anchored.checked)  # event signer
    signer = doc["events"][str(logged.batch.seq)]["checkpoint"]["signatures"][0]["keyid"]
    direct = decision_proofs.verify_proof(doc, pinned=[doc["public_keys"][signer]])
    assert direct.anchored and "the key you pinned" in direct.anchor
    stranger = decision_proofs.verify_proof(doc, pinned=[_fresh_key()[1]])
    assert not stranger.anchored  # a key that signed nothing here anchors nothing
    edited = json.loads(json.dumps(doc))
    edited["decisions"][0]["decision"]["score"] = 0.01  # a friendlier score
    with pytest.raises(IntegrityError, match="altered"):
        decision_proofs.verify_proof(edited)
    swapped = json.loads(json.dumps(doc))
    swapped["decisions"][0]["merkle_root"] = "00" * 32  # a root of the forger's own tree
    with pytest.raises(IntegrityError, match="not the one event"):
        decision_proofs.verify_proof(swapped)
    line = doc["events"][str(logged.batch.seq)]["line"]
    forged = json.loads(json.dumps(doc))
    forged["events"][str(logged.batch.seq)]["line"] = line.replace('"count":80', '"count":81')
    with pytest.raises(IntegrityError):
        decision_proofs.verify_proof(forged)


def _org_pem(ws: Any) -> str:
    with ws.session() as s:
        return str(checkpoints.organisation_key(s.catalog).public_pem)


def _fresh_key() -> tuple[Any, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    sk = ec.generate_private_key(ec.SECP256R1())
    pem = sk.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return sk, pem.decode()


def _forge(real: dict[str, Any], *, request_id: str | None = None) -> dict[str, Any]:
    """A proof made from scratch with a throw-away key (the reviewer's /tmp/r15/forge.py).

    A one-leaf batch and a size-1 checkpoint, both signed by the forger's key, and a junk
    signature entry under the real checkpoint signer's key id.
    """
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from core.identity.signing import CHECKPOINT_PAYLOAD_TYPE, key_id_for, pae, public_der
    from core.kernel.events import Seal, seal, signing_input
    from storage.canonical import canonical_bytes

    sk, pem = _fresh_key()
    kid = key_id_for(public_der(pem))

    def sign(m: bytes) -> bytes:
        return sk.sign(m, ec.ECDSA(hashes.SHA256()))

    ev = next(iter(real["events"].values()))
    trusted = ev["checkpoint"]["signatures"][0]["keyid"]
    row = dict(real["decisions"][0]["decision"])
    row.update(status="refused", score=None, label=None, detail="applicant refused by model")
    leaf = bundle_verifier.decision_leaf_hash(row)
    body = json.loads(ev["line"].split(" ", 2)[2])
    body.pop("~sig", None)
    body["data"]["merkle_root"], body["data"]["count"] = leaf.hex(), 1
    unsigned = canonical_bytes(body)
    sealed = seal(unsigned, Seal(kid, "ecdsa-p256", sign(signing_input(unsigned))))
    line = f"1 {'0' * 64} " + sealed.decode()
    entry_hash = hashlib.sha256(line.encode()).hexdigest()
    root = merkle.leaf_hash(bytes.fromhex(entry_hash)).hex()
    cp = {"head": entry_hash, "root": root, "size": 1, "ts": "2026-12-02T00:00:00Z",
          "type": "ledgerml/checkpoint/v1", "workspace": "x"}  # fmt: skip
    payload = canonical_bytes(cp)
    env = {
        "payload": base64.b64encode(payload).decode(),
        "payloadType": CHECKPOINT_PAYLOAD_TYPE,
        "signatures": [
            {"keyid": trusted, "sig": base64.b64encode(b"not a signature").decode()},
            {"keyid": kid, "sig": base64.b64encode(sign(pae(CHECKPOINT_PAYLOAD_TYPE, payload)))
             .decode()},
        ],
    }  # fmt: skip
    return {
        "format": real["format"],
        "leaf": real["leaf"],
        "request_id": request_id or row["request_id"],
        "decisions": [{"decision": row, "batch_seq": 1, "index": 0, "batch_size": 1,
                       "merkle_root": leaf.hex(), "audit_path": []}],
        "events": {"1": {"checkpoint": env, "entry_hash": entry_hash, "leaf_index": 0,
                         "line": line, "proof": [], "root": root, "seq": 1, "tree_size": 1}},
        "public_keys": {kid: pem},
    }  # fmt: skip


def test_a_proof_forged_with_a_throwaway_key_is_never_anchored(logged: Logged) -> None:
    """The attack: every link verifies under the forger's key; a junk entry names the real
    checkpoint signer. Only a signature verified under a key the verifier brings anchors."""
    ws = Ops(logged.root).ws
    rid = decision_log.read_batch(ws, logged.batch).column("request_id")[0].as_py()
    real = json.loads(json.dumps(decision_proofs.prove(ws, rid)))
    forged = _forge(real)
    assert decision_proofs.verify_proof(forged).checked  # it holds together, like any forgery
    by_org = decision_proofs.verify_proof(forged, pinned=[_org_pem(ws)])
    assert not by_org.anchored and "verifies under no key you pinned" in by_org.anchor
    signer = real["events"][str(logged.batch.seq)]["checkpoint"]["signatures"][0]["keyid"]
    with pytest.raises(IntegrityError, match="does not match"):  # the junk entry is a lie
        decision_proofs.verify_proof(forged, pinned=[real["public_keys"][signer]])
    # the forger copies the real signer's public key and certificate in: still nothing
    forged["public_keys"][signer] = real["public_keys"][signer]
    forged["key_records"] = {signer: real["key_records"][signer]}
    with pytest.raises(IntegrityError, match="does not match"):
        decision_proofs.verify_proof(forged, pinned=[_org_pem(ws)])
    assert decision_proofs.verify_proof(real, pinned=[_org_pem(ws)]).anchored  # the real one


def test_a_proof_must_prove_its_own_request(logged: Logged) -> None:
    ws = Ops(logged.root).ws
    ids = decision_log.read_batch(ws, logged.batch).column("request_id").to_pylist()
    doc = json.loads(json.dumps(decision_proofs.prove(ws, ids[0])))
    doc["request_id"] = next(
        i for i in ids if i != ids[0]
    )  # "this is the decision about you", about someone else's
    with pytest.raises(IntegrityError, match="proves a decision of"):
        decision_proofs.verify_proof(doc, pinned=[_org_pem(ws)])


def test_an_event_signer_the_organisation_never_certified_is_refused(logged: Logged) -> None:
    ws = Ops(logged.root).ws
    rid = decision_log.read_batch(ws, logged.batch).column("request_id")[0].as_py()
    doc = json.loads(json.dumps(decision_proofs.prove(ws, rid)))
    event = doc["events"][str(logged.batch.seq)]
    sealed = event["line"].split(" ", 2)[2]
    kid = json.loads(sealed)["~sig"]["key"]
    other = next(k for k in doc["key_records"] if k != kid)
    doc["key_records"][kid] = doc["key_records"][other]  # another actor's certificate
    with pytest.raises(IntegrityError, match="does not certify as theirs"):
        decision_proofs.verify_proof(doc, pinned=[_org_pem(ws)])


def test_cli_show_writes_a_proof_that_verify_checks(logged: Logged, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from app.cli import app

    ws = Ops(logged.root).ws
    rid = decision_log.read_batch(ws, logged.batch).column("request_id")[0].as_py()
    proof = tmp_path / "proof.json"
    run = CliRunner().invoke(
        app, ["--workspace", str(logged.root), "decision", "show", rid, "--proof", str(proof)]
    )
    assert run.exit_code == 0, run.output
    assert "leaf" in run.output and "batch event" in run.output
    ok = CliRunner().invoke(app, ["decision", "verify", str(proof)])
    assert ok.exit_code == 1 and "UNANCHORED" in ok.output  # the keys came with the proof
    org = tmp_path / "org.pem"
    org.write_text(_org_pem(ws))
    pinned = CliRunner().invoke(app, ["decision", "verify", str(proof), "--key", str(org)])
    assert pinned.exit_code == 0 and "VERIFIED and anchored" in pinned.output, pinned.output
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    usage = CliRunner().invoke(app, ["decision", "verify", str(proof), "--key", str(junk)])
    assert usage.exit_code == 2, usage.output
    doc = json.loads(proof.read_text())
    said = doc["decisions"][0]["decision"]
    said["decision"] = "declined" if said["decision"] == "approved" else "approved"  # relabel
    proof.write_text(json.dumps(doc))
    bad = CliRunner().invoke(app, ["decision", "verify", str(proof)])
    assert bad.exit_code == 3, bad.output
    unknown = CliRunner().invoke(
        app, ["--workspace", str(logged.root), "decision", "show", "r-nosuch"]
    )
    assert unknown.exit_code == 2 and "no logged decision" in unknown.output


def test_a_rewritten_score_in_its_parquet_is_detected(logged: Logged, tmp_path: Path) -> None:
    ws = logged.copy(tmp_path).ws
    table = decision_log.read_batch(ws, logged.batch)
    scores = table.column("score").to_pylist()
    scores[0] = 0.001
    edited = table.set_column(
        table.schema.get_field_index("score"), "score", pa.array(scores, pa.float64())
    )
    # the recomputed root differs, whatever file it is stored in
    assert merkle.root(decision_log.leaf_hashes(edited)).hex() != logged.batch.merkle_root
    path = ws.objects.path(logged.batch.object_digest)
    path.chmod(0o644)
    pq.write_table(edited, path, compression="zstd")  # the insider re-saves it in place
    problems = decision_log.check_batch(ws, logged.batch)
    assert any("object" in p for p in problems), problems
    with pytest.raises(IntegrityError):
        decision_log.read_batch(ws, logged.batch)


def test_an_edited_event_root_is_detected(logged: Logged, tmp_path: Path) -> None:
    ws = Ops(logged.root).ws
    rid = decision_log.read_batch(ws, logged.batch).column("request_id")[0].as_py()
    doc = decision_proofs.prove(ws, rid)
    forged_root = "ab" * 32
    event = doc["events"][str(logged.batch.seq)]
    event["line"] = event["line"].replace(logged.batch.merkle_root, forged_root)
    event["entry_hash"] = hashlib.sha256(event["line"].encode()).hexdigest()
    for d in doc["decisions"]:
        d["merkle_root"] = forged_root
    with pytest.raises(IntegrityError, match="signature does not match"):
        decision_proofs.verify_proof(doc)
    # in the workspace itself, the edited ledger line is caught before anything reads it
    copy = logged.copy(tmp_path).ws
    seg = sorted((copy.root / "ledger" / "segments").iterdir())[-1]
    seg.chmod(0o644)
    seg.write_text(seg.read_text().replace(logged.batch.merkle_root, forged_root))
    with pytest.raises(IntegrityError, match="rolled back or rewritten"):
        decision_log.check_batch(copy, logged.batch)


def test_input_digests_need_the_deployments_key(logged: Logged, tmp_path: Path) -> None:
    ws = logged.copy(tmp_path).ws
    table = decision_log.read_batch(ws, logged.batch).to_pandas()
    live = table[table["arm"] == "live"].reset_index(drop=True)
    dep = live["deployment_id"][0]
    body = ws.ledger.entry(deployments_seq(ws, dep)).decode()
    key = decision_keys.get(ws, dep, body["data"]["key_check"])  # type: ignore[index]
    with ws.session() as s:
        reads = _arm_for(s, dep).reads
    row = {c: logged.frame.loc[0, c] for c in reads}
    assert decision_log.input_hmac(key, row) == live["input_hmac"][0]  # the key holder links
    assert decision_log.input_hmac(b"\x00" * 32, row) != live["input_hmac"][0]
    plain = hashlib.sha256(decision_log.input_row_data(row)).hexdigest()
    assert plain not in set(table["input_hmac"])  # never a plain hash of the row
    assert decision_keys.destroy(ws, dep)
    with pytest.raises(KeyStoreError, match="not in this keyring"):
        decision_keys.get(ws, dep, body["data"]["key_check"])  # type: ignore[index]


def test_input_encoding_is_the_same_in_duckdb_and_python() -> None:
    import duckdb

    table = pa.table(
        {
            "a": pa.array([1.5, None, 0.1, -0.0, 1e-7], pa.float64()),
            "b": pa.array(["x", "é:,", None, "", "-,"], pa.string()),
            "c": pa.array([1, 2, None, -4, 0], pa.int64()),
            "d": pa.array([True, False, None, True, False], pa.bool_()),
        }
    )
    con = duckdb.connect()
    con.register("t", table)
    cols = [(f.name, f.type) for f in table.schema]
    sql = decision_log.encoding_sql("t", decision_log.input_row_parts(cols), "m")
    encoded = con.sql(sql).to_arrow_table().column("m").to_pylist()
    assert [e.encode() for e in encoded] == [
        decision_log.input_row_data(r) for r in table.to_pylist()
    ]
    assert len(set(encoded)) == 5


def test_arrow_encodings_agree_with_duckdb_and_python() -> None:
    """The vectorised Arrow framing is byte for byte the stdlib's and DuckDB's.

    The traps are the shortcuts: a column with one value becomes one literal, so 0.0 beside
    -0.0 (equal as numbers, not as text), a constant column, an all-null one and a
    non-ASCII one must each still encode per row as the reference does.
    """
    import duckdb

    table = pa.table(
        {
            "a": pa.array([0.0, -0.0, 0.1, 1e300, 1e-7], pa.float64()),
            "b": pa.array(["é:,", "é:,", "é:,", "é:,", "é:,"], pa.string()),
            "c": pa.array([7, 7, 7, 7, 7], pa.int8()),
            "d": pa.array([True, False, None, True, False], pa.bool_()),
            "e": pa.array([None] * 5, pa.string()),
            "f": pa.array([2.5] * 5, pa.float32()),
            "g": pa.array([1, None, 3, -4, 2**40], pa.int64()),
        }
    )
    names = table.column_names
    python = [decision_log.input_row_data(r) for r in table.to_pylist()]
    assert decision_log.input_row_datas(table, names) == python
    con = duckdb.connect()
    con.register("t", table)
    cols = [(f.name, f.type) for f in table.schema]
    sql = decision_log.encoding_sql("t", decision_log.input_row_parts(cols), "m")
    assert [e.encode() for e in con.sql(sql).to_arrow_table().column("m").to_pylist()] == python
    assert python[0] != python[1]  # 0.0 and -0.0 stay apart
    key = bytes(range(32))
    assert decision_log.hmac_hex(key, python).to_pylist() == [
        hmac.digest(key, m, "sha256").hex() for m in python
    ]
    assert decision_log.hmac_hex(b"k" * 80, python[:1]).to_pylist() == [
        hmac.digest(b"k" * 80, python[0], "sha256").hex()  # a key longer than a block
    ]


def test_leaves_agree_row_by_row_on_a_large_batch(
    logged: Logged, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leaves by Arrow framing = by DuckDB = by the stdlib, over a batch with every status.

    Large enough for the dictionary framing of few-valued columns, and cut in chunks so
    the two-thread pipeline (encode the next chunk while hashing this one) is what runs.
    """
    ws = Ops(logged.root).ws
    table = decision_log.read_batch(ws, logged.batch)
    rows = table.to_pylist()
    copies = 16384 // len(rows) + 1
    big = pa.concat_tables([table] * copies)
    monkeypatch.setattr(decision_log, "_CHUNK", 4099)
    leaves = decision_log.leaf_hashes(big)
    assert leaves == decision_log.leaf_hashes_sql(big)
    assert leaves == [bundle_verifier.decision_leaf_hash(r) for r in rows] * copies
    inputs = pa.table({c: big.column("in." + c) for c in ("age_years", "purpose")})
    key = bytes(range(32))
    expected = [
        hmac.digest(key, decision_log.input_row_data(r), "sha256").hex()
        for r in inputs.slice(0, len(rows)).to_pylist()
    ]
    got = decision_log.input_hmacs(inputs, ["purpose", "age_years"], key).to_pylist()
    assert got == expected * copies
    packed = decision_log.leaf_digests(big)
    assert decision_log.merkle_root(packed) == merkle.root(leaves)
    one = table.slice(0, 1)  # every column constant: the all-literal path
    assert decision_log.leaf_hashes(one) == [bundle_verifier.decision_leaf_hash(rows[0])]


def test_the_two_thread_prepare_gives_the_same_batch(
    logged: Logged, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parquet written beside the hashing: the same object bytes and root as one thread."""
    table = decision_log.read_batch(Ops(logged.root).ws, logged.batch)
    monkeypatch.setattr(decision_log, "_OVERLAP_ROWS", 10**9)
    alone = decision_log.prepare(table, env="production", source="batch")
    monkeypatch.setattr(decision_log, "_OVERLAP_ROWS", 1)
    beside = decision_log.prepare(table, env="production", source="batch")
    assert beside.root == alone.root == logged.batch.merkle_root
    assert beside.parquet == alone.parquet
    assert beside.payload.object_digest == hashlib.sha256(alone.parquet).hexdigest()
    with pytest.raises(ValueError, match="unknown decision source"):
        decision_log.prepare(table, env="production", source="elsewhere")


def deployments_seq(ws: Any, deployment_id: str) -> int:
    with ws.session() as s:
        return deployments.by_id(s, deployment_id).row.seq


def _arm_for(s: Any, deployment_id: str) -> Any:
    """An Arm with only what ``reads`` needs: the deployment's features and conditions."""
    dep = deployments.by_id(s, deployment_id)
    return scoring.Arm(dep, b"", FEATURES, set(), 0.5, None, [c for c in dep.conditions if c.where])


def test_requests_of_different_json_types_all_reach_the_log(ops: Ops) -> None:
    """The attack of review #2 below the server: one float among integers, a string, nulls.

    Each queued call keeps its own Arrow types; the flush types ``in.*`` as declared (a
    numeric feature double, every other input text) and commits all of them, in every batch
    the same way, so the whole log still reads as one table.
    """
    ws = ops.ws
    deployments.deploy(ws, "opal", V1, env="production", retention="rows", reason="go")
    scorer = scoring.Scorer.open(ws, "production", "scorer")
    rows = applicants(ws, 6).to_dict("records")
    odd = [dict(r) for r in rows[:4]]
    odd[1]["credit_amount"] = 1234.5  # a float where the others sent ints
    odd[2]["credit_amount"] = "lots"  # text where a number belongs: an error decision
    odd[3]["purpose"] = None  # a null: an error decision
    import pandas as pd

    for row in odd:
        scorer.score(pd.DataFrame.from_records([row]), caller="cal", flush=False)
    first = scorer.flush()
    assert first is not None and first.count == 4
    scorer.score(pd.DataFrame.from_records(rows[4:]), caller="cal", flush=False)
    assert scorer.flush() is not None
    table = decision_log.decisions(ws, env="production")  # both batches, one table
    assert table.num_rows == 6
    assert table.schema.field("in.credit_amount").type == pa.float64()
    assert table.schema.field("in.purpose").type == pa.string()
    amounts = table.column("in.credit_amount").to_pylist()
    assert (
        amounts[1] == 1234.5
        and amounts[2] is None
        and amounts[0] == float(rows[0]["credit_amount"])
    )
    assert table.column("status").to_pylist()[:4] == ["ok", "ok", "error", "error"]
