"""Humane formatting shared by every report template, Markdown and HTML alike.

Core hands templates plain data; some of it is written for machines (metric code names,
threshold dicts, proportions, JSON provenance, empty lists). These filters turn each into
the words a reader expects, in one place, so the two renderings of a report say the same
thing. They are pure and never raise on odd input: what they cannot read they show as it is.

Example::

    {{ "roc_auc" | metric_name }}        -> ROC AUC
    {{ 0.793 | percent }}                -> 79.3%
    {{ {"max": 0.25} | threshold }}      -> at most 25%
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from typing import Any

METRIC_NAMES = {
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

# Metrics whose values are proportions of cases (shown as percentages in thresholds).
PROPORTIONS = frozenset(
    {"accuracy", "balanced_accuracy", "precision", "recall", "tpr", "fpr", "f1", "dpd", "eod"}
)

_BOUNDS = {
    "max": "at most",
    "min": "at least",
    "max_exclusive": "below",
    "min_exclusive": "above",
    "lt": "below",
    "le": "at most",
    "gt": "above",
    "ge": "at least",
    "equals": "exactly",
    "eq": "exactly",
    "warn_above": "warns above",
    "warn_below": "warns below",
}


def metric_name(name: object) -> str:
    """A metric's code name (``roc_auc``) in words (``ROC AUC``).

    Args:
        name: The code name; anything else is shown as text.

    Returns:
        The name a reader expects.
    """
    text = str(name)
    return METRIC_NAMES.get(text.lower(), text.replace("_", " "))


def percent(value: object, digits: int = 1, trim: bool = False) -> str:
    """A proportion (0.793) as a percentage (``79.3%``); text that is not a number as is.

    Args:
        value: A number between 0 and 1 (or its text).
        digits: Decimals to keep.
        trim: Drop trailing zeros (``25%`` for a threshold, ``25.0%`` for a measurement).

    Returns:
        The percentage (``79.3%``); an interval
        (``[0.05, 0.4]`` or its text) as ``[5%, 40%]``.
    """
    parsed = _parse(value)
    if isinstance(parsed, Sequence) and not isinstance(parsed, str):
        return "[" + ", ".join(percent(v, digits, trim) for v in parsed) + "]"
    number = _number(parsed)
    if number is None:
        return str(value)
    shown = f"{100 * number:.{digits}f}"
    if trim and "." in shown:
        shown = shown.rstrip("0").rstrip(".")
    return f"{shown}%"


def threshold(value: object, as_percent: bool | None = None) -> str:
    """A threshold (``{'max': 0.25}``, or its text) in words (``at most 25%``).

    Args:
        value: A mapping of bound names (``min``, ``max``…) to numbers, its Python or JSON
            text, a bare number, or anything else (shown as :func:`humane` shows it).
        as_percent: Show numbers as percentages; ``None`` guesses (numbers between 0 and 1,
            exclusive, are taken for proportions only when ``True``).

    Returns:
        The bounds joined with commas (``at least 70%, at most 90%``); other keys in
        words (``min measured groups 2``).
    """
    parsed = _parse(value)
    if isinstance(parsed, Mapping) and parsed and all(v == [] for v in parsed.values()):
        return "none"
    if isinstance(parsed, Mapping) and parsed:
        return ", ".join(
            f"{_BOUNDS.get(str(k), str(k).replace('_', ' '))} {_amount(v, as_percent)}"
            for k, v in parsed.items()
        )
    if _number(parsed) is not None and not isinstance(parsed, bool):
        return _amount(parsed, as_percent)
    return humane(parsed)


def humane(value: object) -> str:
    """Any plain value as a reader would write it, never as a data structure.

    Mappings read ``key: value, …`` (nested ones in parentheses), sequences ``a, b``, an
    empty one ``none``, ``None`` a dash, booleans yes/no, and text that is JSON or a Python
    literal of a mapping or list is read first, so ``{"git": "3fa1…"}`` reads ``git: 3fa1…``.

    Args:
        value: A string, number, mapping, sequence or ``None``.

    Returns:
        The text.
    """
    parsed = _parse(value)
    if parsed is None:
        return "—"
    if isinstance(parsed, bool):
        return "yes" if parsed else "no"
    if isinstance(parsed, Mapping):
        if not parsed:
            return "none"
        return ", ".join(f"{k.replace('_', ' ')}: {_nested(v)}" for k, v in parsed.items())
    if isinstance(parsed, Sequence) and not isinstance(parsed, str):
        return ", ".join(_nested(v) for v in parsed) if parsed else "none"
    if isinstance(parsed, float):
        return f"{parsed:g}"
    return str(parsed)


def _nested(value: object) -> str:
    """A value inside a mapping or list: containers in parentheses."""
    text = humane(value)
    return f"({text})" if isinstance(value, Mapping) and value else text


def _amount(value: object, as_percent: bool | None) -> str:
    """A threshold's number, as a percentage when asked."""
    number = _number(value)
    if number is None:
        return humane(value)
    return percent(number, trim=True) if as_percent else f"{number:g}"


def _number(value: object) -> float | None:
    """``value`` as a float, or ``None`` when it is not a number (booleans are not)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _parse(value: object) -> Any:
    """Text that is a JSON or Python mapping or list, read; anything else as given."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text or text[0] not in "{[" or text[-1] not in "}]":
        return value
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return value


FILTERS = {
    "metric_name": metric_name,
    "percent": percent,
    "threshold": threshold,
    "humane": humane,
}
"""The filters every template environment registers."""


_DELIMITERS = {" ": "space", ",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}


def file_format(fmt: object) -> str:
    """How a raw file was read (``{'format': 'csv', 'delimiter': ' ', …}``) in words.

    Args:
        fmt: The recorded reading options (a mapping), or anything else.

    Returns:
        For instance ``CSV, space-delimited, UTF-8, no header row, quoted with "``.
    """
    parsed = _parse(fmt)
    if not isinstance(parsed, Mapping):
        return humane(parsed)
    known = {"format", "delimiter", "encoding", "header", "quote"}
    parts = [str(parsed.get("format", "file")).upper()]
    if "delimiter" in parsed:
        sep = str(parsed["delimiter"])
        parts.append(f"{_DELIMITERS.get(sep, repr(sep))}-delimited")
    if "encoding" in parsed:
        parts.append(str(parsed["encoding"]).upper())
    if "header" in parsed:
        parts.append("with a header row" if parsed["header"] else "no header row")
    if parsed.get("quote"):
        parts.append(f"quoted with {parsed['quote']}")
    rest = {k: v for k, v in parsed.items() if k not in known}
    if rest:
        parts.append(humane(rest))
    return ", ".join(parts)


FILTERS["file_format"] = file_format
