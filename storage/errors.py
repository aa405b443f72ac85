"""The one error hierarchy every layer raises, defined at the bottom so all layers share it.

Each error carries a short ``title``, a message saying what is wrong and a ``hint`` saying what
to do. ``kind`` tells a front door which exit code to use: ``usage`` (2), ``check`` (1),
``integrity`` (3) or ``busy`` (2).
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error ledgerml reports to a user."""

    kind: str = "usage"
    default_title: str = "Error"

    def __init__(self, msg: str, *, title: str = "", hint: str = "") -> None:
        """Keep the message, a title for dialogs, and a hint on what to do next."""
        super().__init__(msg)
        self.msg = msg
        self.title = title or self.default_title
        self.hint = hint


class UsageError(LedgerError):
    """The request itself is wrong: unknown name, bad option, malformed file."""

    default_title = "Invalid request"


class NotFoundError(UsageError):
    """A name or reference that does not resolve to any record."""

    default_title = "Not found"


class PermissionDeniedError(UsageError):
    """The acting actor lacks the role an action needs."""

    default_title = "Permission denied"


class IdentityError(UsageError):
    """Acting as an actor without proof of holding their secret (their key, PIN, passphrase)."""

    default_title = "Identity not proven"


class CheckFailedError(LedgerError):
    """A gate or check ran and said no (exit code 1)."""

    kind = "check"
    default_title = "Check failed"


class IntegrityError(LedgerError):
    """Stored bytes, the ledger or a signature do not verify (exit code 3)."""

    kind = "integrity"
    default_title = "Integrity failure"


class WorkspaceBusyError(LedgerError):
    """Another process holds the workspace longer than we are willing to wait."""

    kind = "busy"
    default_title = "Workspace busy"


class KeyStoreError(LedgerError):
    """A key backend is unavailable, refuses an operation, or lacks a key."""

    default_title = "Key store"
