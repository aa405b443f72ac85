# Proposed for the default pack: no promotion to validated or approved while the version has
# an open high or critical validation finding (an accepted one whose acceptance lapsed counts
# as open: core.governance.findings.open_counts). Retiring a version is never blocked by its
# findings: taking a flawed model out of use must stay possible. A break-glass promotion is
# not blocked either: it is the recorded emergency path, open until someone else reviews it
# (core.governance.breakglass), and the policy's break_glass_roles limit who may take it.
package ledgerml.gate

import rego.v1

blocking_severities := {"high", "critical"}

deny contains msg if {
	input.gate == "promote"
	input.request.to_stage in {"validated", "approved"}
	not input.request.break_glass
	some severity in blocking_severities
	n := object.get(input.model, ["findings_open", severity], 0)
	n > 0
	[noun, them] := counted_findings(n)
	msg := sprintf(
		"%s has %d open %s %s: remediate %s or accept %s with an expiry before promoting to %s",
		[input.model.ref, n, severity, noun, them, them, input.request.to_stage],
	)
}

# The noun and its pronoun in the number of the count: "1 open high finding: remediate it".
counted_findings(1) := ["finding", "it"]

counted_findings(n) := ["findings", "them"] if n != 1

# Facts without the findings key are facts from a workstation that cannot count findings:
# refuse rather than assume there are none.
deny contains msg if {
	input.gate == "promote"
	input.request.to_stage in {"validated", "approved"}
	not input.model.findings_open
	msg := sprintf("the facts for %s do not say whether findings are open", [input.model.ref])
}
