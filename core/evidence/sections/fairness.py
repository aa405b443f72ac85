"""Fairness: how the model's decisions and errors differ between groups.

The direction comes from the declared outcome (:mod:`core.modelling.outcome`, the training
spec's ``[outcome]`` table), never from an assumption: the section refuses to run without
one. Per group of each sensitive attribute and each requested intersection: count, the rate
of the *favourable* prediction (``favourable_rate``), the positive-prediction rate
(``selection_rate``, fairlearn's sense), TPR, FPR and precision of the positive class, and
calibration by score band. Per attribute: disparate impact (the lowest favourable rate over
the highest) with the four-fifths rule, demographic-parity difference (the same for either
outcome) and ratio (of positive-prediction rates), equalized-odds difference; seeded
bootstrap 95% intervals.

Small groups decide nothing: a comparison involving a group with fewer held-out rows than
``min_group_size`` (default :data:`MIN_GROUP_SIZE`, recorded in the evidence), or with none, is
INCONCLUSIVE (at least a warning, never a pass) and carries its bootstrap interval. A group
with no held-out rows (a combination of an intersection the split lacks) is listed with
undefined metrics; it, or an attribute with fewer than two measured groups, fails the "group
sizes" check at the section's severity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.evidence.checks import Checks, clean
from core.evidence.context import EvaluationContext
from core.evidence.record import OPTIONAL, Record
from core.evidence.sections import BaseSection
from core.kernel.errors import UsageError
from core.modelling import outcome as outcomes

MIN_GROUP_SIZE = 30
"""Groups with fewer held-out rows make a comparison INCONCLUSIVE unless the suite says less."""

Interval = list[float | None]


@dataclass(frozen=True)
class CalibrationBand(Record):
    """Observed against predicted rate in one score band of one group."""

    band: str
    count: int
    mean_predicted: float
    observed_rate: float


@dataclass(frozen=True)
class GroupRow(Record):
    """One group's rates; undefined (None) for a group with no held-out rows.

    ``selection_rate`` is the rate of the positive prediction. Evidence from before declared
    outcomes has ``approval_rate`` (the rate of predicted 0, assumed favourable); newer
    evidence has ``favourable_rate``, the rate of the declared favourable prediction. Read
    either through :attr:`favourable`.
    """

    group: str
    count: int
    selection_rate: float | None
    tpr: float | None
    fpr: float | None
    precision: float | None
    intervals_95: dict[str, Interval]
    calibration: list[CalibrationBand]
    approval_rate: float | None = field(default=None, metadata=OPTIONAL)
    favourable_rate: float | None = field(default=None, metadata=OPTIONAL)

    @property
    def favourable(self) -> float | None:
        """The rate of the favourable prediction, whichever name the evidence used."""
        if "favourable_rate" in self._present:
            return self.favourable_rate
        return self.approval_rate


@dataclass(frozen=True)
class AttributeFairness(Record):
    """The comparison of the groups of one attribute (or intersection)."""

    table: list[GroupRow]
    demographic_parity_difference: float
    demographic_parity_ratio: float
    equalized_odds_difference: float
    disparate_impact: float
    four_fifths_rule: bool
    intervals_95: dict[str, Interval]
    bootstrap: int
    unmeasured_groups: list[str] | None = field(default=None, metadata=OPTIONAL)
    small_groups: list[str] | None = field(default=None, metadata=OPTIONAL)
    """Groups below ``min_group_size``: the comparison is INCONCLUSIVE (newer evidence)."""


@dataclass(frozen=True)
class Fairness(Record):
    """The fairness section: one comparison per attribute, keyed ``"a"`` or ``"a × b"``."""

    positive_class: str
    favourable_outcome: str
    groups: dict[str, AttributeFairness]
    outcome: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)
    """The declared outcome (:meth:`Outcome.to_json`); absent in evidence from before it."""
    threshold: float | None = field(default=None, metadata=OPTIONAL)
    """The decision threshold on the positive class's probability."""
    min_group_size: int | None = field(default=None, metadata=OPTIONAL)

    @property
    def positive_name(self) -> str:
        """The positive prediction in words (older evidence: its recorded text)."""
        if self.outcome is not None:
            return outcomes.Outcome.from_json(self.outcome).positive
        return self.positive_class.split(" (predicted", 1)[0]

    @property
    def favourable_name(self) -> str:
        """The favourable outcome in words (older evidence: its recorded text)."""
        if self.outcome is not None:
            return outcomes.Outcome.from_json(self.outcome).favourable_name
        return self.favourable_outcome.split(" (predicted", 1)[0]


def _bands(mask: Any, proba: Any, y: Any) -> list[dict[str, Any]]:
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
    return bands


def _attribute(
    attrs: list[str], ctx: EvaluationContext, reps: int, fav: int
) -> tuple[str, dict[str, Any]]:
    """Compare the groups of one attribute (or intersection) on the held-out rows.

    Every figure comes from the counts of (group, label, prediction) cells
    (:mod:`core.evidence.cells`): the exact per-group table with fairlearn's conventions
    (tests hold it equal to ``MetricFrame``'s), the between-group spreads, and the bootstrap.
    """
    from core.evidence import cells as counted

    y, proba, pred, groups = ctx.y_test, ctx.proba, ctx.pred, ctx.groups
    key = " × ".join(attrs)
    # Groups as fairlearn lists them: every combination of an intersection, also those no
    # held-out row has (their count is 0 and every rate undefined, null).
    names, codes = counted.group_index(groups, attrs)
    cells = counted.Cells.of(codes, y, pred, len(names))
    exact = counted.table(cells)
    _, diff, ratio = counted.point(cells, fav)
    ci = counted.intervals(cells, fav, reps, ctx.seed)
    table = []
    for i, name in enumerate(names):
        selection = float(exact["selection_rate"][i])
        table.append(
            {
                "group": " / ".join(name),
                "count": int(exact["count"][i]),
                **{m: float(exact[m][i]) for m in ("selection_rate", "tpr", "fpr", "precision")},
                "favourable_rate": selection if fav else 1.0 - selection,
                "intervals_95": {m: ci.by_group[m][i] for m in counted.RATES},
                "calibration": _bands(codes == i, proba, y),
            }
        )
    di = ratio["favourable_rate"]
    return key, {
        "table": table,
        "demographic_parity_difference": diff["selection_rate"],
        "demographic_parity_ratio": ratio["selection_rate"],
        "equalized_odds_difference": max(diff["tpr"], diff["fpr"]),
        "disparate_impact": di,
        "four_fifths_rule": di >= 0.8,
        "intervals_95": {
            "demographic_parity_difference": ci.difference["selection_rate"],
            "tpr_difference": ci.difference["tpr"],
            "fpr_difference": ci.difference["fpr"],
            "disparate_impact": ci.ratio["favourable_rate"],
        },
        "bootstrap": reps,
    }


def _interval(summary: Mapping[str, Any], figure: str) -> Interval:
    """A summary figure's bootstrap 95% interval (equalized odds: of the larger gap)."""
    ci = summary["intervals_95"]
    if figure != "equalized_odds_difference":
        return list(ci[figure])
    pairs = [ci["tpr_difference"], ci["fpr_difference"]]
    ends = [[v for v in (p[i] for p in pairs) if v is not None] for i in (0, 1)]
    return [max(e) if e else None for e in ends]


def _thresholds(
    cfg: Mapping[str, Any],
    key: str,
    summary: dict[str, Any],
    checks: Checks,
    sev: str,
    small: str | None,
    favourable: str,
) -> None:
    """One check per configured limit; INCONCLUSIVE, with its interval, when ``small``.

    ``favourable`` names the favourable outcome in the spec's words, for the check's name.
    """
    # (setting, check label, summary figure, bound): each a limit on one figure.
    for setting, label, figure, bound in (
        (
            "max_demographic_parity_difference",
            "demographic parity difference",
            "demographic_parity_difference",
            "max",
        ),
        (
            "max_equalized_odds_difference",
            "equalized odds difference",
            "equalized_odds_difference",
            "max",
        ),
        ("min_disparate_impact", f"disparate impact on {favourable}", "disparate_impact", "min"),
    ):
        if setting not in cfg:
            continue
        value = summary[figure]
        limit = cfg[setting]
        ok = value <= limit if bound == "max" else value >= limit
        checks.add(
            "fairness",
            f"{label} ({key})",
            clean(value),
            {bound: limit},
            ok,
            sev,
            inconclusive=small is not None,
            interval=_interval(summary, figure) if small is not None else None,
            note=small,
        )


def _group_sizes(
    minimum: int,
    explicit: bool,
    key: str,
    table: list[dict[str, Any]],
    summary: dict[str, Any],
    checks: Checks,
    severity: str,
) -> str | None:
    """Say when the groups cannot carry the comparison, instead of letting it pass unseen.

    The differences and ratios are taken over the groups that have held-out rows. A group
    without any (a combination of an intersection the split never holds) has undefined
    metrics, and an attribute with fewer than two measured groups compares nothing: either
    fails the "group sizes" check at the section's severity. A measured group smaller than
    ``minimum`` makes the check, and every comparison of this attribute, INCONCLUSIVE. The
    check is recorded when the suite sets ``min_group_size``, and otherwise only when it is
    not a PASS, so evidence about well-filled groups stays as it was. Returns the note the
    comparisons carry when they are inconclusive, else None.
    """
    least = max(1, minimum)
    measured = [r for r in table if r["count"] > 0]
    too_small = [r for r in table if r["count"] < least]
    empty = [r["group"] for r in table if r["count"] == 0]
    if empty:
        summary["unmeasured_groups"] = empty
    if too_small:
        summary["small_groups"] = [r["group"] for r in too_small]
    passed = not empty and len(measured) >= 2
    note = None
    if too_small:
        named = ", ".join(f"{r['group']!r} ({r['count']})" for r in too_small[:5])
        more = f" and {len(too_small) - 5} more" if len(too_small) > 5 else ""
        note = f"groups with fewer than {least} held-out rows: {named}{more}"
    if passed and not too_small and not explicit:
        return note
    smallest = min((r["count"] for r in table), default=0)
    checks.add(
        "fairness",
        f"group sizes ({key})",
        {
            "smallest": smallest,
            "too_small": [r["group"] for r in too_small],
            "measured_groups": len(measured),
        },
        {"min": least, "min_measured_groups": 2},
        passed,
        severity,
        inconclusive=bool(too_small),
        # A count has no confidence interval; the small groups' rates and their intervals
        # are in the section's table.
        note=note,
    )
    return note


def _wording(outcome: outcomes.Outcome) -> tuple[str, str]:
    """The positive class and the favourable outcome, in the spec's own words."""
    favourable = outcome.favourable_prediction
    return (
        f"{outcome.positive} (predicted 1)",
        f"{outcome.favourable_name} (predicted {favourable})",
    )


class FairnessSection(BaseSection):
    """The ``[fairness]`` table."""

    name = "fairness"
    label = "fairness"
    order = 10
    keys = frozenset(
        {
            "attributes",
            "intersections",
            "bootstrap",
            "max_demographic_parity_difference",
            "max_equalized_odds_difference",
            "min_disparate_impact",
            "min_group_size",
            "severity",
        }
    )
    result = Fairness

    def validate(self, path: Path, cfg: Mapping[str, Any]) -> None:
        """Attributes are column names; intersections are lists of them."""
        names = cfg.get("attributes", [])
        if not isinstance(names, list) or not all(isinstance(a, str) for a in names):
            raise UsageError(f"{path}: [fairness] attributes must be a list of column names")
        groups = cfg.get("intersections", [])
        if not isinstance(groups, list) or not all(
            isinstance(g, list) and all(isinstance(a, str) for a in g) for g in groups
        ):
            raise UsageError(
                f'{path}: [fairness] intersections must be a list of lists, e.g. [["sex", "age"]]'
            )
        size = cfg.get("min_group_size", MIN_GROUP_SIZE)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise UsageError(
                f"{path}: [fairness] min_group_size must be a whole number of at least 1, "
                f"not {size!r}"
            )

    def precheck(self, ctx: EvaluationContext, cfg: Mapping[str, Any]) -> None:
        """Refuse to judge fairness without knowing which prediction is favourable."""
        outcomes.required(ctx.outcome, what="the fairness section")

    def run(self, ctx: EvaluationContext, cfg: Mapping[str, Any], checks: Checks) -> Fairness:
        """Compare the groups of every attribute and intersection the suite names."""
        outcome = outcomes.required(ctx.outcome, what="the fairness section")
        fav = outcome.favourable_prediction
        attributes = [[a] for a in cfg.get("attributes", [])] + [
            list(i) for i in cfg.get("intersections", [])
        ]
        reps = int(cfg.get("bootstrap", 200))
        minimum = int(cfg.get("min_group_size", MIN_GROUP_SIZE))
        positive, favourable = _wording(outcome)
        out: dict[str, Any] = {
            "positive_class": positive,
            "favourable_outcome": favourable,
            "outcome": outcome.to_json(),
            "threshold": ctx.threshold,
            "min_group_size": minimum,
            "groups": {},
        }
        for attrs in attributes:
            missing = [a for a in attrs if a not in ctx.groups]
            if missing:
                raise UsageError(
                    f"fairness attribute {missing[0]!r} was not kept with the run's predictions",
                    hint="List it under sensitive in the training spec.",
                )
            key, summary = _attribute(attrs, ctx, reps, fav)
            out["groups"][key] = summary
            sev = cfg.get("severity", "error")
            small = _group_sizes(
                minimum, "min_group_size" in cfg, key, summary["table"], summary, checks, sev
            )
            _thresholds(cfg, key, summary, checks, sev, small, outcome.favourable_name)
        return Fairness.from_json(clean(out))


SECTION = FairnessSection()
