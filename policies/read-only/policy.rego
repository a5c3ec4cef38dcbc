# IntentGate read-only policy: only tools whose name says they read are allowed; everything
# else is blocked, and so is a read the user's intent forbids. Contract: docs/spec/policy.md.
package intentgate

# The verb must end at a word boundary (end, `_`, `-`, `.` or a camelCase capital): a bare
# prefix test would let `getaway_delete` or `listen_and_write` through. Names are all this
# policy sees: a server that calls a write `searchAndReplace` passes, so pair it with a token
# that lists the servers it trusts.
read_tool_pattern := `^(?:read|get|list|search|Read|Get|List|Search)(?:$|[_.\-A-Z])`

# A rule, so that `not read_only` is true when the tool name is missing (a negated call on an
# undefined argument is undefined, not true).
read_only if regex.match(read_tool_pattern, input.tool)

block contains sprintf("%s is not a read-only tool", [input.name]) if not read_only

block contains sprintf("the user's request forbids %s", [input.name]) if {
	input.name in input.intent.forbidden_tools
}

# sort: sets iterate in a different order in wasm than in the Go evaluator.
decision := {"decision": "block", "reason": concat("; ", sort(block)), "requires_step_up": false} if {
	count(block) > 0
} else := {"decision": "allow", "reason": sprintf("%s is a read-only tool", [input.name]), "requires_step_up": false}
