# (h) Erasure: on which legal basis data may be erased, and when a live model's data may go.
# The workstation already refuses, whatever a policy says, an erasure without a reason, by an
# actor without an erase role, or of data a legal hold covers. These rules add:
#
# 1. A declared legal basis. GDPR Art. 17(1) lists the grounds for erasure: (a) no longer
#    necessary, (b) consent withdrawn, (c) objection, (d) unlawfully processed, (e) a legal
#    obligation, (f) a child's data collected for an information society service; a
#    retention rule that expired is the organisation's own ground (Art. 5(1)(e), storage
#    limitation). Free text would make the deletion log unauditable: a basis is one of these.
# 2. A reason is given (the receipt says why, for the record).
# 3. Data a model serving production was trained on is erased only on a ground that leaves
#    the organisation no discretion: (d) the data was processed unlawfully, or (e) a legal
#    obligation (a court or supervisory order) requires it. Erasing the training data of a
#    serving model destroys its reproducibility evidence (SR 11-7; EU AI Act Art. 12 record-
#    keeping) while it still decides about people; on every other ground the deployment is
#    withdrawn (or the model retrained without the data) first, and Art. 17(3)(b) covers the
#    short time that takes. The refusal is recorded, so the delay itself is evidence.
package ledgerml.gate

import rego.v1

erasing if input.gate == "erase"

erase_legal_bases := {
	"GDPR Art. 17(1)(a)",
	"GDPR Art. 17(1)(b)",
	"GDPR Art. 17(1)(c)",
	"GDPR Art. 17(1)(d)",
	"GDPR Art. 17(1)(e)",
	"GDPR Art. 17(1)(f)",
	"retention period expired",
}

# Grounds on which even a serving model's training data must go now.
erase_overriding_bases := {"GDPR Art. 17(1)(d)", "GDPR Art. 17(1)(e)"}

erase_basis_text := b if {
	is_string(input.erasure.legal_basis)
	b := input.erasure.legal_basis
} else := "(none given)"

erase_target := t if {
	t := trim_prefix(input.erasure.target, "snapshot:")
} else := trim_prefix(input.subject, "snapshot:")

deny contains msg if {
	erasing
	not input.erasure.legal_basis in erase_legal_bases
	msg := concat("", [
		"the legal basis ", erase_basis_text, " is not one this policy accepts; give one of: ",
		concat("; ", sort(erase_legal_bases)),
	])
}

deny contains msg if {
	erasing
	not input.erasure.reason_given == true
	msg := "an erasure needs a reason for its receipt (--reason …)"
}

erase_serving := [d.model | some d in input.erasure.production]

deny contains msg if {
	erasing
	count(input.erasure.production) > 0
	not input.erasure.legal_basis in erase_overriding_bases
	msg := concat("", [
		erase_target, " trained ", concat(", ", erase_serving),
		", which serves production: on ", erase_basis_text,
		" its training data is erased only after the deployment is withdrawn ",
		"(`ledgerml withdraw --env production --reason …`); only GDPR Art. 17(1)(d) or (e) ",
		"erases it at once",
	])
}
