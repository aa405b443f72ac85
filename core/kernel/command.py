"""The command kernel: the one write path of every state-changing command.

Read this first if you are adding a command. A command runs in up to three steps:

1. **Check**, holding the workspace: every guard runs (the identity guard
   :func:`core.identity.actors.needs` checks the actor's roles *as the signed ledger says*
   and proves this process holds the actor's secret, which gives the session the signer
   that :meth:`Session.commit` requires; policy and a remote ledger plug in here as more
   guards), then ``prepare`` resolves what the command needs (references, rows) and
   refuses bad requests before any expensive work. Nothing is recorded in the ledger (a
   bundle export signs its checkpoint file here, since the bundle must name it).
2. **Compute**, without holding the workspace: ``compute`` does the slow part (hashing a
   file, training, evaluating) so that other commands are not kept waiting. It records
   nothing, but may store or stage blobs: the object store is content-addressed, so a blob
   no event names (the command was refused at commit, or killed) is inert.
3. **Commit**, holding the workspace again: the guards run again (a role can be revoked
   meanwhile), then ``commit`` re-checks what ``prepare`` relied on and appends at most one
   event with :meth:`Session.commit` (blobs first, then the fsynced event, then its
   projection). The session takes at most one event from it: a second ``commit`` is a bug
   and raises before anything is appended.

A workspace attached to a shared ledger pulls what teammates recorded at the start of each
step that holds the workspace, so guards and ``prepare`` judge the team's state, not a stale
copy. If a teammate commits between that pull and this command's commit, the server refuses
the append (:class:`~core.kernel.workspace.BehindError`): the commit step runs again from a new
pull, guards and ``commit`` included, since a gate or a policy may now say no. The event is
sealed again there; the key is already unlocked in this process, so no secret is asked twice.

A command with nothing slow to do passes no ``compute``: check and commit then run in one
hold of the workspace.

Example::

    def add(ws, actor, name, roles):
        return command.run(
            ws,
            actor,
            guards=[actors.needs("admin", action="add actors")],
            commit=lambda s, _: s.commit(
                kinds.new_event(actor, ActorAdded(name, roles), [f"actor:{name}"])
            ),
        )
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any, TypeVar

from core.kernel.errors import UsageError
from core.kernel.workspace import BehindError, Session, Workspace

Guard = Callable[[Session], Any]
"""A precondition checked under the lock before each phase; it raises to refuse."""

P = TypeVar("P")
C = TypeVar("C")
R = TypeVar("R")
RETRIES = 8
"""How many times a commit is retried while teammates keep moving the shared head."""
OPTIMISTIC = 3
"""Tries without waiting for anyone; later ones take the server's turn (no starvation)."""


def _none(_: Session) -> None:
    return None


def run(
    ws: Workspace,
    actor: str,
    *,
    guards: Sequence[Guard] = (),
    prepare: Callable[[Session], P] = _none,  # type: ignore[assignment]
    compute: Callable[[P], C] | None = None,
    commit: Callable[[Session, C], R],
) -> R:
    """Run one command through check, compute and commit (see the module docstring).

    Without ``compute``, ``commit`` receives what ``prepare`` returned.
    """
    if compute is None:
        return _held(
            ws,
            actor,
            guards,
            lambda s: _commit_once(s, commit, prepare(s)),  # type: ignore[arg-type]
        )
    prepared = _held(ws, actor, guards, prepare)
    computed = compute(prepared)
    return _held(ws, actor, guards, lambda s: _commit_once(s, commit, computed))


def _held(ws: Workspace, actor: str, guards: Sequence[Guard], step: Callable[[Session], R]) -> R:
    """One step holding the workspace: pull (if attached), guards, ``step``; retried if behind."""
    kept: dict[str, object] = {}  # Session.once: made on the first attempt, reused after
    for attempt in range(RETRIES):
        remote = ws.remote
        turn = remote.turn() if remote is not None and attempt >= OPTIMISTIC else nullcontext()
        with turn, ws.session(actor) as s:
            s.kept = kept
            if remote is not None:
                remote.pull(s)
            try:
                # Inside: a guard may record its refusal (a policy denial), which can lose
                # the race like any commit.
                for guard in guards:
                    guard(s)
                return step(s)
            except BehindError as err:
                if attempt == RETRIES - 1:
                    raise UsageError(
                        f"the shared ledger kept moving while this command tried to record "
                        f"({RETRIES} attempts; {err}); nothing was recorded",
                        hint="Teammates are recording quickly; run the command again.",
                    ) from err
    raise AssertionError("unreachable")  # pragma: no cover


def _commit_once(s: Session, commit: Callable[[Session, C], R], value: C) -> R:
    s.commit_limit = s.commits + 1
    try:
        return commit(s, value)
    finally:
        s.commit_limit = None
