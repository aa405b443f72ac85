"""What ``model show`` presents: a model version with its run record, checks and history.

A typed view, so the front doors read fields (``view.record.gate.suite``) instead of key
paths; :meth:`ModelView.to_json` is the ``--json`` form, whose keys keep their earlier
meanings (``status`` is the signature and provenance status, never the evidence verdict).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.kernel.rows import ModelRow, ReproductionRow, RunRow
from core.kernel.workspace import Workspace
from core.modelling.events import TrainRun
from core.modelling.models import ModelVerification, resolve, resolve_run, verify


@dataclass(frozen=True)
class ModelView:
    """A model version, the run that produced it and what its checks found."""

    model: ModelRow
    run: RunRow
    record: TrainRun
    check: ModelVerification
    reproductions: list[ReproductionRow]

    @property
    def metrics(self) -> dict[str, Any]:
        """The run's metrics (as the catalog holds them)."""
        metrics: dict[str, Any] = json.loads(self.run.metrics)
        return metrics

    @property
    def status(self) -> str:
        """``trusted``, ``signed, but not trusted`` or ``unsigned``: signature and provenance only.

        ``trusted`` means the bytes match and a signature from an unrevoked key verifies; it
        says nothing of the evidence (kept under this key for scripts: ``model show --json``
        carries ``evidence_verdict`` and a ``summary`` that says both).
        """
        if self.check.trusted:
            return "trusted"
        return "signed, but not trusted" if self.check.signatures else "unsigned"

    @property
    def signature_status(self) -> str:
        """The signature status in words for people: ``valid``, ``not valid`` or ``unsigned``.

        A valid signature says who vouches for these bytes, not that the model's evidence
        passed; front doors show it beside the evidence verdict, never as "trusted".
        """
        if self.check.trusted:
            return "valid"
        return f"not valid ({self.check.why_untrusted})" if self.check.signatures else "unsigned"

    def to_json(self) -> dict[str, Any]:
        """The ``model show --json`` document (``status`` as :attr:`status` defines it)."""
        run = self.run
        return {
            "model": self.model.as_dict(),
            "run": {
                "run_id": run.run_id,
                "estimator": run.estimator,
                "seq": run.seq,
                "created_at": run.created_at,
                "created_by": run.created_by,
            },
            "inputs": self.record.input.to_data(),
            "gate": self.record.gate.to_data(),
            "metrics": self.metrics,
            "environment": {
                "digest": run.environment_digest,
                "freeze": self.record.freeze_digest,
                "code": self.record.code,
            },
            "artifact": {"ok": self.check.artifact_ok, "detail": self.check.artifact_detail},
            "signatures": [v.__dict__ for v in self.check.signatures],
            "status": self.status,
            "reproductions": [
                {"seq": r.seq, "passed": r.passed, "differences": json.loads(r.differences)}
                for r in self.reproductions
            ],
        }


def view(ws: Workspace, ref: str, actor: str = "") -> ModelView:
    """A model version with its run's record, its checks and its reproductions."""
    from core.modelling import training

    with ws.session(actor) as s:
        model = resolve(s.catalog, ref)
        run = resolve_run(s.catalog, model.run_id)
        repro = s.catalog.reproductions(run.run_id)
    record = training.run_record(ws, run)
    return ModelView(model, run, record, verify(ws, ref, actor), repro)
