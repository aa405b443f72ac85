# (f) An approval is given in a role the approver holds.
# The role is what the k-of-n matching counts; claiming one you do not hold would let one
# person fill a seat they were never given.
package ledgerml.gate

import rego.v1

# An approval signed off the machine and imported (``request.imported``) is the approver's, not
# the importer's: core already checked, through the signed statement, that the approver
# (``request.approver``) held ``request.role`` at that ledger position. Asking whether the
# *importer* holds it would only keep, say, a compliance officer from importing her own
# approval, so for an import this rule checks nothing about the importer's approval roles.

imported if input.request.imported == true

role_held if actor_has(input.request.role)

role_text := sprintf("%v", [input.request.role]) if {
	input.request.role
} else := "(none given)"

deny contains msg if {
	input.gate == "approve"
	not imported
	not role_held
	msg := concat("", [
		actor_name, " does not hold the role ", role_text, " they approve ", model_ref,
		" in; approve in one of your roles (", actor_roles,
		") with --role, or ask an admin to grant it",
	])
}
