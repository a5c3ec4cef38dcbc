package intentgate_test

import data.intentgate

# A call every check before the policy accepted; each test changes only what it is about.
base := {
	"time": {"unix": 1767225600, "iso": "2026-01-01T00:00:00Z"},
	"tenant": "acme",
	"agent": "agent-1",
	"server": "files",
	"tool": "read_file",
	"name": "files.read_file",
	"arguments": {"path": "/tmp/a"},
	"token": {
		"id": "tok1", "ids": ["tok1"], "issuer": "acme", "expires_at": null,
		"tool_allow": [], "tool_deny": [], "servers": [], "max_calls": null, "step_up": false,
	},
	"intent": null,
	"budget": {"agent": {"calls": 0, "cost": 0}, "tenant": {"calls": 0, "cost": 0}, "call_cost": 1},
	"memory": null,
	"mode": "enforce",
}

call(server, tool) := object.union(base, {"server": server, "tool": tool, "name": concat(".", [server, tool])})

intent(allowed, forbidden, confidence) := {
	"summary": "s", "allowed_tools": allowed, "forbidden_tools": forbidden,
	"confidence": confidence, "rationale": "r",
}

test_ordinary_call_is_allowed if {
	intentgate.decision == {"decision": "allow", "reason": "allowed by the default policy", "requires_step_up": false} with input as base
}

test_intent_forbidding_the_tool_blocks if {
	req := object.union(base, {"intent": intent([], ["files.read_file"], 0.9)})
	d := intentgate.decision with input as req
	d.decision == "block"
	d.reason == "the user's request forbids files.read_file"
}

test_intent_forbidding_another_tool_allows if {
	req := object.union(base, {"intent": intent(["files.read_file"], ["files.write_file"], 0.9)})
	d := intentgate.decision with input as req
	d.decision == "allow"
}

test_destructive_names_block_without_intent if {
	every name in [["db", "drop_table"], ["files", "delete"], ["files", "delete_all"], ["crm.contacts", "deleteContact"], ["db", "DROP_TABLE"]] {
		d := intentgate.decision with input as call(name[0], name[1])
		d.decision == "block"
	}
}

test_names_that_only_resemble_destructive_ones_allow if {
	every name in [["files", "undelete"], ["deleted", "list"], ["files", "read_dropped"]] {
		d := intentgate.decision with input as call(name[0], name[1])
		d.decision == "allow"
	}
}

test_destructive_tool_named_by_a_confident_intent_allows_with_step_up if {
	req := object.union(call("files", "delete"), {"intent": intent(["files.delete"], [], 0.8)})
	d := intentgate.decision with input as req
	d.decision == "allow"
	d.requires_step_up == true
}

test_destructive_tool_named_by_an_unsure_intent_blocks if {
	req := object.union(call("files", "delete"), {"intent": intent(["files.delete"], [], 0.79)})
	d := intentgate.decision with input as req
	d.decision == "block"
	contains(d.reason, "destructive")
}

test_forbidden_and_destructive_reports_both_reasons_sorted if {
	req := object.union(call("files", "delete"), {"intent": intent([], ["files.delete"], 0.9)})
	d := intentgate.decision with input as req
	d.reason == "files.delete is destructive and the user's request does not name it with confidence >= 0.8; the user's request forbids files.delete"
}

test_failed_memory_item_blocks if {
	mem := {"checked": true, "items": [{"id": "m1", "ok": true, "reason": ""}, {"id": "m2", "ok": false, "reason": "signature mismatch"}]}
	d := intentgate.decision with input as object.union(base, {"memory": mem})
	d == {"decision": "block", "reason": "memory item m2 failed provenance (signature mismatch)", "requires_step_up": false}
}

test_memory_item_without_ok_blocks if {
	mem := {"checked": true, "items": [{"id": "m1", "reason": "?"}]}
	d := intentgate.decision with input as object.union(base, {"memory": mem})
	d.decision == "block"
}

test_unchecked_memory_is_ignored if {
	mem := {"checked": false, "items": [{"id": "m1", "ok": false, "reason": "x"}]}
	d := intentgate.decision with input as object.union(base, {"memory": mem})
	d.decision == "allow"
}

test_token_step_up_is_passed_on if {
	d := intentgate.decision with input as object.union(base, {"token": object.union(base.token, {"step_up": true})})
	d == {"decision": "allow", "reason": "allowed by the default policy", "requires_step_up": true}
}
