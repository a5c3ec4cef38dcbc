# IntentGate default policy: allow what the earlier checks let through, except where the
# user's intent forbids the tool, a memory item failed provenance, or the tool is destructive.
# Contract: docs/spec/policy.md. Each rule is a reason; the first non-empty class decides
# (block before escalate before allow), so the decision is always defined and never conflicts.
package intentgate

# The brief's destructive globs `*.delete*` and `*.drop*`, in the token glob syntax where `*`
# also matches dots, select exactly the names containing ".delete" or ".drop". Written as
# substrings because OPA's glob.match stops `*` at dots. Compared case-insensitively so that
# `db.DROP_TABLE` cannot slip past. Broad on purpose: `ui.dropdown` is caught too, and a
# tenant that needs it copies this policy and narrows the list.
destructive_markers := {".delete", ".drop"}

# An intent at or above this confidence may unlock a destructive tool it names explicitly.
destructive_min_confidence := 0.8

destructive if {
	some marker in destructive_markers
	contains(lower(input.name), marker)
}

# Intent tool lists hold exact `server.tool` names (see the spec).
intent_allows_confidently if {
	input.name in input.intent.allowed_tools
	input.intent.confidence >= destructive_min_confidence
}

block contains sprintf("the user's request forbids %s", [input.name]) if {
	input.name in input.intent.forbidden_tools
}

# `not ... == true` rather than `!= true`: an item without `ok` must fail, not drop out.
block contains sprintf("memory item %s failed provenance (%s)", [id, why]) if {
	input.memory.checked == true
	some item in input.memory.items
	not item.ok == true
	id := object.get(item, "id", "?")
	why := object.get(item, "reason", "no reason given")
}

block contains sprintf("%s is destructive and the user's request does not name it with confidence >= %v", [input.name, destructive_min_confidence]) if {
	destructive
	not intent_allows_confidently
}

# Step-up is advisory: the token may demand it for every call, and a destructive call that the
# intent unlocked still asks the user to prove presence.
step_up if input.token.step_up == true

step_up if destructive

default step_up := false

# sort: sets iterate in a different order in wasm than in the Go evaluator.
decision := {"decision": "block", "reason": concat("; ", sort(block)), "requires_step_up": false} if {
	count(block) > 0
} else := {"decision": "allow", "reason": allow_reason, "requires_step_up": step_up}

allow_reason := sprintf("%s was requested explicitly; destructive, so step-up is advised", [input.name]) if {
	destructive
} else := "allowed by the default policy"
