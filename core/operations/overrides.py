"""Human oversight: a person overrides one logged decision (EU AI Act Art. 14).

Art. 14(4)(d) asks that the people overseeing a high-risk system be able "to decide, in any
particular situation, not to use the high-risk AI system or to otherwise disregard, override
or reverse the output". An override is one ``decision.override`` event by a person (never a
service identity: the point is a human's judgement), naming the decision by request id, its
batch and leaf, the decision it replaces and the new one, with the reason. The logged row is
never rewritten: the log keeps what the model said and the ledger what the person decided.
"""

from __future__ import annotations

from typing import Any

from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import PermissionDeniedError, UsageError
from core.kernel.kinds import new_event
from core.kernel.rows import DecisionOverrideRow, ModelRow
from core.kernel.workspace import Session, Workspace
from core.operations import decision_log
from core.operations.decision_events import OVERRIDE_ROLES, DecisionOverride


def _person(s: Session) -> None:
    from core.identity.signer import authority_of

    state = authority_of(s).current(s.actor)
    if state is None or state.kind != "person":
        raise PermissionDeniedError(
            f"{s.actor!r} is a service identity: only a person may override a decision",
            hint="Art. 14 human oversight is a person's act; sign in as yourself (--as).",
        )


def decision_words(ws: Workspace, model: str) -> tuple[str, str] | None:
    """The (favourable, unfavourable) decision words of a model's declared outcome, if any."""
    from core.modelling import training

    if model.startswith("baseline:"):
        return None
    with ws.session() as s:
        row = s.catalog.rows(
            ModelRow,
            "SELECT * FROM models WHERE ref = ?",
            [model],
        )
        run = s.catalog.run(row[0].run_id) if row else None
    if run is None:
        return None
    outcome = training.load_run_spec(ws, run).outcome
    if outcome is None:
        return None
    return outcome.favourable_name, outcome.unfavourable_name


def override(
    ws: Workspace, actor: str, request_id: str, *, outcome: str, reason: str
) -> DecisionOverrideRow:
    """Record a person's decision in place of the logged answer to ``request_id``.

    Raises:
        UsageError: without a reason or outcome, for an outcome that is not one of the model's
            decision words, or for a decision that was not returned (a shadow's, a refusal).
        NotFoundError: for an unknown request id.
        PermissionDeniedError: for a service identity or an actor without the role.
    """
    if not reason.strip():
        raise UsageError("an override needs a --reason", hint="Say why, for the record.")
    if not outcome.strip():
        raise UsageError("an override needs the --outcome that replaces the decision")
    found = [f for f in decision_log.find(ws, request_id) if f.row["returned"]]
    if not found:
        raise UsageError(f"request {request_id!r} got no answer to override (shadow only)")
    decision = found[0]
    words = decision_words(ws, str(decision.row["model"]))
    if words is not None and outcome not in words:
        raise UsageError(
            f"{outcome!r} is not a decision of {decision.row['model']}",
            hint=f"Its declared decisions: {words[0]}, {words[1]}.",
        )
    payload = DecisionOverride(
        request_id=request_id,
        batch_seq=decision.batch.seq,
        index=decision.index,
        outcome=outcome,
        was=decision.row["decision"] or decision.row["status"],
    )

    def commit(s: Session, _: Any) -> DecisionOverrideRow:
        entry = s.commit(
            new_event(
                s.actor,
                payload,
                [f"decision:{request_id}", f"deployment:{decision.row['deployment_id']}"],
                reason,
            )
        )
        rows: list[DecisionOverrideRow] = s.catalog.rows(
            DecisionOverrideRow, "SELECT * FROM decision_overrides WHERE seq = ?", [entry.seq]
        )
        return rows[0]

    return command.run(
        ws,
        actor,
        guards=[needs(*OVERRIDE_ROLES, action="override decisions"), _person],
        commit=commit,
    )


def overrides_of(s: Session, request_id: str) -> list[DecisionOverrideRow]:
    """The overrides recorded for a request id, oldest first (the last one stands)."""
    return s.catalog.rows(
        DecisionOverrideRow,
        "SELECT * FROM decision_overrides WHERE request_id = ? ORDER BY seq",
        [request_id],
    )
