"""Model evidence: fairness, explainability, robustness, privacy and a baseline, signed.

``evaluate`` loads a model version whose bytes verify, rebuilds its held-out split from the
recorded run (the test rows, labels, probabilities and sensitive attributes were stored with
the run), and runs the sections an evaluation suite (TOML) asks for:

- **fairness** (fairlearn ``MetricFrame``): per group of each sensitive attribute and each
  requested intersection — count, selection rate (share flagged as the positive class), TPR,
  FPR, precision and calibration by score band; demographic-parity difference and ratio,
  equalized-odds difference, and disparate impact on the *favourable* outcome (approval)
  with the four-fifths rule; seeded bootstrap 95% intervals. A group with no held-out rows
  (a combination of an intersection the split lacks) is listed with undefined metrics, and
  it, a group below ``min_group_size`` or an attribute with fewer than two measured groups
  fails a "group sizes" check rather than letting the comparison pass unseen;
- **explainability** (SHAP): global mean |SHAP| per input feature (one-hot columns folded
  back into their feature), representative explanations in plain words, stability of the
  top features across background samples; explainer, parameters, seed and background
  digest are recorded. Every estimator training allows has an exact explainer (linear or
  tree); one without is refused, since no surrogate-tree path is implemented (the
  evidence's ``surrogate`` field stays null);
- **robustness**: the metric under Gaussian noise on numeric features and random category
  flips at several strengths, and out-of-distribution probes (out-of-range values, unseen
  categories, missing values) with crashes counted;
- **privacy**: a loss-threshold membership-inference probe (training rows vs held-out rows)
  with its ROC AUC and advantage, and a check that no PII-tagged column is a model input;
- **baseline**: a logistic regression on the same features and split, or the model's
  previous version scored on this version's held-out rows (with a check that it never
  trained on them), with a minimum improvement.

Every threshold is a check with a severity; an error-level failure makes the CLI exit 1 and
is recorded like a pass. The evidence is canonical JSON, rounded to 12 significant digits,
seeded throughout, so the same model, suite and seed give byte-identical evidence; it is
stored, signed with the evaluator's key, and recorded in one ``model.evaluate`` event.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.data import snapshots, tables
from core.identity import attest
from core.identity.actors import require
from core.kernel.errors import UsageError
from core.kernel.progress import NO_PROGRESS, Progress
from core.kernel.rows import ModelRow
from core.kernel.workspace import Workspace
from core.modelling import environment, models, training
from storage.canonical import canonical_bytes

EVIDENCE_MEDIA_TYPE = "application/vnd.ledgerml.evaluation+json"
EVIDENCE_PREDICATE = "https://ledgerml.dev/evaluation/v1"
ROLES = ("validator", "data-scientist", "admin")
SECTIONS = ("fairness", "explainability", "robustness", "privacy", "baseline")
BASELINE_KINDS = ("logistic", "previous")
# Every key each section may hold; anything else is refused when the suite is read.
SECTION_KEYS = {
    "evaluation": {"name", "seed"},
    "fairness": {
        "attributes",
        "intersections",
        "bootstrap",
        "max_demographic_parity_difference",
        "max_equalized_odds_difference",
        "min_disparate_impact",
        "severity",
    },
    "explainability": {
        "sample",
        "background",
        "top_k",
        "stability_seeds",
        "min_rank_agreement",
        "severity",
    },
    "robustness": {"noise", "flip", "max_auc_drop", "max_crashes", "severity"},
    "privacy": {"max_mia_auc", "severity"},
    "baseline": {"kind", "version", "min_improvement", "severity", "overlap_severity"},
}
BASELINE_KEYS = SECTION_KEYS["baseline"]
_WHOLE = {"seed", "bootstrap", "sample", "background", "top_k", "max_crashes"}
_NUMBER_LISTS = {"noise", "flip", "stability_seeds"}


def load_suite(path: Path) -> tuple[dict[str, Any], bytes]:
    """Parse an evaluation suite; unknown sections are refused."""
    try:
        raw = path.read_bytes()
        doc = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise UsageError(f"cannot read evaluation suite {path}: {err}") from err
    unknown = set(doc) - {"evaluation", *SECTIONS}
    if unknown:
        raise UsageError(
            f"{path}: unknown section [{sorted(unknown)[0]}]",
            hint=f"Sections: evaluation, {', '.join(SECTIONS)}.",
        )
    _check_settings(path, doc)
    return doc, raw


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_settings(path: Path, doc: dict[str, Any]) -> None:
    """Refuse mistyped settings when the suite is read, before minutes of SHAP, not after.

    A misspelt severity would otherwise switch a gate off, and a threshold given as text
    would fail only deep inside a section.
    """
    for section, cfg in doc.items():
        if not isinstance(cfg, dict):
            raise UsageError(f"{path}: {section} must be a [{section}] section")
        unknown = sorted(set(cfg) - SECTION_KEYS[section])
        if unknown:
            raise UsageError(
                f"{path}: [{section}] has no setting {unknown[0]!r}",
                hint=f"Settings: {', '.join(sorted(SECTION_KEYS[section]))}.",
            )
        for key, value in cfg.items():
            where = f"{path}: [{section}] {key}"
            if key.endswith("severity") and value not in ("error", "warn"):
                raise UsageError(f'{where} must be "error" or "warn", not {value!r}')
            if key.startswith(("min_", "max_")) and not _number(value):
                raise UsageError(f"{where} must be a number, not {value!r}")
            if key in _WHOLE and (isinstance(value, bool) or not isinstance(value, int)):
                raise UsageError(f"{where} must be a whole number, not {value!r}")
            if key in _NUMBER_LISTS and not (
                isinstance(value, list) and all(_number(v) for v in value)
            ):
                raise UsageError(f"{where} must be a list of numbers, not {value!r}")
            if key == "name" and not isinstance(value, str):
                raise UsageError(f"{where} must be text, not {value!r}")
    fairness = doc.get("fairness", {})
    names = fairness.get("attributes", [])
    if not isinstance(names, list) or not all(isinstance(a, str) for a in names):
        raise UsageError(f"{path}: [fairness] attributes must be a list of column names")
    groups = fairness.get("intersections", [])
    if not isinstance(groups, list) or not all(
        isinstance(g, list) and all(isinstance(a, str) for a in g) for g in groups
    ):
        raise UsageError(
            f'{path}: [fairness] intersections must be a list of lists, e.g. [["sex", "age"]]'
        )
    baseline = doc.get("baseline", {})
    kind = baseline.get("kind", "logistic")
    if kind not in BASELINE_KINDS:
        raise UsageError(
            f"{path}: unknown baseline kind {kind!r}",
            hint=f"Kinds: {', '.join(BASELINE_KINDS)}.",
        )
    version = baseline.get("version")
    if version is not None and (
        kind != "previous" or isinstance(version, bool) or not isinstance(version, int)
    ):
        raise UsageError(
            f'{path}: [baseline] version must be a whole number, with kind = "previous"'
        )


def _clean(value: Any) -> Any:
    """Round floats (12 significant digits) and make numpy scalars plain, recursively."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else tables._round(value)
    return value


class _Checks:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(
        self,
        section: str,
        name: str,
        observed: Any,
        threshold: dict[str, Any],
        passed: bool,
        severity: str = "error",
    ) -> None:
        self.items.append(
            {
                "section": section,
                "name": name,
                "observed": observed,
                "threshold": threshold,
                "passed": bool(passed),
                "severity": severity,
            }
        )


def fairness_metrics() -> tuple[dict[str, Any], dict[str, Any]]:
    """The metrics the fairness section gives fairlearn's MetricFrame: exact, and bootstrapped.

    Bootstrapped metrics are plain numpy one-liners: fairlearn's own TPR/FPR go through
    scikit-learn's input validation on every call, which made 200 resamples take ~25 s.
    """
    import numpy as np
    from fairlearn.metrics import count, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import precision_score

    def rate(values: Any) -> float:
        return float(np.mean(values)) if len(values) else float("nan")

    fast = {
        "selection_rate": lambda t, p: rate(np.asarray(p)),
        "approval_rate": lambda t, p: 1.0 - rate(np.asarray(p)),
        "tpr": lambda t, p: rate(np.asarray(p)[np.asarray(t) == 1]),
        "fpr": lambda t, p: rate(np.asarray(p)[np.asarray(t) == 0]),
    }
    exact = {
        "count": count,
        "selection_rate": selection_rate,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "precision": lambda t, p: precision_score(t, p, zero_division=0),
    }
    return exact, fast


def _fairness(
    cfg: dict[str, Any],
    y: Any,
    proba: Any,
    pred: Any,
    groups: dict[str, Any],
    seed: int,
    checks: _Checks,
) -> dict[str, Any]:
    import numpy as np
    import pandas as pd
    from fairlearn.metrics import (
        MetricFrame,
    )

    exact, fast = fairness_metrics()
    attributes = [[a] for a in cfg.get("attributes", [])] + [
        list(i) for i in cfg.get("intersections", [])
    ]
    reps = int(cfg.get("bootstrap", 200))
    out: dict[str, Any] = {
        "positive_class": "flagged (predicted 1)",
        "favourable_outcome": "approved (predicted 0)",
        "groups": {},
    }
    for attrs in attributes:
        missing = [a for a in attrs if a not in groups]
        if missing:
            raise UsageError(
                f"fairness attribute {missing[0]!r} was not kept with the run's predictions",
                hint="List it under sensitive in the training spec.",
            )
        key = " × ".join(attrs)
        sf = pd.DataFrame({a: groups[a] for a in attrs})
        with warnings.catch_warnings():
            # An empty cell's metrics are NaN (reported as undefined below), and NumPy warns
            # about every all-NaN slice of the bootstrap.
            warnings.simplefilter("ignore", RuntimeWarning)
            frame = MetricFrame(metrics=exact, y_true=y, y_pred=pred, sensitive_features=sf)
            boot = MetricFrame(
                metrics=fast,
                y_true=y,
                y_pred=pred,
                sensitive_features=sf,
                n_boot=reps,
                ci_quantiles=[0.025, 0.975],
                random_state=seed,
            )
        by_group = frame.by_group.reset_index()
        low, high = (c.reset_index() for c in boot.by_group_ci)
        table = []
        for index, row in by_group.iterrows():
            label = " / ".join(str(row[a]) for a in attrs)
            mask = np.ones(len(y), dtype=bool)
            for a in attrs:
                mask &= np.asarray(groups[a]) == row[a]
            bands = []
            for lo, hi in ((0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.01)):
                band = mask & (proba >= lo) & (proba < hi)
                if band.any():
                    bands.append(
                        {
                            "band": f"{lo:.2f}-{min(hi, 1.0):.2f}",
                            "count": int(band.sum()),
                            "mean_predicted": float(proba[band].mean()),
                            "observed_rate": float(y[band].mean()),
                        }
                    )
            table.append(
                {
                    "group": label,
                    # MetricFrame lists every combination of an intersection, also those no
                    # held-out row has: their count is NaN and every rate undefined (null).
                    "count": 0 if pd.isna(row["count"]) else int(row["count"]),
                    **{m: row[m] for m in ("selection_rate", "tpr", "fpr", "precision")},
                    "approval_rate": 1.0 - float(row["selection_rate"]),
                    "intervals_95": {
                        m: [low.loc[index, m], high.loc[index, m]]
                        for m in ("selection_rate", "tpr", "fpr")
                    },
                    "calibration": bands,
                }
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            diff, ratio = boot.difference(), boot.ratio()
            diff_lo, diff_hi = boot.difference_ci()
            ratio_lo, ratio_hi = boot.ratio_ci()
        dpd = float(diff["selection_rate"])
        eod = float(max(diff["tpr"], diff["fpr"]))
        di = float(ratio["approval_rate"])
        out["groups"][key] = {
            "table": table,
            "demographic_parity_difference": dpd,
            "demographic_parity_ratio": float(ratio["selection_rate"]),
            "equalized_odds_difference": eod,
            "disparate_impact": di,
            "four_fifths_rule": di >= 0.8,
            "intervals_95": {
                "demographic_parity_difference": [
                    diff_lo["selection_rate"],
                    diff_hi["selection_rate"],
                ],
                "tpr_difference": [diff_lo["tpr"], diff_hi["tpr"]],
                "fpr_difference": [diff_lo["fpr"], diff_hi["fpr"]],
                "disparate_impact": [ratio_lo["approval_rate"], ratio_hi["approval_rate"]],
            },
            "bootstrap": reps,
        }
        sev = cfg.get("severity", "error")
        _group_sizes(cfg, key, table, out["groups"][key], checks, sev)
        if "max_demographic_parity_difference" in cfg:
            limit = cfg["max_demographic_parity_difference"]
            checks.add(
                "fairness",
                f"demographic parity difference ({key})",
                _clean(dpd),
                {"max": limit},
                dpd <= limit,
                sev,
            )
        if "max_equalized_odds_difference" in cfg:
            limit = cfg["max_equalized_odds_difference"]
            checks.add(
                "fairness",
                f"equalized odds difference ({key})",
                _clean(eod),
                {"max": limit},
                eod <= limit,
                sev,
            )
        if "min_disparate_impact" in cfg:
            limit = cfg["min_disparate_impact"]
            checks.add(
                "fairness",
                f"disparate impact on approval ({key})",
                _clean(di),
                {"min": limit},
                di >= limit,
                sev,
            )
    return out


def _group_sizes(
    cfg: dict[str, Any],
    key: str,
    table: list[dict[str, Any]],
    summary: dict[str, Any],
    checks: _Checks,
    severity: str,
) -> None:
    """Say when the groups cannot carry the comparison, instead of letting it pass unseen.

    The differences and ratios above are taken over the groups that have held-out rows. A
    group without any (a combination of an intersection the split never holds) has undefined
    metrics, and an attribute with fewer than two measured groups compares nothing: a
    threshold on them would pass without having looked. Such a group, or one smaller than
    ``min_group_size``, fails the "group sizes" check at the section's severity; the check is
    recorded whenever ``min_group_size`` is set, and otherwise only when it fails, so evidence
    about well-filled groups stays as it was.
    """
    minimum = cfg.get("min_group_size")
    least = 1 if minimum is None else max(1, minimum)
    measured = [r for r in table if r["count"] > 0]
    too_small = [r["group"] for r in table if r["count"] < least]
    empty = [r["group"] for r in table if r["count"] == 0]
    if empty:
        summary["unmeasured_groups"] = empty
    passed = not too_small and len(measured) >= 2
    if passed and minimum is None:
        return
    checks.add(
        "fairness",
        f"group sizes ({key})",
        {
            "smallest": min((r["count"] for r in table), default=0),
            "too_small": too_small,
            "measured_groups": len(measured),
        },
        {"min": least, "min_measured_groups": 2},
        passed,
        severity,
    )


def _feature_groups(pipeline: Any, features: list[str]) -> list[list[int]]:
    """Indexes of transformed columns belonging to each input feature (one-hot folded)."""
    names = list(pipeline.named_steps["preprocess"].get_feature_names_out())
    groups: list[list[int]] = []
    for feature in features:
        idx = [
            i
            for i, n in enumerate(names)
            if n.split("__", 1)[1] == feature or n.split("__", 1)[1].startswith(feature + "_")
        ]
        groups.append(idx)
    return groups


def _explain(
    cfg: dict[str, Any],
    pipeline: Any,
    x_test: Any,
    proba: Any,
    groups: dict[str, Any],
    features: list[str],
    seed: int,
    checks: _Checks,
) -> dict[str, Any]:
    import numpy as np
    import shap

    pre, est = pipeline.named_steps["preprocess"], pipeline.named_steps["model"]
    z = np.asarray(pre.transform(x_test), dtype=float)
    rng = np.random.default_rng(seed)
    n_sample = min(int(cfg.get("sample", 200)), len(z))
    sample_idx = np.sort(rng.choice(len(z), n_sample, replace=False))
    n_background = min(int(cfg.get("background", 100)), len(z))
    fold = _feature_groups(pipeline, features)

    def explain_with(background_seed: int) -> tuple[Any, dict[str, Any]]:
        bg_rng = np.random.default_rng(background_seed)
        background = z[np.sort(bg_rng.choice(len(z), n_background, replace=False))]
        kind = type(est).__name__
        if kind == "LogisticRegression":
            explainer = shap.LinearExplainer(est, background)
            values = explainer.shap_values(z[sample_idx])
            name = "LinearExplainer (exact for a linear model, log-odds)"
        elif kind in (
            "RandomForestClassifier",
            "DecisionTreeClassifier",
            "GradientBoostingClassifier",
            "HistGradientBoostingClassifier",
        ):
            explainer = shap.TreeExplainer(
                est, background, feature_perturbation="interventional", model_output="raw"
            )
            values = explainer.shap_values(z[sample_idx], check_additivity=False)
            name = "TreeExplainer (exact, interventional)"
        else:
            raise UsageError(f"no exact SHAP explainer for {kind}")
        values = np.asarray(values)
        if values.ndim == 3:  # (rows, features, classes): keep the positive class
            values = values[:, :, 1]
        folded = np.stack([values[:, idx].sum(axis=1) for idx in fold], axis=1)
        meta = {
            "explainer": name,
            "background_rows": n_background,
            "background_seed": background_seed,
            "background_digest": hashlib.sha256(background.astype("<f8").tobytes()).hexdigest(),
        }
        return folded, meta

    base_seed = seed
    folded, meta = explain_with(base_seed)
    importance = np.abs(folded).mean(axis=0)
    order = list(np.argsort(-importance, kind="stable"))
    top_k = int(cfg.get("top_k", 5))
    top = [features[i] for i in order[:top_k]]
    stability_seeds = [int(s) for s in cfg.get("stability_seeds", [base_seed + 1, base_seed + 2])]
    agreements = []
    for s in stability_seeds:
        other, _ = explain_with(s)
        other_top = [
            features[i] for i in np.argsort(-np.abs(other).mean(axis=0), kind="stable")[:top_k]
        ]
        agreements.append(len(set(top) & set(other_top)) / top_k)
    agreement = float(min(agreements)) if agreements else 1.0
    sample_proba = proba[sample_idx]
    x_sample = x_test.iloc[sample_idx].reset_index(drop=True)

    def describe(i: int, label: str) -> dict[str, Any]:
        contrib = folded[i]
        ranked = list(np.argsort(-np.abs(contrib), kind="stable")[:3])
        words = []
        for j in ranked:
            direction = "raised" if contrib[j] > 0 else "lowered"
            words.append(
                f"{features[j]} = {x_sample.iloc[i][features[j]]} {direction} the "
                f"risk score by {abs(float(contrib[j])):.3f}"
            )
        return {
            "case": label,
            "row": int(sample_idx[i]),
            "probability": float(sample_proba[i]),
            "top_features": [features[j] for j in ranked],
            "contributions": [float(contrib[j]) for j in ranked],
            "in_words": words,
        }

    def median_case(mask: Any, label: str) -> dict[str, Any] | None:
        idx = np.flatnonzero(mask)
        if not len(idx):
            return None
        order_ = idx[np.argsort(sample_proba[idx], kind="stable")]
        return describe(int(order_[len(order_) // 2]), label)

    cases = [
        median_case(sample_proba >= 0.5, "median case flagged as bad risk"),
        median_case(sample_proba < 0.5, "median case approved"),
    ]
    for attr, values in groups.items():
        sample_values = np.asarray(values)[sample_idx]
        if len(set(sample_values)) > 8:  # a numeric attribute (age): bands, not every value
            continue
        for value in sorted(set(sample_values)):
            cases.append(median_case(sample_values == value, f"median case of {attr} = {value}"))
    minimum = float(cfg.get("min_rank_agreement", 0.6))
    checks.add(
        "explainability",
        f"top-{top_k} feature agreement across backgrounds",
        _clean(agreement),
        {"min": minimum},
        agreement >= minimum,
        cfg.get("severity", "warn"),
    )
    return {
        **meta,
        "sample_rows": n_sample,
        "sample_seed": seed,
        "output": "log-odds",
        "importance": [
            {"feature": features[i], "mean_abs_shap": float(importance[i])} for i in order
        ],
        "top_features": top,
        "stability": {"seeds": stability_seeds, "agreement": agreement},
        "representative": [c for c in cases if c is not None],
        "surrogate": None,
    }


def _perturb(
    x: Any, strength: float, kind: str, rng: Any, numeric: list[str], categorical: list[str]
) -> Any:

    out = x.copy()
    if kind == "noise":
        for col in numeric:
            values = out[col].astype(float)
            scale = float(values.std()) or 1.0
            out[col] = values + rng.normal(0, strength * scale, len(values))
    else:
        for col in categorical:
            levels = sorted(map(str, out[col].dropna().unique()))
            flip = rng.random(len(out)) < strength
            out.loc[flip, col] = rng.choice(levels, int(flip.sum())) if levels else None
    return out


def _robustness(
    cfg: dict[str, Any],
    pipeline: Any,
    x_test: Any,
    y: Any,
    seed: int,
    features: list[str],
    checks: _Checks,
) -> dict[str, Any]:
    import numpy as np
    from sklearn.metrics import roc_auc_score

    numeric = [f for f in features if x_test[f].dtype.kind in "biuf"]
    categorical = [f for f in features if f not in numeric]
    curves: dict[str, list[dict[str, Any]]] = {}
    base = float(roc_auc_score(y, pipeline.predict_proba(x_test)[:, 1]))
    for kind, levels in (
        ("noise", cfg.get("noise", [0.0, 0.1, 0.25, 0.5])),
        ("flip", cfg.get("flip", [0.0, 0.05, 0.1, 0.2])),
    ):
        curve = []
        for strength in levels:
            rng = np.random.default_rng([seed, int(strength * 1000)])
            perturbed = _perturb(x_test, float(strength), kind, rng, numeric, categorical)
            auc = float(roc_auc_score(y, pipeline.predict_proba(perturbed)[:, 1]))
            curve.append({"strength": float(strength), "roc_auc": auc, "drop": base - auc})
        curves[kind] = curve
    probes = []
    crashes = 0
    rng = np.random.default_rng(seed)
    row = x_test.iloc[[int(rng.integers(0, len(x_test)))]].copy()
    probe_rows = []
    for col in numeric:
        high = row.copy()
        high[col] = float(x_test[col].max()) * 10 + 1
        low = row.copy()
        low[col] = -abs(float(x_test[col].max())) * 10 - 1
        probe_rows += [(f"{col} far above range", high), (f"{col} far below range", low)]
    for col in categorical:
        unseen = row.copy()
        unseen[col] = "__never_seen__"
        probe_rows.append((f"{col} unseen category", unseen))
    for col in features:
        missing = row.copy()
        missing[col] = None if col in categorical else float("nan")
        probe_rows.append((f"{col} missing", missing))
    for label, frame in probe_rows:
        try:
            p = float(pipeline.predict_proba(frame)[0, 1])
            ok = 0.0 <= p <= 1.0
            probes.append({"probe": label, "crashed": False, "probability": p, "valid": ok})
            crashes += 0 if ok else 1
        except Exception as err:  # noqa: BLE001 - a probe that crashes is the finding
            crashes += 1
            probes.append({"probe": label, "crashed": True, "error": type(err).__name__})
    limit = cfg.get("max_auc_drop")
    if limit is not None:
        worst = max(p["drop"] for c in curves.values() for p in c)
        checks.add(
            "robustness",
            "worst ROC AUC drop under perturbation",
            _clean(worst),
            {"max": limit},
            worst <= limit,
            cfg.get("severity", "error"),
        )
    checks.add(
        "robustness",
        "out-of-distribution probes that crashed",
        crashes,
        {"max": int(cfg.get("max_crashes", 0))},
        crashes <= int(cfg.get("max_crashes", 0)),
        cfg.get("severity", "error"),
    )
    return {
        "metric": "roc_auc",
        "baseline": base,
        "curves": curves,
        "probes": probes,
        "crashes": crashes,
    }


def _privacy(
    cfg: dict[str, Any],
    pipeline: Any,
    x_train: Any,
    y_train: Any,
    x_test: Any,
    y_test: Any,
    pii: list[str],
    features: list[str],
    checks: _Checks,
) -> dict[str, Any]:
    import numpy as np
    from sklearn.metrics import roc_auc_score, roc_curve

    def losses(x: Any, y: Any) -> Any:
        p = np.clip(pipeline.predict_proba(x)[:, 1], 1e-12, 1 - 1e-12)
        return -(y * np.log(p) + (1 - y) * np.log(1 - p))

    member, outsider = losses(x_train, y_train), losses(x_test, y_test)
    scores = np.concatenate([-member, -outsider])  # low loss looks like a training row
    truth = np.concatenate([np.ones(len(member)), np.zeros(len(outsider))])
    auc = float(roc_auc_score(truth, scores))
    fpr, tpr, _ = roc_curve(truth, scores)
    advantage = float(np.max(tpr - fpr))
    limit = float(cfg.get("max_mia_auc", 0.6))
    checks.add(
        "privacy",
        "membership-inference ROC AUC",
        _clean(auc),
        {"max": limit},
        auc <= limit,
        cfg.get("severity", "error"),
    )
    leaked = sorted(set(pii) & set(features))
    checks.add(
        "privacy", "PII columns used as model inputs", leaked, {"max": []}, not leaked, "error"
    )
    return {
        "attack": "loss threshold (Yeom et al. 2018)",
        "members": len(member),
        "non_members": len(outsider),
        "roc_auc": auc,
        "advantage": advantage,
        "pii_columns": pii,
        "pii_used_as_inputs": leaked,
    }


@dataclass(frozen=True)
class _Split:
    """The held-out split a model version is judged on, as ``compute`` rebuilt it."""

    snapshot: Any
    test_rows: Any
    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any


def _baseline(
    ws: Workspace,
    model: ModelRow,
    cfg: dict[str, Any],
    spec: training.Spec,
    split: _Split,
    model_auc: float,
    checks: _Checks,
) -> dict[str, Any]:
    kind = cfg.get("kind", "logistic")
    if kind == "logistic":
        found = _logistic_baseline(spec, split)
    elif kind == "previous":
        found = _previous_baseline(ws, model, cfg, split, checks)
    else:
        raise UsageError(
            f"unknown baseline kind {kind!r}", hint='Use kind = "logistic" or "previous".'
        )
    auc = found["roc_auc"]
    minimum = float(cfg.get("min_improvement", 0.0))
    checks.add(
        "baseline",
        f"ROC AUC improvement over {found.pop('label')}",
        _clean(model_auc - auc),
        {"min": minimum},
        model_auc - auc >= minimum,
        cfg.get("severity", "error"),
    )
    return {**found, "model_roc_auc": model_auc, "improvement": model_auc - auc}


def _logistic_baseline(spec: training.Spec, split: _Split) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    base_spec = training.Spec(
        **{**spec.__dict__, "estimator": "logistic_regression", "params": {"max_iter": 2000}}
    )
    pipeline = training._pipeline(base_spec, split.x_train)
    pipeline.fit(split.x_train, split.y_train)
    auc = float(roc_auc_score(split.y_test, pipeline.predict_proba(split.x_test)[:, 1]))
    return {
        "kind": "logistic regression, same features and split",
        "label": "a logistic baseline",
        "roc_auc": auc,
    }


def _find_previous(ws: Workspace, model: ModelRow, cfg: dict[str, Any]) -> tuple[ModelRow, Any]:
    """The version a ``previous`` baseline compares with (checked before any section runs)."""
    with ws.session() as s:
        older = [m for m in s.catalog.models(model.name) if m.version < model.version]
        chosen = [m for m in older if m.version == cfg["version"]] if "version" in cfg else older
        if not chosen:
            wanted = f"version {cfg['version']}" if "version" in cfg else "earlier version"
            earlier = ", ".join(m.ref for m in older)
            raise UsageError(
                f"{model.ref} has no {wanted} to compare with",
                hint=f"Earlier versions: {earlier}."
                if earlier
                else 'This is the first version: use kind = "logistic".',
            )
        return chosen[-1], models.resolve_run(s.catalog, chosen[-1].run_id)


def _previous_baseline(
    ws: Workspace, model: ModelRow, cfg: dict[str, Any], split: _Split, checks: _Checks
) -> dict[str, Any]:
    """The previous version (or ``version = K``), scored on this version's held-out rows.

    The comparison is fair only if the previous version never trained on those rows; when
    both were trained on the same table, the overlap is counted from the previous run's
    recorded split and checked (a warning by default); on another table it is unknown.
    """
    import numpy as np
    from sklearn.metrics import roc_auc_score

    prev, prev_run = _find_previous(ws, model, cfg)
    prev_spec = training.load_run_spec(ws, prev_run)
    columns = {c["name"] for c in json.loads(split.snapshot.columns)}
    missing = [f for f in prev_spec.features if f not in columns]
    if missing:
        raise UsageError(
            f"{prev.ref} needs {', '.join(missing)}, which {split.snapshot.ref} does not have",
            hint='Compare with kind = "logistic" instead.',
        )
    frame = training.load_table(ws, split.snapshot, list(prev_spec.features))
    x_prev = frame.iloc[split.test_rows][list(prev_spec.features)].reset_index(drop=True)
    pipeline = models.load(ws, prev.ref, purpose="evaluate")
    auc = float(roc_auc_score(split.y_test, pipeline.predict_proba(x_prev)[:, 1]))
    overlap: int | None = None
    if prev_run.input_table_digest == split.snapshot.table_digest:
        event = training.run_event(ws, prev_run)["data"]
        prev_test = np.asarray(
            json.loads(ws.objects.read_verified(event["predictions_object"]))["row"]
        )
        prev_train = np.setdiff1d(np.arange(len(frame)), prev_test)
        overlap = int(np.intersect1d(prev_train, split.test_rows).size)
    checks.add(
        "baseline",
        f"{prev.ref} never trained on these test rows",
        overlap,
        {"max": 0},
        overlap == 0,
        cfg.get("overlap_severity", "warn"),
    )
    return {
        "kind": "previous version, scored on this version's test rows",
        "label": f"the previous version {prev.ref}",
        "previous": {"ref": prev.ref, "digest": prev.model_digest, "run": prev_run.run_id},
        "roc_auc": auc,
        "trained_on_test_rows": overlap,
    }


def compute(
    ws: Workspace,
    model: ModelRow,
    suite: dict[str, Any],
    suite_digest: str,
    progress: Progress = NO_PROGRESS,
) -> dict[str, Any]:
    """Run the suite's sections on a model version; return the evidence (records nothing).

    Native thread pools are capped as in training
    (:func:`core.modelling.environment.native_threads`).
    """
    import sklearn.metrics  # noqa: F401  (loads scikit-learn's OpenMP before the cap is set)

    with environment.native_threads():
        return _compute(ws, model, suite, suite_digest, progress)


def _compute(
    ws: Workspace,
    model: ModelRow,
    suite: dict[str, Any],
    suite_digest: str,
    progress: Progress,
) -> dict[str, Any]:
    import numpy as np
    from sklearn.metrics import roc_auc_score

    with ws.session() as s:
        run = models.resolve_run(s.catalog, model.run_id)
        snap = snapshots.resolve(s.catalog, run.input_ref)
    pipeline = models.load(ws, model.ref, purpose="evaluate")
    spec = training.load_run_spec(ws, run)
    event = training.run_event(ws, run)["data"]
    preds = json.loads(ws.objects.read_verified(event["predictions_object"]))
    frame = training.load_table(ws, snap, [*spec.features, spec.target, *spec.sensitive])
    test_rows = np.asarray(preds["row"])
    train_rows = np.setdiff1d(np.arange(len(frame)), test_rows)
    x_test = frame.iloc[test_rows][spec.features].reset_index(drop=True)
    x_train = frame.iloc[train_rows][spec.features].reset_index(drop=True)
    y_test = np.asarray(preds["y_true"])
    y_train = frame.iloc[train_rows][spec.target].to_numpy()
    proba = np.asarray(preds["probability"], dtype=float)
    if hashlib.sha256(proba.astype("<f8").tobytes()).hexdigest() != run.predictions_digest:
        from core.kernel.errors import IntegrityError

        raise IntegrityError("the stored test predictions do not match the run's digest")
    pred = (proba >= spec.threshold).astype(int)
    groups = {k: np.asarray(v) for k, v in preds["sensitive"].items()}
    settings = suite.get("evaluation", {})
    seed = int(settings.get("seed", 0))
    checks = _Checks()
    out: dict[str, Any] = {}
    if suite.get("baseline", {}).get("kind") == "previous":
        _find_previous(ws, model, suite["baseline"])  # refuse a missing version up front
    progress(0, 5, "fairness")
    if "fairness" in suite:
        out["fairness"] = _fairness(suite["fairness"], y_test, proba, pred, groups, seed, checks)
    progress(1, 5, "explainability (SHAP)")
    if "explainability" in suite:
        out["explainability"] = _explain(
            suite["explainability"], pipeline, x_test, proba, groups, spec.features, seed, checks
        )
    progress(2, 5, "robustness")
    if "robustness" in suite:
        out["robustness"] = _robustness(
            suite["robustness"], pipeline, x_test, y_test, seed, spec.features, checks
        )
    progress(3, 5, "privacy")
    if "privacy" in suite:
        out["privacy"] = _privacy(
            suite["privacy"],
            pipeline,
            x_train,
            y_train,
            x_test,
            y_test,
            list(snap.pii),
            spec.features,
            checks,
        )
    progress(4, 5, "baseline")
    if "baseline" in suite:
        model_auc = float(roc_auc_score(y_test, proba))
        split = _Split(snap, test_rows, x_train, y_train, x_test, y_test)
        out["baseline"] = _baseline(ws, model, suite["baseline"], spec, split, model_auc, checks)
    errors = sum(1 for c in checks.items if not c["passed"] and c["severity"] == "error")
    warnings = sum(1 for c in checks.items if not c["passed"] and c["severity"] == "warn")
    progress(5, 5, "done")
    evidence: dict[str, Any] = _clean(
        {
            "type": "ledgerml/evaluation/v1",
            "model": {"ref": model.ref, "digest": model.model_digest, "run": run.run_id},
            "data": {
                "snapshot": snap.ref,
                "table_digest": snap.table_digest,
                "test_rows": len(test_rows),
                "train_rows": len(train_rows),
            },
            "suite": {"name": settings.get("name", "evaluation"), "digest": suite_digest},
            "seed": seed,
            "sections": out,
            "checks": checks.items,
            "passed": errors == 0,
            "errors": errors,
            "warnings": warnings,
        }
    )
    return evidence


def evaluate(
    ws: Workspace,
    actor: str,
    ref: str,
    suite_path: Path,
    *,
    reason: str = "",
    key_ref: str | None = None,
    progress: Progress = NO_PROGRESS,
) -> tuple[int, dict[str, Any]]:
    """Evaluate a model version, store and sign the evidence, record it; return (event, doc)."""
    suite, raw = load_suite(suite_path)
    suite_digest = hashlib.sha256(raw).hexdigest()
    with ws.session(actor) as s:
        require(s, *ROLES, action="evaluate models")
        model = models.resolve(s.catalog, ref)
        attest.signing_key(s, key_ref)  # fail before the work if there is no key
    evidence = compute(ws, model, suite, suite_digest, progress)
    data = canonical_bytes(evidence)
    with ws.session(actor) as s:
        require(s, *ROLES, action="evaluate models")
        evidence_ref = s.put_blob(data, EVIDENCE_MEDIA_TYPE)
        suite_ref = s.put_blob(raw, "application/toml")
        att = attest.sign_statement(
            s,
            key_ref=key_ref,
            subjects=[
                ("evaluation.json", evidence_ref.sha256),
                ("model.skops", model.model_digest),
            ],
            predicate_type=EVIDENCE_PREDICATE,
            predicate={
                "model": model.ref,
                "suite_digest": suite_digest,
                "passed": evidence["passed"],
            },
            reason=reason,
            action="model.evaluate",
            extra_subjects=[f"model:{model.ref}"],
            extra_data={
                "model": model.ref,
                "evidence": evidence_ref.sha256,
                "suite_digest": suite_digest,
                "passed": evidence["passed"],
                "errors": evidence["errors"],
                "warnings": evidence["warnings"],
                "snapshot": evidence["data"]["snapshot"],
            },
            extra_objects=[evidence_ref, suite_ref],
        )
    return att.seq, evidence


def latest(ws: Workspace, ref: str, actor: str = "") -> tuple[dict[str, Any], int] | None:
    """The newest recorded evidence for a model version and its event number."""
    with ws.session(actor) as s:
        model = models.resolve(s.catalog, ref)
        rows = s.catalog.evaluations(model.ref)
    if not rows:
        return None
    row = rows[-1]
    doc: dict[str, Any] = json.loads(ws.objects.read_verified(row.evidence_digest))
    return doc, row.seq
