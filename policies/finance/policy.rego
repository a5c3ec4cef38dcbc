# IntentGate finance policy: guards `payments.transfer` and otherwise allows what the earlier
# checks let through. Contract: docs/spec/policy.md. Reasons are collected per class; block
# beats escalate beats allow, so the decision is always defined and never conflicts.
#
# A transfer is blocked when its arguments are malformed, its currency is not EUR (the limits
# below are in EUR and this policy does no conversion), or the beneficiary IBAN's country is not
# in data.finance.allowed_iban_countries (missing data blocks every transfer: fail closed).
# Above 10,000 EUR it escalates to a human; above 1,000 EUR step-up is advised.
package intentgate

transfer_tool := "payments.transfer"

escalate_above_eur := 10000

step_up_above_eur := 1000

allowed_countries := {c | some c in data.finance.allowed_iban_countries}

is_transfer if input.name == transfer_tool

amount := input.arguments.amount

# People paste IBANs in groups of four; the allowlist compares the bare upper-case form.
iban := upper(replace(input.arguments.iban, " ", "")) if is_string(input.arguments.iban)

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

block contains "transfer amount must be a positive number" if {
	is_transfer
	not positive_amount
}

positive_amount if {
	is_number(amount)
	amount > 0
}

in_eur if input.arguments.currency == "EUR"

block contains "transfer currency must be EUR: limits are in EUR and this policy does not convert" if {
	is_transfer
	not in_eur
}

# Shape only, as ^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$ (country, check digits, 11-30 alphanumerics):
# the bank validates the checksum. A part is made only of a cutset's characters when trim_left
# leaves nothing of it. No regex.match: opa-wasm compiles the pattern again on every evaluation.
# Negate rules, never calls: a call on an undefined `iban` is undefined, not false, so a missing
# IBAN would slip through a negated call.
well_formed_iban if {
	count(iban) >= 15
	count(iban) <= 34
	trim_left(substring(iban, 0, 2), "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == ""
	trim_left(substring(iban, 2, 2), "0123456789") == ""
	trim_left(substring(iban, 4, -1), "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == ""
}

block contains "beneficiary IBAN is missing or malformed" if {
	is_transfer
	not well_formed_iban
}

block contains sprintf("beneficiary IBAN country %s is not allowlisted", [country]) if {
	is_transfer
	well_formed_iban
	country := substring(iban, 0, 2)
	not country in allowed_countries
}

escalate contains sprintf("transfer of %v EUR exceeds the %v EUR approval threshold", [amount, escalate_above_eur]) if {
	is_transfer
	amount > escalate_above_eur
}

step_up if input.token.step_up == true

step_up if {
	is_transfer
	amount > step_up_above_eur
}

default step_up := false

# sort: sets iterate in a different order in wasm than in the Go evaluator.
decision := {"decision": "block", "reason": concat("; ", sort(block)), "requires_step_up": false} if {
	count(block) > 0
} else := {"decision": "escalate", "reason": concat("; ", sort(escalate)), "requires_step_up": step_up} if {
	count(escalate) > 0
} else := {"decision": "allow", "reason": allow_reason, "requires_step_up": step_up}

allow_reason := sprintf("transfer of %v EUR within limits", [amount]) if {
	is_transfer
} else := "not a payment transfer"
