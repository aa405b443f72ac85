# Shared definitions of the default pack. Every rule module reads the model and the tier
# through these, so a misspelt field is wrong in one place (and the fixtures catch it).
package ledgerml.gate

import rego.v1

# The version the gate is about, as users type it.
model_ref := input.model.ref

# The declarative rules of the version's tier (data.governance is the bundle's [governance]).
tier_rules := t if {
	some t in data.governance.tiers
	t.tier == input.model.tier
}

# Tiers 1 and 2 are the high-risk ones for which fairness evidence must not fail.
high_tier if input.model.tier <= 2

actor_has(role) if role in input.actor.roles

# Fail closed: a version whose tier the bundle does not declare would make every
# tier-dependent rule silently undefined (and so allow).
deny contains msg if {
	input.model.tier
	not tier_rules
	msg := sprintf(
		"%s is tier %v, which policy %s does not declare; an admin installs a policy that declares it (`ledgerml policy install DIR --reason …`)",
		[model_ref, input.model.tier, "default"],
	)
}
