"""``ledgerml policy install|list|show|test|check|decisions``: policies as code.

A policy bundle is a folder (``bundle.toml``, Rego modules in package ``ledgerml.gate``,
``tests/*.toml`` fixtures); the default pack is sample_data/policies/default. Installing one
is an admin's signed event; every governed action then records the decision it got.
"""

from __future__ import annotations

import json
from pathlib import Path
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

app = typer.Typer(no_args_is_help=True)

FolderArg = Annotated[
    Path, typer.Argument(help="A policy folder (bundle.toml, *.rego, tests/*.toml).")
]


@app.command("install")
@guarded
def install(
    folder: FolderArg,
    reason: ReasonOpt,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Put a policy bundle in force (admins). It must compile and pass its own fixtures.

    Example: ledgerml policy install sample_data/policies/default --reason "adopt the default
    pack". Nothing is recorded if it fails; `policy test FOLDER` shows why first.
    """
    from core.governance import policy

    bundle, installed = policy.install(open_ws(workspace), actor_name(as_actor), folder, reason)
    if want_json(json_out):
        doc = {"name": bundle.name, "version": bundle.version, "digest": bundle.digest}
        output.emit_json(doc | {"installed": installed})
        return
    if installed:
        output.line(f"policy {bundle.name} {bundle.version} ({bundle.digest[:19]}…) is in force")
    else:
        output.line(f"policy {bundle.name} {bundle.version} is already in force: nothing recorded")


@app.command("list")
@guarded
def list_(
    workspace: WorkspaceOpt = None, as_actor: ActorOpt = None, json_out: JsonOpt = False
) -> None:
    """Every policy install, oldest first; `*` marks the one in force (the signed ledger's)."""
    from core.governance import policy_views

    found = policy_views.installs(open_ws(workspace), actor_name(as_actor))
    if want_json(json_out):
        output.emit_json([i.to_json() for i in found])
        return
    if not found:
        output.note("no policy is installed (`ledgerml policy install FOLDER --reason …`)")
        return
    output.table(
        ["", "install", "name", "version", "digest", "by", "when"],
        [
            (
                "*" if i.in_force else "",
                f"#{i.seq}",
                i.name,
                i.version,
                i.digest[:19] + "…",
                i.installed_by,
                i.installed_at,
            )
            for i in found
        ],
    )


@app.command("show")
@guarded
def show(
    digest: Annotated[
        str | None, typer.Argument(help="An installed bundle's digest (a prefix will do).")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A policy bundle: its modules, its governance data (tiers, k, roles) and fixtures.

    Without DIGEST: the bundle in force. --json includes every module's text.
    """
    from core.governance import policy_views

    shown = policy_views.show(open_ws(workspace), digest, actor_name(as_actor))
    if want_json(json_out):
        output.emit_json(shown.to_json())
        return
    b = shown.bundle
    output.fields(
        [
            ("policy", f"{b.name} {b.version}"),
            ("digest", b.digest),
            ("installed", f"#{shown.seq}" + (" (in force)" if shown.in_force else "")),
            ("modules", ", ".join(sorted(b.modules))),
            ("fixtures", shown.fixtures()),
        ]
    )
    gov = b.data
    output.table(
        ["tier", "k", "roles", "approvals valid", "grace", "revalidate", "evidence max age"],
        [
            (
                t.get("tier"),
                t.get("k"),
                ", ".join(t.get("roles", [])),
                f"{t.get('approval_valid_days')} d",
                f"{t.get('grace_days')} d",
                f"{t.get('revalidate_days')} d",
                f"{t.get('evidence_max_age_days')} d",
            )
            for t in gov.get("tiers", [])
        ],
        title="tiers",
    )
    output.line(
        f"untiered models are tier {gov.get('untiered', 1)}; break-glass roles: "
        f"{', '.join(gov.get('break_glass_roles', [])) or 'none'}; newer evidence "
        f"{'voids' if gov.get('evidence_change', 'void') == 'void' else 'keeps'} approvals"
    )


@app.command("test")
@guarded
def test(
    target: Annotated[
        str, typer.Argument(help="A policy folder, or an installed bundle's digest (prefix).")
    ],
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Compile a policy bundle and run its fixtures: PASS or FAIL for each case.

    Exit 1 when a case fails, 2 when the bundle does not compile. A folder needs no
    workspace. A fixture file holds [[case]] tables: name, gate, input, allow and optionally
    reason (a text a deny reason must contain); write one for the deny path of every rule,
    since a rule whose body calls an undefined function denies nothing, silently.
    """
    from core.governance import policy, policy_views

    path = Path(target)
    if path.is_dir():
        bundle = policy.load_dir(path)
    else:
        bundle = policy_views.stored_bundle(open_ws(workspace), target, actor_name(as_actor))
    results = policy.run_tests(bundle)
    failed = [r for r in results if not r.passed]
    if want_json(json_out):
        output.emit_json(
            {
                "name": bundle.name,
                "version": bundle.version,
                "digest": bundle.digest,
                "passed": not failed,
                "cases": [
                    {"name": r.name, "passed": r.passed, "problem": r.problem} for r in results
                ],
            }
        )
    else:
        for r in results:
            tail = f"  {r.problem}" if r.problem else ""
            output.line(f"{'PASS' if r.passed else 'FAIL'}  {r.name}{tail}")
        output.line(
            f"policy {bundle.name} {bundle.version}: {len(results) - len(failed)} passed, "
            f"{len(failed)} failed"
        )
    if failed:
        raise typer.Exit(output.EXIT_CHECK)


def _request(
    to: str | None, from_stage: str | None, role: str | None, reject: bool, break_glass: bool
) -> dict[str, Any]:
    request: dict[str, Any] = {}
    if to is not None:
        request |= {"to_stage": to, "break_glass": break_glass}
        if from_stage is not None:
            request["from_stage"] = from_stage
    if role is not None or reject:
        request |= {"stage": to or "approved", "role": role}
        request["decision"] = "reject" if reject else "approve"
    return request


@app.command("check")
@guarded
def check(
    gate: Annotated[
        str, typer.Argument(help="register, promote, approve, deploy, score, export, erase, risk.")
    ],
    ref: Annotated[str, typer.Argument(help="Model version: name@N.")],
    input_file: Annotated[
        Path | None,
        typer.Option("--input", help="Evaluate this JSON input instead of the model's facts."),
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="request.to_stage (promote).")] = None,
    from_stage: Annotated[
        str | None, typer.Option("--from", help="request.from_stage (promote).")
    ] = None,
    role: Annotated[str | None, typer.Option(help="request.role (approve).")] = None,
    reject: Annotated[bool, typer.Option(help="request.decision = reject (approve).")] = False,
    break_glass: Annotated[bool, typer.Option(help="request.break_glass (promote).")] = False,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Dry run: what the policy in force would decide at GATE for NAME@N. Records nothing.

    The input is what the gate itself would build: you (as the ledger has you), the
    version's real facts (evidence verdicts and ages, PII use, DPIA, tier, developers) and
    the request options given, and for promote and approve the approvals so far as the
    gate counts them. --input evaluates a JSON document of your own instead. Exit 1 when the
    policy would refuse.

    Example: ledgerml policy check promote credit-risk@1 --to validated --as val
    """
    from core.governance import policy_views

    decision = policy_views.check(
        open_ws(workspace),
        gate,
        ref,
        actor=actor_name(as_actor),
        request=_request(to, from_stage, role, reject, break_glass) or None,
        input_file=input_file,
    )
    if want_json(json_out):
        output.emit_json(decision.member())
    else:
        verdict = "ALLOW" if decision.allow else "DENY"
        output.line(f"{verdict}  {gate} {ref} under policy {decision.bundle[:19]}…")
        for r in decision.reasons:
            output.line(f"  - {r}")
        output.line("input (what the policy saw):")
        output.line(json.dumps(decision.input, indent=2, sort_keys=True))
    if not decision.allow:
        raise typer.Exit(output.EXIT_CHECK)


@app.command("decisions")
@guarded
def decisions(
    deny: Annotated[bool, typer.Option("--deny", help="Only refusals.")] = False,
    model: Annotated[
        str | None, typer.Option("--model", help="Only decisions about NAME@N.")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Every recorded policy decision, oldest first: allowed actions and refused attempts.

    Each decision travels in the signed event of its action (or of the policy.deny attempt);
    `ledgerml audit verify` re-evaluates each one against the bundle it names.
    """
    from core.governance import policy_views

    found = policy_views.decisions(
        open_ws(workspace), actor=actor_name(as_actor), deny_only=deny, model=model
    )
    if want_json(json_out):
        output.emit_json([d.to_json() for d in found])
        return
    output.table(
        ["event", "when", "actor", "gate", "subject", "decision", "policy", "reasons"],
        [
            (
                f"#{d.seq}",
                d.ts,
                d.actor,
                d.gate,
                d.subject,
                "allow" if d.allow else "DENY",
                d.bundle[:19] + "…",
                "; ".join(d.reasons),
            )
            for d in found
        ],
    )
