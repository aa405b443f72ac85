# (g) Deployments: what may be put to work, where.
# The workstation already refuses, whatever a policy says, a model whose bytes or signature
# do not verify, a retired version, and an unapproved one in production. These rules add the
# organisation's own: no candidate anywhere, production only on fresh evidence that did not
# FAIL and on approvals that still count today (not expired, not voided by newer evidence),
# and a canary that answers at most half of the traffic. A rule-based baseline (the request's
# `baseline` is true; `input.baseline` is the rule: ref `baseline:NAME`, `score_sql`, `columns`)
# has no evidence or approvals of its own: it stands in only during an incident, and a rule
# that reads no input column (a constant score) decides every applicant alike and is refused.
package ledgerml.gate

import rego.v1

deploying if input.gate == "deploy"

model_deploying if {
	deploying
	not input.request.baseline
}

baseline_deploying if {
	deploying
	input.request.baseline == true
}

deny contains msg if {
	baseline_deploying
	not input.request.incident
	msg := concat("", [
		input.baseline.ref, " is a rule-based baseline: it stands in for a model only during an ",
		"incident (`--incident N`)",
	])
}

deny contains msg if {
	baseline_deploying
	count(object.get(input.baseline, "columns", [])) == 0
	msg := concat("", [
		input.baseline.ref, " reads no input column: a constant score decides every applicant ",
		"alike; give it a rule over the row",
	])
}

deny contains msg if {
	model_deploying
	input.model.stage == "candidate"
	msg := concat("", [
		model_ref, " is a candidate: a validator promotes it to validated before it is ",
		"deployed anywhere (`ledgerml model promote ", model_ref, " --to validated --reason …`)",
	])
}

deny contains msg if {
	model_deploying
	input.request.production
	input.model.verdicts.evaluation == "FAIL"
	msg := concat("", [model_ref, " FAILed its evaluation and may not serve production"])
}

deny contains msg if {
	model_deploying
	input.request.production
	not input.model.verdicts.evaluation
	msg := concat("", [
		model_ref, " has no evaluation on record: production needs one that did not FAIL ",
		"(`ledgerml evaluate ", model_ref, " --suite …`)",
	])
}

deny contains msg if {
	model_deploying
	input.request.production
	input.model.evidence_age_days.evaluation > tier_rules.evidence_max_age_days
	msg := sprintf(
		"%s's evaluation is %v days old; tier %v allows %v for production: evaluate it again",
		[model_ref, round(input.model.evidence_age_days.evaluation), tier_text, tier_rules.evidence_max_age_days],
	)
}

deny contains msg if {
	model_deploying
	input.request.production
	not input.approvals.check.ok == true
	msg := concat("", [
		model_ref, "'s approvals do not count today (", deploy_approval_gap,
		"): production needs approvals that are still valid; ask for them again with ",
		"`ledgerml approve ", model_ref, " --for approved --role ROLE --reason …`",
	])
}

deploy_approval_gap := concat("; ", input.approvals.check.problems) if {
	count(input.approvals.check.problems) > 0
} else := concat("", ["missing roles: ", concat(", ", input.approvals.check.missing_roles)]) if {
	count(input.approvals.check.missing_roles) > 0
} else := "no approval check was given"

deny contains msg if {
	model_deploying
	input.request.arm == "canary"
	input.request.share > 0.5
	msg := sprintf(
		"a canary answers at most half of the requests; %v asks for more: deploy it directly instead",
		[input.request.share],
	)
}
