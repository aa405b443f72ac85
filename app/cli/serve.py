"""``ledgerml serve`` and ``ledgerml token add|list|revoke``: the scoring service, its callers."""

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

token_app = typer.Typer(no_args_is_help=True)

EnvReq = Annotated[str, typer.Option("--env", "-e", help="Environment, e.g. staging.")]


def register(root: typer.Typer) -> None:
    """Add ``serve`` and ``token`` to the root app."""
    root.command("serve")(serve)
    root.add_typer(token_app, name="token", help="API tokens for callers of the scoring service.")


@guarded
def serve(
    env: EnvReq,
    port: Annotated[int, typer.Option("--port", "-p", help="TCP port (0: any free one).")] = 8765,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Loopback address to listen on: 127.0.0.1 (default) or ::1. Nothing else is "
            "accepted: this is an offline workstation, and the service answers this machine "
            "only.",
        ),
    ] = "127.0.0.1",
    flush_every: Annotated[
        int, typer.Option("--flush-every", help="Write a decision batch every N decisions.")
    ] = 1000,
    flush_seconds: Annotated[
        float,
        typer.Option("--flush-seconds", help="...and at least every T seconds while busy."),
    ] = 5.0,
    durable: Annotated[
        bool,
        typer.Option(
            "--durable",
            help="Answer only once the decision is in a committed batch (no loss window on "
            "a kill -9; costs latency). Without it, a kill -9 loses at most the open window.",
        ),
    ] = False,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
) -> None:
    """Serve ENV's deployed models over HTTP on loopback, logging every decision.

    Run it as the service actor (`--as scorer`): its key signs the decision batches. Callers
    send `Authorization: Bearer TOKEN` (see `ledgerml token add`); each call is answered only
    if the token's actor is active and holds consumer or operator at that moment. Every
    decision, refusals included, goes into the signed decision log, as EU AI Act Art. 12 asks
    ("automatic recording of events (logs) over the lifetime of the system"). The log is
    flushed every --flush-every decisions or --flush-seconds seconds, and at Ctrl-C or
    SIGTERM, so a clean stop loses nothing.
    """
    from core.operations import serving

    options = serving.Options(flush_every, flush_seconds, durable)
    options.check()
    sock = serving.listen(host, port)
    ws = open_ws(workspace)
    service = serving.Service(ws, env, actor_name(as_actor), options)
    service.start()
    bound = sock.getsockname()
    url = f"http://{bound[0] if ':' not in bound[0] else '[' + bound[0] + ']'}:{bound[1]}"
    served = (
        ", ".join(f"{d['model']} ({d['arm']})" for d in service.health["deployments"]) or "nothing"
    )
    output.note(f"serving {env} at {url} as {service.actor}: {served}")
    output.note(f"log: {service.health['log']['loss_window']}")
    output.note(
        f"try: curl -s -H 'Authorization: Bearer $TOKEN' -H 'Content-Type: application/json' "
        f"-d @row.json {url}/v1/score   (health: {url}/healthz, metrics: {url}/metrics)"
    )
    import signal

    server = serving.server(serving.build_app(service))
    # uvicorn shuts down gracefully on SIGTERM/Ctrl-C (the lifespan end flushes the log),
    # then re-raises the signal to its previous handler: a no-op here, so a clean stop
    # says what it wrote and exits 0.
    previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    output.note(f"stopped; {service.batches} decision batches written, nothing left queued")


def _stopped(signum: int, frame: object) -> None:
    """The handler uvicorn hands a stop signal back to once it has shut down cleanly."""


@token_app.command("add")
@guarded
def token_add(
    actor: Annotated[str, typer.Argument(help="The actor the token speaks for.")],
    env: EnvReq,
    reason: ReasonOpt,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Issue a token for ACTOR to call ENV's scoring service (admins and operators).

    The token is printed once and stored nowhere: the ledger keeps only its digest. ACTOR
    must hold consumer (or operator); suspending them or revoking the role stops the token.
    """
    from core.operations import tokens

    row, token = tokens.issue(
        open_ws(workspace), actor_name(as_actor), actor, env=env, reason=reason
    )
    if want_json(json_out):
        output.emit_json(row.as_dict() | {"token": token})
        return
    output.line(token)
    output.note(
        f"token {row.token_id} for {row.actor} in {row.env} (event #{row.created_seq}); "
        "shown once: store it now, it cannot be shown again"
    )


@token_app.command("list")
@guarded
def token_list(
    env: Annotated[str | None, typer.Option("--env", "-e", help="Only this environment.")] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Tokens issued: ids, actors and environments (never the tokens themselves)."""
    from core.operations import tokens

    rows = tokens.list_tokens(open_ws(workspace), actor_name(as_actor), env=env)
    if want_json(json_out):
        output.emit_json([r.as_dict() for r in rows])
        return
    output.table(
        ["token", "actor", "env", "issued", "by", "state"],
        [
            [
                r.token_id,
                r.actor,
                r.env,
                f"#{r.created_seq} {r.created_at[:19]}",
                r.created_by,
                f"revoked at #{r.revoked_seq}" if r.revoked_seq is not None else "active",
            ]
            for r in rows
        ],
    )


@token_app.command("revoke")
@guarded
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (tok-…), never the token.")],
    reason: ReasonOpt,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Revoke a token for good; a running server refuses it from its next request on."""
    from core.operations import tokens

    row = tokens.revoke(open_ws(workspace), actor_name(as_actor), token_id, reason=reason)
    if want_json(json_out):
        output.emit_json(row.as_dict())
        return
    output.line(f"revoked {row.token_id} of {row.actor} in {row.env} at event #{row.revoked_seq}")
