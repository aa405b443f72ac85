"""The ``pipeline.run`` event: one CI/CD pipeline run, with every step and its result.

Auditors ask for "CI/CD history showing tests, approvals and deployment timestamps": each
step of a run is already its own signed event (snapshot, validation, training, evaluation,
deployment, or the ``policy.deny`` that stopped it); this event ties them together, names
the pipeline file and the JUnit report (both stored as blobs) and says how the run ended.

The run is a *claim* about other events, so who may make it is narrowed and what it says is
checked: only the roles that run governed steps (:data:`PIPELINE_ROLES`: the CI runner's
identity holds one) record it, never a consumer or an auditor (whose word on CI history
would be evidence they cannot produce); and ``audit verify`` and the bundle verifier replay
every step against the events it lists (``storage.bundle_verifier.pipeline_problems``), so
a run naming events that never happened, or a failed gate as "passed", is rejected.

Light on purpose: the projector imports it on every command.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.kernel.catalog import Catalog
from core.kernel.kinds import Body, Payload, event_kind
from core.kernel.rows import PipelineRunRow

PIPELINE_ROLES = ("admin", "data-steward", "data-scientist", "validator", "approver", "operator")
"""Who may record a pipeline run: the roles whose holders run a pipeline's steps."""
PIPELINE_STATUSES = ("passed", "failed")
STEP_STATUSES = ("passed", "failed", "skipped")
PIPELINE_MEDIA_TYPE = "application/toml"
JUNIT_MEDIA_TYPE = "application/xml"


@dataclass(frozen=True)
class PipelineRan(Payload):
    """A pipeline run's outcome.

    ``steps``: one entry per step, in order: ``name``, ``do`` (the step kind), ``as`` (the
    actor it ran as), ``status`` (passed / failed / skipped), ``events`` (the sequence
    numbers it recorded, a refusal's ``policy.deny`` included), ``detail`` (what it produced,
    or why it failed) and ``exit_code`` (0, or what the CLI would have exited with).
    """

    name: str
    spec_digest: str
    status: str
    steps: list[dict[str, Any]]
    report_digest: str
    failed_step: str | None = None


@event_kind(
    "pipeline.run",
    PipelineRan,
    tables=("pipeline_runs",),
    roles=PIPELINE_ROLES,
    evidence_for=("history",),
)
def _pipeline_run(cat: Catalog, seq: int, body: Body, d: PipelineRan) -> None:
    cat.put(
        PipelineRunRow(
            seq=seq,
            name=d.name,
            spec_digest=d.spec_digest,
            status=d.status,
            steps=json.dumps(d.steps, sort_keys=True),
            failed_step=d.failed_step,
            report_digest=d.report_digest,
            created_at=body["ts"],
            created_by=body["actor"],
        )
    )
