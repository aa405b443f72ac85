"""API tokens: how a caller of the scoring service proves who it speaks for.

A token is ``lml_<token_id>_<secret>`` with 256 random bits of secret. ``token add`` prints it
once; the ledger records only its :func:`digest_of`, bound to one actor and one environment
(``token.issue``, by an admin or an operator). The token says *who* is calling; it grants
nothing by itself: each call is answered only if, at that moment, the actor is active and
holds ``consumer`` or ``operator`` as the signed ledger has it. So suspending the actor, or
revoking the role, stops the token at once, without touching the token.

How the running server decides (:class:`Gatekeeper`):

- **From the ledger, not the catalog.** Tokens, revocations, roles and status are read from
  the signed events themselves: each ``token.*`` event is admitted by the identity authority
  (its actor's signature, their role at that point), so a row typed into ``catalog.duckdb``,
  or a forged line in the ledger, issues no token and un-revokes none.
- **Current on every request.** Before each call is checked the server compares the
  ledger's head with the one it last read (a stat and a read of the last line); if events
  were appended, it reads just those, and re-derives the identity state when one of them
  changes actors, roles or keys. A revocation, a suspension or a revoked role is therefore
  in force for every request that arrives after its event was committed: no cache
  lifetime, no restart. A request checked just before the event is answered, as it would be
  a moment earlier.
- **Constant time.** The token id (not secret) finds the record; the token's digest is then
  compared with :func:`hmac.compare_digest`, so how long a refusal takes says nothing about
  how much of a guess was right. Unknown ids, wrong secrets and malformed tokens get the
  same answer.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from core.identity.actors import needs
from core.identity.authority import Authority
from core.kernel import command, kinds
from core.kernel.errors import NotFoundError, PermissionDeniedError, UsageError
from core.kernel.kinds import new_event
from core.kernel.rows import ApiTokenRow
from core.kernel.workspace import Session, Workspace
from core.operations.deployments import check_env
from core.operations.serving_events import (
    CALLER_ROLES,
    TOKEN_ROLES,
    TokenIssued,
    TokenRevoked,
    token_issue_problem,
)
from storage.ledger import LedgerEntry, parse_line

PREFIX = "lml_"
_DIGEST_LABEL = b"ledgerml api token v1\n"
_TOKEN = re.compile(r"^lml_(tok-[0-9a-f]{12})_[A-Za-z0-9_-]{43}$")
_TOKEN_ID = re.compile(r"^tok-[0-9a-f]{12}$")
_TOKEN_EVENT = b'{"action":"token.'


def digest_of(token: str) -> str:
    """What the ledger keeps of a token: a labelled SHA-256, enough to recognise it.

    A plain (unkeyed, fast) hash is right here: the secret is 256 random bits, so there is
    nothing to guess, unlike a password.
    """
    return hashlib.sha256(_DIGEST_LABEL + token.encode()).hexdigest()


def _new_token() -> tuple[str, str]:
    token_id = "tok-" + secrets.token_hex(6)
    return token_id, f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"


def _caller_state(auth: Authority, who: str) -> str | None:
    """Why ``who`` could not call now (None: they could)."""
    state = auth.current(who)
    if state is None:
        return f"{who!r} is not a registered actor"
    if state.status != "active":
        return f"{who} is {state.status}"
    if not set(CALLER_ROLES) & set(state.roles):
        return f"{who} holds {', '.join(state.roles) or 'no role'}, not consumer or operator"
    return None


def issue(ws: Workspace, actor: str, who: str, *, env: str, reason: str) -> tuple[ApiTokenRow, str]:
    """Issue a token for ``who`` to call ``env``'s scoring service; (its record, the token).

    The token itself is returned once and stored nowhere: lose it and issue another.

    Raises:
        UsageError: without a reason, for a bad environment, or for an actor who could not
            call now (unknown, not active, neither consumer nor operator).
        PermissionDeniedError: if ``actor`` is neither admin nor operator, is no person, or
            may not speak for ``who`` (a token for an operator, an admin or a service is an
            admin's to issue: :data:`~core.operations.serving_events.PRIVILEGED`).
    """
    from core.identity.signer import authority_of

    if not reason.strip():
        raise UsageError("issuing a token needs a --reason", hint="Say why, for the record.")
    check_env(env)
    token_id, token = _new_token()

    def commit(s: Session, _: None) -> ApiTokenRow:
        auth = authority_of(s)
        why = _caller_state(auth, who)
        if why:
            raise UsageError(
                f"no token for {who}: {why}",
                hint="Callers hold the consumer role (or operator); "
                f"`ledgerml actor grant {who} --role consumer` gives it.",
            )
        me, them = auth.current(s.actor), auth.current(who)
        assert me is not None and them is not None  # the guard and _caller_state saw them
        refused = token_issue_problem(me.kind, me.roles, them.kind, them.roles)
        if refused:
            raise PermissionDeniedError(
                f"{s.actor} may not issue a token for {who}: {refused}",
                hint="Whoever issues a token can call as its actor: operators issue tokens "
                "for consumers; an admin issues them for operators, admins and services.",
            )
        payload = TokenIssued(token_id, who, env, digest_of(token))
        subjects = [f"token:{token_id}", f"actor:{who}", f"env:{env}"]
        s.commit(new_event(s.actor, payload, subjects, reason))
        return _row(s, token_id)

    row = command.run(
        ws, actor, guards=[needs(*TOKEN_ROLES, action="issue API tokens")], commit=commit
    )
    return row, token


def revoke(ws: Workspace, actor: str, token_id: str, *, reason: str) -> ApiTokenRow:
    """Revoke a token for good; a running server refuses it from its next request on.

    Raises:
        UsageError: without a reason, for a malformed id, or one already revoked.
        NotFoundError: for an unknown token id.
        PermissionDeniedError: if ``actor`` is neither admin nor operator.
    """
    if not reason.strip():
        raise UsageError("revoking a token needs a --reason", hint="Say why, for the record.")
    if not _TOKEN_ID.match(token_id):
        raise UsageError(
            f"{token_id!r} is not a token id",
            hint="Token ids look like tok-1a2b3c4d5e6f; `ledgerml token list` shows them. "
            "Give the id, never the token.",
        )

    def commit(s: Session, _: None) -> ApiTokenRow:
        row = _row(s, token_id)
        if row.revoked_seq is not None:
            raise UsageError(f"{token_id} was already revoked at event #{row.revoked_seq}")
        subjects = [f"token:{token_id}", f"actor:{row.actor}", f"env:{row.env}"]
        s.commit(new_event(s.actor, TokenRevoked(token_id), subjects, reason))
        return _row(s, token_id)

    return command.run(
        ws, actor, guards=[needs(*TOKEN_ROLES, action="revoke API tokens")], commit=commit
    )


def _row(s: Session, token_id: str) -> ApiTokenRow:
    rows: list[ApiTokenRow] = s.catalog.rows(
        ApiTokenRow, "SELECT * FROM api_tokens WHERE token_id = ?", [token_id]
    )
    if not rows:
        raise NotFoundError(f"no token {token_id!r}", hint="`ledgerml token list` shows them.")
    return rows[0]


def list_tokens(ws: Workspace, actor: str = "", *, env: str | None = None) -> list[ApiTokenRow]:
    """Every token issued (optionally for one environment), oldest first: ids, never secrets."""
    sql = "SELECT * FROM api_tokens" + (" WHERE env = ?" if env else "") + " ORDER BY created_seq"
    with ws.session(actor) as s:
        return s.catalog.rows(ApiTokenRow, sql, [env] if env else [])


# ---- the server's side ----------------------------------------------------------------------


class CallRefusedError(Exception):
    """A call refused before scoring: ``status`` is the HTTP status to answer with.

    401: no token, or one that is unknown, malformed or revoked (nobody is authenticated).
    403: a valid token whose actor may not call now, or not this environment; ``actor`` then
    names who was refused, and the refusal is logged as their decision.
    """

    def __init__(self, status: int, message: str, actor: str | None = None) -> None:
        """Keep the status, the message for the caller and, for a 403, who was refused."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.actor = actor


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the actor a token speaks for, and the token's id."""

    actor: str
    token_id: str


@dataclass
class _Token:
    actor: str
    env: str
    digest: str
    revoked_seq: int | None = None


class _Follower:
    """Reads the events appended to a ledger since the last call, from where it stopped.

    It keeps the segment and byte offset it reached, so each call reads only new lines (a
    server checks on every request). A torn last line is left for the next call.
    """

    def __init__(self, ws: Workspace) -> None:
        self.ledger = ws.ledger
        self.segment = 0
        self.offset = 0
        self.seq = 0
        self.hash = ""

    def new_entries(self) -> Iterator[LedgerEntry]:
        while True:
            path = self.ledger.segment_path(self.segment)
            if not path.exists():
                return
            with path.open("rb") as handle:
                handle.seek(self.offset)
                for raw in handle:
                    if not raw.endswith(b"\n"):
                        return
                    self.offset += len(raw)
                    entry = parse_line(raw[:-1])
                    self.seq, self.hash = entry.seq, entry.hash
                    yield entry
            if not self.ledger.segment_path(self.segment + 1).exists():
                return
            self.segment, self.offset = self.segment + 1, 0


class Gatekeeper:
    """What a running scoring service knows of tokens and callers, kept current from the ledger.

    See the module docstring for where it reads from and when. Thread-safe: request threads
    call :meth:`check`, which first calls :meth:`sync`.
    """

    def __init__(self, ws: Workspace, env: str) -> None:
        """Follow ``ws``'s ledger for the callers of ``env``; nothing is read until a sync."""
        self.ws = ws
        self.env = env
        self._lock = threading.Lock()
        self._follow = _Follower(ws)
        self._head: tuple[int, str] = (0, "")
        self._auth: Authority | None = None
        self._tokens: dict[str, _Token] = {}
        self.forged: list[tuple[int, str]] = []
        """``(seq, why)`` of token events the authority did not admit (they count for
        nothing here; ``audit verify`` names them too)."""

    def sync(self) -> set[str]:
        """Read what was appended since the last sync; the actions seen (empty: nothing new).

        The server refreshes its scorer when an action other than its own decision batches
        appears (a deployment, a rollback, a throttle, a policy, a key).
        """
        head = self.ws.ledger.head()
        if head == self._head:
            return set()
        with self._lock:
            if head == self._head:
                return set()
            return self._read()

    def _read(self) -> set[str]:
        from core.identity.signer import authority_of

        seen: set[str] = set()
        pending: list[tuple[LedgerEntry, dict[str, Any]]] = []
        authority = set(kinds.authority_actions())
        rebuild = self._auth is None
        for entry in self._follow.new_entries():
            # canonical bodies sort "action" first, so its value is at a fixed place
            action = entry.body[11 : entry.body.find(b'"', 11)].decode("ascii", "replace")
            seen.add(action)
            if action in authority:
                rebuild = True
            if entry.body.startswith(_TOKEN_EVENT):
                pending.append((entry, entry.decode()))
        if rebuild:
            with self.ws.session("") as s:
                self._auth = authority_of(s)
        auth = self._auth
        assert auth is not None
        for entry, body in pending:
            why = auth.admit(entry.seq, entry.body, body)
            if why:
                self.forged.append((entry.seq, why))
                continue
            self._apply(entry.seq, body)
        self._head = (self._follow.seq, self._follow.hash)
        return seen

    def _apply(self, seq: int, body: dict[str, Any]) -> None:
        kind = kinds.kind(str(body["action"]))
        if kind is None:
            return
        data = kind.decode(body)
        if isinstance(data, TokenIssued):
            self._tokens.setdefault(data.token_id, _Token(data.actor, data.env, data.digest))
        elif isinstance(data, TokenRevoked) and data.token_id in self._tokens:
            token = self._tokens[data.token_id]
            if token.revoked_seq is None:
                token.revoked_seq = seq

    def check(self, authorization: str | None) -> Caller:
        """The caller an ``Authorization`` header proves, if they may call this environment.

        Raises:
            CallRefusedError: 401 or 403 as :class:`CallRefusedError` describes.
        """
        self.sync()
        if not authorization:
            raise CallRefusedError(401, "no token: send Authorization: Bearer <token>")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        m = _TOKEN.match(token) if scheme.lower() == "bearer" else None
        record = self._tokens.get(m.group(1)) if m else None
        # compare a digest either way, so a malformed or unknown token costs the same
        expected = record.digest if record is not None else "0" * 64
        if not hmac.compare_digest(digest_of(token), expected) or record is None or m is None:
            raise CallRefusedError(401, "unknown token")
        token_id = m.group(1)
        if record.revoked_seq is not None:
            raise CallRefusedError(
                401, f"token {token_id} was revoked at event #{record.revoked_seq}"
            )
        assert self._auth is not None
        why = _caller_state(self._auth, record.actor)
        if why:
            raise CallRefusedError(
                403, f"{why}: they may not call the scoring service", record.actor
            )
        if record.env != self.env:
            raise CallRefusedError(
                403, f"token {token_id} is for {record.env}, not {self.env}", record.actor
            )
        return Caller(record.actor, token_id)
