"""``ledgerml hold add|remove|list`` and ``ledgerml retention set|show|run``.

Thin over :mod:`core.privacy.hold_commands`, :mod:`core.privacy.retention` and
:mod:`core.privacy.retention_run`; the groups themselves are :mod:`app.cli.privacy`'s.
"""

from __future__ import annotations

from typing import Annotated, Any

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
from app.cli.privacy import hold_app, retention_app

AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Count expiry at this instant instead of now: a date (2033-12-02, read as 00:00 "
        "UTC) or a timestamp with a zone. Recorded; the retention log flags erasures made "
        "before their period had run out by the wall clock.",
        show_default=False,
    ),
]


def _hold_line(h: Any) -> str:
    r = h.row
    state = (
        "in force"
        if h.active
        else f"lifted at #{r.released_seq} by {r.released_by}: {r.released_reason}"
    )
    return f"hold #{r.seq} on {r.target} by {r.created_by} ({r.reason}): {state}"


@hold_app.command("add")
@guarded
def hold_add(
    target: Annotated[
        str,
        typer.Argument(
            help="What to hold: dataset:NAME (every version, present and future), NAME@N "
            "(one version) or decisions:ENV (an environment's decision logs)."
        ),
    ],
    reason: ReasonOpt = "",
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Place a legal hold: neither `data erase` nor `retention run` may destroy what it covers.

    Data stewards, approvers and admins. The reason is required (name the matter); the hold
    stays until `ledgerml hold remove` lifts it.
    """
    from core.privacy import hold_commands

    h = hold_commands.place(open_ws(workspace), actor_name(as_actor), target, reason=reason)
    if want_json(json_out):
        output.emit_json(h.to_json())
        return
    output.line(f"placed {_hold_line(h)}")


@hold_app.command("remove")
@guarded
def hold_remove(
    hold: Annotated[int, typer.Argument(help="The hold: the event number `hold list` shows.")],
    reason: ReasonOpt = "",
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Lift a legal hold (recorded with its reason); the data then follows its retention again.

    Other holds on the same data stay in force.
    """
    from core.privacy import hold_commands

    h = hold_commands.release(open_ws(workspace), actor_name(as_actor), hold, reason=reason)
    if want_json(json_out):
        output.emit_json(h.to_json())
        return
    output.line(_hold_line(h))


@hold_app.command("list")
@guarded
def hold_list(
    active: Annotated[bool, typer.Option("--active", help="Only holds in force.")] = False,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Every legal hold, oldest first: what it covers, who placed it and why, whether lifted."""
    from core.privacy import hold_commands

    found = hold_commands.list_holds(open_ws(workspace), actor_name(as_actor), active_only=active)
    if want_json(json_out):
        output.emit_json([h.to_json() for h in found])
        return
    if not found:
        output.line("no legal holds" + (" in force" if active else ""))
        return
    output.table(
        ["hold", "target", "placed", "by", "reason", "state"],
        [
            (
                f"#{h.row.seq}",
                h.row.target,
                h.row.created_at[:19],
                h.row.created_by,
                h.row.reason,
                "in force"
                if h.active
                else f"lifted #{h.row.released_seq} by {h.row.released_by}: "
                f"{h.row.released_reason}",
            )
            for h in found
        ],
    )


@retention_app.command("set")
@guarded
def retention_set(
    target: Annotated[
        str,
        typer.Argument(
            help="dataset:NAME (overrides its snapshots' own --retention tags) or "
            "decisions:ENV (each deployment's decision log, counted from its end)."
        ),
    ],
    period: Annotated[
        str, typer.Argument(help="How long: a number and d, w, m or y (90d, 26w, 18m, 7y).")
    ],
    reason: ReasonOpt = "",
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Set a retention rule (data stewards, compliance, admins); the last one set stands.

    Months and years are calendar ones: 29 February plus 1y ends on 28 February.
    """
    from core.privacy import retention

    row = retention.set_rule(
        open_ws(workspace), actor_name(as_actor), target, period, reason=reason
    )
    if want_json(json_out):
        output.emit_json(
            {
                "target": row.target,
                "period": row.period,
                "previous": row.previous,
                "seq": row.seq,
                "reason": row.reason,
            }
        )
        return
    was = f" (was {row.previous})" if row.previous else ""
    output.line(f"rule #{row.seq}: {row.target} is kept {row.period}{was}")


@retention_app.command("show")
@guarded
def retention_show(
    as_of: AsOfOpt = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Each snapshot and decision log: the rule that applies and where it comes from, when it
    expires, whether it is erased, and the holds on it.
    """
    from core.privacy import retention

    when, items = retention.show(open_ws(workspace), actor_name(as_actor), as_of=as_of)
    if want_json(json_out):
        output.emit_json({"as_of": when, "items": [i.to_json() for i in items]})
        return
    output.line(f"retention as of {when}")
    output.table(
        ["what", "rule", "applies from", "runs from", "expires", "status"],
        [
            (
                i.target if i.kind == "snapshot" else f"decisions {i.scope}/{i.target}",
                i.period or "—",
                i.source_text,
                (i.start or "—")[:19],
                (i.expires_at or "—")[:19],
                i.status,
            )
            for i in items
        ],
    )


@retention_app.command("run")
@guarded
def retention_run(
    reason: ReasonOpt = "",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be erased; record nothing.")
    ] = False,
    as_of: AsOfOpt = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Erase every snapshot and decision log whose retention has run out and no hold keeps.

    Each erasure goes through the erase path (receipt, policy gate) as its own event; then
    one retention.run event records what was erased, held and refused. Exit 1 if any
    erasure was refused.
    """
    from core.privacy import retention_run as core_run

    result = core_run.run(
        open_ws(workspace), actor_name(as_actor), reason=reason, as_of=as_of, dry_run=dry_run
    )
    if want_json(json_out):
        output.emit_json(result.to_json())
    else:
        _say_run(result)
    if result.refused:
        raise typer.Exit(output.EXIT_CHECK)


def _say_run(r: Any) -> None:
    verb = "would erase" if r.dry_run else "erased"
    when = f"as of {r.as_of}" + (" (--as-of, not the wall clock)" if r.given_as_of else "")
    output.line(f"retention run {when}" + (" — dry run, nothing recorded" if r.dry_run else ""))
    for done in r.completed:
        output.line(f"  finished the interrupted erasure of {done}")
    for e in r.erased:
        at = f" (#{e['erasure']})" if e["erasure"] else ""
        also = f", with {', '.join(e['covers'])}" if e["covers"] else ""
        output.line(
            f"  {verb} {e['snapshot']}{at}{also}: {e['rule']} "
            f"({'the snapshot tag' if e['source'] == 'tag' else 'dataset ' + e['source']}), "
            f"expired {e['expires_at'][:19]}"
        )
    for d in r.decision_logs:
        at = f" (#{d['erasure']})" if d["erasure"] else ""
        output.line(
            f"  {verb} the decision log of {d['deployment_id']} in {d['env']}{at}: {d['rule']} "
            f"(decisions:{d['env']} {d['source']}) from its end {str(d['ended_at'])[:19]}, "
            f"expired {d['expires_at'][:19]}"
        )
    for h in r.held:
        output.line(f"  kept {h['target']}: {h['text']}")
    for x in r.refused:
        output.line(f"  refused {x['target']}: {x['error']}")
    if not (r.erased or r.decision_logs or r.held or r.refused):
        output.line("  nothing has expired")
    if r.seq:
        output.line(f"recorded as retention run #{r.seq}")
