# (d) No self-approval, admins not exempt.
# Whoever trained, registered or signed a version is its developer; they may neither approve
# nor reject it (SR 11-7: effective challenge comes from someone independent). The k-of-n
# check ignores such approvals too; this rule refuses them up front, with a reason.
package ledgerml.gate

import rego.v1

deny contains msg if {
	input.gate == "approve"
	input.actor.name in input.model.developers
	msg := concat("", [
		input.actor.name, " developed ", model_ref,
		" (trainer, registrant or signer) and may not decide on its approval; someone independent must (`ledgerml approvals list --pending` shows who may)",
	])
}
