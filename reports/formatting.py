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

# The words for the domain's code names live with the domain, so what monitoring records
# (an incident's title) and what a report shows say a figure the same way.
from core.evidence.vocabulary import PROPORTIONS as PROPORTIONS
from core.evidence.vocabulary import figure_name as figure_name
from core.evidence.vocabulary import metric_name as metric_name
from core.evidence.vocabulary import plural as plural

FIGURE_AXES = {
    "accuracy": "accuracy (%)",
    "calibration_error": "ECE (%)",
    "decisions": "decisions",
    "drift_psi": "PSI",
    "prediction_psi": "PSI",
    "skew_rate": "inputs (%)",
    "error_rate": "errors (%)",
    "refusal_rate": "refusals (%)",
    "estimated_accuracy": "accuracy (%)",
    "fairness_ratio": "rate ratio (%)",
    "latency_p50_ms": "latency (ms)",
    "latency_p99_ms": "latency (ms)",
}
"""A chart's y axis title for each figure: short (the chart's heading names the figure), with
its unit."""

CHECK_NAMES = {
    "input_drift": "input drift",
    "prediction_drift": "prediction drift",
    "skew": "training-serving skew",
    "calibration": "calibration",
    "fairness": "fairness between groups",
    "latency": "latency",
    "volume": "decision volume",
}
"""Monitoring's check code names in words; ``drift:COLUMN`` and ``slo:NAME`` are read apart."""

_COMPARISONS = {"<=": "at most", ">=": "at least", "<": "below", ">": "above", "==": "exactly"}

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
    if isinstance(parsed, str):  # "<= 0.25", "max 0.25": a bound written as text
        op, _, amount = parsed.strip().partition(" ")
        if (op in _COMPARISONS or op in _BOUNDS) and _number(amount) is not None:
            return f"{_COMPARISONS.get(op) or _BOUNDS[op]} {_amount(amount, as_percent)}"
    if isinstance(parsed, Mapping) and parsed and all(v == [] for v in parsed.values()):
        return "none"
    if isinstance(parsed, Mapping) and parsed:
        return ", ".join(_bound(str(k), v, as_percent) for k, v in parsed.items())
    if _number(parsed) is not None and not isinstance(parsed, bool):
        return _amount(parsed, as_percent)
    return humane(parsed)


def _in_percent(name: object) -> bool:
    """Whether a check's figures are differences of rates, read as percentages."""
    return "difference" in str(name)


def check_observed(observed: object, name: object = "", interval: object = None) -> str:
    """What a check observed, as every report says it (the Checks table, the gaps, an AIA).

    A difference of rates reads as a percentage (``16.6%``), another number to three
    decimals, a count as a whole number, a summary of several figures in words. Only a
    single measured number carries its 95% interval: a count or a summary has none.

    Args:
        observed: The recorded value (a number, its text, a mapping of figures).
        name: The check's name, which says what kind of number it is.
        interval: The recorded 95% interval ``[low, high]``, if any.

    Returns:
        For instance ``16.6% (95% CI [5.9%, 41.2%])``, ``0.793 (95% CI [0.518, 0.930])``.
    """
    number = _number(observed)
    if number is None:
        return humane(observed)
    pct = _in_percent(name)
    whole = isinstance(observed, int) or (isinstance(observed, str) and "." not in observed)
    if pct:
        shown = percent(number)
    elif whole and number.is_integer():
        shown = f"{number:,.0f}"
    else:
        shown = f"{number:.3f}"
    bounds = _parse(interval)
    if isinstance(bounds, Sequence) and not isinstance(bounds, str) and len(bounds) == 2:
        low, high = (_number(b) for b in bounds)
        if low is not None and high is not None:
            inside = percent(bounds) if pct else f"[{low:.3f}, {high:.3f}]"
            shown += f" (95% CI {inside})"
    return shown


def check_threshold(value: object, name: object = "") -> str:
    """A check's threshold as every report says it: in the units :func:`check_observed` uses.

    Args:
        value: The recorded threshold (bounds by name).
        name: The check's name.

    Returns:
        For instance ``at most 25%``, ``at least 30, at least 2 measured groups``.
    """
    return threshold(value, _in_percent(name))


def section_name(name: object) -> str:
    """An evidence section's code name (``attribute_inference``) in words.

    Args:
        name: The recorded section name.

    Returns:
        ``attribute inference``.
    """
    return str(name).replace("_", " ")


def _bound(key: str, value: object, as_percent: bool | None) -> str:
    """One bound of a threshold in words.

    ``max`` 0.25 is ``at most 25%``; a bound on something else, ``min_measured_groups`` 2,
    is ``at least 2 measured groups``.
    """
    if key in _BOUNDS:
        return f"{_BOUNDS[key]} {_amount(value, as_percent)}"
    side, _, what = key.partition("_")
    if side in ("min", "max") and what:
        words = "at least" if side == "min" else "at most"
        return f"{words} {_amount(value, False)} {what.replace('_', ' ')}"
    return f"{key.replace('_', ' ')} {_amount(value, as_percent)}"


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


def check_name(name: object) -> str:
    """A monitoring check's code name (``drift:duration_months``) in words.

    Args:
        name: The recorded check name.

    Returns:
        ``input drift of duration_months``, ``objective stable-inputs``, ``calibration``.
    """
    text = str(name)
    kind, sep, rest = text.partition(":")
    if sep and kind == "drift":
        return f"input drift of {rest}"
    if sep and kind == "slo":
        return f"objective {rest}"
    return CHECK_NAMES.get(text) or metric_name(text)


def figure_axis(name: object) -> str:
    """The y axis title of a chart of one monitoring figure: the quantity and its unit.

    Args:
        name: The recorded name.

    Returns:
        ``PSI``, ``accuracy (%)``; for an unknown figure its name in words.
    """
    return FIGURE_AXES.get(str(name)) or figure_name(name)


PSI_READINGS = ((0.1, "stable"), (0.25, "a moderate shift"))
"""The usual reading of a population stability index: below 0.1 stable, up to 0.25 a
moderate shift, above that a major one (what monitoring's verdicts follow)."""


def figure(value: object, name: object = "", digits: int = 3) -> str:
    """A recorded figure as a reader takes it in.

    Proportions read as percentages, a PSI with its reading, counts as whole numbers,
    milliseconds with their unit.

    Args:
        value: The number (``None``: not measured).
        name: The figure's code name, which says what kind of number it is.
        digits: Significant decimals for plain numbers.

    Returns:
        For instance ``79.4%``, ``0.546 (a major shift)``, ``400``, ``12 ms``.
    """
    number = _number(value)
    if value is None:
        return "not measured"
    if number is None:
        return humane(value)
    key = str(name).lower()
    if key in PROPORTIONS:
        return percent(number)
    if key.endswith("psi"):
        reading = next((w for bound, w in PSI_READINGS if number < bound), "a major shift")
        return f"{number:.{digits}f} ({reading})"
    if key.endswith("_ms"):
        return f"{number:,.0f} ms"
    if number.is_integer():
        return f"{number:,.0f}"
    return f"{number:.{digits}f}"


def when(value: object, seconds: bool = False) -> str:
    """A recorded UTC time (``2026-12-03T14:37:58.344100Z``) as ``2026-12-03 14:37 UTC``.

    Args:
        value: An ISO 8601 time; a bare date, an empty value or other text is shown as is.
        seconds: Keep the seconds (events a second apart).

    Returns:
        The date, the time to the minute (or second) and the zone; ``—`` for nothing.
    """
    text = str(value or "").strip()
    if not text or text == "None":
        return "—"
    if len(text) < 16 or text[10] != "T":
        return text
    shown = text[11:19] if seconds else text[11:16]
    zone = "UTC" if text.endswith(("Z", "+00:00")) else text[19:].lstrip(".0123456789")
    return f"{text[:10]} {shown} {zone}".strip()


def signed(value: object, digits: int = 2) -> str:
    """A contribution with its sign (``+0.81``, ``−0.79``); text that is not a number as is.

    Args:
        value: The number.
        digits: Decimals to keep.

    Returns:
        The signed number, with a true minus sign.
    """
    number = _number(value)
    if number is None:
        return humane(value)
    return f"{number:+.{digits}f}".replace("-", "−")


def sentence(text: object) -> str:
    """``text`` with its first letter capitalised and the rest as it is (``ROC AUC`` stays).

    Args:
        text: Words, e.g. a metric's name opening a heading.

    Returns:
        The text.
    """
    words = str(text)
    return words[:1].upper() + words[1:]


FILTERS = {
    "figure_name": figure_name,
    "figure_axis": figure_axis,
    "signed": signed,
    "check_name": check_name,
    "sentence": sentence,
    "figure": figure,
    "when": when,
    "metric_name": metric_name,
    "percent": percent,
    "threshold": threshold,
    "check_observed": check_observed,
    "check_threshold": check_threshold,
    "section_name": section_name,
    "plural": plural,
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
