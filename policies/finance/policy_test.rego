package intentgate_test

import data.intentgate

base := {
	"time": {"unix": 1767225600, "iso": "2026-01-01T00:00:00Z"},
	"tenant": "acme",
	"agent": "agent-1",
	"server": "payments",
	"tool": "transfer",
	"name": "payments.transfer",
	"arguments": {"amount": 500, "currency": "EUR", "iban": "DE89370400440532013000"},
	"token": {
		"id": "tok1", "ids": ["tok1"], "issuer": "acme", "expires_at": null,
		"tool_allow": [], "tool_deny": [], "servers": [], "max_calls": null, "step_up": false,
	},
	"intent": null,
	"budget": {"agent": {"calls": 0, "cost": 0}, "tenant": {"calls": 0, "cost": 0}, "call_cost": 1},
	"memory": null,
	"mode": "enforce",
}

# object.union merges recursively, so removing an argument needs the object replaced whole.
with_arguments(args) := object.union(object.remove(base, ["arguments"]), {"arguments": args})

transfer(args) := object.union(base, {"arguments": object.union(base.arguments, args)})

test_small_transfer_allows_without_step_up if {
	intentgate.decision == {"decision": "allow", "reason": "transfer of 500 EUR within limits", "requires_step_up": false} with input as base
}

test_transfer_above_1000_advises_step_up if {
	d := intentgate.decision with input as transfer({"amount": 1000.01})
	d == {"decision": "allow", "reason": "transfer of 1000.01 EUR within limits", "requires_step_up": true}
}

test_transfer_of_exactly_1000_needs_no_step_up if {
	d := intentgate.decision with input as transfer({"amount": 1000})
	d.requires_step_up == false
}

test_transfer_of_exactly_10000_allows if {
	d := intentgate.decision with input as transfer({"amount": 10000})
	d.decision == "allow"
	d.requires_step_up == true
}

test_transfer_above_10000_escalates if {
	d := intentgate.decision with input as transfer({"amount": 15000})
	d == {"decision": "escalate", "reason": "transfer of 15000 EUR exceeds the 10000 EUR approval threshold", "requires_step_up": true}
}

test_iban_with_spaces_and_lower_case_is_normalised if {
	d := intentgate.decision with input as transfer({"iban": "fr76 3000 6000 0112 3456 7890 189"})
	d.decision == "allow"
}

test_iban_country_outside_the_allowlist_blocks if {
	d := intentgate.decision with input as transfer({"iban": "GB29NWBK60161331926819"})
	d == {"decision": "block", "reason": "beneficiary IBAN country GB is not allowlisted", "requires_step_up": false}
}

test_block_beats_escalate if {
	d := intentgate.decision with input as transfer({"amount": 50000, "iban": "CH9300762011623852957"})
	d.decision == "block"
}

test_malformed_or_missing_iban_blocks if {
	every iban in ["NL00ATTACKER", "", 42, null] {
		d := intentgate.decision with input as transfer({"iban": iban})
		d.reason == "beneficiary IBAN is missing or malformed"
	}
}

# The shape is ^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$ on the normalised IBAN, checked without a regex.
test_iban_shape_boundaries if {
	every iban in ["DE89370400440", "DE893704004405", "DE893704004405320130001234567890123", "D189370400440532013000", "DEX9370400440532013000", "DE89-370400440532013000", "DE89370400440532013000\n", "DE89370400440532013ÄÄÄ", "ÄE89370400440532013000"] {
		d := intentgate.decision with input as transfer({"iban": iban})
		d.reason == "beneficiary IBAN is missing or malformed"
	}
	every iban in ["DE893704004405X", "DE89370400440532013000123456789012", "DE00ABCDEFGHIJKLMNOPQRSTUVWXYZ0123"] {
		d := intentgate.decision with input as transfer({"iban": iban})
		d.decision == "allow"
	}
}

test_missing_arguments_block if {
	every field in ["amount", "currency", "iban"] {
		d := intentgate.decision with input as with_arguments(object.remove(base.arguments, [field]))
		d.decision == "block"
	}
}

test_other_currency_blocks if {
	every currency in ["USD", "eur", null] {
		d := intentgate.decision with input as transfer({"currency": currency})
		d.decision == "block"
		contains(d.reason, "currency must be EUR")
	}
}

test_non_positive_or_non_numeric_amount_blocks if {
	every amount in [0, -5, "20000", null] {
		d := intentgate.decision with input as transfer({"amount": amount})
		d.reason == "transfer amount must be a positive number"
	}
}

test_missing_allowlist_data_blocks_every_transfer if {
	d := intentgate.decision with input as base with data.finance as {}
	d.reason == "beneficiary IBAN country DE is not allowlisted"
}

test_other_tools_allow if {
	req := object.union(base, {"server": "payments", "tool": "list_accounts", "name": "payments.list_accounts", "arguments": {}})
	intentgate.decision == {"decision": "allow", "reason": "not a payment transfer", "requires_step_up": false} with input as req
}

test_intent_forbidding_the_transfer_blocks if {
	intent := {"summary": "s", "allowed_tools": [], "forbidden_tools": ["payments.transfer"], "confidence": 0.9, "rationale": "r"}
	d := intentgate.decision with input as object.union(base, {"intent": intent})
	d.reason == "the user's request forbids payments.transfer"
}

test_planted_iban_in_memory_blocks if {
	mem := {"checked": true, "items": [
		{"id": "mem-001", "ok": true, "reason": ""},
		{"id": "mem-002", "ok": false, "reason": "no valid signature"},
	]}
	d := intentgate.decision with input as object.union(base, {"memory": mem})
	d.reason == "memory item mem-002 failed provenance (no valid signature)"
}

test_token_step_up_is_passed_on if {
	d := intentgate.decision with input as object.union(base, {"token": object.union(base.token, {"step_up": true})})
	d.requires_step_up == true
}
