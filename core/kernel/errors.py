"""The errors core raises: the shared hierarchy from :mod:`storage.errors`, re-exported.

Front doors catch :class:`LedgerError` at their edge and map ``kind`` to an exit code or a
dialog; anything else escaping core is a bug.
"""

from storage.errors import (
    CheckFailedError,
    IdentityError,
    IntegrityError,
    KeyStoreError,
    LedgerError,
    NotFoundError,
    PermissionDeniedError,
    UsageError,
    WorkspaceBusyError,
)

__all__ = [
    "CheckFailedError",
    "IdentityError",
    "IntegrityError",
    "KeyStoreError",
    "LedgerError",
    "NotFoundError",
    "PermissionDeniedError",
    "UsageError",
    "WorkspaceBusyError",
]
