package intentgate_test

import data.intentgate

# Pins the fixture to what the TypeScript tests expect of it, so a drifting fixture cannot turn
# their denials into passes for the wrong reason.
test_valid_case_is_well_formed if {
	intentgate.decision == {"decision": "allow", "reason": "well formed"} with input as {"tool": "valid"}
}

test_each_bad_case_is_defined if {
	every c in ["not_object", "array", "unknown_decision", "missing_reason", "empty_reason", "reason_not_string", "step_up_not_boolean", "unknown_field"] {
		intentgate.decision with input as {"tool": c}
	}
}

test_long_reason_is_1025_characters if {
	d := intentgate.decision with input as {"tool": "long_reason"}
	count(d.reason) == 1025
}

test_unknown_case_is_undefined if {
	not intentgate.decision with input as {"tool": "nothing"}
}
