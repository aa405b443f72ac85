"""What a model's output means for the person it is about: declared, never assumed.

A binary model predicts the *positive class* (1) or not (0). Whether a positive prediction
is good or bad for the person depends on the table: "bad credit risk" (German credit) is
unfavourable, "repays the loan" or "recovers" is favourable. Fairness is about the favourable
outcome (the four-fifths rule compares the rates at which groups receive it), so the
direction must be declared in the ``[outcome]`` table of a training spec (or of an
evaluation suite auditing existing scores)::

    [outcome]
    positive_label = 1                  # the label value that is the positive class
    positive = "bad credit risk"        # what a positive prediction means, in words
    negative = "good credit risk"
    favourable = "negative"             # which prediction is favourable to the person
    favourable_decision = "approved"    # optional: the decision it leads to
    unfavourable_decision = "declined"  # optional

There is no default: evidence that needs the direction refuses to run without it, naming
this table. Reports and the TUI take their wording from these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from core.kernel.errors import UsageError
from core.kernel.formats import parse_strict, strict_config

Side = Literal["positive", "negative"]


class OutcomeTable(BaseModel):
    """The ``[outcome]`` table as written (strict: unknown keys and wrong types refused)."""

    model_config = strict_config()

    positive_label: int | str | bool
    positive: str
    negative: str
    favourable: Side
    favourable_decision: str | None = None
    unfavourable_decision: str | None = None


class _Wrapper(BaseModel):
    """So errors name the table: ``spec.toml: [outcome] favourable: …``."""

    model_config = strict_config()

    outcome: OutcomeTable


@dataclass(frozen=True)
class Outcome:
    """A declared outcome meaning; see the module docstring."""

    positive_label: int | str | bool
    positive: str
    negative: str
    favourable: Side
    favourable_decision: str | None = None
    unfavourable_decision: str | None = None

    @property
    def favourable_prediction(self) -> int:
        """The predicted class (0 or 1) that is favourable to the person."""
        return 1 if self.favourable == "positive" else 0

    @property
    def favourable_name(self) -> str:
        """The favourable outcome in words: its decision name, else its prediction name."""
        side = self.positive if self.favourable == "positive" else self.negative
        return self.favourable_decision or side

    @property
    def unfavourable_name(self) -> str:
        """The unfavourable outcome in words."""
        side = self.negative if self.favourable == "positive" else self.positive
        return self.unfavourable_decision or side

    def to_json(self) -> dict[str, Any]:
        """The recorded form (evidence, reports); optional names only when given."""
        out: dict[str, Any] = {
            "positive_label": self.positive_label,
            "positive": self.positive,
            "negative": self.negative,
            "favourable": self.favourable,
        }
        if self.favourable_decision is not None:
            out["favourable_decision"] = self.favourable_decision
        if self.unfavourable_decision is not None:
            out["unfavourable_decision"] = self.unfavourable_decision
        return out

    @classmethod
    def from_json(cls, doc: Any) -> Outcome:
        """Read a recorded outcome (the same keys as the ``[outcome]`` table)."""
        return parse(doc, where="recorded outcome")


def parse(doc: Any, *, where: str) -> Outcome:
    """Read an ``[outcome]`` table strictly; ``where`` names the file in errors."""
    if not isinstance(doc, dict):
        raise UsageError(f"{where}: outcome must be an [outcome] table")
    table = parse_strict(_Wrapper, {"outcome": doc}, where=where).outcome
    return Outcome(**table.model_dump())


def required(outcome: Outcome | None, *, what: str) -> Outcome:
    """The declared outcome, or a clear refusal naming the setting that is missing."""
    if outcome is None:
        raise UsageError(
            f"{what} needs the outcome's meaning, and none is declared",
            hint="Add an [outcome] table to the training spec (positive_label, positive, "
            'negative, favourable = "positive" or "negative"); see docs/formats/training-spec.md.',
        )
    return outcome
