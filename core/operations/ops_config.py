"""SLO sets and playbooks: the TOML documents an environment's monitoring answers to.

An **SLO set** (``docs/formats/slo.md``) lists objectives on what a monitoring run measures
(accuracy, calibration, a fairness ratio, drift, latency, error rate): each a metric, a
bound (``min`` or ``max``) and the verdict a breach gives (``FAIL`` or ``WARN``). A
**playbook** (``docs/formats/playbook.md``) maps a breach (an objective's name, or a metric)
to numbered steps: throttle, switch to a fallback model, roll back, or revert to a rule-based
baseline, each automatic or on command, each with the runbook text a person follows.

Both are read strictly (pydantic, unknown keys refused) before anything is recorded, stored
as canonical JSON blobs and put in force per environment by one ``ops.configure`` event;
the latest one of each kind is in force, so the history of what an environment answered to
is the ``ops_configs`` table.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import UsageError
from core.kernel.formats import parse_strict, strict_config
from core.kernel.kinds import new_event
from core.kernel.rows import OpsConfigRow
from core.kernel.workspace import Session, Workspace
from core.operations.deployments import baseline_rule, check_env
from core.operations.monitor_events import OPS_ROLES, Configured

SLO_MEDIA_TYPE = "application/vnd.ledgerml.slo+json"
PLAYBOOK_MEDIA_TYPE = "application/vnd.ledgerml.playbook+json"

METRICS: dict[str, str] = {
    "accuracy": "realised accuracy on decisions whose outcome is recorded",
    "estimated_accuracy": "accuracy expected from the calibrated scores (CBPE), before labels",
    "calibration_error": "expected calibration error (10 bins) on decisions with outcomes",
    "fairness_ratio": "lowest ratio of favourable-decision rates between groups",
    "drift_psi": "highest PSI of an input feature against the training snapshot",
    "prediction_psi": "PSI of the scores against the run's held-out predictions",
    "skew_rate": "highest share of inputs outside the training domain",
    "latency_p50_ms": "median decision latency in milliseconds",
    "latency_p99_ms": "99th percentile decision latency in milliseconds",
    "error_rate": "share of served requests that failed",
    "refusal_rate": "share of served requests refused",
    "decisions": "number of decisions answered in the window (served, status ok)",
}
"""What an objective may bound: the figures a monitoring run reports under these names."""

ACTIONS = ("throttle", "fallback", "rollback", "baseline")
"""What a playbook step does (each a function of :mod:`core.operations.deployments`)."""


class Objective(BaseModel):
    """One ``[[objectives]]`` entry."""

    model_config = strict_config()

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    metric: str
    min: float | None = None
    max: float | None = None
    verdict: Literal["FAIL", "WARN"] = "FAIL"
    description: str = ""


class SloHeader(BaseModel):
    """The ``[slo]`` table."""

    model_config = strict_config()

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    description: str = ""


class SloFile(BaseModel):
    """A whole SLO file."""

    model_config = strict_config()

    slo: SloHeader
    objectives: list[Objective] = Field(min_length=1)


class Step(BaseModel):
    """One ``[[steps]]`` entry of a playbook."""

    model_config = strict_config()

    on: str = Field(min_length=1)
    action: Literal["throttle", "fallback", "rollback", "baseline"]
    auto: bool = False
    runbook: str = Field(min_length=1)
    share: float | None = Field(default=None, ge=0.0, lt=1.0)
    model: str | None = None
    baseline_name: str | None = None
    baseline_score: str | None = None
    baseline_threshold: float | None = None
    roles: list[str] | None = None


class PlaybookHeader(BaseModel):
    """The ``[playbook]`` table."""

    model_config = strict_config()

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    description: str = ""


class PlaybookFile(BaseModel):
    """A whole playbook file."""

    model_config = strict_config()

    playbook: PlaybookHeader
    steps: list[Step] = Field(min_length=1)


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise UsageError(f"cannot read {path}: {err}") from err


def parse_slo(doc: Any, *, where: str) -> dict[str, Any]:
    """An SLO set as plain data (the form recorded), refused when malformed.

    Raises:
        UsageError: unknown keys or sections, a metric monitoring does not report, an
            objective with no bound or both, or two objectives of one name.
    """
    f = parse_strict(SloFile, doc, where=where)
    seen: set[str] = set()
    for i, o in enumerate(f.objectives):
        place = f"{where}: [[objectives]] {i + 1} ({o.name})"
        if o.metric not in METRICS:
            raise UsageError(
                f"{place}: unknown metric {o.metric!r}", hint=f"Metrics: {', '.join(METRICS)}."
            )
        if (o.min is None) == (o.max is None):
            raise UsageError(f"{place}: give exactly one of min or max")
        if o.name in seen:
            raise UsageError(f"{place}: a second objective named {o.name!r}")
        seen.add(o.name)
    return {
        "format": "ledgerml-slo/1",
        "name": f.slo.name,
        "description": f.slo.description,
        "objectives": [o.model_dump() for o in f.objectives],
    }


def parse_playbook(doc: Any, *, where: str) -> dict[str, Any]:
    """A playbook as plain data (the form recorded), refused when malformed.

    Each step's action must carry what it needs and nothing else: a throttle its
    ``share``, a fallback its ``model``, a baseline its rule (checked as
    :func:`core.operations.deployments.baseline_rule` checks it); ``on`` names an objective
    or a metric.

    Raises:
        UsageError: for any of the above, or unknown keys or sections.
    """
    from core.identity.actors import check_roles

    f = parse_strict(PlaybookFile, doc, where=where)
    needs_keys = {
        "throttle": {"share"},
        "fallback": {"model"},
        "rollback": set(),
        "baseline": {"baseline_name", "baseline_score"},
    }
    optional = {"baseline": {"baseline_threshold"}}
    action_keys = {"share", "model", "baseline_name", "baseline_score", "baseline_threshold"}
    for i, step in enumerate(f.steps):
        place = f"{where}: [[steps]] {i + 1}"
        given = {k for k in action_keys if getattr(step, k) is not None}
        missing = needs_keys[step.action] - given
        extra = given - needs_keys[step.action] - optional.get(step.action, set())
        if missing:
            raise UsageError(f"{place}: a {step.action} step needs {', '.join(sorted(missing))}")
        if extra:
            raise UsageError(
                f"{place}: {', '.join(sorted(extra))} does not apply to a {step.action} step"
            )
        if step.action == "baseline":
            baseline_rule(
                step.baseline_name or "",
                step.baseline_score or "",
                step.baseline_threshold if step.baseline_threshold is not None else 0.5,
            )
        if step.roles is not None:
            check_roles(step.roles)
    return {
        "format": "ledgerml-playbook/1",
        "name": f.playbook.name,
        "description": f.playbook.description,
        "steps": [s.model_dump() for s in f.steps],
    }


PARSERS = {"slo": (parse_slo, SLO_MEDIA_TYPE), "playbook": (parse_playbook, PLAYBOOK_MEDIA_TYPE)}


def load(kind: str, path: Path) -> dict[str, Any]:
    """Read and check an SLO (``kind="slo"``) or playbook file."""
    parse, _ = PARSERS[kind]
    return parse(_read(path), where=str(path))


def install(
    ws: Workspace, actor: str, kind: str, path: Path, *, env: str, reason: str
) -> OpsConfigRow:
    """Put the SLO set or playbook in ``path`` in force for ``env`` (one ``ops.configure``).

    The file is checked in full before anything is stored or recorded.

    Raises:
        UsageError: a malformed file, a bad environment, no reason.
        PermissionDeniedError: an actor without the operator or admin role.
    """
    from storage.canonical import canonical_bytes

    if kind not in PARSERS:
        raise UsageError(f"unknown configuration kind {kind!r}")
    if not reason.strip():
        raise UsageError(f"installing a {kind} needs a --reason", hint="Say why, for the record.")
    check_env(env)
    doc = load(kind, path)
    blob = canonical_bytes(doc)
    _, media = PARSERS[kind]

    def commit(s: Session, _: None) -> OpsConfigRow:
        ref = s.put_blob(blob, media)
        payload = Configured(kind=kind, env=env, name=doc["name"], digest=ref.sha256)
        entry = s.commit(new_event(s.actor, payload, [f"env:{env}"], reason, [ref]))
        rows: list[OpsConfigRow] = s.catalog.rows(
            OpsConfigRow, "SELECT * FROM ops_configs WHERE seq = ?", [entry.seq]
        )
        return rows[0]

    return command.run(
        ws, actor, guards=[needs(*OPS_ROLES, action=f"install a {kind}")], commit=commit
    )


@dataclass(frozen=True)
class InForce:
    """The SLO set or playbook in force for an environment, read back from its blob."""

    row: OpsConfigRow
    doc: dict[str, Any]


def in_force(s: Session, kind: str, env: str) -> InForce | None:
    """The latest installed document of ``kind`` for ``env`` (digest-verified), or None."""
    rows: list[OpsConfigRow] = s.catalog.rows(
        OpsConfigRow,
        "SELECT * FROM ops_configs WHERE kind = ? AND env = ? ORDER BY seq DESC LIMIT 1",
        [kind, env],
    )
    if not rows:
        return None
    doc = json.loads(s.workspace.objects.read_verified(rows[0].digest))
    return InForce(rows[0], doc)


def history(s: Session, env: str | None = None) -> list[OpsConfigRow]:
    """Every SLO set and playbook ever installed (optionally for one environment)."""
    sql = "SELECT * FROM ops_configs" + (" WHERE env = ?" if env else "") + " ORDER BY seq"
    out: list[OpsConfigRow] = s.catalog.rows(OpsConfigRow, sql, [env] if env else [])
    return out
