# (b) Fairness evidence must not FAIL for tiers 1 and 2.
# A high-risk model whose newest evaluation's fairness checks failed may not move towards
# use: no promotion to validated or approved, no approval, no deployment. A WARN or an
# INCONCLUSIVE result is left to the approvers (they see it in the evidence summary).
package ledgerml.gate

import rego.v1

fairness_step if {
	input.gate == "promote"
	input.request.to_stage in {"validated", "approved"}
}

fairness_step if {
	input.gate == "approve"
	input.request.decision == "approve"
}

fairness_step if input.gate == "deploy"

deny contains msg if {
	fairness_step
	high_tier
	input.model.verdicts.fairness == "FAIL"
	msg := concat("", [
		model_ref, " is tier ", tier_text,
		" and its newest evaluation FAILS its fairness checks; fix the model and record a passing evaluation (`ledgerml evaluate ",
		model_ref, " --suite SUITE`)",
	])
}
