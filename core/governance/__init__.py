"""Governance: policies as code, risk tiers, signed approvals and the model lifecycle.

A governed action (register, promote, approve, export, and in later floors deploy, score and
erase) passes a policy gate (:func:`core.governance.policy.gate`): the Rego policy bundle in
force, which the signed ledger names, decides allow or deny with reasons, and the decision
travels in the ledger with the action's own event (or, refused, as a ``policy.deny`` attempt
event that changes nothing else). Separation of duties and k-of-n approval are declarative
data in the same bundle, enforced by one function (:mod:`core.governance.separation`) that
the stand-alone bundle verifier re-implements without Rego.
"""
