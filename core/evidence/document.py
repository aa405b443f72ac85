"""The evidence document: what was judged, on which data, by which suite, and the verdict.

Its ``verdict`` is the worst of its checks' (PASS, WARN, INCONCLUSIVE, FAIL); documents written
before verdicts existed derive it on read and are written back without it. It is stored as
canonical JSON (media type :data:`MEDIA_TYPE`), signed, and named by one
``model.evaluate`` event. :class:`Evidence` reads a stored document back into typed records
and writes exactly the same JSON again, so readers (model cards, the CLI, the TUI) use
fields, and the bytes old workspaces and bundles hold still hash and verify.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, cast

from core.evidence import sections
from core.evidence.checks import Check
from core.evidence.record import OPTIONAL, Record
from core.kernel import verdict as verdicts
from core.kernel.verdict import Verdict

MEDIA_TYPE = "application/vnd.ledgerml.evaluation+json"
PREDICATE = "https://ledgerml.dev/evaluation/v1"
TYPE = "ledgerml/evaluation/v1"

S = TypeVar("S", bound=Record)


@dataclass(frozen=True)
class ModelInfo(Record):
    """The model version judged."""

    ref: str
    digest: str
    run: str


@dataclass(frozen=True)
class DataInfo(Record):
    """The snapshot the test rows came from, and how many there were.

    For a model's own held-out split, ``snapshot`` is its training input. Evaluated on
    another snapshot (``evaluate --on``), every row of ``snapshot`` is the test set and
    ``trained_on`` names the training input (absent otherwise).
    """

    snapshot: str
    table_digest: str
    test_rows: int
    train_rows: int
    trained_on: str | None = field(default=None, metadata=OPTIONAL)


@dataclass(frozen=True)
class SuiteInfo(Record):
    """The suite, by name and by the SHA-256 of its bytes."""

    name: str
    digest: str


@dataclass(frozen=True)
class ScoreInfo(Record):
    """The existing score judged, when the subject is a column of a snapshot, not a model.

    ``spec`` is the score spec as read (column, kind, label, threshold, sensitive, outcome),
    ``spec_digest`` the SHA-256 of its bytes, and ``summary`` the score's discrimination and
    calibration (rows, positive rate, ROC AUC, accuracy, Brier score for a probability).
    """

    subject: str
    snapshot: str
    table_digest: str
    column: str
    spec: dict[str, Any]
    spec_digest: str
    summary: dict[str, Any]


@dataclass(frozen=True)
class Evidence(Record):
    """One evaluation's evidence (``type`` = :data:`TYPE`, format version 1)."""

    JSON_NAMES: ClassVar[Mapping[str, str]] = {"type_": "type", "recorded_verdict": "verdict"}

    type_: str
    model: ModelInfo | None
    """The model judged; None when the subject is an existing score (see ``score``)."""
    data: DataInfo
    suite: SuiteInfo
    seed: int
    sections: Mapping[str, Record]
    checks: list[Check]
    passed: bool
    """No check is FAIL (an INCONCLUSIVE or WARN check is counted in ``warnings``)."""
    errors: int
    warnings: int
    recorded_verdict: str | None = field(default=None, metadata=OPTIONAL)
    """The overall verdict as recorded; None in evidence from before verdicts."""
    score: ScoreInfo | None = field(default=None, metadata=OPTIONAL)

    def __post_init__(self) -> None:
        """Refuse a recorded verdict outside the vocabulary (a garbled or forged document)."""
        if self.recorded_verdict is not None and self.recorded_verdict not in verdicts.ORDER:
            raise ValueError(f"Evidence: unknown verdict {self.recorded_verdict!r}")

    @property
    def verdict(self) -> Verdict:
        """The worst of the checks' verdicts (recorded, or derived for older evidence).

        Kept apart from the model's signature status: signed evidence can FAIL.
        """
        if self.recorded_verdict in verdicts.ORDER:
            return self.recorded_verdict
        return verdicts.worst(c.verdict for c in self.checks)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Evidence:
        """Read a stored document; each section parses into its section's record."""
        doc = super().from_json(data)
        parsed = {
            name: sections.by_name(name).result.from_json(cast(Mapping[str, Any], value))
            for name, value in doc.sections.items()
        }
        return dataclasses.replace(doc, sections=parsed)

    @classmethod
    def from_bytes(cls, data: bytes) -> Evidence:
        """Read a stored evidence object."""
        return cls.from_json(json.loads(data))

    def section(self, kind: type[S]) -> S | None:
        """The result of the section whose record is ``kind``, or None if it did not run."""
        for result in self.sections.values():
            if isinstance(result, kind):
                return result
        return None

    def to_bytes(self) -> bytes:
        """The canonical JSON that is stored, hashed and signed."""
        from storage.canonical import canonical_bytes

        return canonical_bytes(self.to_json())
