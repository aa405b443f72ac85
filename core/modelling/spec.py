"""Training specs: the TOML a data scientist writes, parsed and checked before anything runs.

Every section and key a spec may hold is listed in :data:`SPEC_KEYS` (documented key by key in
``docs/formats/``); a new spec is read strictly, a spec a run recorded leniently. The spec's
exact bytes are hashed: the run records that digest, and reproduction re-reads those bytes.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.kernel.errors import UsageError
from core.kernel.formats import check_sections
from core.modelling.estimators import ESTIMATORS
from core.modelling.events import TRAIN_ROLES
from core.modelling.outcome import Outcome

SKOPS_MEDIA_TYPE = "application/vnd.skops+zip"
PREDICTIONS_MEDIA_TYPE = "application/vnd.ledgerml.predictions+json"
ROLES = TRAIN_ROLES
# Every section and key a spec may hold (estimator params go to the estimator as they are).
SPEC_KEYS = {
    "run": {
        "name",
        "input",
        "suite",
        "target",
        "features",
        "sensitive",
        "allow_sensitive_features",
        "seed",
        "test_size",
        "threshold",
    },
    "estimator": {"type", "params"},
    "preprocessing": {"scale"},
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


def _check_keys(doc: dict[str, Any]) -> None:
    """Refuse unknown sections and keys, and lists or flags of the wrong type."""
    check_sections(doc, SPEC_KEYS, where="training spec")
    run = doc.get("run", {})
    for key in ("features", "sensitive", "allow_sensitive_features"):
        value = run.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UsageError(f"training spec: [run] {key} must be a list of column names")
    for key in ("name", "input", "suite", "target"):
        if key in run and not isinstance(run[key], str):
            raise UsageError(f"training spec: [run] {key} must be text")
    if not isinstance(doc.get("estimator", {}).get("params", {}), dict):
        raise UsageError("training spec: [estimator] params must be a table, such as { C = 1.0 }")
    if not isinstance(doc.get("preprocessing", {}).get("scale", True), bool):
        raise UsageError("training spec: [preprocessing] scale must be true or false")


def _table(doc: dict[str, Any], name: str, where: str = "") -> dict[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise UsageError(f"training spec: {where or f'[{name}]'} must be a table")
    return value


def _names(run: dict[str, Any], key: str) -> list[str]:
    value = run.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f'training spec: [run] {key} must be a list of column names ["a", …]')
    return value


def parse_spec(raw: bytes, doc: dict[str, Any], *, strict: bool = True) -> Spec:
    """Check a parsed spec document.

    ``strict`` (every new spec) also refuses unknown sections and keys; a spec a run recorded
    is re-read leniently, as it was accepted when the run was recorded.
    """
    if strict:
        _check_keys(doc)
    run = _table(doc, "run")
    est = _table(doc, "estimator")
    missing = [k for k in ("name", "input", "suite", "target", "features") if k not in run]
    if missing:
        raise UsageError(f"training spec: [run] lacks {', '.join(missing)}")
    if est.get("type") not in ESTIMATORS:
        raise UsageError(
            f"training spec: estimator {est.get('type')!r} is not allowed",
            hint=f"Allowed: {', '.join(ESTIMATORS)}.",
        )
    features = _names(run, "features")
    sensitive = _names(run, "sensitive")
    allow = _names(run, "allow_sensitive_features")
    leaked = [f for f in features if f in sensitive and f not in allow]
    if leaked:
        raise UsageError(
            f"training spec: sensitive attribute {leaked[0]!r} is listed as a feature",
            hint="Remove it, or opt in explicitly with allow_sensitive_features = [...].",
        )
    if run["target"] in features:
        raise UsageError("training spec: the target is also a feature")
    try:
        test_size = float(run.get("test_size", 0.3))
        seed = int(run.get("seed", 0))
        threshold = float(run.get("threshold", 0.5))
    except (TypeError, ValueError) as err:
        raise UsageError(
            f"training spec: seed, test_size and threshold must be numbers ({err})"
        ) from err
    if not 0 < test_size < 1:
        raise UsageError("training spec: test_size must be between 0 and 1")
    params = _table(est, "params", "[estimator] params")
    if not all(isinstance(v, str | int | float | bool) for v in params.values()):
        raise UsageError("training spec: estimator params must be strings, numbers or booleans")
    return Spec(
        raw=raw,
        digest=hashlib.sha256(raw).hexdigest(),
        name=str(run["name"]),
        input=str(run["input"]),
        suite=str(run["suite"]),
        target=str(run["target"]),
        features=features,
        sensitive=sensitive,
        allow_sensitive=allow,
        estimator=str(est["type"]),
        params=params,
        seed=seed,
        test_size=test_size,
        threshold=threshold,
        scale=bool(_table(doc, "preprocessing").get("scale", True)),
    )
