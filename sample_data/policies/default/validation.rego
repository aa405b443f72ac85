# (e) Promotion to "validated" is a validator's act on fresh evaluation evidence.
# The independent validator runs the challenge evaluation; the promotion needs an actor
# holding "validator" and an evaluation of the version younger than the tier's
# evidence_max_age_days.
package ledgerml.gate

import rego.v1

to_validated if {
	input.gate == "promote"
	input.request.to_stage == "validated"
}

deny contains msg if {
	to_validated
	not actor_has("validator")
	msg := concat("", [
		actor_name, " does not hold the validator role, which promoting ", model_ref,
		" to validated needs; a validator promotes it (an admin grants the role with `ledgerml actor grant NAME --role validator`)",
	])
}

# An evaluation verdict is a string; null (none recorded) and a missing field both fail it.
has_evaluation if is_string(input.model.verdicts.evaluation)

deny contains msg if {
	to_validated
	not has_evaluation
	msg := concat("", [
		model_ref, " has no evaluation evidence; record one with `ledgerml evaluate ",
		model_ref, " --suite SUITE` before promoting it to validated",
	])
}

deny contains msg if {
	to_validated
	has_evaluation
	age := input.model.evidence_age_days.evaluation
	age > tier_rules.evidence_max_age_days
	msg := sprintf(
		"%s's newest evaluation is %v days old, older than the %v days tier %v allows; record a new one with `ledgerml evaluate %s --suite SUITE`",
		[model_ref, age, tier_rules.evidence_max_age_days, input.model.tier, model_ref],
	)
}
