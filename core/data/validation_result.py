"""The validation result document, typed: what a suite found on a snapshot.

The result is evidence: its canonical JSON is stored in the object store and hashed into the
``validation.run`` event, so :meth:`ValidationResult.to_json` writes exactly the document
workspaces already hold (``type`` ``ledgerml/validation/v1``) and
:meth:`ValidationResult.from_json` reads it back, refusing a version or key it does not know.
Reports, the TUI and the CLI read its fields instead of key paths; a new version of the
document gets a new ``type`` here and a reader for the old one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.kernel import verdict as verdicts
from core.kernel.verdict import Verdict

VERSION = "ledgerml/validation/v1"
_CHECK_KEYS = ("name", "type", "column", "severity", "observed", "threshold", "passed", "detail")
_DRIFT_KEYS = ("method", "reference")


@dataclass(frozen=True)
class CheckOutcome:
    """One check's verdict: what was observed, against which threshold, and whether it passed.

    ``observed`` is a number, a kind name, ``None`` (nothing could be measured) or, for a
    drift check, ``{"statistic": …, "p_value": …}``/``{"statistic": …, "bins": …}``;
    ``method`` and ``reference`` are set for drift checks only.
    """

    name: str
    type: str
    column: str | None
    severity: str
    observed: Any
    threshold: dict[str, Any]
    passed: bool
    detail: str
    method: str | None = None
    reference: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The check's entry in the result document."""
        out = {k: getattr(self, k) for k in _CHECK_KEYS}
        out.update({k: getattr(self, k) for k in _DRIFT_KEYS if getattr(self, k) is not None})
        return out

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> CheckOutcome:
        """Read an entry back (``ValueError`` for a malformed one)."""
        unknown = set(doc) - {*_CHECK_KEYS, *_DRIFT_KEYS}
        missing = set(_CHECK_KEYS) - set(doc)
        if unknown or missing:
            raise ValueError(
                f"not a check outcome: unknown {sorted(unknown)}, missing {sorted(missing)}"
            )
        return cls(**doc)

    @property
    def is_error(self) -> bool:
        """A failed check of severity ``error``: it fails the run."""
        return not self.passed and self.severity == "error"

    @property
    def is_warning(self) -> bool:
        """A failed check of severity ``warn``: counted, but the run still passes."""
        return not self.passed and self.severity == "warn"

    @property
    def verdict(self) -> Verdict:
        """PASS, WARN or FAIL, derived from ``passed`` and ``severity``.

        Derived rather than stored, so results already recorded keep their exact bytes and
        the verdict can never disagree with the figures it summarises.
        """
        return verdicts.of_check(self.passed, self.severity)


@dataclass(frozen=True)
class ValidationResult:
    """A suite's run on one snapshot: every check's outcome and the verdict."""

    snapshot_ref: str
    table_digest: str
    suite_name: str
    suite_digest: str
    checks: tuple[CheckOutcome, ...] = field(default_factory=tuple)

    @property
    def errors(self) -> int:
        """How many ``error`` checks failed."""
        return sum(1 for c in self.checks if c.is_error)

    @property
    def warnings(self) -> int:
        """How many ``warn`` checks failed."""
        return sum(1 for c in self.checks if c.is_warning)

    @property
    def passed(self) -> bool:
        """No ``error`` check failed."""
        return self.errors == 0

    @property
    def verdict(self) -> Verdict:
        """The overall verdict: the worst of the checks' (a warning never reads as a pass)."""
        return verdicts.worst(c.verdict for c in self.checks)

    @property
    def failed(self) -> list[str]:
        """The names of the checks that failed, errors and warnings alike, in suite order."""
        return [c.name for c in self.checks if not c.passed]

    def to_json(self) -> dict[str, Any]:
        """The result document as stored (pass it to ``canonical_bytes``)."""
        return {
            "type": VERSION,
            "snapshot": {"ref": self.snapshot_ref, "table_digest": self.table_digest},
            "suite": {"name": self.suite_name, "digest": self.suite_digest},
            "checks": [c.to_json() for c in self.checks],
            "passed": self.passed,
            "errors": self.errors,
            "warnings": self.warnings,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ValidationResult:
        """Read a stored document back, checking that its totals agree with its checks.

        Raises:
            ValueError: for another version, unknown keys or totals that do not add up.
        """
        if doc.get("type") != VERSION:
            raise ValueError(f"not a {VERSION} document: {doc.get('type')!r}")
        keys = {"type", "snapshot", "suite", "checks", "passed", "errors", "warnings"}
        if set(doc) != keys:
            raise ValueError(f"a validation result holds {sorted(keys)}, not {sorted(doc)}")
        result = cls(
            snapshot_ref=doc["snapshot"]["ref"],
            table_digest=doc["snapshot"]["table_digest"],
            suite_name=doc["suite"]["name"],
            suite_digest=doc["suite"]["digest"],
            checks=tuple(CheckOutcome.from_json(c) for c in doc["checks"]),
        )
        if (result.passed, result.errors, result.warnings) != (
            doc["passed"],
            doc["errors"],
            doc["warnings"],
        ):
            raise ValueError("the result's totals do not match its checks")
        return result
