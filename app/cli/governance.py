"""``ledgerml approve``, ``approvals list``, ``approval request|sign|import``, ``inventory``,
``registry at``: signed approvals, the model inventory and the registry at any moment."""

from __future__ import annotations

import json
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

approvals_app = typer.Typer(no_args_is_help=True)
approval_app = typer.Typer(no_args_is_help=True)
registry_app = typer.Typer(no_args_is_help=True)

VersionArg = Annotated[str, typer.Argument(help="Model version: name@N.")]
ReasonReq = Annotated[str, typer.Option("--reason", "-r", help="Why: recorded in the ledger.")]
StageOpt = Annotated[str, typer.Option("--for", help="Stage: approved (default) or validated.")]
RoleOpt = Annotated[
    str | None,
    typer.Option(help="Role you approve in (default: your only approval role)."),
]
ConditionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--condition",
        help="A condition of the approval (repeatable), e.g. 'not for applicants under 21'. "
        "Recorded and signed as data now; scoring enforces it where it can check it.",
    ),
]
RejectOpt = Annotated[bool, typer.Option("--reject", help="Record a signed rejection instead.")]
KeyOpt = Annotated[
    str | None, typer.Option("--key", help="Key id prefix or label (default: your newest).")
]


def _approval_json(row: Any) -> dict[str, Any]:
    out: dict[str, Any] = row.as_dict()
    return out | {
        "evidence": json.loads(row.evidence),
        "conditions": json.loads(row.conditions),
    }


def _approval_line(row: Any) -> str:
    conds = json.loads(row.conditions)
    verb = "rejected" if row.decision == "reject" else "approved"
    return (
        f"{row.approver} {verb} {row.model} for {row.stage} as {row.role} at event #{row.seq} "
        f"(key {row.key_id[:16]}, policy {row.policy_digest[7:19]})"
        + (f"; conditions: {'; '.join(conds)}" if conds else "")
    )


@guarded
def approve(
    ref: VersionArg,
    reason: ReasonReq,
    stage: StageOpt = "approved",
    role: RoleOpt = None,
    condition: ConditionOpt = None,
    reject: RejectOpt = False,
    key: KeyOpt = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Sign an approval (or --reject) of a model version with your own key.

    It binds the model digest, the evidence you saw, the policy in force and any conditions.
    You may not approve a version you trained, registered or signed (admins included).
    """
    from core.governance import approvals

    row = approvals.approve(
        open_ws(workspace),
        actor_name(as_actor),
        ref,
        stage=stage,
        role=role,
        reason=reason,
        conditions=condition or [],
        reject=reject,
        key_ref=key,
    )
    if want_json(json_out):
        output.emit_json(_approval_json(row))
        return
    output.line(_approval_line(row))


@approvals_app.command("list")
@guarded
def list_(
    pending: Annotated[
        bool, typer.Option("--pending", help="Versions waiting for an approval you may give.")
    ] = False,
    model: Annotated[
        str | None, typer.Option("--model", help="Only this version (name@N) or name.")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Recorded approvals and rejections, or (--pending) what waits for you."""
    from core.governance import approvals
    from reports.formatting import when as recorded_at

    ws, actor = open_ws(workspace), actor_name(as_actor)
    if pending:
        waiting = approvals.pending(ws, actor)
        if model:
            wanted = model.removeprefix("model:")
            waiting = [p for p in waiting if p.ref == wanted or p.ref.startswith(wanted + "@")]
        if want_json(json_out):
            output.emit_json([p.to_json() for p in waiting])
            return
        output.table(
            [
                "version",
                "tier",
                "missing roles",
                "you could give",
                "evidence",
                "developers",
                "asked again because",
            ],
            [
                [
                    p.ref,
                    p.tier,
                    ", ".join(p.missing_roles) or "-",
                    ", ".join(p.roles),
                    ", ".join(f"{k} {v}" for k, v in p.evidence.items() if v) or "none",
                    ", ".join(p.developers),
                    approvals.in_words(p.again),
                ]
                for p in waiting
            ],
            title=f"waiting for {actor}",
        )
        return
    rows = approvals.list_approvals(ws, actor, ref=model)
    # Whether each counts toward its stage now, and why not: the answer a refused promotion
    # points here for (void by newer evidence, expired, another build, a developer, ...).
    counts = approvals.standing(ws, rows, actor)
    gone = approvals.Standing(False, "not among the version's approvals now")
    if want_json(json_out):
        output.emit_json([_approval_json(r) | counts.get(r.seq, gone).to_json() for r in rows])
        return
    output.table(
        [
            "#",
            "version",
            "stage",
            "decision",
            "by",
            "role",
            "when",
            "conditions",
            "reason",
            "counts",
            "why not",
        ],
        [
            [
                r.seq,
                r.model,
                r.stage,
                r.decision,
                r.approver,
                r.role,
                recorded_at(r.created_at, seconds=True),
                "; ".join(json.loads(r.conditions)),
                r.reason,
                "yes" if counts.get(r.seq, gone).counted else "NO",
                approvals.in_words(counts.get(r.seq, gone).why_not),
            ]
            for r in rows
        ],
    )


@approval_app.command("request")
@guarded
def approval_request(
    ref: VersionArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the request.")],
    stage: StageOpt = "approved",
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Write what is to be approved (digests, evidence, policy, who may approve) for an
    approver on another machine. Records nothing."""
    from core.governance import offline

    path = offline.request(open_ws(workspace), actor_name(as_actor), ref, stage=stage, out=out)
    if want_json(json_out):
        output.emit_json(json.loads(path.read_bytes()))
        return
    output.line(f"wrote the approval request for {ref} ({stage}) to {path}")


@approval_app.command("sign")
@guarded
def approval_sign(
    request: Annotated[Path, typer.Argument(help="The request file (approval request -o).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the signed approval.")],
    reason: ReasonReq,
    role: RoleOpt = None,
    condition: ConditionOpt = None,
    reject: RejectOpt = False,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            help="Your key request file (key generate -o); default: the key "
            "the request names for you.",
        ),
    ] = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Sign an approval request with your own key. Needs no workspace (air-gapped is fine).

    Read the request first: you sign its model digest, evidence and policy as they are.
    """
    from core.governance import offline

    approver = actor_name(as_actor)
    doc, _ = offline.read_request(request)
    path = offline.sign(
        request,
        out,
        approver=approver,
        role=role,
        reason=reason,
        conditions=condition or [],
        reject=reject,
        key_ref=str(key) if key else None,
    )
    if want_json(json_out):
        output.emit_json({"out": str(path), "model": doc["model"], "approver": approver})
        return
    verb = "rejection" if reject else "approval"
    output.line(
        f"{approver} signed a {verb} of {doc['model']} (sha256:{str(doc['model_digest'])[:16]}…) "
        f"for {doc['stage']} under policy {doc['policy'].get('name')} "
        f"{doc['policy'].get('version')}: {path}"
    )


@approval_app.command("import")
@guarded
def approval_import(
    path: Annotated[Path, typer.Argument(help="The signed approval (approval sign -o).")],
    reason: ReasonReq,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Check a signed approval (the approver's certified key, this workspace, the version's
    current digest, the policy in force, the approver's role) and record it."""
    from core.governance import offline

    row = offline.import_approval(open_ws(workspace), actor_name(as_actor), path, reason)
    if want_json(json_out):
        output.emit_json(_approval_json(row))
        return
    output.line("imported: " + _approval_line(row))


@registry_app.command("at")
@guarded
def registry_at(
    when: Annotated[str, typer.Argument(help="An event number or an ISO time (UTC if naive).")],
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """What was in each stage at that moment, approved by whom, under which policy, and
    whether each of those approvals counts now."""
    from core.governance import lifecycle

    lines = lifecycle.registry_at(open_ws(workspace), when, actor_name(as_actor))
    if want_json(json_out):
        output.emit_json([line.to_json() for line in lines])
        return
    output.table(
        ["version", "stage", "since", "tier", "approved by", "policy"],
        [
            [
                x.ref,
                x.stage + (" (break-glass)" if x.break_glass else ""),
                f"#{x.since}",
                x.tier if x.tier is not None else "-",
                "; ".join(x.approvals_text()) or "-",
                f"{x.policy_name} {x.policy_version}" if x.policy else "none",
            ]
            for x in lines
        ],
    )


@guarded
def inventory(
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Every model with its SR 11-7 fields: purpose, use, restrictions, inputs, outputs, owner,
    developer, validator, validation, approvals, stage, last change, exceptions, open
    findings, validity, next revalidation, tier, the erasures of data it was trained on, the
    newest evidence verdict, and whether each approval counts now."""
    from core.evidence import views

    lines = views.inventory(open_ws(workspace), actor_name(as_actor))
    if want_json(json_out):
        output.emit_json([x.to_json() for x in lines])
        return
    output.table(
        [
            "model",
            "stage",
            "tier",
            "owner",
            "developers",
            "validated",
            "evidence",
            "approved by",
            "valid until",
            "revalidate by",
            "findings",
            "exceptions",
            "erased data",
        ],
        [
            [
                x.ref,
                x.stage_line or x.stage,
                x.tier if x.tier is not None else "-",
                x.owner or "-",
                ", ".join(x.developers),
                f"{x.validation_status} {(x.validation_date or '')[:10]}".strip(),
                x.evidence["text"] if x.evidence else "-",
                "; ".join(f"{a['approver']} ({a['role']}) — {a['standing']}" for a in x.approvals)
                or "-",
                x.valid_until_now or "-",
                (x.next_revalidation or "-")[:10],
                "-" if x.open_findings is None else x.open_findings,
                ", ".join(f"{k} {v}" for k, v in x.exceptions.items() if v) or "-",
                ", ".join(f"#{e['erasure']} ({', '.join(e['versions'])})" for e in x.erased_data)
                or "-",
            ]
            for x in lines
        ],
    )


def register(root: typer.Typer) -> None:
    """Add the governance commands to the root app."""
    root.command("approve")(approve)
    root.add_typer(approvals_app, name="approvals", help="Recorded and pending approvals.")
    root.add_typer(
        approval_app,
        name="approval",
        help="Approvals signed off the machine: request, sign, import.",
    )
    root.add_typer(registry_app, name="registry", help="The model registry at any moment.")
    root.command("inventory")(inventory)
