"""Model-risk practice: ``ledgerml finding add|update|list``, ``ledgerml breakglass
list|review``, ``ledgerml exceptions`` and ``ledgerml alerts``."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli import output
from app.cli.common import (
    ActorOpt,
    JsonOpt,
    ReasonOpt,
    WorkspaceOpt,
    actor_name,
    guarded,
    open_ws,
    want_json,
)

finding_app = typer.Typer(no_args_is_help=True)
breakglass_app = typer.Typer(no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Add ``finding``, ``breakglass``, ``exceptions`` and ``alerts`` to the root app."""
    root.add_typer(finding_app, name="finding", help="Validation findings and their remediation.")
    root.add_typer(
        breakglass_app, name="breakglass", help="Break-glass promotions and their reviews."
    )
    root.command("exceptions")(exceptions)
    root.command("alerts")(alerts)


def _finding_line(row: object) -> str:
    from core.kernel.rows import FindingRow

    assert isinstance(row, FindingRow)
    until = f" until {row.expires}" if row.expires else ""
    return (
        f"finding #{row.seq} on {row.model} ({row.severity}): {row.status}{until}; "
        f"owner {row.owner}, due {row.due}"
    )


@finding_app.command("add")
@guarded
def add(
    ref: Annotated[str, typer.Argument(help="Model version: name@N.")],
    severity: Annotated[str, typer.Option(help="low, medium, high or critical.")],
    owner: Annotated[str, typer.Option(help="The actor who must remediate it.")],
    title: Annotated[str, typer.Option(help="What is wrong, in one line.")],
    due: Annotated[str, typer.Option(help="Last day for remediation (YYYY-MM-DD, UTC).")],
    reason: ReasonOpt,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Record a validation finding on a model version (validators, approvers, admins)."""
    from core.governance import findings

    row = findings.add(
        open_ws(workspace),
        actor_name(as_actor),
        ref,
        severity=severity,
        owner=owner,
        title=title,
        due=due,
        reason=reason,
    )
    if want_json(json_out):
        output.emit_json(findings.to_json(row))
        return
    output.line(_finding_line(row))


@finding_app.command("update")
@guarded
def update(
    finding_id: Annotated[int, typer.Argument(metavar="ID", help="The finding's id (#N).")],
    status: Annotated[str, typer.Option(help="open, in-remediation, remediated or accepted.")],
    reason: ReasonOpt,
    expires: Annotated[
        str | None,
        typer.Option(help="With --status accepted: the last day the acceptance counts."),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Change a finding's status.

    The owner reports in-remediation; someone else with a finding role (validator, approver,
    admin) who did not develop the model marks it remediated, accepts it until --expires,
    or reopens it.
    """
    from core.governance import findings

    row = findings.update(
        open_ws(workspace),
        actor_name(as_actor),
        finding_id,
        status=status,
        reason=reason,
        expires=expires,
    )
    if want_json(json_out):
        output.emit_json(findings.to_json(row))
        return
    output.line(_finding_line(row))


@finding_app.command("list")
@guarded
def list_(
    model: Annotated[
        str | None, typer.Option(help="Only this model (name or name@N).", show_default=False)
    ] = None,
    open_only: Annotated[
        bool, typer.Option("--open", help="Only findings that still stand.")
    ] = False,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Findings, oldest first (an accepted one past its expiry stands again)."""
    from core.governance import findings

    found = findings.list_findings(
        open_ws(workspace), actor_name(as_actor), model=model, open_only=open_only
    )
    docs = [findings.to_json(r) for r in found]
    if want_json(json_out):
        output.emit_json(docs)
        return
    output.table(
        ["id", "model", "severity", "status", "owner", "due", "title"],
        [
            (
                f"#{d['id']}",
                d["model"],
                d["severity"],
                d["status"]
                + (f" until {d['expires']}" if d["expires"] else "")
                + (" (OVERDUE)" if d["overdue"] else "")
                + (" (lapsed: open)" if d["status"] == "accepted" and d["standing"] else ""),
                d["owner"],
                d["due"],
                d["title"],
            )
            for d in docs
        ],
    )


@breakglass_app.command("list")
@guarded
def breakglass_list(
    open_only: Annotated[bool, typer.Option("--open", help="Only those not reviewed.")] = False,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Break-glass promotions, oldest first: OPEN until someone else reviews them."""
    from core.governance import breakglass

    found = breakglass.list_breakglass(
        open_ws(workspace), actor_name(as_actor), open_only=open_only
    )
    docs = [b.to_json() for b in found]
    if want_json(json_out):
        output.emit_json(docs)
        return
    output.table(
        ["promotion", "model", "to", "by", "at", "status", "review"],
        [
            (
                f"#{d['seq']}",
                d["model"],
                d["to_stage"],
                d["by"],
                d["at"],
                "OPEN" if d["status"] == "open" else "reviewed",
                ""
                if d["review"] is None
                else f"#{d['review']['seq']} {d['review']['outcome']} by {d['review']['by']}",
            )
            for d in docs
        ],
    )


@breakglass_app.command("review")
@guarded
def breakglass_review(
    seq: Annotated[int, typer.Argument(metavar="SEQ", help="The promotion's event number.")],
    reason: ReasonOpt,
    outcome: Annotated[str, typer.Option(help="upheld or reversed.")] = "upheld",
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Review a break-glass promotion (not by whoever broke the glass, nor a developer)."""
    from core.governance import breakglass

    row = breakglass.review(
        open_ws(workspace), actor_name(as_actor), seq, reason=reason, outcome=outcome
    )
    if want_json(json_out):
        output.emit_json(row.as_dict())
        return
    output.line(
        f"review #{row.seq}: break-glass promotion #{row.promotion} of {row.model} "
        f"{row.outcome} by {row.created_by}"
    )


@guarded
def exceptions(
    soon: Annotated[
        int, typer.Option(help="Days before an expiry at which an exception is 'expiring'.")
    ] = 30,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The exceptions register: waivers, accepted findings and break-glass promotions."""
    from core.governance import exceptions as register

    found = register.list_exceptions(open_ws(workspace), actor_name(as_actor), soon_days=soon)
    if want_json(json_out):
        output.emit_json([e.to_json() for e in found])
        return
    output.table(
        ["event", "kind", "subject", "by", "expires", "status", "detail"],
        [
            (
                f"#{e.seq}",
                e.kind,
                e.subject,
                e.by,
                e.expires or "",
                e.status.upper() if e.status in ("expired", "open") else e.status,
                e.detail,
            )
            for e in found
        ],
    )


@guarded
def alerts(
    fail_on: Annotated[
        str | None,
        typer.Option(
            help="Exit 1 if an alert is at least this severe (low, medium, high).",
            show_default=False,
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="Look from this moment instead of now (YYYY-MM-DD or an ISO time, UTC): "
            "what will have lapsed by then.",
            show_default=False,
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """What needs attention now: expiring approvals, stale evidence, lapsed revalidation,
    open break-glass reviews, findings past due. Exit 0 unless --fail-on is met."""
    from core.governance import alerts as compute
    from core.kernel.errors import UsageError

    if fail_on is not None and fail_on not in compute.SEVERITIES:
        raise UsageError(
            f"--fail-on {fail_on!r} is not a severity",
            hint=f"Severities: {', '.join(compute.SEVERITIES)}.",
        )
    found = compute.alerts(
        open_ws(workspace), actor_name(as_actor), now=None if at is None else compute.moment(at)
    )
    if want_json(json_out):
        output.emit_json([a.to_json() for a in found])
    elif not found:
        output.line("no alerts")
    else:
        output.table(
            ["severity", "alert", "subject", "when", "message"],
            [(a.severity, a.kind, a.subject, a.when or "", a.message) for a in found],
        )
    worst = compute.worst(found)
    if fail_on is not None and worst is not None and compute.rank(worst) >= compute.rank(fail_on):
        raise typer.Exit(1)
