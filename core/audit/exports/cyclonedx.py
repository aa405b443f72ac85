"""A CycloneDX 1.6 ML-BOM of a model version, from its recorded facts.

The model is the BOM's subject (``metadata.component``, type ``machine-learning-model``) with
a ``modelCard``; every upstream snapshot is a ``data`` component with its digests and its
columns, PII and sensitive tags; every package of the run's recorded environment is a
``library`` component (a PyPI package URL). The document is built with cyclonedx-python-lib,
which has no model for a model card or a component's ``data`` yet: those two members are
written into its JSON here, following the 1.6 schema (the tests validate the whole document
against it with the library's strict validator).

The output is deterministic: the serial number is derived from the model's digest and the
timestamp is the model's registration time.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from core.audit.exports.facts import ModelFacts
from core.kernel.rows import SnapshotRow

MEDIA_TYPE = "application/vnd.cyclonedx+json"
_SERIAL = uuid.UUID("1d0e7b8c-6c65-4d4c-9a6d-6c6564676572")
PERFORMANCE = ("roc_auc", "accuracy", "precision", "recall", "f1", "brier", "log_loss")


def _ref(snap: SnapshotRow) -> str:
    return f"snapshot:{snap.ref}"


def build(facts: ModelFacts) -> dict[str, Any]:
    """The BOM as plain JSON data.

    Args:
        facts: the model version's recorded facts.

    Returns:
        A CycloneDX 1.6 JSON document.
    """
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    model, run = facts.model, facts.run
    subject = Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=model.name,
        version=str(model.version),
        bom_ref=f"model:{model.ref}",
        description=f"{run.estimator} trained by run:{run.run_id} on {facts.record.input.ref}",
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=model.model_digest)],
        properties=[
            Property(name="ledgerml:run", value=f"run:{run.run_id}"),
            Property(name="ledgerml:format", value="skops"),
            Property(name="ledgerml:registered-at-event", value=str(model.seq)),
            *_verdicts(facts),
        ],
    )
    datasets = {
        snap.ref: Component(
            type=ComponentType.DATA,
            name=snap.dataset,
            version=str(snap.version),
            bom_ref=_ref(snap),
            description=f"{snap.kind} snapshot, {snap.rows} rows",
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=snap.parquet_digest)],
            properties=[
                Property(name="ledgerml:table-digest", value=f"sha256:{snap.table_digest}"),
                *(
                    [Property(name="ledgerml:raw-digest", value=f"sha256:{snap.raw_digest}")]
                    if snap.raw_digest
                    else []
                ),
                Property(name="ledgerml:rows", value=str(snap.rows)),
            ],
        )
        for snap in facts.snapshots
    }
    packages = {
        name: Component(
            type=ComponentType.LIBRARY,
            name=name,
            version=version,
            bom_ref=f"pkg:pypi/{name}@{version}",
            purl=PackageURL(type="pypi", name=name, version=version),
        )
        for name, version in sorted(facts.environment.get("packages", {}).items())
    }
    bom = Bom(serial_number=uuid.uuid5(_SERIAL, f"{model.ref}:{model.model_digest}"))
    bom.metadata.timestamp = datetime.fromisoformat(model.created_at.replace("Z", "+00:00"))
    bom.metadata.component = subject
    bom.metadata.properties.add(
        Property(name="ledgerml:source", value="generated from the ledger; nothing recomputed")
    )
    for component in [*datasets.values(), *packages.values()]:
        bom.components.add(component)
    bom.register_dependency(subject, [*datasets.values(), *packages.values()])
    for ref, sources in facts.sources.items():
        bom.register_dependency(datasets[ref], [datasets[s] for s in sources if s in datasets])
    doc: dict[str, Any] = json.loads(JsonV1Dot6(bom).output_as_string())
    doc["metadata"]["component"]["modelCard"] = model_card(facts)
    by_ref = {s.ref: s for s in facts.snapshots}
    for component in doc.get("components", []):
        ref = str(component.get("bom-ref", ""))
        if ref.startswith("snapshot:"):
            component["data"] = [_data(facts, by_ref[ref.removeprefix("snapshot:")])]
    return doc


def _verdicts(facts: ModelFacts) -> list[Any]:
    """The evidence's overall and per-check verdicts as properties (never kinder than they are)."""
    from cyclonedx.model import Property

    evidence = facts.evidence
    if evidence is None:
        return [Property(name="ledgerml:evidence-verdict", value="none recorded")]
    return [
        Property(name="ledgerml:evidence-verdict", value=evidence.verdict),
        *(Property(name=f"ledgerml:check:{c.name}", value=c.verdict) for c in evidence.checks),
    ]


def _data(facts: ModelFacts, snap: SnapshotRow) -> dict[str, Any]:
    """A snapshot's ``componentData``: its columns, and which are PII or sensitive."""
    tags = sorted(set(snap.pii) | set(snap.sensitive))
    data: dict[str, Any] = {
        "type": "dataset",
        "name": snap.ref,
        "contents": {
            "properties": [
                {"name": f"column:{c['name']}", "value": str(c.get("type", ""))}
                for c in facts.columns(snap)
            ]
        },
        "classification": (
            "personal data" if snap.pii else "sensitive attributes" if snap.sensitive else "none"
        ),
    }
    if tags:
        data["sensitiveData"] = [
            f"{c} ({'PII' if c in snap.pii else 'sensitive attribute'})" for c in tags
        ]
    return data


def model_card(facts: ModelFacts) -> dict[str, Any]:
    """The ``modelCard`` member (CycloneDX 1.6), from the run's metrics and the evidence."""
    run_spec = facts.spec.get("run", {})
    metrics = facts.metrics
    performance = [
        {"type": name, "value": f"{metrics[name]:.6g}", "slice": "held-out test rows"}
        for name in PERFORMANCE
        if isinstance(metrics.get(name), int | float)
    ]
    card: dict[str, Any] = {
        "bom-ref": f"model-card:{facts.model.ref}",
        "modelParameters": {
            "approach": {"type": "supervised"},
            "task": "binary classification",
            "architectureFamily": facts.run.estimator.replace("_", " "),
            "modelArchitecture": f"scikit-learn pipeline ({facts.run.estimator})",
            "datasets": [{"ref": _ref(facts.training_input)}],
            "inputs": [{"format": f"table: {', '.join(run_spec.get('features', []))}"}],
            "outputs": [{"format": f"probability of {run_spec.get('target', 'the target')}"}],
        },
        "quantitativeAnalysis": {"performanceMetrics": performance},
    }
    evidence = facts.evidence
    if evidence is not None:
        fairness = [
            {
                "groupAtRisk": c.name,
                "harms": f"{c.verdict}: observed {_num(c.observed)}, {_bounds(c.threshold)}",
            }
            for c in evidence.checks
            if c.section == "fairness"
        ]
        limitations = [
            f"{c.verdict}: {c.name} (observed {_num(c.observed)}, {_bounds(c.threshold)})"
            for c in evidence.checks
            if c.verdict != "PASS"
        ]
        considerations: dict[str, Any] = {}
        if fairness:
            considerations["fairnessAssessments"] = fairness
        if limitations:
            considerations["technicalLimitations"] = limitations
        if considerations:
            card["considerations"] = considerations
    return card


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _bounds(threshold: dict[str, Any]) -> str:
    """A check's threshold in words (``{'min': 0.8}`` is "required at least 0.8")."""
    words = {"min": "at least", "max": "at most"}
    parts = [f"{words.get(k, k)} {_num(v)}" for k, v in sorted(threshold.items())]
    return "required " + " and ".join(parts) if parts else "no threshold"


def dumps(doc: dict[str, Any]) -> str:
    """The document as indented JSON text."""
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"
