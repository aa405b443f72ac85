"""Standard exports (CycloneDX ML-BOM, SLSA provenance, Hugging Face card, OpenLineage), each
generated from a real workspace and checked by the validator its ecosystem uses; the CLI's
errors; and the exports inside a bundle that still verifies."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from app.cli import app
from core.audit import bundle, exports
from core.audit.exports import slsa
from core.documents import modelcard
from core.evidence import evaluation
from core.identity import keys
from core.kernel.errors import IntegrityError, NotFoundError, UsageError
from core.kernel.workspace import Workspace
from core.modelling import models
from storage.canonical import canonical_bytes
from tests.conftest import copy_workspace

SAMPLE = Path(__file__).parents[2] / "sample_data" / "german-credit"
OPENLINEAGE = Path(__file__).parents[1] / "data" / "openlineage"
REF = "credit-risk@1"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_trusted_keys(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tester's own trusted-keys file must not anchor the bundles under test."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))


@pytest.fixture(scope="module")
def template(credit_registered: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained on a SQL feature view, signed, evaluated and with a recorded card
    (a copy of the suite's ``credit_registered``, then val's key, signature and evidence)."""
    root = tmp_path_factory.mktemp("exports") / "ws"
    ws = copy_workspace(credit_registered, root)
    keys.create(ws, "val")
    models.sign(ws, "val", REF)
    evaluation.evaluate(ws, "val", REF, SAMPLE / "evaluation.toml")
    modelcard.write_card(
        ws, "val", REF, root.parent / "reports", answers_path=SAMPLE / "model_card.toml"
    )
    return root


@pytest.fixture(scope="module")
def ws(template: Path) -> Workspace:
    """The template itself, for tests that only read."""
    return Workspace.open(template)


@pytest.fixture(scope="module")
def facts(ws: Workspace) -> exports.ModelFacts:
    return exports.gather(ws, REF)


def invoke(ws_path: Path, *args: str, actor: str = "alice") -> Any:
    return runner.invoke(
        app, ["--workspace", str(ws_path), "--as", actor, *args], catch_exceptions=False
    )


# CycloneDX ---------------------------------------------------------------------------------


def cdx_errors(doc: dict[str, Any]) -> Any:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    return JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc))


def test_cyclonedx_ml_bom_is_valid_1_6_and_states_the_recorded_facts(
    ws: Workspace, facts: exports.ModelFacts
) -> None:
    done = exports.export(ws, REF, "cyclonedx")
    doc = json.loads(done.text)
    assert cdx_errors(doc) is None
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"
    subject = doc["metadata"]["component"]
    assert subject["type"] == "machine-learning-model"
    assert subject["hashes"] == [{"alg": "SHA-256", "content": facts.model.model_digest}]
    card = subject["modelCard"]
    assert card["modelParameters"]["datasets"] == [{"ref": "snapshot:german-credit-features@1"}]
    roc = next(
        m for m in card["quantitativeAnalysis"]["performanceMetrics"] if m["type"] == "roc_auc"
    )
    assert float(roc["value"]) == pytest.approx(facts.metrics["roc_auc"], abs=1e-5)
    # The verdicts are the evidence's, never kinder: every non-PASS check is a limitation.
    assert facts.evidence is not None
    props = {p["name"]: p["value"] for p in subject["properties"]}
    assert props["ledgerml:evidence-verdict"] == facts.evidence.verdict
    not_passed = [c for c in facts.evidence.checks if c.verdict != "PASS"]
    assert not_passed, "the sample evaluation warns on some checks"
    limits = card["considerations"]["technicalLimitations"]
    assert len(limits) == len(not_passed)
    assert all(lim.split(":")[0] in ("WARN", "FAIL", "INCONCLUSIVE") for lim in limits)
    data = {c["bom-ref"]: c for c in doc["components"] if c["type"] == "data"}
    assert set(data) == {"snapshot:german-credit@1", "snapshot:german-credit-features@1"}
    for snap in facts.snapshots:
        component = data[f"snapshot:{snap.ref}"]
        assert component["hashes"] == [{"alg": "SHA-256", "content": snap.parquet_digest}]
        columns = [p["name"] for p in component["data"][0]["contents"]["properties"]]
        assert columns == [f"column:{c['name']}" for c in facts.columns(snap)]
    assert (
        "sex (sensitive attribute)"
        in data["snapshot:german-credit-features@1"]["data"][0]["sensitiveData"]
    )
    purls = {c.get("purl") for c in doc["components"] if c["type"] == "library"}
    version = facts.environment["packages"]["scikit-learn"]
    assert f"pkg:pypi/scikit-learn@{version}" in purls
    assert len(purls) == len(facts.environment["packages"])
    assert exports.export(ws, REF, "cyclonedx").text == done.text  # deterministic


def test_a_broken_ml_bom_fails_the_strict_validator(ws: Workspace) -> None:
    doc = json.loads(exports.export(ws, REF, "cyclonedx").text)
    bad_card = copy.deepcopy(doc)
    bad_card["metadata"]["component"]["modelCard"]["modelParameters"]["approach"]["type"] = "vibes"
    assert cdx_errors(bad_card) is not None
    extra = copy.deepcopy(doc)
    extra["metadata"]["component"]["modelCard"]["accuracy"] = "0.9"  # not a modelCard member
    assert cdx_errors(extra) is not None


# SLSA --------------------------------------------------------------------------------------


def parse_provenance(doc: dict[str, Any]) -> Any:
    """The statement read strictly by the in-toto attestation protos (unknown fields fail)."""
    from google.protobuf import json_format
    from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
    from in_toto_attestation.v1 import statement_pb2
    from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
    from in_toto_attestation.v1.statement import Statement

    Statement.copy_from_pb(json_format.ParseDict(doc, statement_pb2.Statement())).validate()
    provenance = json_format.ParseDict(doc["predicate"], provenance_pb2.Provenance())
    for dep in provenance.build_definition.resolved_dependencies:
        ResourceDescriptor.copy_from_pb(dep).validate()
    return provenance


def test_slsa_provenance_names_the_real_inputs_and_claims_no_level(
    ws: Workspace, facts: exports.ModelFacts
) -> None:
    doc = json.loads(exports.export(ws, REF, "slsa").text)
    assert doc["_type"] == "https://in-toto.io/Statement/v1"
    assert doc["predicateType"] == "https://slsa.dev/provenance/v1"
    assert doc["subject"] == [
        {"name": "model.skops", "digest": {"sha256": facts.model.model_digest}}
    ]
    provenance = parse_provenance(doc)
    assert provenance.run_details.metadata.invocation_id == f"run:{facts.run.run_id}"
    deps = {d["name"]: d for d in doc["predicate"]["buildDefinition"]["resolvedDependencies"]}
    trained_on = facts.training_input
    assert deps[f"snapshot:{trained_on.ref}"]["digest"] == {"sha256": trained_on.parquet_digest}
    assert deps[f"snapshot:{trained_on.ref}"]["annotations"]["role"] == "training input"
    assert deps["environment.json"]["digest"] == {"sha256": facts.run.environment_digest}
    assert deps["spec.toml"]["digest"] == {"sha256": facts.run.spec_digest}
    assert (
        deps[f"feature-view-sql:{trained_on.ref}"]["digest"]["sha256"]
        == hashlib.sha256(facts.sql[trained_on.ref].encode()).hexdigest()
    )
    git = facts.record.code.get("git")
    if git:  # the tests run in a git checkout; an sdist test run has none
        assert deps["code"]["digest"] == {"gitCommit": git["commit"]}
    internal = doc["predicate"]["buildDefinition"]["internalParameters"]
    assert internal["slsaBuildLevel"].startswith("none claimed")
    assert internal["environment"]["freezeDigest"] == f"sha256:{facts.record.freeze_digest}"


def test_a_statement_outside_the_provenance_schema_is_refused(ws: Workspace) -> None:
    from google.protobuf.json_format import ParseError

    doc = json.loads(exports.export(ws, REF, "slsa").text)
    doc["predicate"]["buildDefinition"]["slsaLevel"] = 3  # no such field in Provenance v1
    with pytest.raises(ParseError):
        parse_provenance(doc)
    no_digest = json.loads(exports.export(ws, REF, "slsa").text)
    no_digest["subject"][0]["digest"] = {}
    with pytest.raises(ValueError, match="digest"):
        parse_provenance(no_digest)


def test_signed_provenance_is_a_recorded_dsse_envelope(template: Path, tmp_path: Path) -> None:
    copy = copy_workspace(template, tmp_path / "ws")
    out = tmp_path / "prov.dsse.json"
    result = invoke(
        copy.root, "export", REF, "--format", "slsa", "--sign", "--out", str(out), actor="val"
    )
    assert result.exit_code == 0, result.output
    envelope = json.loads(out.read_text())
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    payload = base64.b64decode(envelope["payload"])
    assert payload == canonical_bytes(json.loads(exports.export(copy, REF, "slsa").text))
    digest = hashlib.sha256(canonical_bytes(envelope)).hexdigest()
    checked = invoke(copy.root, "--json", "attest", "verify", digest)
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["ok"] is True
    assert "attest verify" in result.stderr
    # Signing with another actor's key is refused, and nothing is recorded.
    head = copy.ledger.head()
    theirs = envelope["signatures"][0]["keyid"]
    refused = invoke(
        copy.root, "export", REF, "--format", "slsa", "--sign", "--key", theirs, actor="audrey"
    )
    assert refused.exit_code == 2 and "belongs to 'val'" in refused.stderr
    assert copy.ledger.head() == head


# Hugging Face ------------------------------------------------------------------------------


def split_card(text: str) -> tuple[dict[str, Any], str]:
    assert text.startswith("---\n")
    head, _, body = text[4:].partition("\n---\n")
    meta = yaml.safe_load(head)
    assert isinstance(meta, dict)
    return meta, body


def test_hf_card_metadata_is_what_the_hub_reads(ws: Workspace, facts: exports.ModelFacts) -> None:
    from huggingface_hub import ModelCard, ModelCardData

    text = exports.export(ws, REF, "hf-card").text
    meta, body = split_card(text)
    known = set(ModelCardData().to_dict()) | {
        "license",
        "license_name",
        "library_name",
        "pipeline_tag",
        "tags",
        "datasets",
        "metrics",
        "model-index",
    }
    assert set(meta) <= known
    assert meta["license"] == "other" and meta["license_name"] == "not-recorded"
    assert meta["datasets"] == ["german-credit@1", "german-credit-features@1"]
    assert facts.evidence is not None
    assert f"evidence-verdict-{facts.evidence.verdict.lower()}" in meta["tags"]
    card = ModelCard(text)
    results = {r.metric_type: r for r in card.data.eval_results or []}
    assert set(results) == set(meta["metrics"])
    assert results["roc_auc"].metric_value == pytest.approx(facts.metrics["roc_auc"], abs=1e-6)
    assert results["roc_auc"].verified is False
    assert results["roc_auc"].dataset_name == "german-credit-features@1"
    # The body is the recorded model card, byte for byte.
    with ws.session() as s:
        (event,) = s.catalog.events(action="report.model_card")
    recorded = ws.ledger.entry(event.seq).decode()["data"]
    assert isinstance(recorded, dict)
    assert body.lstrip("\n") == ws.objects.read_verified(recorded["markdown"]).decode()
    licensed = split_card(exports.export(ws, REF, "hf-card", license_id="Apache-2.0").text)[0]
    assert licensed["license"] == "apache-2.0" and "license_name" not in licensed


# OpenLineage -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ol_validator() -> Any:
    """Validates against the vendored official schemas, resolving every $ref offline."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    schemas = [json.loads(p.read_text()) for p in sorted(OPENLINEAGE.rglob("*.json"))]
    registry: Registry[Any] = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas
    )

    def errors(doc: Any, url: str) -> list[str]:
        validator = Draft202012Validator({"$ref": url}, registry=registry)
        return [e.message for e in validator.iter_errors(doc)]

    return errors


def facets_of(event: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(event["job"].get("facets", {}).values())
    for ds in [*event["inputs"], *event["outputs"]]:
        found += list(ds.get("facets", {}).values())
    return found


def test_openlineage_events_validate_against_the_official_schemas(
    ws: Workspace, facts: exports.ModelFacts, ol_validator: Any
) -> None:
    lines = exports.export(ws, REF, "openlineage").text.splitlines()
    events = [json.loads(line) for line in lines]
    for event in events:
        assert ol_validator(event, event["schemaURL"]) == [], event["job"]["name"]
        for facet in facets_of(event):
            assert ol_validator(facet, facet["_schemaURL"]) == [], facet["_schemaURL"]
    runs: dict[str, list[str]] = {}
    for event in events:
        runs.setdefault(event["run"]["runId"], []).append(event["eventType"])
    assert all(states == ["START", "COMPLETE"] for states in runs.values())
    jobs = {e["job"]["name"]: e for e in events if e["eventType"] == "COMPLETE"}
    assert set(jobs) == {
        "intake.german-credit",
        "feature.german-credit-features",
        "train.credit-risk",
        "evaluate.credit-risk",
    }
    kinds = {name: e["job"]["facets"]["jobType"]["jobType"] for name, e in jobs.items()}
    assert kinds["intake.german-credit"] == "INTAKE"
    assert kinds["evaluate.credit-risk"] == "EVALUATION"
    feature = jobs["feature.german-credit-features"]
    assert feature["job"]["facets"]["sql"]["query"] == facts.sql["german-credit-features@1"]
    schema = feature["outputs"][0]["facets"]["schema"]["fields"]
    view = next(s for s in facts.snapshots if s.ref == "german-credit-features@1")
    assert [(f["name"], f["type"]) for f in schema] == [
        (c["name"], c["type"]) for c in facts.columns(view)
    ]
    assert "sql" not in jobs["train.credit-risk"]["job"]["facets"]
    evaluated = jobs["evaluate.credit-risk"]
    assert evaluated["outputs"][0]["facets"]["version"]["datasetVersion"] == (
        f"sha256:{facts.evaluations[-1].row.evidence_digest}"
    )


def test_a_broken_openlineage_event_fails_the_schema(ws: Workspace, ol_validator: Any) -> None:
    event = json.loads(exports.export(ws, REF, "openlineage").text.splitlines()[0])
    bad = {**event, "eventType": "BEGIN"}
    assert ol_validator(bad, event["schemaURL"])
    facet = next(f for f in facets_of(event) if "SchemaDatasetFacet" in f["_schemaURL"])
    assert ol_validator({**facet, "fields": [{"type": "VARCHAR"}]}, facet["_schemaURL"])


# Errors ------------------------------------------------------------------------------------


def test_spdx_and_unknown_formats_are_refused_before_anything_is_read(ws: Workspace) -> None:
    with pytest.raises(UsageError, match="spdx-tools"):
        exports.export(ws, "no-such-model@1", "spdx")
    with pytest.raises(UsageError, match="unknown export format"):
        exports.export(ws, "no-such-model@1", "pdf")
    with pytest.raises(UsageError, match="version number"):
        exports.export(ws, "credit-risk@zero", "slsa")
    with pytest.raises(NotFoundError, match="no model credit-risk@7"):
        exports.export(ws, "credit-risk@7", "slsa")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nothing@1", "--format", "cyclonedx"], "no model nothing@1"),
        ([REF, "--format", "docx"], "unknown export format 'docx'"),
        (["credit-risk@1.5", "--format", "slsa"], "not NAME@N"),
        ([REF, "--format", "spdx"], "SPDX 3 AI/dataset profiles are not exported"),
        ([REF, "--format", "cyclonedx", "--sign"], "--sign applies to --format slsa only"),
    ],
    ids=["unknown-model", "unknown-format", "bad-version", "spdx", "sign-not-slsa"],
)
def test_cli_errors_are_clear_and_exit_2(template: Path, args: list[str], message: str) -> None:
    result = invoke(template, "export", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stdout == ""


def test_cli_writes_the_file_and_refuses_to_overwrite(template: Path, tmp_path: Path) -> None:
    out = tmp_path / "bom.json"
    done = invoke(template, "--json", "export", REF, "--format", "cyclonedx", "--out", str(out))
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert json.loads(out.read_text())["specVersion"] == "1.6"
    again = invoke(template, "export", REF, "--format", "cyclonedx", "--out", str(out))
    assert again.exit_code == 2 and "--overwrite" in again.stderr
    printed = invoke(template, "export", REF, "--format", "openlineage")
    assert printed.exit_code == 0
    assert all(json.loads(line)["eventType"] for line in printed.stdout.splitlines())


# Bundles -----------------------------------------------------------------------------------


def test_bundles_carry_the_exports_and_still_verify(
    template: Path, tmp_path: Path, ol_validator: Any
) -> None:
    copy = copy_workspace(template, tmp_path / "ws")
    out = tmp_path / "bundle.zip"
    bundle.export(copy, "audrey", REF, out, reason="audit")
    report = bundle.verify(out)
    assert report["exit_code"] == 1  # self-consistent; unanchored without a pinned key
    with zipfile.ZipFile(out) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    manifest = json.loads(members["manifest.json"])
    listed = {m["path"]: m for m in manifest["members"]}
    expected = dict(exports.bundle_members(copy, REF, as_of=manifest["exported_at"]))
    assert set(expected) == {p for p in members if p.startswith("exports/")}
    for path, done in expected.items():
        assert members[path].decode() == done.text
        assert listed[path]["ledger_object"] is False
    # The lineage walk's OpenLineage file is the same implementation, valid by the schemas.
    walked = [json.loads(line) for line in members["lineage/openlineage.jsonl"].splitlines()]
    assert {e["job"]["name"] for e in walked} == {
        "intake.german-credit",
        "feature.german-credit-features",
        "train.credit-risk",
        "evaluate.credit-risk",
    }
    for event in walked:
        assert ol_validator(event, event["schemaURL"]) == [], event["job"]["name"]
        for facet in facets_of(event):
            assert ol_validator(facet, facet["_schemaURL"]) == [], facet["_schemaURL"]
    assert (
        members["lineage/openlineage.jsonl"] == members["exports/credit-risk-1.openlineage.jsonl"]
    )
    # An edited export no longer matches the signed manifest.
    members["exports/credit-risk-1.cdx.json"] = members["exports/credit-risk-1.cdx.json"].replace(
        b'"machine-learning-model"', b'"application"', 1
    )
    tampered = tmp_path / "tampered.zip"
    from tests.core.test_bundle import write_canonical

    write_canonical(tampered, members)
    with pytest.raises(IntegrityError, match=r"credit-risk-1\.cdx\.json"):
        bundle.verify(tampered)


def test_export_reads_only(template: Path) -> None:
    ws = Workspace.open(template)
    head = ws.ledger.head()
    for fmt in exports.BUNDLED:
        exports.export(ws, REF, fmt)
    assert ws.ledger.head() == head
    assert slsa.NO_LEVEL.startswith("none claimed")
