import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_REASON_CODE_POINTS, readDecision, readDecisionValue } from "./decision.ts";

const invalid = (value: unknown) => {
  const verdict = readDecisionValue(value);
  assert.equal(verdict.ok, false, JSON.stringify(value));
  if (!verdict.ok) assert.equal(verdict.code, "policy_invalid_decision");
  return verdict.ok ? "" : verdict.message;
};

void test("a well-formed decision becomes a verdict, requires_step_up defaulting to false", () => {
  assert.deepEqual(readDecision([{ result: { decision: "escalate", reason: "big" } }]), {
    ok: true, decision: "escalate", reason: "big", requiresStepUp: false,
  });
  assert.deepEqual(readDecisionValue({ decision: "block", reason: "no", requires_step_up: true }), {
    ok: true, decision: "block", reason: "no", requiresStepUp: true,
  });
});

void test("an undefined decision, several results or a malformed result set deny", () => {
  for (const [set, words] of [
    [[], "undefined"],
    [[{ result: {} }, { result: {} }], "2 results"],
    [{ result: {} }, "not an array"],
    [[{}], "no result"],
    [[null], "no result"],
  ] as const) {
    const verdict = readDecision(set);
    assert.equal(verdict.ok, false);
    if (!verdict.ok) {
      assert.equal(verdict.code, "policy_invalid_decision");
      assert.match(verdict.message, new RegExp(words));
    }
  }
});

void test("every shape the contract does not allow denies, with the reason in the message", () => {
  assert.match(invalid("allow"), /a string, not an object/);
  assert.match(invalid([{ decision: "allow", reason: "x" }]), /an array or set/);
  assert.match(invalid(null), /null/);
  assert.match(invalid({ decision: "Allow", reason: "x" }), /"Allow"/);
  assert.match(invalid({ reason: "x" }), /got undefined/);
  assert.match(invalid({ decision: "allow" }), /reason must be a non-empty string/);
  assert.match(invalid({ decision: "allow", reason: "" }), /non-empty/);
  assert.match(invalid({ decision: "allow", reason: ["x"] }), /non-empty string/);
  assert.match(invalid({ decision: "allow", reason: "x", requires_step_up: "true" }), /boolean/);
  assert.match(invalid({ decision: "allow", reason: "x", requires_step_up: null }), /boolean/);
  assert.match(invalid({ decision: "allow", reason: "x", requires_stepup: true }), /unknown field "requires_stepup"/);
});

void test("reasons are limited in code points, so astral characters count once", () => {
  const astral = "😀".repeat(MAX_REASON_CODE_POINTS); // 2048 UTF-16 units, 1024 code points
  assert.equal(readDecisionValue({ decision: "allow", reason: astral }).ok, true);
  assert.equal(readDecisionValue({ decision: "allow", reason: "x".repeat(MAX_REASON_CODE_POINTS) }).ok, true);
  assert.match(invalid({ decision: "allow", reason: `${astral}x` }), /longer than 1024/);
  assert.match(invalid({ decision: "allow", reason: "x".repeat(MAX_REASON_CODE_POINTS + 1) }), /longer than 1024/);
});
