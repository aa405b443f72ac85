"""What may be shown of a PII-tagged column: counts, null rates and distinct counts, no values.

A profile records, for most columns, values of the data: top values, text extremes, the
minimum and maximum, quantiles and histogram edges. For a column tagged PII those values are
names, emails, dates of birth and case numbers, so they are never computed for a new snapshot
(:func:`core.data.profile.digest_and_profile`) and every reader drops them from profiles that
older snapshots stored (:func:`redact_profile`). Validation results are filtered the same way
(:func:`redact_check`): a check on a PII column keeps its verdict and counts, never a value.

The module is light on purpose (no data library): the catalog readers, the TUI and the bundle
call it on every read.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Iterable, Mapping
from typing import Any

WITHHELD = "withheld: PII column"
"""What a reader shows where a value of a PII column would be."""

KEPT_STATS = frozenset({"type", "kind", "nulls", "distinct", "nan", "pos_inf", "neg_inf"})
"""The profile figures of a PII column that are counts, not values of the data."""

# Check types whose observed figure is a count or rate of rows, never a value of the column.
COUNTING_CHECKS = frozenset(
    {"column_present", "null_rate", "range", "allowed_values", "unique", "regex", "row_count"}
)
KEPT_CHECK_KEYS = frozenset(
    {"name", "type", "column", "severity", "threshold", "passed", "method", "reference"}
)


def redact_stats(stats: Mapping[str, Any]) -> dict[str, Any]:
    """One PII column's profile entry, its counts only, marked as withheld."""
    out = {k: v for k, v in stats.items() if k in KEPT_STATS}
    out["withheld"] = WITHHELD
    return out


def redact_profile(profile: Mapping[str, Any], pii: Collection[str]) -> dict[str, Any]:
    """A profile with every value of the ``pii`` columns dropped (counts kept).

    Profiles stored before PII columns were profiled by counts alone hold their top values and
    extremes; this is the one filter every reader applies, using the snapshot's PII tags.
    """
    columns = profile.get("columns", {})
    return {
        **profile,
        "columns": {
            name: redact_stats(stats) if name in pii else dict(stats)
            for name, stats in columns.items()
        },
    }


def withheld(stats: Mapping[str, Any]) -> bool:
    """Whether a profile entry is a PII column's (values withheld)."""
    return "withheld" in stats


def observed_shown(check_type: str, column: str | None, observed: Any, pii: Collection[str]) -> Any:
    """A check's observed figure as it may be shown: withheld when it could be a PII value."""
    if column is None or column not in pii:
        return observed
    if check_type in COUNTING_CHECKS and (
        observed is None or isinstance(observed, (int, float, bool))
    ):
        return observed
    return WITHHELD


def redact_check(check: Mapping[str, Any], pii: Collection[str]) -> dict[str, Any]:
    """A validation result's check entry with any value of a PII column removed.

    The verdict, the threshold the suite declared and a counted figure stay; a measured value
    (a mean, a quantile), a detail text that may quote offending values and any other key are
    dropped, so a new kind of detail cannot carry PII values out unnoticed.
    """
    column = check.get("column")
    if not isinstance(column, str) or column not in pii:
        return dict(check)
    out = {k: v for k, v in check.items() if k in KEPT_CHECK_KEYS}
    out["observed"] = observed_shown(str(check.get("type")), column, check.get("observed"), pii)
    out["detail"] = WITHHELD if check.get("detail") else ""
    return out


def redact_validation(doc: Mapping[str, Any], pii: Collection[str]) -> dict[str, Any]:
    """A validation result document with its PII column checks redacted."""
    checks = doc.get("checks", [])
    return {**doc, "checks": [redact_check(c, pii) for c in checks]}


def pii_values(profile: Mapping[str, Any], pii: Collection[str]) -> list[str]:
    """The values of PII columns a stored profile holds (old profiles), as text.

    Used to tell whether a report rendered from that profile may quote them.
    """
    found: list[str] = []
    for name in pii:
        stats = profile.get("columns", {}).get(name, {})
        for value, _count in stats.get("top_values", []):
            if value is not None:
                found.append(str(value))
        for key in ("min", "max"):
            if stats.get(key) is not None:
                found.append(str(stats[key]))
    return found


def quotes_any(texts: Iterable[bytes], values: Iterable[str]) -> bool:
    """Whether any text quotes any value (as written, or HTML-escaped).

    A value is looked for as a cell or list item of a rendered report (delimited by the
    characters reports put around values), so a short value such as ``1`` does not match
    every number of the page.
    """
    bodies = [t.decode("utf-8", errors="replace") for t in texts]
    for value in values:
        for form in {value, html.escape(value)}:
            for body in bodies:
                if _quoted(body, form):
                    return True
    return False


_LEFT = (" ", "|", ">", ":", ",", "(", "\n", "\t", "`", '"')
_RIGHT = (" ", "|", "<", ",", ")", "\n", "\t", "`", '"', "×")


def _quoted(body: str, value: str) -> bool:
    start = body.find(value)
    while start != -1:
        end = start + len(value)
        before = body[start - 1] if start else "\n"
        after = body[end] if end < len(body) else "\n"
        if before in _LEFT and after in _RIGHT:
            return True
        start = body.find(value, start + 1)
    return False
