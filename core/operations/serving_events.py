"""Event kinds of the scoring service: API tokens issued to callers, and their revocation.

A token is one ``token.issue`` event naming the actor it speaks for, the one environment it
may call and the token's digest (never the token); ``token.revoke`` ends it for good. Both
project into ``api_tokens``. Admins and operators issue and revoke tokens (who may speak for
whom: :data:`PRIVILEGED`); whether a call is
allowed is still decided per call, from the actor's roles as the signed ledger has them.

Light on purpose: the projector imports it on every command.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.kernel.catalog import Catalog
from core.kernel.kinds import Body, Payload, event_kind
from core.kernel.rows import ApiTokenRow

TOKEN_ROLES = ("admin", "operator")
"""Who may issue or revoke a caller's token."""
CALLER_ROLES = ("consumer", "operator")
"""The roles a token's actor must hold, at the moment of each call, for it to be answered."""
PRIVILEGED = ("operator", "admin")
"""A token for an actor holding one of these (or for a service) may be issued by an admin only.

Whoever issues a token knows its secret and can call as its actor, and every decision then
carries that actor as its ``caller``. An operator may therefore speak for consumers (whose
calls are outputs only), never for a peer, an admin or the scoring service itself; a service
never issues a token (it would give its own host a caller identity). The roles rule of
``token.issue`` cannot say this (it sees the payload, not the named actor's roles), so
:func:`token_issue_problem` is asked at issue and by ``audit verify`` alike.
"""


def token_issue_problem(
    issuer_kind: str, issuer_roles: tuple[str, ...], who_kind: str, who_roles: tuple[str, ...]
) -> str | None:
    """Why this issuer may not issue a token for that actor (None: they may); see above."""
    if issuer_kind != "person":
        return f"the issuer is a {issuer_kind} identity: only a person issues tokens"
    held = set(PRIVILEGED) & set(who_roles)
    if (held or who_kind != "person") and "admin" not in issuer_roles:
        what = f"holds {', '.join(sorted(held))}" if held else f"is a {who_kind} identity"
        return f"the token's actor {what}: only an admin issues a token for them"
    return None


@dataclass(frozen=True)
class TokenIssued(Payload):
    """A token for ``actor`` to call ``env``'s scoring service; ``digest`` identifies it.

    ``digest`` is :func:`core.operations.tokens.digest_of` of the whole token: the token has
    256 random bits, so its SHA-256 cannot be inverted by guessing, and the ledger (which is
    copied into bundles) can never hand anyone a working credential.
    """

    token_id: str
    actor: str
    env: str
    digest: str


@dataclass(frozen=True)
class TokenRevoked(Payload):
    """A token withdrawn: the server refuses it from its next request on."""

    token_id: str


@event_kind("token.issue", TokenIssued, tables=("api_tokens",), roles=TOKEN_ROLES)
def _issue(cat: Catalog, seq: int, body: Body, t: TokenIssued) -> None:
    cat.put(
        ApiTokenRow(
            token_id=t.token_id,
            actor=t.actor,
            env=t.env,
            digest=t.digest,
            created_seq=seq,
            created_at=body["ts"],
            created_by=body["actor"],
            revoked_seq=None,
        )
    )


@event_kind("token.revoke", TokenRevoked, tables=("api_tokens",), roles=TOKEN_ROLES)
def _revoke(cat: Catalog, seq: int, body: Body, t: TokenRevoked) -> None:
    cat.con.execute(
        "UPDATE api_tokens SET revoked_seq = ? WHERE token_id = ? AND revoked_seq IS NULL",
        [seq, t.token_id],
    )
