"""Operations: a model's life after approval.

Deployments per environment, governed scoring with a per-decision log whose batches are
committed by Merkle root, outcomes, monitoring over time, SLOs, alerts, incidents and their
playbooks, and the CI/CD pipeline runs that lead there. It sits above the evidence context
(monitoring is evidence with the same verdict vocabulary) and below documents and audit
(which report and verify it).
"""
