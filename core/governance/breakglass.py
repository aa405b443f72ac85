"""Break-glass review: an emergency promotion stays open until someone else reviews it.

A break-glass promotion (``model.promote`` with ``break_glass`` true, recorded by
:func:`core.governance.lifecycle.promote` for the policy's ``break_glass_roles``) skips the
approvals a stage needs, because an emergency could not wait for them. It is not thereby
closed: it shows as OPEN (:func:`list_breakglass`, the exceptions register, the alerts) until
someone holding a review role records a ``breakglass.review`` with an outcome:

- ``upheld``: the emergency change was justified and may stand;
- ``reversed``: it was not; the reviewer says so for the record, and whoever may promote
  moves the version back (a review changes no stage by itself: one action, one event);
  until the version moves, :mod:`core.governance.alerts` raises
  ``breakglass-reversal-pending``.

Who may review, chosen here: a *person* (never a service account: the review is the human
oversight standing in for the skipped approvals, and only people approve) holding approver,
validator, compliance or admin who is neither the person who broke the glass nor a
developer of the version (trainer, registrant, signer; admins included), since the review
stands in for the approvals that were skipped.
The attacks and what stops them:

- *the promoter reviews their own emergency*: refused here.
- *a service account with a review role closes the review* (a robot clearing the alert):
  refused here, by the actor's kind as the signed ledger says (not the catalog).
- *a second review to flip an outcome*: refused; one promotion has one review.
- *a review of something that was no break-glass*: refused (the event must be a break-glass
  ``model.promote``).
- *a review row written into the catalog*: ``breakglass_reviews`` is projected, so
  ``audit verify`` replays the signed events and reports the edit.
- *a review appended past this command* (a self-review or a second one, signed with a real
  key): :mod:`core.governance.mrm_verify` re-checks them from the signed events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.governance.events import REVIEW_OUTCOMES, REVIEW_ROLES, BreakGlassReviewed
from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import NotFoundError, PermissionDeniedError, UsageError
from core.kernel.kinds import new_event
from core.kernel.rows import BreakGlassReviewRow, LifecycleRow
from core.kernel.workspace import Session, Workspace


@dataclass(frozen=True)
class BreakGlass:
    """One break-glass promotion and its review, if it had one."""

    promotion: LifecycleRow
    review: BreakGlassReviewRow | None

    @property
    def open(self) -> bool:
        """True until reviewed."""
        return self.review is None

    def to_json(self) -> dict[str, Any]:
        """For ``--json`` output."""
        p, r = self.promotion, self.review
        return {
            "seq": p.seq,
            "model": p.model,
            "from_stage": p.from_stage,
            "to_stage": p.to_stage,
            "by": p.created_by,
            "at": p.created_at,
            "reason": p.reason,
            "status": "open" if r is None else "reviewed",
            "review": None
            if r is None
            else {
                "seq": r.seq,
                "outcome": r.outcome,
                "by": r.created_by,
                "at": r.created_at,
                "reason": r.reason,
            },
        }


def promotions(s: Session) -> list[BreakGlass]:
    """Every break-glass promotion with its review, oldest first."""
    found = s.catalog.rows(
        LifecycleRow, "SELECT * FROM lifecycle WHERE break_glass ORDER BY seq", []
    )
    reviews = {
        r.promotion: r
        for r in s.catalog.rows(
            BreakGlassReviewRow, "SELECT * FROM breakglass_reviews ORDER BY seq", []
        )
    }
    return [BreakGlass(p, reviews.get(p.seq)) for p in found]


def list_breakglass(ws: Workspace, actor: str = "", *, open_only: bool = False) -> list[BreakGlass]:
    """Break-glass promotions, oldest first (``open_only``: those not yet reviewed)."""
    with ws.session(actor) as s:
        found = promotions(s)
    return [b for b in found if b.open] if open_only else found


def review(
    ws: Workspace, actor: str, seq: int, *, reason: str, outcome: str = "upheld"
) -> BreakGlassReviewRow:
    """Review the break-glass promotion recorded as event ``seq``.

    Raises:
        UsageError: for no reason, an unknown outcome, or a promotion already reviewed.
        NotFoundError: if event ``seq`` is no break-glass promotion.
        PermissionDeniedError: for the promoter, a developer of the version, a service
            account, or an actor without a review role.
    """
    from core.governance.facts import developers
    from core.identity.signer import authority_of

    if outcome not in REVIEW_OUTCOMES:
        raise UsageError(
            f"--outcome {outcome!r} is not an outcome",
            hint=f"Outcomes: {', '.join(REVIEW_OUTCOMES)}.",
        )
    if not reason.strip():
        raise UsageError("a break-glass review needs a --reason (recorded)")

    def commit(s: Session, _: None) -> BreakGlassReviewRow:
        found = next((b for b in promotions(s) if b.promotion.seq == seq), None)
        if found is None:
            raise NotFoundError(
                f"event #{seq} is not a break-glass promotion",
                hint="`ledgerml breakglass list --open` shows the ones waiting for review.",
            )
        if found.review is not None:
            raise UsageError(
                f"break-glass promotion #{seq} was already reviewed (#{found.review.seq}, "
                f"{found.review.outcome}, by {found.review.created_by})"
            )
        p = found.promotion
        state = authority_of(s).current(s.actor)
        if state is None or state.kind != "person":
            raise PermissionDeniedError(
                f"{s.actor} is a {state.kind if state else 'unknown'} actor: only people review "
                "a break-glass promotion",
                hint="Human oversight: a person with an approver, validator or compliance role "
                "reviews it.",
            )
        if s.actor == p.created_by:
            raise PermissionDeniedError(
                f"{s.actor} broke the glass at #{seq} and cannot review it",
                hint="Someone else with an approver, validator or compliance role reviews it.",
            )
        model = s.catalog.model(p.model)
        if model is not None and s.actor in developers(s, model):
            raise PermissionDeniedError(
                f"{s.actor} developed {p.model} and cannot review its break-glass promotion "
                "(separation of duties: admins included)"
            )
        payload = BreakGlassReviewed(seq, p.model, outcome)
        entry = s.commit(
            new_event(s.actor, payload, [f"model:{p.model}", f"promotion:{seq}"], reason)
        )
        rows: list[BreakGlassReviewRow] = s.catalog.rows(
            BreakGlassReviewRow, "SELECT * FROM breakglass_reviews WHERE seq = ?", [entry.seq]
        )
        return rows[0]

    return command.run(
        ws, actor, guards=[needs(*REVIEW_ROLES, action="review break-glass changes")], commit=commit
    )
