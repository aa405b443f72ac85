"""Signing keys: where their private halves live (:mod:`.backends`) and their life cycle.

The life cycle (:mod:`core.identity.keys.lifecycle`: create, rotate, revoke, resolve, sign)
needs the workspace and so DuckDB; the backends table (:data:`.backends.BACKENDS`) is read by
option help and must not. So this package loads nothing at import: ``keys.create`` and the
other names below are resolved from :mod:`.lifecycle` on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.identity.keys.lifecycle import (
        ALGORITHMS,
        PEM_MEDIA_TYPE,
        KeyVerdict,
        create,
        generate_record,
        key_event,
        key_verdict,
        list_keys,
        resolve,
        revoke,
        rotate,
        show,
        sign_with,
    )

__all__ = [
    "ALGORITHMS",
    "PEM_MEDIA_TYPE",
    "KeyVerdict",
    "create",
    "generate_record",
    "key_event",
    "key_verdict",
    "list_keys",
    "resolve",
    "revoke",
    "rotate",
    "show",
    "sign_with",
]


def __getattr__(name: str) -> Any:
    """The life-cycle names, imported when first asked for."""
    if name in __all__:
        return getattr(importlib.import_module("core.identity.keys.lifecycle"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
