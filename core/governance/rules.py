"""The declarative half of a policy bundle: tiers, k-of-n approvals, separation of duties.

These rules are data (``[governance]`` in a bundle's ``bundle.toml``), not Rego, because two
programs must apply them identically: the workstation (:mod:`core.governance.separation`)
and the stand-alone bundle verifier an auditor runs with nothing but Python
(:func:`storage.bundle_verifier.approval_check`). The Rego modules read the same data as
``data.governance`` and the result of the check as ``input.approvals.check``.

Example (the default pack's)::

    [governance]
    untiered = 1                       # a model nobody assessed is treated as tier 1
    developer_acts = ["train.run", "model.register", "model.sign"]
    evidence_change = "void"           # newer evidence about a version voids its approvals
    break_glass_roles = ["admin"]

    [[governance.bands]]               # impact x likelihood (1-25) to tier
    min_score = 15
    tier = 1

    [[governance.tiers]]
    tier = 1
    k = 4                              # distinct people, never keys or roles
    roles = ["data-owner", "security", "compliance", "validator"]
    approval_valid_days = 365
    grace_days = 30
    revalidate_days = 365
    evidence_max_age_days = 180
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from core.kernel.errors import UsageError
from core.kernel.formats import parse_strict, strict_config

APPROVAL_ROLES = ("approver", "validator", "data-owner", "security", "compliance")


class Band(BaseModel):
    """Scores (impact times likelihood) at or above ``min_score`` fall in ``tier``."""

    model_config = strict_config()
    min_score: int = Field(ge=1, le=25)
    tier: int = Field(ge=1, le=5)


class Tier(BaseModel):
    """What a tier demands: who approves, how long approvals and evidence stay good."""

    model_config = strict_config()
    tier: int = Field(ge=1, le=5)
    k: int = Field(ge=1, le=20)
    """Distinct people who must approve a version for the ``approved`` stage."""
    roles: list[str] = Field(default_factory=list)
    """Roles that must each be covered by a different one of those people."""
    approval_valid_days: int = Field(ge=1)
    grace_days: int = Field(ge=0)
    """After an approval or a revalidation lapses: an alert, not an outage, for this long."""
    revalidate_days: int = Field(ge=1)
    evidence_max_age_days: int = Field(ge=1)

    @model_validator(mode="after")
    def _roles(self) -> Tier:
        unknown = [r for r in self.roles if r not in APPROVAL_ROLES]
        if unknown:
            raise ValueError(
                f"role {unknown[0]!r} cannot approve; approval roles: {', '.join(APPROVAL_ROLES)}"
            )
        if len(set(self.roles)) > self.k:
            raise ValueError(f"k = {self.k} is fewer than the {len(set(self.roles))} roles named")
        return self


class Rules(BaseModel):
    """The ``[governance]`` table of a policy bundle."""

    model_config = strict_config()
    untiered: int = Field(default=1, ge=1, le=5)
    developer_acts: list[str] = Field(
        default_factory=lambda: ["train.run", "model.register", "model.sign"]
    )
    evidence_change: Literal["void", "keep"] = "void"
    break_glass_roles: list[str] = Field(default_factory=lambda: ["admin"])
    bands: list[Band]
    tiers: list[Tier]

    @model_validator(mode="after")
    def _complete(self) -> Rules:
        tiers = sorted(t.tier for t in self.tiers)
        if len(set(tiers)) != len(tiers):
            raise ValueError("a tier is declared twice")
        named = {b.tier for b in self.bands} | {self.untiered}
        missing = sorted(named - set(tiers))
        if missing:
            raise ValueError(f"tier {missing[0]} is used but has no [[governance.tiers]] entry")
        if not any(b.min_score <= 1 for b in self.bands):
            raise ValueError("no band starts at min_score = 1: some scores would have no tier")
        return self

    def tier(self, number: int) -> Tier:
        """The rules of one tier."""
        for t in self.tiers:
            if t.tier == number:
                return t
        raise UsageError(f"the policy declares no tier {number}")

    def tier_of(self, impact: int, likelihood: int) -> int:
        """The tier of a risk score: the band with the highest ``min_score`` it reaches."""
        score = impact * likelihood
        band = max((b for b in self.bands if b.min_score <= score), key=lambda b: b.min_score)
        return band.tier


def parse(data: Mapping[str, Any], *, where: str) -> Rules:
    """Read and check ``[governance]`` (raises :class:`UsageError` naming the key)."""
    if not data:
        raise UsageError(
            f"{where}: no [governance] table",
            hint="A policy bundle declares its tiers and approvals there (see the default pack).",
        )
    return parse_strict(Rules, dict(data), where=where)
