"""Witnesses: folders outside the workspace that receive a copy of every signed checkpoint.

A checkpoint kept only inside the workspace proves nothing against whoever can write to the
workspace: they can truncate the ledger and delete the checkpoints that covered the removed
events, and what is left verifies. A witness is a folder (``[witnesses] paths`` in
``config.toml``) that receives ``<workspace_id>/<size:012d>.json`` for every checkpoint
:func:`core.audit.checkpoints.sign_checkpoint` writes, and ``audit verify`` checks every
checkpoint a witness holds exactly like a ``--checkpoint`` copy: a witness checkpoint larger
than the ledger is a rollback.

It protects only if the people who write to the workspace cannot change it: another
account's append-only share, WORM storage, a copy in another person's custody. A folder the
same user can write to is a convenience, not a witness.

A witness that cannot be reached (not mounted, not writable) never costs the checkpoint:
:func:`publish` returns the problem naming the witness and the command goes on, so the user
sees a warning and can copy later (every publish also back-fills what the witness lacks).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

# A module import, not names: checkpoints imports this module for its hook, so either may be
# imported first.
from core.audit import checkpoints as checkpoint_files
from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import IntegrityError, NotFoundError, UsageError
from core.kernel.workspace import CONFIG, Session, Workspace, write_config
from storage.fsutil import atomic_write, private_dir, sweep_temp

if TYPE_CHECKING:
    from core.audit.checkpoints import Checkpoint

SECTION = "witnesses"
KEY = "paths"
_NAME = re.compile(r"^\d{12}\.json$")
_HINT = (
    "A witness protects only if this workspace's writers cannot change it: another account's "
    "append-only share, WORM storage, or a copy in another person's custody."
)


def locations(ws: Workspace) -> list[Path]:
    """The witness folders named in ``config.toml``, in the order they were added."""
    raw = ws.config.get(SECTION, {}).get(KEY, [])
    if not isinstance(raw, list):
        raise UsageError(
            f"{ws.root / CONFIG}: [{SECTION}] {KEY} must be a list of folders",
            hint='For example: paths = ["/mnt/witness"]; or manage it with '
            "`ledgerml config witness add|remove`.",
        )
    return [Path(str(p)) for p in raw]


def check_location(path: Path, workspace_root: Path) -> Path:
    """The absolute form of a witness folder, refused if it cannot serve as one.

    It must exist already (like ``--copy-to``: creating it would put the copy on the local
    disk when the medium meant to hold it is not mounted) and lie outside the workspace (a
    folder inside it is rewritten with it, and witnesses nothing).

    Raises:
        UsageError: naming what is wrong.
    """
    location = Path(os.path.abspath(path.expanduser()))
    if not location.is_dir():
        what = "is not a folder" if location.exists() else "does not exist"
        raise UsageError(
            f"witness {location} {what}",
            hint="Create the folder first (or mount the medium it lives on). " + _HINT,
        )
    root = Path(os.path.abspath(workspace_root))
    resolved, resolved_root = location.resolve(), root.resolve()
    if resolved == resolved_root or resolved_root in resolved.parents:
        raise UsageError(
            f"witness {location} is inside the workspace {root}",
            hint="A witness must live outside the workspace. " + _HINT,
        )
    return location


def _set(ws: Workspace, paths: list[Path]) -> None:
    """Rewrite ``config.toml`` with this witness list (the caller holds the workspace)."""
    ws.load_config()  # the file as it is now, not as this process first read it
    config = {k: dict(v) for k, v in ws.config.items() if isinstance(v, dict)}
    if paths:
        config[SECTION] = {**config.get(SECTION, {}), KEY: [str(p) for p in paths]}
    else:
        config.pop(SECTION, None)
    write_config(ws.root / CONFIG, config)
    ws.load_config()


def configure(ws: Workspace, paths: Sequence[Path]) -> list[Path]:
    """Set the witness list of a workspace being created (``init --witness``; no guard).

    Raises:
        UsageError: if a folder cannot serve as a witness (see :func:`check_location`).
    """
    checked: list[Path] = []
    for path in paths:
        location = check_location(path, ws.root)
        if location not in checked:
            checked.append(location)
    _set(ws, checked)
    return checked


def add(ws: Workspace, actor: str, path: Path) -> tuple[list[Path], list[str]]:
    """Add a witness folder (admins only) and copy the workspace's checkpoints into it.

    Settings are not events, so nothing is appended to the ledger; the change runs through
    the command kernel for its role check and its hold of the workspace.

    Returns:
        The witness list after the change, and the problems copying the existing checkpoints
        (see :func:`publish`).

    Raises:
        UsageError: if the folder cannot serve as a witness.
    """
    location = check_location(path, ws.root)

    def commit(s: Session, _: object) -> list[Path]:
        current = locations(ws)
        if location not in current:
            current.append(location)
            _set(ws, current)
        return current

    current = command.run(
        ws, actor, guards=[needs("admin", action="change the witnesses")], commit=commit
    )
    return current, backfill(ws, [location])


def remove(ws: Workspace, actor: str, path: Path) -> list[Path]:
    """Stop publishing to a witness folder (admins only); the copies it holds stay there.

    Raises:
        NotFoundError: if the folder is not a witness of this workspace.
    """
    location = Path(os.path.abspath(path.expanduser()))

    def commit(s: Session, _: object) -> list[Path]:
        current = locations(ws)
        if location not in current:
            named = ", ".join(str(p) for p in current) or "none"
            raise NotFoundError(
                f"{location} is not a witness of this workspace (witnesses: {named})",
                hint="`ledgerml config witness list` shows them.",
            )
        current.remove(location)
        _set(ws, current)
        return current

    return command.run(
        ws, actor, guards=[needs("admin", action="change the witnesses")], commit=commit
    )


def folder_of(ws: Workspace, location: Path) -> Path:
    """Where a witness keeps this workspace's checkpoints."""
    return location / ws.workspace_id


def _copy(ws: Workspace, location: Path, checkpoint: Path) -> str | None:
    """Copy one checkpoint file to one witness; the problem, or None when it holds it."""
    if not location.is_dir():
        return (
            f"witness {location} is unreachable: the folder does not exist (not mounted?); "
            f"{checkpoint.name} was not copied there"
        )
    target = folder_of(ws, location)
    dest = target / checkpoint.name
    try:
        data = checkpoint.read_bytes()
        private_dir(target)
        sweep_temp(target)  # what a publish killed mid-copy left
        if dest.exists():
            if dest.read_bytes() == data:
                return None
            # Never overwritten: the witness's copy is evidence, whatever it holds.
            return (
                f"witness {location} holds a different {checkpoint.name}: left as it is "
                "(`ledgerml audit verify` checks it)"
            )
        atomic_write(dest, data)
    except OSError as err:
        return (
            f"witness {location} is unreachable: {err.strerror or err}; "
            f"{checkpoint.name} was not copied there"
        )
    return None


def publish(ws: Workspace, checkpoint: Path) -> list[str]:
    """Copy a checkpoint file to every witness that lacks it; never raises for a witness.

    Called at the end of :func:`core.audit.checkpoints.sign_checkpoint` and again by the
    commands that sign (which print what it returns), so a checkpoint that already existed
    reaches a witness added or mounted since.

    Returns:
        One message per witness that could not take the copy, naming the witness.
    """
    try:
        where = locations(ws)
    except UsageError as err:  # a hand-edited config: say so, and keep the checkpoint
        return [f"no witness received {checkpoint.name}: {err.msg}"]
    problems = []
    for location in where:
        problem = _copy(ws, location, checkpoint)
        if problem:
            problems.append(problem)
    return problems


def backfill(ws: Workspace, only: Sequence[Path] | None = None) -> list[str]:
    """Copy every checkpoint of the workspace to the witnesses (``only`` these) lacking it.

    Returns:
        The problems, at most one per witness (the first copy that failed).
    """
    problems = []
    own = sorted(ws.checkpoints_dir.glob("*.json")) if ws.checkpoints_dir.is_dir() else []
    for location in locations(ws) if only is None else only:
        for path in own:
            if _NAME.match(path.name) and (problem := _copy(ws, location, path)):
                problems.append(problem)
                break
    return problems


def _files(ws: Workspace, location: Path) -> list[Path]:
    target = folder_of(ws, location)
    try:
        return sorted(p for p in target.iterdir() if _NAME.match(p.name))
    except OSError:
        return []


def checkpoints(ws: Workspace) -> list[Checkpoint]:
    """Every checkpoint of this workspace that its witnesses hold, for verification.

    A witness that cannot be read contributes nothing here (:func:`survey` reports it); a
    file that is there but is not a checkpoint raises, since that is what tampering with a
    witness copy looks like.

    Raises:
        IntegrityError: if a witness file is not a checkpoint envelope.
    """
    found: list[Checkpoint] = []
    for location in locations(ws):
        for path in _files(ws, location):
            try:
                found.append(checkpoint_files.read_checkpoint(path))
            except UsageError:
                continue
            except IntegrityError as err:
                raise IntegrityError(f"witness {location}: {err.msg}", hint=err.hint) from err
    return found


@dataclass
class WitnessState:
    """What one witness holds compared with the workspace's own checkpoints."""

    location: str
    reachable: bool
    held: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    problem: str = ""

    def summary(self) -> str:
        """One line for ``audit verify``."""
        if not self.reachable:
            return f"unreachable: {self.problem}"
        text = f"{len(self.held)} checkpoint{'s' if len(self.held) != 1 else ''}"
        if self.missing:
            shown = ", ".join(f"#{n}" for n in self.missing[:5])
            more = f" and {len(self.missing) - 5} more" if len(self.missing) > 5 else ""
            text += f"; lacks the workspace's {shown}{more} (`ledgerml audit checkpoint` copies)"
        return text


def survey(ws: Workspace) -> list[WitnessState]:
    """Per witness: reachable or not, the sizes it holds, those of the workspace it lacks.

    A witness lacking checkpoints is worth a note, not a failure (it was added later, or was
    not mounted); one holding checkpoints the workspace lacks is fine: it is evidence, and
    verification checks them.
    """
    own = {int(p.stem) for p in ws.checkpoints_dir.glob("*.json") if _NAME.match(p.name)}
    states = []
    for location in locations(ws):
        if not location.is_dir():
            states.append(
                WitnessState(
                    str(location), False, problem="the folder does not exist (not mounted?)"
                )
            )
            continue
        target = folder_of(ws, location)
        if target.exists() and not os.access(target, os.R_OK | os.X_OK):
            states.append(WitnessState(str(location), False, problem="permission denied"))
            continue
        held = [int(p.stem) for p in _files(ws, location)]
        states.append(WitnessState(str(location), True, held, sorted(own - set(held))))
    return states
