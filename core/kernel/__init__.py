"""The kernel: the one write path every context shares.

Owns the workspace folder and its session (writer lock, catch-up), events and the registry of
event kinds, the command helper (:mod:`core.kernel.command`), the projector, the catalog's
read model (declared rows and the queries over them), errors, paths and progress.

May import: ``storage`` only. Every other context imports the kernel; it imports none of them
(event kinds register themselves from their contexts, see :mod:`core.kernel.kinds`).
"""
