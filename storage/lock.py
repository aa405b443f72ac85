"""The workspace writer lock: one writing process at a time, and a clear word when busy.

Writers take an exclusive ``flock`` on ``<workspace>/lock`` (re-entrant within a thread,
exclusive between threads) and note who they are in ``lock.holder``; the kernel drops the
lock when the process dies, so a crash never leaves a stale lock behind. A second writer
polls for a short, bounded time and then raises :class:`WorkspaceBusyError` naming the
holder, never a raw lock trace.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storage.errors import WorkspaceBusyError
from storage.fsutil import private_file

DEFAULT_WAIT_S = 5.0
_POLL_S = 0.05


def busy_timeout() -> float:
    """Seconds a writer waits for a busy workspace (``LEDGERML_BUSY_TIMEOUT``)."""
    try:
        return float(os.environ.get("LEDGERML_BUSY_TIMEOUT", DEFAULT_WAIT_S))
    except ValueError:
        return DEFAULT_WAIT_S


def describe_pid(pid: int) -> str:
    """A human description of a process: its pid and command line when readable."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        cmd = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    except OSError:
        cmd = ""
    return f"pid {pid} ({cmd})" if cmd else f"pid {pid}"


def read_holder(root: Path) -> str:
    """Describe who last took the writer lock, for busy messages."""
    try:
        info = json.loads((root / "lock.holder").read_text())
    except (OSError, ValueError):
        return "another ledgerml process"
    who = info.get("actor") or "unknown actor"
    return (
        f"{who}, pid {info.get('pid')} on {info.get('host')}, "
        f"running {info.get('command')!r} since {info.get('since')}"
    )


@dataclass
class _Held:
    """This process's hold on one workspace: a thread lock plus the flock'd file."""

    thread_lock: threading.RLock = field(default_factory=threading.RLock)
    depth: int = 0
    handle: Any = None


_HELD: dict[str, _Held] = {}
_HELD_GUARD = threading.Lock()


@contextmanager
def writer_lock(root: Path, actor: str = "", timeout: float | None = None) -> Iterator[None]:
    """Hold the workspace writer lock for the duration of the block.

    Re-entrant within a thread (a unit of work may call another), exclusive between threads
    of one process (the TUI's workers) and between processes (the flock).

    Raises:
        WorkspaceBusyError: if another process or thread holds it longer than ``timeout``.
    """
    wait = busy_timeout() if timeout is None else timeout
    deadline = time.monotonic() + wait
    with _HELD_GUARD:
        held = _HELD.setdefault(str(root.resolve()), _Held())
    if not held.thread_lock.acquire(timeout=max(wait, 0.0)):
        raise WorkspaceBusyError(
            "workspace busy: another task of this program is writing",
            hint=f"Waited {wait:g} s. Retry when it has finished.",
        )
    try:
        if held.depth == 0:
            held.handle = _take_flock(root, actor, wait, deadline)
        held.depth += 1
        try:
            yield
        finally:
            held.depth -= 1
            if held.depth == 0:
                held.handle.close()  # closing the descriptor releases the flock
                held.handle = None
    finally:
        held.thread_lock.release()


def _take_flock(root: Path, actor: str, wait: float, deadline: float) -> Any:
    handle = os.fdopen(private_file(root / "lock", os.O_RDWR | os.O_APPEND), "a+b")
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.close()
                raise WorkspaceBusyError(
                    f"workspace busy: {read_holder(root)}",
                    hint=f"Waited {wait:g} s. Retry when that command has finished, "
                    "or raise LEDGERML_BUSY_TIMEOUT.",
                ) from None
            time.sleep(_POLL_S)
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "actor": actor,
        "command": " ".join(["ledgerml", *sys.argv[1:]])[:200],
        "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    with os.fdopen(private_file(root / "lock.holder", os.O_WRONLY | os.O_TRUNC), "w") as out:
        out.write(json.dumps(holder))
    return handle
