"""Audit: what an auditor checks.

Owns the audit log (:mod:`core.audit.log`), signed checkpoints (:mod:`core.audit.checkpoints`),
verification of the whole workspace (:mod:`core.audit.verification`), inclusion proofs
(:mod:`core.audit.proofs`), lineage, coverage of what regulators ask for, the model
inventory, workspace set-up and status (:mod:`core.audit.admin`), and audit bundles
(:mod:`core.audit.bundle` with its collectors, member list, pages and zip writer).

May import: every other context, ``reports``, ``storage``.
"""
