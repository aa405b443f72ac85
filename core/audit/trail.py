"""The audit trail's former single module, kept as a door while callers move.

The trail is split along its seams: the log (:mod:`core.audit.log`), checkpoints
(:mod:`core.audit.checkpoints`), verification (:mod:`core.audit.verification`) and inclusion
proofs (:mod:`core.audit.proofs`). New code imports those modules; this one only re-exports
their public names so that ``from core.audit import trail as audit`` keeps working until the
last callers (the TUI and the bundle export) have moved. Remove it then.
"""

from __future__ import annotations

from core.audit.checkpoints import (
    CHECKPOINT_TYPE,
    Checkpoint,
    check_copy_destination,
    checkpoint,
    checkpoints,
    read_checkpoint,
    sign_checkpoint,
    workspace_key,
)
from core.audit.log import log, parse_since
from core.audit.proofs import prove, verify_proof
from core.audit.verification import (
    _STATE_PREFIXES,
    _STATE_TABLES,
    CheckpointResult,
    VerifyReport,
    verify,
)

__all__ = [
    "CHECKPOINT_TYPE",
    "_STATE_PREFIXES",
    "_STATE_TABLES",
    "Checkpoint",
    "CheckpointResult",
    "VerifyReport",
    "check_copy_destination",
    "checkpoint",
    "checkpoints",
    "log",
    "parse_since",
    "prove",
    "read_checkpoint",
    "sign_checkpoint",
    "verify",
    "verify_proof",
    "workspace_key",
]
