"""Training specs: the TOML a data scientist writes, parsed and checked before anything runs.

The format is declared once, as pydantic models (:class:`SpecDoc` and its tables), read with
:func:`core.kernel.formats.parse_strict`: an unknown section or key, or a value of the wrong
type, is an error naming it and the keys allowed there. :data:`SPEC_KEYS` lists the same
names for the documentation (``docs/formats/training-spec.md``). A spec a run recorded is
re-read leniently (keys it did not know then are dropped, values coerced), so an old spec
without an ``[outcome]`` table still loads. The spec's exact bytes are hashed: the run
records that digest, and reproduction re-reads those bytes.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from core.kernel.errors import UsageError
from core.kernel.formats import parse_strict, strict_config
from core.modelling import outcome as outcomes
from core.modelling.estimators import ESTIMATORS
from core.modelling.events import TRAIN_ROLES
from core.modelling.outcome import Outcome

SKOPS_MEDIA_TYPE = "application/vnd.skops+zip"
PREDICTIONS_MEDIA_TYPE = "application/vnd.ledgerml.predictions+json"
ROLES = TRAIN_ROLES


def _is_names(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _column_names(value: Any) -> Any:
    """Refuse anything but a list of text with the format's own message (not pydantic's)."""
    if not _is_names(value):
        raise PydanticCustomError("column_names", 'must be a list of column names ["a", …]')
    return value


Names = Annotated[list[str], BeforeValidator(_column_names)]
Param = str | int | float | bool


class RunTable(BaseModel):
    """``[run]``: the input, its gate, the columns and the split."""

    model_config = strict_config()

    name: str
    input: str
    suite: str
    target: str
    features: Names
    sensitive: Names = []
    allow_sensitive_features: Names = []
    seed: int = 0
    test_size: float = 0.3
    threshold: float = 0.5


class EstimatorTable(BaseModel):
    """``[estimator]``: one of :data:`ESTIMATORS` and its keyword arguments."""

    model_config = strict_config()

    type: str
    params: dict[str, Param] = Field(default_factory=dict)


class PreprocessingTable(BaseModel):
    """``[preprocessing]``."""

    model_config = strict_config()

    scale: bool = True


class SpecDoc(BaseModel):
    """A whole training spec as written; ``[outcome]`` is read by :func:`outcome.parse`."""

    model_config = strict_config()

    run: RunTable
    estimator: EstimatorTable
    preprocessing: PreprocessingTable = PreprocessingTable()
    outcome: dict[str, Any] | None = None


def _keys(model: type[BaseModel]) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


# Every section and key a spec may hold (estimator params go to the estimator as they are).
SPEC_KEYS: dict[str, set[str]] = {
    "run": _keys(RunTable),
    "estimator": _keys(EstimatorTable),
    "preprocessing": _keys(PreprocessingTable),
    "outcome": _keys(outcomes.OutcomeTable),
}


@dataclass(frozen=True)
class Spec:
    """A parsed, checked training spec and the hash of its exact bytes."""

    raw: bytes
    digest: str
    name: str
    input: str
    suite: str
    target: str
    features: list[str]
    sensitive: list[str]
    allow_sensitive: list[str]
    estimator: str
    params: dict[str, Any]
    seed: int
    test_size: float
    threshold: float
    scale: bool
    outcome: Outcome | None = None
    """The declared meaning of the target's positive label (None: the target is 0/1 as is)."""


def load_spec(path: Path) -> Spec:
    """Parse and check a spec file.

    Raises:
        UsageError: naming what is wrong.
    """
    try:
        raw = path.read_bytes()
        doc = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise UsageError(f"cannot read training spec {path}: {err}") from err
    return parse_spec(raw, doc)


def _known_only(doc: dict[str, Any]) -> dict[str, Any]:
    """A recorded spec with only the sections and keys this version knows (lenient re-read)."""
    out: dict[str, Any] = {}
    for section, keys in SPEC_KEYS.items():
        value = doc.get(section)
        if isinstance(value, dict):
            out[section] = {k: v for k, v in value.items() if k in keys}
    return out


def _document(doc: dict[str, Any], strict: bool) -> SpecDoc:
    where = "training spec"
    if strict:
        run = doc.get("run")
        for key in ("features", "sensitive", "allow_sensitive_features"):
            # The documented message ("[run] features must be a list …"), before pydantic's.
            if isinstance(run, dict) and key in run and _is_names(run[key]) is False:
                raise UsageError(f'{where}: [run] {key} must be a list of column names ["a", …]')
        return parse_strict(SpecDoc, doc, where=where)
    from pydantic import ValidationError

    try:
        return SpecDoc.model_validate(_known_only(doc), strict=False)
    except ValidationError:  # as recorded, but not even leniently readable: say where
        return parse_strict(SpecDoc, _known_only(doc), where=where)


def parse_spec(raw: bytes, doc: dict[str, Any], *, strict: bool = True) -> Spec:
    """Check a parsed spec document.

    ``strict`` (every new spec) refuses unknown sections and keys and values of the wrong
    type; a spec a run recorded is re-read leniently, as it was accepted when the run was
    recorded.
    """
    parsed = _document(doc, strict)
    run, est = parsed.run, parsed.estimator
    if est.type not in ESTIMATORS:
        raise UsageError(
            f"training spec: estimator {est.type!r} is not allowed",
            hint=f"Allowed: {', '.join(ESTIMATORS)}.",
        )
    leaked = [
        f for f in run.features if f in run.sensitive and f not in run.allow_sensitive_features
    ]
    if leaked:
        raise UsageError(
            f"training spec: sensitive attribute {leaked[0]!r} is listed as a feature",
            hint="Remove it, or opt in explicitly with allow_sensitive_features = [...].",
        )
    if run.target in run.features:
        raise UsageError("training spec: the target is also a feature")
    if not 0 < run.test_size < 1:
        raise UsageError("training spec: test_size must be between 0 and 1")
    declared = None
    if parsed.outcome is not None:
        table = parsed.outcome if strict else _lenient_outcome(parsed.outcome)
        declared = outcomes.parse(table, where="training spec")
    return Spec(
        raw=raw,
        digest=hashlib.sha256(raw).hexdigest(),
        name=run.name,
        input=run.input,
        suite=run.suite,
        target=run.target,
        features=list(run.features),
        sensitive=list(run.sensitive),
        allow_sensitive=list(run.allow_sensitive_features),
        estimator=est.type,
        params=dict(est.params),
        seed=run.seed,
        test_size=run.test_size,
        threshold=run.threshold,
        scale=parsed.preprocessing.scale,
        outcome=declared,
    )


def _lenient_outcome(table: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in table.items() if k in SPEC_KEYS["outcome"]}
