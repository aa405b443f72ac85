# Shared definitions of the default pack. Every rule module reads the model and the tier
# through these, so a misspelt field is wrong in one place (and the fixtures catch it).
package ledgerml.gate

import rego.v1

# Names used in deny messages, each with a fallback. Rego pitfall: a message built from a
# field the input lacks is undefined, and a rule whose message is undefined denies nothing,
# so a rule must never depend on a field only its message reads.

# The version the gate is about, as users type it.
model_ref := r if {
	r := input.model.ref
} else := r if {
	r := trim_prefix(input.subject, "model:")
} else := "the model"

model_name := n if {
	n := input.model.name
} else := model_ref

actor_name := n if {
	n := input.actor.name
} else := "the actor"

actor_roles := concat(", ", input.actor.roles) if {
	count(input.actor.roles) > 0
} else := "none"

tier_text := sprintf("%v", [input.model.tier]) if {
	input.model.tier
} else := "(not given)"

# The declarative rules of the version's tier (data.governance is the bundle's [governance]).
tier_rules := t if {
	some t in data.governance.tiers
	t.tier == input.model.tier
}

# Tiers 1 and 2 are the high-risk ones for which fairness evidence must not fail; an input
# without a tier is treated as high risk (fail closed).
high_tier if input.model.tier <= 2

high_tier if not input.model.tier

actor_has(role) if role in input.actor.roles

# Fail closed: a version whose tier the bundle does not declare would make every
# tier-dependent rule silently undefined (and so allow).
deny contains msg if {
	input.model.tier
	not tier_rules
	msg := concat("", [
		model_ref, " is tier ", tier_text,
		", which this policy does not declare; an admin installs a policy that declares it (`ledgerml policy install DIR --reason …`)",
	])
}
