"""Gates: every threshold of a suite becomes a check with a severity, recorded pass or fail.

Sections add checks to one :class:`Checks` collector; the evidence counts the failing ones
by severity (an ``error`` fails the evaluation, a ``warn`` is reported). :func:`clean` is the
rounding every figure goes through, so the same model, suite and seed give the same bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from core.data import tables
from core.evidence.record import Record


def clean(value: Any) -> Any:
    """Round floats (12 significant digits) and make numpy scalars plain, recursively."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else tables.round_figure(value)
    return value


@dataclass(frozen=True)
class Check(Record):
    """One threshold and how the model did against it."""

    section: str
    name: str
    observed: Any
    threshold: dict[str, Any]
    passed: bool
    severity: str

    @property
    def failed_error(self) -> bool:
        """A failure that fails the evaluation."""
        return not self.passed and self.severity == "error"

    @property
    def failed_warning(self) -> bool:
        """A failure that is reported only."""
        return not self.passed and self.severity == "warn"


class Checks:
    """The checks of one evaluation, in the order the sections added them."""

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
        """Record a check (``observed`` as it should appear in the evidence)."""
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

    def records(self) -> list[Check]:
        """The checks as typed records, rounded as the evidence stores them."""
        return [Check.from_json(clean(c)) for c in self.items]
