"""Risk tiers: impact and likelihood (1-5 each) make a score, the policy's bands a tier.

The tier drives everything else the policy asks of a model (how many people approve, in
which roles, how long approvals and evidence stay good), so it is set by model-risk people
(validators, approvers, admins: :data:`core.governance.events.RISK_ROLES`), never derived
from a number its developers typed, and only under a policy in force: without bands there is
no tier to give. The assessment is one ``model.risk`` event, gated by the policy ("risk").
"""

from __future__ import annotations

from typing import Any

from core.governance import policy
from core.governance.events import RISK_ROLES, RiskAssessed
from core.governance.facts import model_facts, risk_of
from core.governance.rules import Rules
from core.governance.rules import parse as parse_rules
from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import CheckFailedError, NotFoundError, UsageError
from core.kernel.kinds import new_event
from core.kernel.rows import RiskRow
from core.kernel.workspace import Session, Workspace

NO_POLICY_HINT = (
    "An admin installs one first: `ledgerml policy install sample_data/policies/default "
    "--reason …`; its [governance] bands turn impact and likelihood into a tier."
)


def rules_in_force(s: Session, *, action: str) -> tuple[policy.PolicyBundle, Rules]:
    """The policy in force and its ``[governance]`` rules.

    Raises:
        CheckFailedError: if no policy is installed (naming ``action`` and how to install one).
    """
    bundle = policy.in_force(s)
    if bundle is None:
        raise CheckFailedError(
            f"no policy is installed, and {action} is governed by one", hint=NO_POLICY_HINT
        )
    return bundle, parse_rules(bundle.data, where=f"policy {bundle.name} {bundle.version}")


def _score(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise UsageError(f"{what} must be a whole number from 1 to 5, not {value!r}")
    return value


def assess(
    ws: Workspace,
    actor: str,
    name: str,
    *,
    impact: int,
    likelihood: int,
    rationale: str,
    dpia: str | None = None,
    purpose: str | None = None,
    use: str | None = None,
    restrictions: str | None = None,
    owner: str | None = None,
    reason: str = "",
) -> RiskRow:
    """Record a model's risk assessment; its tier comes from the policy in force.

    Raises:
        UsageError: for a score outside 1-5, or no rationale or reason.
        NotFoundError: for a model name with no registered version.
        CheckFailedError: with no policy in force.
        PolicyDeniedError: if the policy refuses (the refusal is recorded).
    """
    name = name.removeprefix("model:").split("@", 1)[0]
    _score(impact, "impact")
    _score(likelihood, "likelihood")
    if not rationale.strip():
        raise UsageError("a risk assessment needs a --rationale", hint="Say why these scores.")
    if not reason.strip():
        raise UsageError("a risk assessment needs a --reason", hint="Say why, for the record.")

    def known(s: Session) -> None:
        rules_in_force(s, action="setting a risk tier")
        if not s.catalog.models(name):
            raise NotFoundError(
                f"no model named {name!r}", hint="`ledgerml model list` shows the registered ones."
            )

    def facts(s: Session) -> dict[str, Any]:
        _, rules = rules_in_force(s, action="setting a risk tier")
        newest = s.catalog.models(name)[-1]
        return {
            "model": model_facts(s, newest.ref, untiered=rules.untiered),
            "request": {
                "impact": impact,
                "likelihood": likelihood,
                "tier": rules.tier_of(impact, likelihood),
                "dpia": dpia,
                "purpose": purpose,
                "use": use,
                "restrictions": restrictions,
                "owner": owner,
            },
        }

    def commit(s: Session, _: None) -> RiskRow:
        rules = rules_in_force(s, action="setting a risk tier")[1]
        payload = RiskAssessed(
            name,
            impact,
            likelihood,
            rules.tier_of(impact, likelihood),
            rationale,
            dpia,
            purpose,
            use,
            restrictions,
            owner,
        )
        s.commit(new_event(s.actor, payload, [f"model:{name}"], reason))
        row = risk_of(s, name)
        assert row is not None
        return row

    return command.run(
        ws,
        actor,
        guards=[
            needs(*RISK_ROLES, action="assess model risk"),
            known,
            policy.gate("risk", f"model:{name}", facts, required=True),
        ],
        commit=commit,
    )
