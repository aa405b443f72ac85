"""Audit: what an auditor checks.

Owns the audit log, checkpoints, verification and inclusion proofs (:mod:`core.audit.trail`),
lineage, coverage of what regulators ask for, the model inventory, workspace set-up and status,
and audit bundles.

May import: every other context, ``reports``, ``storage``.
"""
