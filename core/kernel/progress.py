"""Progress reporting and cancellation for long work, passed in as parameters.

Core never prints; a front door hands in a :class:`Progress` (a Rich bar in the CLI, a message
poster in the TUI) and a :class:`CancelToken`, and core calls them between chunks of work.
"""

from __future__ import annotations

from typing import Protocol

from storage.errors import LedgerError


class Progress(Protocol):
    """Receives ``done`` out of ``total`` (None when unknown) and a short note."""

    def __call__(self, done: int, total: int | None, note: str = "") -> None:
        """Report progress."""


class CancelToken(Protocol):
    """Anything with ``is_set()``, such as :class:`threading.Event`."""

    def is_set(self) -> bool:
        """Whether the caller asked to stop."""


def no_progress(done: int, total: int | None, note: str = "") -> None:
    """Discard progress reports."""


class _Never:
    def is_set(self) -> bool:
        return False


NO_PROGRESS: Progress = no_progress
NEVER: CancelToken = _Never()


class JobCancelledError(LedgerError):
    """The caller cancelled a long job; nothing was recorded."""

    default_title = "Cancelled"


def check_cancel(cancel: CancelToken) -> None:
    """Raise :class:`JobCancelledError` if cancellation was requested."""
    if cancel.is_set():
        raise JobCancelledError("cancelled before anything was recorded")
