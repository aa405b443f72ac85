"""Gates: every threshold of a suite becomes a check with a severity and a verdict.

Sections add checks to one :class:`Checks` collector. Each check gets a verdict from the one
vocabulary (:mod:`core.kernel.verdict`): PASS, WARN (missed at ``warn`` severity), FAIL
(missed at ``error`` severity) or INCONCLUSIVE (it could not be judged on the data it had,
e.g. a comparison involving a group smaller than the suite's minimum). The evidence counts
FAIL as errors and WARN and INCONCLUSIVE as warnings, so "not shown to be fine" is never a
pass. :func:`clean` is the rounding every figure goes through, so the same model, suite and
seed give the same bytes.

Evidence written before verdicts existed has no ``verdict`` key: :attr:`Check.verdict` derives
it from ``passed`` and ``severity`` on read, and the document is written back without it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from core.data import tables
from core.evidence.record import OPTIONAL, Record
from core.kernel import verdict as verdicts
from core.kernel.verdict import Verdict


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

    JSON_NAMES: ClassVar[Mapping[str, str]] = {"recorded_verdict": "verdict"}

    section: str
    name: str
    observed: Any
    threshold: dict[str, Any]
    passed: bool
    """Whether the observed figure met the threshold (an INCONCLUSIVE check may have)."""
    severity: str
    recorded_verdict: str | None = field(default=None, metadata=OPTIONAL)
    """The verdict as recorded; None in evidence from before verdicts (see :attr:`verdict`)."""
    interval_95: list[float | None] | None = field(default=None, metadata=OPTIONAL)
    """The figure's bootstrap 95% interval, given when the check is inconclusive."""
    note: str | None = field(default=None, metadata=OPTIONAL)
    """Why the check is inconclusive, in words (which group is too small)."""

    def __post_init__(self) -> None:
        """Refuse a recorded verdict outside the vocabulary (a garbled or forged document)."""
        if self.recorded_verdict is not None and self.recorded_verdict not in verdicts.ORDER:
            raise ValueError(f"Check: unknown verdict {self.recorded_verdict!r}")

    @property
    def verdict(self) -> Verdict:
        """PASS, WARN, INCONCLUSIVE or FAIL: as recorded, or derived for older evidence."""
        if self.recorded_verdict in verdicts.ORDER:
            return self.recorded_verdict
        return verdicts.of_check(self.passed, self.severity)

    @property
    def failed_error(self) -> bool:
        """A FAIL: it fails the evaluation."""
        return self.verdict == verdicts.FAIL

    @property
    def failed_warning(self) -> bool:
        """A WARN or an INCONCLUSIVE: reported, counted as a warning, never as a pass."""
        return self.verdict in (verdicts.WARN, verdicts.INCONCLUSIVE)


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
        *,
        inconclusive: bool = False,
        interval: list[Any] | None = None,
        note: str | None = None,
    ) -> None:
        """Record a check (``observed`` as it should appear in the evidence).

        ``inconclusive`` says the data could not carry the judgement (the verdict is then
        INCONCLUSIVE, or FAIL for a failed ``error`` check); ``interval`` and ``note`` show
        how uncertain the figure is and why.
        """
        item: dict[str, Any] = {
            "section": section,
            "name": name,
            "observed": observed,
            "threshold": threshold,
            "passed": bool(passed),
            "severity": severity,
            "verdict": verdicts.of_check(bool(passed), severity, inconclusive=inconclusive),
        }
        if interval is not None:
            item["interval_95"] = list(interval)
        if note is not None:
            item["note"] = note
        self.items.append(item)

    def records(self) -> list[Check]:
        """The checks as typed records, rounded as the evidence stores them."""
        return [Check.from_json(clean(c)) for c in self.items]


def not_passed(checks: list[Check]) -> list[Check]:
    """Every check whose verdict is not PASS (WARN, INCONCLUSIVE, FAIL), worst first.

    A gap list built from it names each failing or warning check, so a summary can never
    hide one behind an overall verdict; :func:`core.documents.reporting.gap_in_words` says
    each one in words, for every front door.
    """
    found = [c for c in checks if c.verdict != verdicts.PASS]
    return sorted(found, key=lambda c: -verdicts.ORDER.index(c.verdict))
