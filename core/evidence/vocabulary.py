"""How the domain's code names and figures are said in words, wherever they are shown.

Metrics (``roc_auc``), monitoring figures (``drift_psi``) and bounds (``<= 0.25``) are
written for machines in the evidence; people read them in reports, in incident titles that
monitoring records, on screens. This module is the one table of those words, so a stored
title and a rendered report say a figure the same way. It is plain data and pure functions
and imports nothing of the project: the report renderers read it too.

Example::

    metric_name("roc_auc")                        -> "ROC AUC"
    figure_name("drift_psi")                      -> "largest input drift (PSI)"
    quantity(0.25, "error_rate")                  -> "25%"
    bound_in_words("<= 0.25", "drift_psi")        -> "at most 0.25"
"""

from __future__ import annotations

from typing import Final

METRIC_NAMES: Final[dict[str, str]] = {
    "roc_auc": "ROC AUC",
    "auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "average_precision": "average precision",
    "log_loss": "log loss",
    "brier": "Brier score",
    "brier_score": "Brier score",
    "f1": "F1 score",
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "precision": "precision",
    "recall": "recall",
    "tpr": "true positive rate",
    "fpr": "false positive rate",
    "dpd": "demographic parity difference",
    "eod": "equalized odds difference",
    "disparate_impact": "disparate impact",
    "ece": "expected calibration error",
    "mae": "mean absolute error",
    "rmse": "root mean squared error",
    "r2": "R²",
}
"""Code names of metrics as a reader says them; unknown names lose their underscores."""

PROPORTIONS: Final[frozenset[str]] = frozenset(
    {
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "tpr",
        "fpr",
        "f1",
        "dpd",
        "eod",
        "skew_rate",
        "error_rate",
        "refusal_rate",
        "estimated_accuracy",
        "calibration_error",
        "fairness_ratio",
    }
)
"""Metrics and figures whose values are proportions of cases: shown as percentages."""

FIGURE_NAMES: Final[dict[str, str]] = {
    "accuracy": "realised accuracy (recorded outcomes)",
    "calibration_error": "calibration error (ECE, recorded outcomes)",
    "decisions": "decisions answered",
    "drift_psi": "largest input drift (PSI)",
    "prediction_psi": "prediction drift (PSI)",
    "skew_rate": "share of inputs outside the training domain",
    "error_rate": "error rate",
    "refusal_rate": "refusal rate",
    "estimated_accuracy": "estimated accuracy (CBPE)",
    "fairness_ratio": "lowest ratio of favourable-decision rates between groups",
    "latency_p50_ms": "median latency",
    "latency_p99_ms": "99th-percentile latency",
}
"""Monitoring's figures (core.operations.monitoring) in words; others as :func:`metric_name`."""

COMPARISONS: Final[dict[str, str]] = {
    "<=": "at most",
    ">=": "at least",
    "<": "below",
    ">": "above",
    "==": "exactly",
}
"""A bound's comparison sign in words."""


def metric_name(name: object) -> str:
    """A metric's code name (``roc_auc``) in words (``ROC AUC``).

    Args:
        name: The code name; anything else is shown as text.

    Returns:
        The name a reader expects.
    """
    text = str(name)
    return METRIC_NAMES.get(text.lower(), text.replace("_", " "))


def figure_name(name: object) -> str:
    """A monitoring figure's code name (``drift_psi``) in words.

    Args:
        name: The recorded name.

    Returns:
        ``largest input drift (PSI)``; a name that is no monitoring figure as
        :func:`metric_name` says it.
    """
    return FIGURE_NAMES.get(str(name)) or metric_name(name)


def quantity(value: float, name: object = "", digits: int = 3) -> str:
    """A figure's number as a reader takes it in, without any reading of it.

    Args:
        value: The number.
        name: The figure's or metric's code name: proportions read as percentages,
            ``*_ms`` as milliseconds.
        digits: Decimals for a plain number that is not whole.

    Returns:
        ``25%``, ``0.546``, ``400``, ``12 ms``.
    """
    key = str(name).lower()
    if key in PROPORTIONS:
        return percentage(value)
    if key.endswith("_ms"):
        return f"{value:,.0f} ms"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"


def percentage(value: float) -> str:
    """A proportion (0.5) as a percentage to one decimal, trailing zeros dropped (``50%``).

    Args:
        value: The proportion.

    Returns:
        The percentage.
    """
    shown = f"{100 * value:.1f}".rstrip("0").rstrip(".")
    return f"{shown}%"


def bound_in_words(bound: str, name: object = "") -> str:
    """A bound written as text (``<= 0.25``) in words (``at most 0.25``).

    Args:
        bound: A comparison sign, a space and a number, as objectives record it.
        name: The bounded figure's code name, so a proportion reads as a percentage.

    Returns:
        The words; a bound that is not of that shape as it is.
    """
    op, _, amount = str(bound).strip().partition(" ")
    try:
        number = float(amount)
    except ValueError:
        return str(bound)
    words = COMPARISONS.get(op)
    return f"{words} {quantity(number, name)}" if words else str(bound)


def share_in_words(share: object) -> str:
    """The share of traffic a throttled environment answers (``0.5``) in words.

    Args:
        share: A number between 0 and 1.

    Returns:
        ``50% of traffic``; anything that is not a number as text.
    """
    try:
        number = float(str(share))
    except ValueError:
        return str(share)
    return f"{percentage(number)} of traffic"


def breach_in_words(metric: object, observed: object, bound: str) -> str:
    """A figure that broke its objective, as an incident's title says it.

    Args:
        metric: The figure's code name (``drift_psi``).
        observed: Its measured value.
        bound: The objective as recorded (``<= 0.25``).

    Returns:
        ``largest input drift (PSI) 0.546 above the objective of at most 0.25``.
    """
    try:
        shown = quantity(float(str(observed)), metric)
    except ValueError:
        shown = str(observed)
    side = "below" if str(bound).lstrip().startswith(">") else "above"
    return f"{figure_name(metric)} {shown} {side} the objective of {bound_in_words(bound, metric)}"


IRREGULAR_PLURALS: Final[dict[str, str]] = {"analysis": "analyses", "person": "people"}
"""Words whose plural is not the word and an s (or es)."""


def plural(count: object, word: str, many: str = "") -> str:
    """A count with its noun in the right number: ``1 point``, ``3 points``, ``0 incidents``.

    Args:
        count: How many (a number, or a sized collection, whose length counts).
        word: The noun in the singular.
        many: The plural when it is not ``word`` + s (``es`` after s, x, z, ch, sh).

    Returns:
        The count and the noun; the count is written with thousands separators.
    """
    n = len(count) if isinstance(count, list | tuple | set | dict) else count
    try:
        number = float(str(n))
    except ValueError:
        return f"{n} {many or _plural(word)}"
    shown = f"{number:,.0f}" if number.is_integer() else f"{number:g}"
    return f"{shown} {word if number == 1 else (many or _plural(word))}"


def _plural(word: str) -> str:
    """The regular plural of ``word`` (its last word, for a phrase like ``PII column``)."""
    head, _, last = word.rpartition(" ")
    if last in IRREGULAR_PLURALS:
        many = IRREGULAR_PLURALS[last]
    elif last.endswith(("s", "x", "z", "ch", "sh")):
        many = last + "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        many = last[:-1] + "ies"
    else:
        many = last + "s"
    return f"{head} {many}" if head else many
