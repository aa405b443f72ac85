"""The command kernel: the one write path of every state-changing command.

Read this first if you are adding a command. A command runs in up to three steps:

1. **Check**, holding the workspace: every guard runs (today the role check from
   :func:`core.identity.actors.needs`; identity, policy and a remote ledger plug in here as
   more guards), then ``prepare`` resolves what the command needs (references, rows) and
   refuses bad requests before any expensive work. Nothing is written.
2. **Compute**, without holding the workspace: ``compute`` does the slow part (hashing a
   file, training, evaluating) so that other commands are not kept waiting. It may stage
   blobs, but records nothing.
3. **Commit**, holding the workspace again: the guards run again (a role can be revoked
   meanwhile), then ``commit`` re-checks what ``prepare`` relied on and appends at most one
   event with :meth:`Session.commit` (blobs first, then the fsynced event, then its
   projection). A second event in one command is a bug and raises.

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
    before = s.commits
    result = commit(s, value)
    if s.commits - before > 1:
        raise RuntimeError(f"a command committed {s.commits - before} events; one is the rule")
    return result
