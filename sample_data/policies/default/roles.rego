# (f) An approval is given in a role the approver holds.
# The role is what the k-of-n matching counts; claiming one you do not hold would let one
# person fill a seat they were never given.
package ledgerml.gate

import rego.v1

role_held if actor_has(input.request.role)

role_text := sprintf("%v", [input.request.role]) if {
	input.request.role
} else := "(none given)"

deny contains msg if {
	input.gate == "approve"
	not role_held
	msg := concat("", [
		actor_name, " does not hold the role ", role_text, " they approve ", model_ref,
		" in; approve in one of your roles (", actor_roles,
		") with --role, or ask an admin to grant it",
	])
}
