# (f) An approval is given in a role the approver holds.
# The role is what the k-of-n matching counts; claiming one you do not hold would let one
# person fill a seat they were never given.
package ledgerml.gate

import rego.v1

deny contains msg if {
	input.gate == "approve"
	not actor_has(input.request.role)
	msg := concat("", [
		sprintf("%s does not hold the role %v they approve %s in; approve in one of your roles (", [input.actor.name, input.request.role, model_ref]),
		concat(", ", input.actor.roles),
		") with --role, or ask an admin to grant it",
	])
}
