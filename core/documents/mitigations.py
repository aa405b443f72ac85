"""The mitigation thresholds an impact assessment states, checked against recorded evidence.

An assessment that promises "suspension of the model if disparate impact falls below 0.8"
beside evidence at 0.793 contradicts itself; this module makes the promise data and flags
the contradiction. Thresholds are read from the answers file's structured ``[[thresholds]]``
tables, never parsed out of free text::

    [[thresholds]]
    measure = "disparate_impact"      # a fairness figure or a held-out metric (see MEASURES)
    min = 0.8                         # or max = …
    attributes = ["sex"]              # optional: every compared attribute otherwise
    action = "suspension of the model"

Each threshold is compared with the newest evidence's figures: a fairness measure per
compared attribute (or intersection), a metric once. A figure the evidence does not hold is
reported as not checked, never as met.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.evidence.sections.fairness import Fairness
from core.kernel.errors import UsageError

FAIRNESS_MEASURES = {
    "disparate_impact": "disparate impact",
    "demographic_parity_difference": "demographic parity difference",
    "equalized_odds_difference": "equalized odds difference",
}
METRIC_MEASURES = {
    "roc_auc": "ROC AUC",
    "accuracy": "accuracy",
    "precision": "precision",
    "recall": "recall",
    "f1": "F1 score",
}
MEASURES = {**FAIRNESS_MEASURES, **METRIC_MEASURES}


@dataclass(frozen=True)
class Threshold:
    """One stated mitigation: a measure, a bound, and what the assessment says will happen."""

    measure: str
    bound: str
    """``min`` (breached below) or ``max`` (breached above)."""
    value: float
    action: str
    attributes: tuple[str, ...] = ()

    def words(self) -> str:
        """The threshold as the assessment states it, in words."""
        side = "falls below" if self.bound == "min" else "rises above"
        return f"{self.action} if {MEASURES[self.measure]} {side} {self.value:g}"


def read(path: Path | None) -> list[Threshold]:
    """The ``[[thresholds]]`` of an answers file (none without a file or a table).

    Raises:
        UsageError: a malformed threshold (unknown measure, no bound or two, not a number).
    """
    if path is None:
        return []
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise UsageError(f"cannot read answers file {path}: {err}") from err
    raw = doc.get("thresholds", [])
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise UsageError(f"{path}: thresholds must be [[thresholds]] tables")
    return [_threshold(path, i, t) for i, t in enumerate(raw, 1)]


def _threshold(path: Path, n: int, t: dict[str, Any]) -> Threshold:
    where = f"{path}: threshold {n}"
    measure = t.get("measure")
    if measure not in MEASURES:
        raise UsageError(
            f"{where}: unknown measure {measure!r}", hint=f"Measures: {', '.join(MEASURES)}."
        )
    bounds = [b for b in ("min", "max") if b in t]
    if len(bounds) != 1:
        raise UsageError(f"{where}: give exactly one of min or max")
    value = t[bounds[0]]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"{where}: {bounds[0]} must be a number, not {value!r}")
    attributes = t.get("attributes", [])
    if not isinstance(attributes, list) or not all(isinstance(a, str) for a in attributes):
        raise UsageError(f"{where}: attributes must be a list of names")
    if attributes and measure in METRIC_MEASURES:
        raise UsageError(f"{where}: {measure} is a whole-model metric; it takes no attributes")
    action = t.get("action", "the stated measure")
    if not isinstance(action, str):
        raise UsageError(f"{where}: action must be text")
    unknown = set(t) - {"measure", "min", "max", "attributes", "action"}
    if unknown:
        raise UsageError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    return Threshold(str(measure), bounds[0], float(value), action, tuple(attributes))


def check(
    thresholds: list[Threshold],
    fairness: Fairness | None,
    metrics: dict[str, Any],
    as_of: str,
) -> tuple[list[str], list[str]]:
    """``(breached, unchecked)``: each threshold the evidence breaches, and each it cannot judge.

    ``as_of`` names the evidence (``evaluation event #N``) in every line.
    """
    breached: list[str] = []
    unchecked: list[str] = []
    for t in thresholds:
        figures: list[tuple[str, Any, str]] = []
        if t.measure in FAIRNESS_MEASURES:
            groups = fairness.groups if fairness else {}
            for name in t.attributes:
                if name not in groups:
                    unchecked.append(f"{t.words()}: the evidence compares no attribute {name!r}")
            for name, g in groups.items():
                if t.attributes and name not in t.attributes:
                    continue
                small = (
                    f" (INCONCLUSIVE: fewer than {fairness.min_group_size} rows in "
                    f"{', '.join(g.small_groups)})"
                    if fairness and g.small_groups
                    else ""
                )
                figures.append((f"for {name}", getattr(g, t.measure), small))
            if not groups:
                unchecked.append(f"{t.words()}: no fairness evidence is recorded")
        else:
            figures.append(("", metrics.get(t.measure), ""))
        for label, value, note in figures:
            if not isinstance(value, int | float):
                unchecked.append(f"{t.words()}: the figure {label} is undefined".replace("  ", " "))
                continue
            if (t.bound == "min" and value < t.value) or (t.bound == "max" and value > t.value):
                breached.append(
                    f"BREACHED: the assessment states {t.words()}; the recorded "
                    f"{MEASURES[t.measure]}{' ' + label if label else ''} is {value:.3f} "
                    f"({as_of}){note}"
                )
    return breached, unchecked
