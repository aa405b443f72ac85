"""Named crash points for the crash-consistency tests.

The tests run real ledgerml subprocesses with ``LEDGERML_FAILPOINT=<name>`` and the process
kills itself with SIGKILL when it reaches that point, which is how we prove that every point of
the write path recovers. With the variable unset (always, outside those tests) :func:`hit` is a
single dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_ARMED = os.environ.get("LEDGERML_FAILPOINT", "")


def hit(name: str) -> None:
    """Die at once, as a power cut would, if the failpoint ``name`` is armed."""
    if _ARMED and name == _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
