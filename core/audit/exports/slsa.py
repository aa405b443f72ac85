"""SLSA Provenance v1 for a model's training run: an in-toto Statement v1, unsigned or signed.

The statement's subject is the model artefact (``model.skops``) by its SHA-256. Its
predicate (https://slsa.dev/provenance/v1) records the real inputs of the run as the ledger
holds them: the training snapshot (its stored Parquet copy by digest, the table digest
beside it), every snapshot upstream of it, the feature views' SQL, the code commit the spec
was in, the spec itself and the recorded environment (interpreter, platform, package freeze).

No SLSA build level is claimed: the run happened on a workstation whose operator controls
the build (SLSA Build L1 needs provenance from the build platform itself, L2 a hosted,
signing build platform). ``internalParameters.slsaBuildLevel`` says so in the document, so a
reader does not mistake a complete record for a hardened build.

By default the statement is unsigned (the bundle's manifest signature covers it there).
:func:`sign` signs it as a DSSE envelope with the acting actor's key and records that
signature as an ``attestation.create`` event, so ``ledgerml attest verify`` checks it.
"""

from __future__ import annotations

import json
from typing import Any

from core.audit.exports.facts import ModelFacts
from core.identity import attest
from core.identity.events import AttestationCreated
from core.identity.signing import STATEMENT_TYPE, statement
from core.kernel import command
from core.kernel.workspace import Session, Workspace
from core.modelling.models import ARTIFACT_NAME

PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://ledgerml.dev/slsa/training-run/v1"
BUILDER_ID = "https://ledgerml.dev/builder/workstation/v1"
MEDIA_TYPE = "application/vnd.in-toto+json"
NO_LEVEL = (
    "none claimed: the run was made on a workstation its operator controls; this provenance "
    "is a complete record of the run's inputs, not evidence of a hardened build platform"
)

__all__ = ["BUILD_TYPE", "MEDIA_TYPE", "NO_LEVEL", "PREDICATE_TYPE", "STATEMENT_TYPE", "build"]


def _dependencies(facts: ModelFacts) -> list[dict[str, Any]]:
    """The run's resolved dependencies: data, code, spec and environment, by digest."""
    record, run = facts.record, facts.run
    deps: list[dict[str, Any]] = []
    for snap in facts.snapshots:
        deps.append(
            {
                "name": f"snapshot:{snap.ref}",
                "digest": {"sha256": snap.parquet_digest},
                "mediaType": "application/vnd.apache.parquet",
                "annotations": {
                    "table_digest": f"sha256:{snap.table_digest}",
                    "rows": snap.rows,
                    "role": "training input" if snap.ref == record.input.ref else "upstream",
                },
            }
        )
        if snap.ref in facts.sql:
            deps.append(
                {
                    "name": f"feature-view-sql:{snap.ref}",
                    "digest": {"sha256": str(snap.transform_digest)},
                    "mediaType": "application/sql",
                }
            )
    git = record.code.get("git")
    if git:
        deps.append(
            {
                "name": "code",
                "digest": {"gitCommit": str(git["commit"])},
                "annotations": {"dirty": bool(git["dirty"])},
            }
        )
    deps += [
        {
            "name": "spec.toml",
            "digest": {"sha256": run.spec_digest},
            "mediaType": "application/toml",
        },
        {
            "name": "environment.json",
            "digest": {"sha256": run.environment_digest},
            "mediaType": "application/vnd.ledgerml.environment+json",
        },
    ]
    return deps


def build(facts: ModelFacts) -> dict[str, Any]:
    """The in-toto statement (SLSA Provenance v1) for the run that made the model.

    Args:
        facts: the model version's recorded facts.

    Returns:
        The statement as plain JSON data.
    """
    record, run, env = facts.record, facts.run, facts.environment
    predicate = {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "run": record.name,
                "spec": {"name": "spec.toml", "digest": {"sha256": run.spec_digest}},
                "input": record.input.ref,
                "seed": record.seed,
                "validationGate": {
                    "suite": record.gate.suite,
                    "event": record.gate.validation_seq,
                },
            },
            "internalParameters": {
                "slsaBuildLevel": NO_LEVEL,
                "estimator": run.estimator,
                "environment": {
                    "python": env.get("python"),
                    "implementation": env.get("implementation"),
                    "os": env.get("os"),
                    "machine": env.get("machine"),
                    "freezeDigest": f"sha256:{record.freeze_digest}",
                    "packages": len(env.get("packages", {})),
                    "threads": env.get("threads"),
                },
            },
            "resolvedDependencies": _dependencies(facts),
        },
        "runDetails": {
            "builder": {
                "id": BUILDER_ID,
                "version": {"ledgerml": str(env.get("packages", {}).get("ledgerml", "unknown"))},
            },
            "metadata": {
                "invocationId": f"run:{run.run_id}",
                "finishedOn": run.created_at,
            },
            "byproducts": [
                {
                    "name": "metrics.json",
                    "digest": {"sha256": record.metrics_digest},
                    "mediaType": "application/vnd.ledgerml.metrics+json",
                },
                {
                    "name": "predictions.json",
                    "digest": {"sha256": record.predictions_object},
                    "mediaType": "application/vnd.ledgerml.predictions+json",
                },
            ],
        },
    }
    return statement([(ARTIFACT_NAME, facts.model.model_digest)], PREDICATE_TYPE, predicate)


def sign(
    ws: Workspace, actor: str, doc: dict[str, Any], *, key_ref: str | None = None, reason: str = ""
) -> attest.Attestation:
    """Sign a provenance statement with the actor's key (DSSE) and record it (one event).

    Args:
        ws: the workspace.
        actor: who signs (their own active key).
        doc: a statement from :func:`build`.
        key_ref: which of their keys; default their newest active key.
        reason: why, for the ledger.

    Returns:
        The recorded attestation (its envelope is stored under ``envelope_digest``).

    Raises:
        NotFoundError: if the actor has no usable key.
    """
    from core.identity.actors import needs

    subjects = [(str(s["name"]), str(s["digest"]["sha256"])) for s in doc["subject"]]

    def commit(s: Session, _: None) -> attest.Attestation:
        return attest.sign_statement(
            s,
            key_ref=key_ref,
            subjects=subjects,
            predicate_type=PREDICATE_TYPE,
            predicate=doc["predicate"],
            reason=reason,
            as_payload=AttestationCreated,
        )

    return command.run(ws, actor, guards=[needs(action="sign provenance")], commit=commit)


def dumps(doc: dict[str, Any]) -> str:
    """The statement as indented JSON text."""
    return json.dumps(doc, indent=2) + "\n"
