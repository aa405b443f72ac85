"""Canonical JSON (RFC 8785, JCS) for everything ledgerml hashes or signs.

Two encoders that differ in a single byte would give two hashes for one fact, so every hashed
or signed JSON document goes through :func:`canonical_bytes`. We use the ``rfc8785`` package
(a faithful JCS implementation: sorted keys by UTF-16 code units, ES6 number formatting, UTF-8,
and NaN/Infinity refused) rather than ``json.dumps(sort_keys=True)``, which sorts by code point
and formats floats differently.
"""

from __future__ import annotations

from typing import Any

import rfc8785

from storage.errors import UsageError


def canonical_bytes(value: Any) -> bytes:
    """Encode ``value`` as RFC 8785 canonical JSON.

    Args:
        value: JSON-compatible data (dict, list, str, int, float, bool, None).

    Returns:
        The canonical UTF-8 bytes.

    Raises:
        UsageError: if the value holds NaN, Infinity, a non-string key or a non-JSON type.
    """
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as err:
        raise UsageError(
            f"cannot encode as canonical JSON: {err}",
            hint="Evidence may hold only strings, finite numbers, booleans, null, lists "
            "and objects with string keys.",
        ) from err
