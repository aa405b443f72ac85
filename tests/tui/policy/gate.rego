package ledgerml.gate

import rego.v1

# No self-approval: a developer of the version (trainer, registrant, signer) never approves it.
deny contains msg if {
	input.gate == "approve"
	input.actor.name in input.model.developers
	msg := sprintf("%s developed %s and may not approve it", [input.actor.name, input.model.ref])
}

# A tier-1 version is approved only on evaluation evidence that did not FAIL.
deny contains msg if {
	input.gate == "approve"
	input.request.decision == "approve"
	input.model.tier == 1
	not evaluation_passed
	msg := sprintf("tier 1 needs a passing evaluation of %s before approval", [input.model.ref])
}

evaluation_passed if input.model.verdicts.evaluation == "PASS"
