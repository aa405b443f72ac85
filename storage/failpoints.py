"""Named crash points for the crash-consistency tests, and for the tests of crash reports.

The tests run real ledgerml subprocesses with ``LEDGERML_FAILPOINT=<name>`` and the process
kills itself with SIGKILL when it reaches that point, which is how we prove that every point of
the write path recovers. ``LEDGERML_FAILPOINT=raise:<name>`` raises :class:`InjectedError`
there instead: an exception no layer expects, standing for a bug, whose message carries
``LEDGERML_FAILPOINT_DETAIL`` the way a real message carries a value of the data. With the
variable unset (always, outside those tests) :func:`hit` is two string comparisons.
"""

from __future__ import annotations

import os
import signal

_ARMED = os.environ.get("LEDGERML_FAILPOINT", "")
_RAISE_PREFIX = "raise:"
_RAISE_AT = _ARMED.removeprefix(_RAISE_PREFIX) if _ARMED.startswith(_RAISE_PREFIX) else ""
_KILL_AT = "" if _RAISE_AT else _ARMED


class InjectedError(RuntimeError):
    """The unexpected error a ``raise:`` failpoint throws (never a LedgerError)."""


def hit(name: str) -> None:
    """Die at once, as a power cut would, or raise, if the failpoint ``name`` is armed."""
    if _KILL_AT and name == _KILL_AT:
        os.kill(os.getpid(), signal.SIGKILL)
    if _RAISE_AT and name == _RAISE_AT:
        detail = os.environ.get("LEDGERML_FAILPOINT_DETAIL", "")
        raise InjectedError(f"injected fault at {name}: {detail!r}")
