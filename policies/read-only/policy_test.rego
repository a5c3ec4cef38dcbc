package intentgate_test

import data.intentgate

base := {
	"time": {"unix": 1767225600, "iso": "2026-01-01T00:00:00Z"},
	"tenant": "acme",
	"agent": "agent-1",
	"server": "crm",
	"tool": "get_contact",
	"name": "crm.get_contact",
	"arguments": {},
	"token": {
		"id": "tok1", "ids": ["tok1"], "issuer": "acme", "expires_at": null,
		"tool_allow": [], "tool_deny": [], "servers": [], "max_calls": null, "step_up": false,
	},
	"intent": null,
	"budget": {"agent": {"calls": 0, "cost": 0}, "tenant": {"calls": 0, "cost": 0}, "call_cost": 1},
	"memory": null,
	"mode": "enforce",
}

call(tool) := object.union(base, {"tool": tool, "name": concat(".", ["crm", tool])})

test_read_tools_allow if {
	every tool in ["read", "read_file", "get_contact", "getContact", "list-deals", "search.contacts", "Search", "ListItems"] {
		d := intentgate.decision with input as call(tool)
		d == {"decision": "allow", "reason": sprintf("crm.%s is a read-only tool", [tool]), "requires_step_up": false}
	}
}

test_other_tools_block if {
	every tool in ["write_file", "delete_contact", "getaway_delete", "listen", "readonly_drop", "update", "", "GET_ALL"] {
		d := intentgate.decision with input as call(tool)
		d.decision == "block"
	}
}

test_block_reason_names_the_tool if {
	d := intentgate.decision with input as call("update_deal")
	d.reason == "crm.update_deal is not a read-only tool"
}

test_missing_tool_blocks if {
	d := intentgate.decision with input as object.remove(base, ["tool"])
	d.decision == "block"
}

test_intent_forbidding_a_read_blocks if {
	intent := {"summary": "s", "allowed_tools": [], "forbidden_tools": ["crm.get_contact"], "confidence": 0.9, "rationale": "r"}
	d := intentgate.decision with input as object.union(base, {"intent": intent})
	d.reason == "the user's request forbids crm.get_contact"
}
