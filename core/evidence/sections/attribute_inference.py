"""Attribute inference: does the model's score give away a sensitive attribute?

A model-inversion probe for every sensitive or PII attribute the training input declares
(and the spec's ``sensitive`` list), or those the suite names. The adversary knows the
model's non-sensitive inputs for the people in the training set (the members a model
inversion targets) and can query the model for their scores; :mod:`core.evidence.
attribute_inference` trains an attacker with the score and one without it, and the
*advantage* is the ROC AUC the score adds. Above ``max_advantage`` the check fails at the
section's severity; above ``warn_advantage`` it warns; an attribute that cannot be probed
(one class, classes too small, an identifier-like text column) is INCONCLUSIVE, never a
pass. An attribute that is itself a model input is probed too and labelled so (the score
then carries it directly).

Values of PII columns never enter the evidence: a PII attribute's classes are counted, not
named, and a numeric attribute with many values is probed by quartile ("q1".."q4"), whose
edges are not recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.evidence import attribute_inference as attacks
from core.evidence.checks import Checks, clean
from core.evidence.context import EvaluationContext
from core.evidence.record import OPTIONAL, Record
from core.evidence.sections import BaseSection
from core.kernel.errors import UsageError
from core.kernel.verdict import of_check

MAX_ADVANTAGE = 0.05
WARN_ADVANTAGE = 0.02
FOLDS = 5
MAX_CLASSES = 10
BOOTSTRAP = 100
ADVERSARY = (
    "knows the model's non-sensitive inputs of members of the training set and their scores; "
    "learns the attribute from some of them (stratified K-fold) and guesses it for the others"
)
RARE = "other (rare)"


@dataclass(frozen=True)
class AttackerScores(Record):
    """One attacker's out-of-fold accuracy, balanced accuracy and ROC AUC."""

    accuracy: float
    balanced_accuracy: float
    roc_auc: float


@dataclass(frozen=True)
class AttributeProbe(Record):
    """The probe of one attribute: both attackers, the majority rate and the advantage."""

    attribute: str
    model_input: bool
    pii: bool
    encoding: str
    """``categories`` (its own values) or ``quartiles`` (a numeric column, binned)."""
    classes: int
    rows: int
    majority_rate: float
    with_score: AttackerScores
    without_score: AttackerScores
    advantage: float
    """ROC AUC with the score minus without it: what the model's output adds."""
    balanced_accuracy_gain: float
    interval_95: list[float | None]
    verdict: str
    class_names: list[str] | None = field(default=None, metadata=OPTIONAL)
    """The classes, for a non-PII attribute only (PII values never enter the evidence)."""


@dataclass(frozen=True)
class NotProbed(Record):
    """An attribute the probe could not judge, and why (its check is INCONCLUSIVE)."""

    attribute: str
    reason: str


@dataclass(frozen=True)
class AttributeInference(Record):
    """The attribute-inference section."""

    adversary: str
    population: str
    attacker: str
    folds: int
    known: list[str]
    max_advantage: float
    warn_advantage: float
    probes: list[AttributeProbe]
    not_probed: list[NotProbed]


def _training_input(ctx: EvaluationContext) -> Any:
    """The snapshot the model was trained on (``evaluate --on`` judges another one)."""
    if ctx.run.input_ref == ctx.snapshot.ref:
        return ctx.snapshot
    from core.data import snapshots

    with ctx.ws.session() as s:
        return snapshots.resolve(s.catalog, ctx.run.input_ref)


def _default_attributes(ctx: EvaluationContext, snap: Any) -> list[str]:
    """Every sensitive or PII column the training input declares, then the spec's list."""
    found = [*snap.sensitive, *snap.pii, *ctx.spec.sensitive]
    return list(dict.fromkeys(found))


def encode(values: Any, *, pii: bool, folds: int, max_classes: int) -> tuple[Any, str, str]:
    """The attribute as text classes, its encoding, and '' or why it cannot be probed.

    Missing values are their own class; a numeric column with more than ``max_classes``
    values becomes its quartile; classes with fewer than ``folds`` rows are merged into one
    rare class. A text column with more than ``max_classes`` values is identifier-like.
    """
    import numpy as np
    import pandas as pd

    series = pd.Series(values).reset_index(drop=True)
    missing = series.isna().to_numpy()
    present = series[~missing]
    encoding = "categories"
    if present.nunique() > max_classes:
        if series.dtype.kind not in "biuf":
            what = "a PII column" if pii else "a text column"
            return (
                None,
                encoding,
                f"{present.nunique()} distinct values (more than max_classes = {max_classes}): "
                f"{what} like an identifier; derive a coarse group in a feature view",
            )
        codes = pd.qcut(present.astype(float), 4, labels=False, duplicates="drop")
        text = np.full(len(series), "missing", dtype=object)
        text[~missing] = [f"q{int(c) + 1}" for c in codes]
        encoding = "quartiles"
    else:
        text = np.array(["missing" if m else str(v) for v, m in zip(series, missing, strict=True)])
        text = text.astype(object)
    names, counts = np.unique(text.astype(str), return_counts=True)
    rare = set(names[counts < folds].tolist())
    if rare:
        text = np.array([RARE if t in rare else t for t in text.astype(str)], dtype=object)
        names, counts = np.unique(text.astype(str), return_counts=True)
    if len(names) < 2:
        return None, encoding, "a single class among the probed rows: nothing to infer"
    if counts.min() < folds:
        return None, encoding, f"its classes are too small for {folds}-fold cross-validation"
    return text.astype(str), encoding, ""


def _judge(advantage: float, cfg: Mapping[str, Any]) -> tuple[bool, str]:
    """(passed, severity) of the advantage check: FAIL above max, WARN above warn."""
    severity = cfg.get("severity", "error")
    if advantage > float(cfg.get("max_advantage", MAX_ADVANTAGE)):
        return False, severity
    if advantage > float(cfg.get("warn_advantage", WARN_ADVANTAGE)):
        return False, "warn"
    return True, severity


class AttributeInferenceSection(BaseSection):
    """The ``[attribute_inference]`` table."""

    name = "attribute_inference"
    label = "attribute inference"
    order = 41
    keys = frozenset(
        {
            "attributes",
            "known",
            "attacker",
            "folds",
            "bootstrap",
            "max_classes",
            "max_advantage",
            "warn_advantage",
            "severity",
        }
    )
    result = AttributeInference

    def validate(self, path: Path, cfg: Mapping[str, Any]) -> None:
        """Column lists are lists of names; the attacker is known; folds at least 2."""
        for key in ("attributes", "known"):
            names = cfg.get(key, [])
            if not isinstance(names, list) or not all(isinstance(a, str) for a in names):
                raise UsageError(f"{path}: [attribute_inference] {key} must be a list of columns")
        if cfg.get("attacker", "logistic") not in attacks.ATTACKERS:
            raise UsageError(
                f"{path}: [attribute_inference] attacker must be one of "
                f"{', '.join(attacks.ATTACKERS)}, not {cfg.get('attacker')!r}"
            )
        for key, least in (("folds", 2), ("max_classes", 2)):
            value = cfg.get(key, least)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise UsageError(
                    f"{path}: [attribute_inference] {key} must be a whole number of at least "
                    f"{least}, not {value!r}"
                )
        if float(cfg.get("warn_advantage", WARN_ADVANTAGE)) > float(
            cfg.get("max_advantage", MAX_ADVANTAGE)
        ):
            raise UsageError(
                f"{path}: [attribute_inference] warn_advantage must not exceed max_advantage"
            )

    def precheck(self, ctx: EvaluationContext, cfg: Mapping[str, Any]) -> None:
        """Refuse unknown columns before any section runs."""
        snap = _training_input(ctx)
        import json

        columns = {c["name"] for c in json.loads(snap.columns)}
        for key in ("attributes", "known"):
            unknown = [a for a in cfg.get(key, []) if a not in columns]
            if unknown:
                raise UsageError(
                    f"[attribute_inference] {key}: column {unknown[0]!r} is not in {snap.ref}",
                    hint=f"Columns: {', '.join(sorted(columns))}.",
                )
        stray = [k for k in cfg.get("known", []) if k not in ctx.features]
        if stray:
            raise UsageError(
                f"[attribute_inference] known: {stray[0]!r} is not an input of the model",
                hint="The adversary knows some of the model's inputs: list those.",
            )

    def run(
        self, ctx: EvaluationContext, cfg: Mapping[str, Any], checks: Checks
    ) -> AttributeInference:
        """Probe every attribute; one check each (INCONCLUSIVE for one not probed)."""
        from core.modelling import training

        snap = _training_input(ctx)
        attributes = list(cfg.get("attributes") or _default_attributes(ctx, snap))
        protected = set(attributes) | set(snap.sensitive) | set(snap.pii)
        protected |= set(ctx.spec.sensitive)
        default_known = [f for f in ctx.features if f not in protected]
        folds = int(cfg.get("folds", FOLDS))
        kind = cfg.get("attacker", "logistic")
        max_classes = int(cfg.get("max_classes", MAX_CLASSES))
        score = ctx.pipeline.predict_proba(ctx.x_train)[:, 1]
        frame = training.load_table(ctx.ws, snap, attributes) if attributes else None
        severity = cfg.get("severity", "error")
        probes, skipped, used_known = [], [], list(cfg.get("known") or default_known)
        for attr in attributes:
            assert frame is not None
            pii = attr in snap.pii
            known = [k for k in used_known if k != attr]
            values = frame[attr].iloc[ctx.train_rows]
            target, encoding, why = encode(values, pii=pii, folds=folds, max_classes=max_classes)
            name = f"attribute inference advantage ({attr})"
            if target is None:
                skipped.append({"attribute": attr, "reason": why})
                checks.add(
                    "attribute_inference",
                    name,
                    None,
                    {"max": cfg.get("max_advantage", MAX_ADVANTAGE)},
                    True,
                    severity,
                    inconclusive=True,
                    note=why,
                )
                continue
            found = attacks.attack(
                ctx.x_train[known],
                score,
                target,
                folds=folds,
                seed=ctx.seed,
                kind=kind,
                bootstrap=int(cfg.get("bootstrap", BOOTSTRAP)),
            )
            passed, sev = _judge(found["advantage"], cfg)
            checks.add(
                "attribute_inference",
                name,
                clean(found["advantage"]),
                {
                    "max": float(cfg.get("max_advantage", MAX_ADVANTAGE)),
                    "warn_above": float(cfg.get("warn_advantage", WARN_ADVANTAGE)),
                },
                passed,
                sev,
                interval=found["interval_95"],
            )
            import numpy as np

            classes = sorted(np.unique(target).tolist())
            probe = {
                "attribute": attr,
                "model_input": attr in ctx.features,
                "pii": pii,
                "encoding": encoding,
                "classes": len(classes),
                "rows": found["rows"],
                "majority_rate": found["majority_rate"],
                "with_score": vars(found["with_score"]),
                "without_score": vars(found["without_score"]),
                "advantage": found["advantage"],
                "balanced_accuracy_gain": found["balanced_accuracy_gain"],
                "interval_95": found["interval_95"],
                "verdict": of_check(passed, sev),
            }
            if not pii:
                probe["class_names"] = classes
            probes.append(probe)
        if not attributes:
            checks.add(
                "attribute_inference",
                "attribute inference advantage",
                None,
                {"max": float(cfg.get("max_advantage", MAX_ADVANTAGE))},
                True,
                severity,
                inconclusive=True,
                note="no sensitive or PII attribute is declared: nothing was probed",
            )
        out = {
            "adversary": ADVERSARY,
            "population": f"the model's {len(ctx.train_rows)} training rows (members)",
            "attacker": kind,
            "folds": folds,
            "known": used_known,
            "max_advantage": float(cfg.get("max_advantage", MAX_ADVANTAGE)),
            "warn_advantage": float(cfg.get("warn_advantage", WARN_ADVANTAGE)),
            "probes": probes,
            "not_probed": skipped,
        }
        return AttributeInference.from_json(clean(out))


SECTION = AttributeInferenceSection()
