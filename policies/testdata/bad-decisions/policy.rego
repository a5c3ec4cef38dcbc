# Test fixture, not a policy to deploy: each `input.tool` makes `decision` break the contract
# in one way, so the sidecar's tests can prove every breach is a denial. Other tools leave
# `decision` undefined. See sidecar/policy/engine.test.ts.
package intentgate

decision := {"decision": "allow", "reason": "well formed"} if input.tool == "valid"

decision := {"decision": "escalate", "reason": "well formed", "requires_step_up": true} if input.tool == "valid_step_up"

decision := "allow" if input.tool == "not_object"

decision := ["allow", "fine"] if input.tool == "array"

decision := {"decision": "permit", "reason": "x"} if input.tool == "unknown_decision"

decision := {"decision": "allow"} if input.tool == "missing_reason"

decision := {"decision": "allow", "reason": ""} if input.tool == "empty_reason"

decision := {"decision": "allow", "reason": 5} if input.tool == "reason_not_string"

decision := {"decision": "allow", "reason": concat("", [s | some _ in numbers.range(1, 1025); s := "x"])} if {
	input.tool == "long_reason"
}

decision := {"decision": "allow", "reason": "x", "requires_step_up": "yes"} if input.tool == "step_up_not_boolean"

# A misspelt field must not silently become the default (`requires_step_up` false).
decision := {"decision": "allow", "reason": "x", "requires_stepup": true} if input.tool == "unknown_field"

# Two definitions that both hold: an evaluation error (conflict), not a decision.
decision := {"decision": "allow", "reason": "a"} if input.tool == "conflict"

decision := {"decision": "block", "reason": "b"} if input.tool == "conflict"

# Allocates input.arguments.n numbers: with a small memory limit the wasm heap runs out mid-evaluation.
decision := {"decision": "allow", "reason": sprintf("%d numbers", [count(numbers.range(1, input.arguments.n))])} if {
	input.tool == "memory"
}

# The sidecar smoke-evaluates a bundle (tool `read_status`) before it enforces it, so the fixture
# answers that one input well and can be loaded by a running sidecar in end-to-end tests.
decision := {"decision": "allow", "reason": "smoke evaluation"} if input.tool == "read_status"
