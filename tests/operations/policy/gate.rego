package ledgerml.gate

import rego.v1

# A test policy: the rules the lifecycle tests need, nothing more.

deny contains msg if {
	input.gate == "approve"
	input.request.decision == "approve"
	some d in input.model.developers
	d == input.actor.name
	msg := sprintf("%s developed %s and may not approve it", [input.actor.name, input.model.ref])
}

deny contains msg if {
	input.gate == "promote"
	input.request.to_stage == "approved"
	not input.request.break_glass
	not input.approvals.check.ok
	msg := "the approvals do not meet the tier's k-of-n rule"
}

deny contains msg if {
	input.gate == "promote"
	input.request.break_glass
	not break_glass_allowed
	msg := "break-glass is for the roles the policy names"
}

deny contains msg if {
	input.gate == "risk"
	input.request.impact == 5
	not has_dpia
	msg := "an impact of 5 needs a DPIA reference"
}

break_glass_allowed if {
	some r in input.actor.roles
	r in data.governance.break_glass_roles
}

has_dpia if {
	is_string(input.request.dpia)
	input.request.dpia != ""
}

# Operations: a candidate is never deployed; a FAILed evaluation never reaches production.
deny contains msg if {
	input.gate == "deploy"
	input.model.stage == "candidate"
	msg := sprintf("%s is a candidate: validate it before deploying it", [input.model.ref])
}

deny contains msg if {
	input.gate == "deploy"
	input.request.production
	input.model.verdicts.evaluation == "FAIL"
	msg := sprintf("%s failed its evaluation and may not serve production", [input.model.ref])
}

# A rule-based baseline that reads no input column (a constant score) decides everyone alike.
deny contains msg if {
	input.gate == "deploy"
	input.request.baseline == true
	count(object.get(input.baseline, "columns", [])) == 0
	msg := sprintf("%s reads no input column: a constant score decides everyone alike", [input.baseline.ref])
}
