"""Score specs (TOML): which column of a snapshot is an existing score, and what it means.

Auditing a vendor's or a legacy score needs what a training spec would otherwise say: the
score column and whether it is a probability (thresholded into a decision) or already a 0/1
decision, the label column, the sensitive attributes kept for fairness, and the declared
meaning of the outcome (``[outcome]``, :mod:`core.modelling.outcome`)::

    [score]
    column = "vendor_score"
    kind = "probability"           # or "decision" (0/1: 1 is the positive class)
    label = "defaulted"
    threshold = 0.5                # probabilities only: positive when score >= threshold
    sensitive = ["region", "age_band"]

    [outcome]
    positive_label = 1
    positive = "defaults"
    negative = "repays"
    favourable = "negative"

The format is read strictly (:func:`core.kernel.formats.parse_strict`): an unknown key is an
error naming the keys allowed. It is documented in ``docs/formats/score-spec.md``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.kernel.errors import UsageError
from core.kernel.formats import parse_strict, strict_config
from core.modelling import outcome as outcome_mod
from core.modelling.outcome import Outcome

Kind = Literal["probability", "decision"]


class ScoreTable(BaseModel):
    """The ``[score]`` table as written."""

    model_config = strict_config()

    column: str = Field(min_length=1)
    kind: Kind
    label: str = Field(min_length=1)
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    sensitive: list[str] = Field(min_length=1)


class ScoreSpecFile(BaseModel):
    """The whole file: ``[score]`` and ``[outcome]`` (the latter read by its own parser)."""

    model_config = strict_config()

    score: ScoreTable
    outcome: dict[str, Any] | None = None


@dataclass(frozen=True)
class ScoreSpec:
    """A read score spec; see the module docstring."""

    column: str
    kind: Kind
    label: str
    threshold: float | None
    sensitive: tuple[str, ...]
    outcome: Outcome

    @property
    def columns(self) -> list[str]:
        """Every column the evaluation reads, each once."""
        return list(dict.fromkeys([self.column, self.label, *self.sensitive]))

    def to_json(self) -> dict[str, Any]:
        """The recorded form (in the evidence's ``score`` record)."""
        return {
            "column": self.column,
            "kind": self.kind,
            "label": self.label,
            "threshold": self.threshold,
            "sensitive": list(self.sensitive),
            "outcome": self.outcome.to_json(),
        }


def parse(doc: Any, *, where: str) -> ScoreSpec:
    """Read a parsed score spec strictly; ``where`` names the file in errors."""
    spec = parse_strict(ScoreSpecFile, doc, where=where)
    table = spec.score
    if spec.outcome is None:
        raise UsageError(
            f"{where}: auditing a score needs the outcome's meaning, and no [outcome] is declared",
            hint="Add an [outcome] table: positive_label, positive, negative, favourable = "
            '"positive" or "negative" (see docs/formats/score-spec.md). There is no default.',
        )
    if table.kind == "probability" and table.threshold is None:
        raise UsageError(
            f"{where}: [score] threshold is missing",
            hint="A probability score needs the threshold its decision is drawn at (kind = "
            '"decision" for a 0/1 column).',
        )
    if table.kind == "decision" and table.threshold is not None:
        raise UsageError(
            f'{where}: [score] threshold applies only to kind = "probability"',
            hint="A decision column is already 0/1: remove the threshold.",
        )
    used = [table.column, table.label]
    clash = [c for c in table.sensitive if c in used]
    if clash or table.column == table.label:
        name = clash[0] if clash else table.column
        raise UsageError(f"{where}: [score] uses column {name!r} for two purposes")
    return ScoreSpec(
        column=table.column,
        kind=table.kind,
        label=table.label,
        threshold=table.threshold,
        sensitive=tuple(dict.fromkeys(table.sensitive)),
        outcome=outcome_mod.parse(spec.outcome, where=where),
    )


def load(path: Path) -> tuple[ScoreSpec, bytes]:
    """Read a score spec file; return it and its bytes (whose digest the evidence names)."""
    try:
        raw = path.read_bytes()
        doc = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise UsageError(f"cannot read score spec {path}: {err}") from err
    return parse(doc, where=str(path)), raw
