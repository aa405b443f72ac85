"""``ledgerml deploy, deployments, rollback, withdraw, throttle``: models put to work.

A deployment is one signed ``model.deploy`` event, gated by the policy's ``deploy`` gate;
what was live where at any moment is a query over them (``deployments --at``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli import output
from app.cli.common import (
    ActorOpt,
    JsonOpt,
    WorkspaceOpt,
    actor_name,
    guarded,
    open_ws,
    want_json,
)

EnvReq = Annotated[
    str,
    typer.Option("--env", "-e", help="Environment: lowercase name, e.g. staging or production."),
]
ReasonReq = Annotated[str, typer.Option("--reason", "-r", help="Why: recorded in the ledger.")]
IncidentOpt = Annotated[
    int | None,
    typer.Option("--incident", help="The incident (its event number) this acts on, if any."),
]


def _condition_lines(conditions: list[Any]) -> list[str]:
    """Each condition that travels with a deployment, and whether scoring enforces it."""
    out = []
    for c in conditions:
        source = f"{c.by}, approval #{c.approval_seq}"
        if c.where:
            out.append(f"  enforced by scoring: {c.text} [where {c.where}] ({source})")
        else:
            out.append(
                f"  recorded, not enforced (no [where …] part scoring can check): {c.text} "
                f"({source}); the people using the decisions must honour it"
            )
    return out


def _describe(dep: Any, verb: str) -> None:
    r = dep.row
    what = f"{verb} {r.model} to {r.env} as {r.arm}"
    if r.share is not None:
        what += f" ({r.share:.0%} of requests, split by request id)"
    _say(f"{what}: {r.deployment_id} at event #{r.seq} (retention {r.retention})")
    if r.replaces:
        _say(f"  it takes {r.replaces} out of service")
    if not dep.conditions:
        _say("  no approval conditions travel with it")
        return
    n = len(dep.conditions)
    _say(f"  {output.count(n, 'condition')} {'travels' if n == 1 else 'travel'} with it:")
    for text in _condition_lines(dep.conditions):
        _say(text)


@guarded
def deploy(
    ref: Annotated[
        str | None, typer.Argument(help="Model version: name@N (not with --baseline).")
    ] = None,
    env: EnvReq = "",
    reason: ReasonReq = "",
    strategy: Annotated[
        str,
        typer.Option(
            help="direct: becomes the live model; canary: answers --share of requests "
            "beside it; shadow: scored beside it and logged, never returned.",
        ),
    ] = "direct",
    share: Annotated[
        float | None,
        typer.Option(help="A canary's share of requests, between 0 and 1 (e.g. 0.1)."),
    ] = None,
    retention: Annotated[
        str,
        typer.Option(
            help="What the decision log keeps of each input: hmac-only (a keyed digest "
            "erasure can unlink) or rows (also the row itself, which input drift needs)."
        ),
    ] = "hmac-only",
    baseline: Annotated[
        Path | None,
        typer.Option(
            help="Put a rule-based baseline (a TOML file, see docs/formats/baseline.md) "
            "live instead of a model: the fallback when no model can be trusted.",
        ),
    ] = None,
    incident: IncidentOpt = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Put a model version to work in an environment (operators and admins).

    The policy's deploy gate decides (a refusal is recorded as policy.deny); whatever it
    says, the model's bytes and signature must verify, and production takes approved
    versions only. The approval's conditions travel with the deployment: those with a
    [where …] part are enforced by scoring row by row, the others are recorded.

    Examples: ledgerml deploy credit-risk@1 --env staging --reason "acceptance tests";
    ledgerml deploy credit-risk@2 --env production --strategy canary --share 0.1 --reason …
    """
    from core.kernel.errors import UsageError
    from core.operations import deployments

    if not env:
        raise UsageError("deploy needs --env", hint="e.g. --env staging")
    ws, actor = open_ws(workspace), actor_name(as_actor)
    if baseline is not None:
        from core.operations.baselines import load_baseline

        if ref is not None or strategy != "direct" or share is not None:
            raise UsageError(
                "--baseline takes no model version, --strategy or --share",
                hint="A baseline always goes live: `ledgerml deploy --baseline FILE "
                "--env ENV --reason …`.",
            )
        rule = load_baseline(baseline)
        dep = deployments.deploy_baseline(
            ws, actor, env=env, rule=rule, reason=reason, incident=incident
        )
    else:
        if ref is None:
            raise UsageError(
                "deploy needs a model version (name@N) or --baseline FILE",
                hint="`ledgerml model list` shows the versions.",
            )
        dep = deployments.deploy(
            ws,
            actor,
            ref,
            env=env,
            reason=reason,
            strategy=strategy,
            share=share,
            retention=retention,
            incident=incident,
        )
    if want_json(json_out):
        output.emit_json(dep.to_json())
        return
    _describe(dep, "deployed")
    if baseline is not None:
        _say(f"  the rule {dep.row.model} (blob {dep.row.model_digest[:19]}) decides now")


@guarded
def deployments_(
    env: Annotated[str | None, typer.Option("--env", "-e", help="Only this environment.")] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="What was live then: an event number (42 or #42), a date (the end of "
            "that day) or an ISO time (UTC if naive).",
        ),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--history", help="Every deployment ever recorded, ended ones too.")
    ] = False,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """What is live where now, or was at any moment (--at), or ever (--history).

    "What was in production on 1 March, approved by whom": `ledgerml deployments --env
    production --at 2026-03-01`, then `ledgerml registry at 2026-03-01` for the approvals.
    """
    from core.kernel.errors import UsageError
    from core.operations import views
    from reports.formatting import when as recorded_at

    ws, actor = open_ws(workspace), actor_name(as_actor)
    if all_:
        if at is not None:
            raise UsageError("--history and --at do not go together", hint="Choose one.")
        rows = views.history(ws, actor, env=env)
        if want_json(json_out):
            output.emit_json([d.to_json() for d in rows])
            return
        output.table(
            ["#", "id", "env", "arm", "model", "strategy", "share", "ended", "by", "reason"],
            [
                [
                    d.row.seq,
                    d.deployment_id,
                    d.row.env,
                    d.row.arm,
                    d.row.model,
                    d.row.strategy,
                    "-" if d.row.share is None else f"{d.row.share:g}",
                    f"#{d.row.ended_seq}" if d.row.ended_seq else "live",
                    d.row.created_by,
                    d.row.reason,
                ]
                for d in rows
            ],
            title="every deployment" + (f" in {env}" if env else ""),
        )
        return
    snap = views.deployed_at(ws, actor, when=at, env=env)
    if want_json(json_out):
        output.emit_json(snap.to_json())
        return
    output.table(
        ["env", "arm", "model", "id", "since", "share", "throttle", "conditions", "retention"]
        + (["scores now"] if at is None else []),
        [
            [
                d.row.env,
                d.row.arm,
                d.row.model,
                d.deployment_id,
                f"#{d.row.seq} {recorded_at(d.row.created_at, seconds=True)}",
                "-" if d.row.share is None else f"{d.row.share:g}",
                "-"
                if snap.throttles.get(d.row.env) is None
                else f"answers {snap.throttles[d.row.env]:g}",
                "; ".join(c.text + (" (enforced)" if c.where else "") for c in d.conditions) or "-",
                d.row.retention,
            ]
            + (
                [("NO: see below" if snap.refusal(d.deployment_id) else "yes")]
                if at is None
                else []
            )
            for d in snap.deployments
        ],
        title=("live now" if at is None else f"live at event #{snap.at}")
        + (f" in {env}" if env else ""),
    )
    if not snap.deployments:
        output.note("nothing was deployed there then")
    said = {d.row.env: why for d in snap.deployments if (why := snap.refusal(d.deployment_id))}
    for where, why in sorted(said.items()):
        output.note(f"{where}: deployed, but scoring there refuses now: {why}")


@guarded
def rollback(
    env: EnvReq,
    reason: ReasonReq,
    incident: IncidentOpt = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Return an environment to its previous approved deployment's model.

    A new deployment (the history only grows), through the policy's deploy gate; the
    restored model must still verify, and a version retired since, or one a rollback already
    fled, is skipped. Any canary ends with the live model it tested.
    """
    from core.operations import deployments

    new, restored = deployments.rollback(
        open_ws(workspace), actor_name(as_actor), env=env, reason=reason, incident=incident
    )
    if want_json(json_out):
        output.emit_json(new.to_json() | {"restores": restored.deployment_id})
        return
    _describe(new, "rolled back: restored")
    _say(f"  the model of {restored.deployment_id} (event #{restored.row.seq}) again")


@guarded
def withdraw(
    env: EnvReq,
    reason: ReasonReq,
    arm: Annotated[
        list[str] | None,
        typer.Option(
            "--arm",
            help="Which arm to take out: canary, shadow or live (repeatable; default: all). "
            "Withdrawing live leaves the environment answering nothing.",
        ),
    ] = None,
    incident: IncidentOpt = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Take deployments out of service with nothing in their place (the emergency stop).

    Needs no policy decision: stopping a model never puts one into service.
    """
    from core.kernel.errors import UsageError
    from core.operations import deployments
    from core.operations.events import ARMS

    arms = list(arm or ARMS)
    bad = [a for a in arms if a not in ARMS]
    if bad:
        raise UsageError(f"unknown arm {bad[0]!r}", hint=f"Arms: {', '.join(ARMS)}.")
    ended = deployments.withdraw(
        open_ws(workspace),
        actor_name(as_actor),
        env=env,
        arms=arms,
        reason=reason,
        incident=incident,
    )
    if want_json(json_out):
        output.emit_json({"env": env, "ended": ended})
        return
    _say(f"withdrew {', '.join(ended)} from {env}")


@guarded
def throttle(
    env: EnvReq,
    reason: ReasonReq,
    share: Annotated[
        float | None,
        typer.Option(
            help="Answer only this share of requests (0 to 1, exclusive; 0 answers none). "
            "The others are logged as refused (throttled) for a human to decide."
        ),
    ] = None,
    lift: Annotated[bool, typer.Option("--lift", help="Answer every request again.")] = False,
    incident: IncidentOpt = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Limit how much of its traffic an environment answers, or --lift the limit."""
    from core.kernel.errors import UsageError
    from core.operations import deployments

    if lift == (share is not None):
        raise UsageError("throttle takes --share F or --lift", hint="e.g. --share 0.5")
    row = deployments.throttle(
        open_ws(workspace),
        actor_name(as_actor),
        env=env,
        share=None if lift else share,
        reason=reason,
        incident=incident,
    )
    if want_json(json_out):
        output.emit_json(row.as_dict())
        return
    if row.share is None:
        _say(f"{env} answers every request again (event #{row.seq})")
    else:
        _say(
            f"{env} answers {row.share:.0%} of requests (by request id) from event #{row.seq};"
            " the rest are logged as refused (throttled)"
        )


def _say(text: str) -> None:
    """One line of output, printed as written (conditions hold ``[where …]``, not markup)."""
    from rich.markup import escape

    output.line(escape(text))


def register(app: typer.Typer) -> None:
    """Add this section's commands to the root app."""
    app.command("deploy")(deploy)
    app.command("deployments")(deployments_)
    app.command("rollback")(rollback)
    app.command("withdraw")(withdraw)
    app.command("throttle")(throttle)
