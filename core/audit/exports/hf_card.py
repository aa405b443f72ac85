"""A Hugging Face model card: YAML metadata at the top of the Markdown model card.

The front matter uses the Hub's model-card metadata keys (``license``, ``library_name``,
``pipeline_tag``, ``tags``, ``datasets``, ``metrics``, ``model-index``); ``model-index``
holds the run's held-out metrics, each marked ``verified: false`` (the Hub's word for
results it computed itself). The evidence's overall verdict is a tag, so a model whose
checks failed or warned never looks clean in a listing.

The body is the newest model card the ledger records for the version (its stored Markdown,
byte for byte); without one, the card is rendered from the records as
``ledgerml report card`` would, with every unanswered question listed as a gap.

The ledger records no licence for a model: unless one is given, ``license: other`` with
``license_name: not-recorded`` says so instead of guessing.
"""

from __future__ import annotations

from typing import Any

from core.audit.exports.facts import ModelFacts
from core.kernel.workspace import Workspace

MEDIA_TYPE = "text/markdown"
METRIC_NAMES = {
    "roc_auc": "ROC AUC",
    "accuracy": "Accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1 score",
    "brier": "Brier score",
    "log_loss": "Log loss",
}
HF_KEYS = (
    "license",
    "license_name",
    "library_name",
    "pipeline_tag",
    "tags",
    "datasets",
    "metrics",
    "model-index",
)
"""The Hub's metadata keys this card writes, in the order it writes them."""


def metadata(facts: ModelFacts, *, license_id: str | None = None) -> dict[str, Any]:
    """The card's YAML metadata as plain data.

    Args:
        facts: the model version's recorded facts.
        license_id: an SPDX licence id (or a Hub licence id) for the model, if known.

    Returns:
        The metadata, keys in :data:`HF_KEYS` order.
    """
    metrics = facts.metrics
    present = [m for m in METRIC_NAMES if isinstance(metrics.get(m), int | float)]
    verdict = facts.evidence.verdict if facts.evidence else "none-recorded"
    data_in = facts.training_input
    meta: dict[str, Any] = {"license": license_id.lower() if license_id else "other"}
    if not license_id:
        meta["license_name"] = "not-recorded"
    meta |= {
        "library_name": "sklearn",
        "pipeline_tag": "tabular-classification",
        "tags": [
            "tabular-classification",
            "sklearn",
            "ledgerml",
            facts.run.estimator.replace("_", "-"),
            f"evidence-verdict-{verdict.lower()}",
        ],
        "datasets": [s.ref for s in facts.snapshots],
        "metrics": present,
        "model-index": [
            {
                "name": facts.model.ref,
                "results": [
                    {
                        "task": {
                            "type": "tabular-classification",
                            "name": "Tabular classification",
                        },
                        "dataset": {
                            "type": data_in.dataset,
                            "name": data_in.ref,
                            "split": "test",
                            "revision": f"sha256:{data_in.table_digest}",
                        },
                        "metrics": [
                            {
                                "type": m,
                                "value": round(float(metrics[m]), 6),
                                "name": METRIC_NAMES[m],
                                "verified": False,
                            }
                            for m in present
                        ],
                    }
                ],
            }
        ],
    }
    return meta


def front_matter(meta: dict[str, Any]) -> str:
    """The metadata as a YAML block between ``---`` lines."""
    import yaml

    text = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100)
    return f"---\n{text}---\n"


def _recorded_card(ws: Workspace, facts: ModelFacts, actor: str) -> str | None:
    """The newest model card the ledger records for the version, as stored."""
    with ws.session(actor) as s:
        found = s.catalog.events(
            action="report.model_card", subject=f"model:{facts.model.ref}", newest_first=True
        )
    found = [e for e in found if facts.as_of is None or e.seq <= facts.as_of]
    if not found:
        return None
    data = ws.ledger.entry(found[0].seq).decode()["data"]
    digest = data.get("markdown") if isinstance(data, dict) else None
    return ws.objects.read_verified(str(digest)).decode("utf-8") if digest else None


def build(
    ws: Workspace, facts: ModelFacts, *, actor: str = "", license_id: str | None = None
) -> str:
    """The Markdown card with its metadata on top.

    Args:
        ws: the workspace (the card body is read or rendered from it).
        facts: the model version's recorded facts.
        actor: who reads.
        license_id: the model's licence, if known.

    Returns:
        The card's text.
    """
    body = _recorded_card(ws, facts, actor)
    if body is None:
        from core.documents.modelcard import card_context
        from reports.render import render_model_card

        body, _ = render_model_card(card_context(ws, facts.model.ref, {}, actor))
    return front_matter(metadata(facts, license_id=license_id)) + "\n" + body.lstrip("\n")
