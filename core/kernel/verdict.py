"""One verdict vocabulary for every check ledgerml records: PASS, WARN, FAIL, INCONCLUSIVE.

A check either met its threshold (PASS), missed it at ``warn`` severity (WARN), missed it at
``error`` severity (FAIL), or could not be judged on the data it had (INCONCLUSIVE: a group
too small to compare, a figure that is undefined). An overall verdict is the worst of its
checks, so a summary can never read better than the check beneath it; INCONCLUSIVE ranks
between WARN and FAIL because "not shown to be fine" must never count as a pass. The verdict
of evidence is kept apart from a model's signature status: a signed model can carry failing
evidence, and a report says both.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

Verdict = Literal["PASS", "WARN", "INCONCLUSIVE", "FAIL"]

PASS: Final = "PASS"
WARN: Final = "WARN"
INCONCLUSIVE: Final = "INCONCLUSIVE"
FAIL: Final = "FAIL"

# Worst last: the overall verdict of several checks is the one ranked highest.
ORDER: Final[tuple[Verdict, ...]] = (PASS, WARN, INCONCLUSIVE, FAIL)
SEVERITIES: Final = ("error", "warn")


def of_check(passed: bool, severity: str, *, inconclusive: bool = False) -> Verdict:
    """The verdict of one check: its result, its severity, and whether it could be judged.

    An inconclusive check is INCONCLUSIVE whatever its severity (it is at least a warning,
    never a pass), except that it stays FAIL when the check failed at ``error`` severity.
    """
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be 'error' or 'warn', not {severity!r}")
    if inconclusive:
        return FAIL if (not passed and severity == "error") else INCONCLUSIVE
    if passed:
        return PASS
    return FAIL if severity == "error" else WARN


def worst(verdicts: Iterable[str]) -> Verdict:
    """The overall verdict: the worst of ``verdicts`` (PASS when there are none)."""
    found: Verdict = PASS
    for v in verdicts:
        if v not in ORDER:
            raise ValueError(f"unknown verdict {v!r}")
        if ORDER.index(v) > ORDER.index(found):
            found = v
    return found


def blocks(verdict: str) -> bool:
    """Whether a verdict fails a gate (only FAIL does; WARN and INCONCLUSIVE are reported)."""
    return verdict == FAIL


LEGEND: Final[tuple[tuple[Verdict, str], ...]] = (
    (PASS, "met its threshold"),
    (WARN, "missed a warning-level threshold (reported, not gated)"),
    (INCONCLUSIVE, "could not be judged on the data it had: never a pass"),
    (FAIL, "missed an error-level threshold"),
)
"""What each verdict means, for the legend every report and screen shows beside its colours."""

SHORT_LEGEND: Final[tuple[tuple[Verdict, str], ...]] = (
    (PASS, "met"),
    (WARN, "missed (warning level)"),
    (INCONCLUSIVE, "not judgeable, never a pass"),
    (FAIL, "missed (error level)"),
)
"""The legend in few words, for a screen's one line."""

TINY_LEGEND: Final[tuple[tuple[Verdict, str], ...]] = (
    (PASS, "met"),
    (WARN, "missed, warning"),
    (INCONCLUSIVE, "never a pass"),
    (FAIL, "missed, error"),
)
"""The same legend for 80 columns with the other words of a status line."""
