# (c) Promotion to "approved" needs the approvals the tier demands.
# k-of-n by distinct people, one person per required role, separation of duties and
# expiry are decided by one function the stand-alone verifier shares
# (approval_check); its answer is input.approvals.check. Break-glass skips it, but only for
# an actor holding a role the bundle's break_glass_roles name, and the promotion is
# recorded as break-glass so that it demands a review.
package ledgerml.gate

import rego.v1

to_approved if {
	input.gate == "promote"
	input.request.to_stage == "approved"
}

break_glass if input.request.break_glass == true

break_glass_allowed if {
	some role in data.governance.break_glass_roles
	actor_has(role)
}

deny contains msg if {
	to_approved
	not break_glass
	not input.approvals.check.ok == true
	# concat, not sprintf: regopy 1.5's sprintf quotes a computed string without escaping.
	msg := concat("", [
		model_ref, " lacks the approvals tier ", tier_text, " needs (", approval_gap,
		"); ask for them with `ledgerml approve ", model_ref,
		" --for approved --role ROLE --reason …` (see `ledgerml approvals list --pending`)",
	])
}

# What is missing, in words (the check's own sentences when it gives them).
approval_gap := concat("; ", input.approvals.check.problems) if {
	count(input.approvals.check.problems) > 0
} else := concat("", ["missing roles: ", concat(", ", input.approvals.check.missing_roles)]) if {
	count(input.approvals.check.missing_roles) > 0
} else := "no approval check was given"

deny contains msg if {
	input.gate == "promote"
	break_glass
	not break_glass_allowed
	msg := concat("", [
		actor_name, " may not break glass to promote ", model_ref,
		": that needs one of the roles ",
		concat(", ", data.governance.break_glass_roles),
		" (an admin grants it with `ledgerml actor grant`)",
	])
}
