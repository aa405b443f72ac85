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
from typing import Any, TypeVar

from core.kernel.workspace import Session, Workspace

Guard = Callable[[Session], Any]
"""A precondition checked under the lock before each phase; it raises to refuse."""

P = TypeVar("P")
C = TypeVar("C")
R = TypeVar("R")


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
        with ws.session(actor) as s:
            for guard in guards:
                guard(s)
            prepared = prepare(s)
            return _commit_once(s, commit, prepared)  # type: ignore[arg-type]
    with ws.session(actor) as s:
        for guard in guards:
            guard(s)
        prepared = prepare(s)
    computed = compute(prepared)
    with ws.session(actor) as s:
        for guard in guards:
            guard(s)
        return _commit_once(s, commit, computed)


def _commit_once(s: Session, commit: Callable[[Session, C], R], value: C) -> R:
    s.commit_limit = s.commits + 1
    try:
        return commit(s, value)
    finally:
        s.commit_limit = None
