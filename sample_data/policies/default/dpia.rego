# (a) No PII input without a DPIA reference.
# GDPR Art. 35: processing personal data with a model that decides about people needs a data
# protection impact assessment before it is used. A model version whose features or
# sensitive attributes include PII-tagged columns may not be registered, promoted, approved,
# deployed or used for scoring until its risk assessment names the DPIA. Rejecting it and
# retiring it stay possible: they reduce risk.
package ledgerml.gate

import rego.v1

dpia_gates := {"register", "promote", "approve", "deploy", "score"}

# A DPIA reference is a non-empty string. Rego pitfall: `not input.model.dpia` is false for
# null (null is a value, neither false nor undefined), so test for what counts instead.
has_dpia if {
	is_string(input.model.dpia)
	input.model.dpia != ""
}

pii_list := concat(", ", input.model.pii_columns) if {
	count(input.model.pii_columns) > 0
} else := "not named"

# Only the gate's own request counts: a stray "decision" on another gate's input must not
# switch the rule off (the property test found that).
reduces_risk if {
	input.gate == "approve"
	input.request.decision == "reject"
}

reduces_risk if {
	input.gate == "promote"
	input.request.to_stage == "retired"
}

deny contains msg if {
	input.gate in dpia_gates
	input.model.pii_inputs == true
	not has_dpia
	not reduces_risk
	# concat, not sprintf: regopy 1.5's sprintf quotes a computed string without escaping.
	msg := concat("", [
		model_ref, " reads PII columns (", pii_list,
		") and no DPIA reference is recorded; record it with `ledgerml model risk ",
		model_name, " --impact N --likelihood N --rationale … --dpia REF`",
	])
}
