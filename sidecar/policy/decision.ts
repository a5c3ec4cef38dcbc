// Turns what a policy returned into a verdict. Anything but one well-formed decision object is a
// denial: a policy that cannot say "allow" clearly has not said it.
import type { PolicyDecision, PolicyVerdict } from "./types.ts";

/** Longest reason accepted, in Unicode code points: reasons reach the audit log and the agent. */
export const MAX_REASON_CODE_POINTS = 1024;

const DECISIONS: ReadonlySet<string> = new Set<PolicyDecision>(["allow", "block", "escalate"]);
// Unknown fields are refused so that a misspelt `requires_step_up` cannot silently read as false.
const FIELDS: ReadonlySet<string> = new Set(["decision", "reason", "requires_step_up"]);

function invalid(message: string): PolicyVerdict {
  return { ok: false, code: "policy_invalid_decision", message };
}

function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "an array or set";
  return `a ${typeof value}`;
}

// A code point is one or two UTF-16 units: the length bounds the count from both sides.
function longerThan(text: string, limit: number): boolean {
  if (text.length <= limit) return false;
  return text.length > 2 * limit || Array.from(text).length > limit;
}

/** Reads an opa-wasm result set (`[]` when undefined, `[{result: value}]` when defined). */
export function readDecision(resultSet: unknown): PolicyVerdict {
  if (!Array.isArray(resultSet)) return invalid(`result set is ${kindOf(resultSet)}, not an array`);
  if (resultSet.length === 0) return invalid("intentgate/decision is undefined for this input");
  if (resultSet.length > 1) return invalid(`intentgate/decision gave ${resultSet.length} results, not one`);
  const entry: unknown = resultSet[0];
  if (typeof entry !== "object" || entry === null || !Object.hasOwn(entry, "result")) {
    return invalid("result set entry has no result");
  }
  return readDecisionValue((entry as { result: unknown }).result);
}

/** Checks one decision value against the contract in docs/spec/policy.md. */
export function readDecisionValue(value: unknown): PolicyVerdict {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return invalid(`decision is ${kindOf(value)}, not an object`);
  }
  const fields = value as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!FIELDS.has(key)) return invalid(`decision has unknown field ${JSON.stringify(key.slice(0, 64))}`);
  }
  const { decision, reason, requires_step_up: stepUp } = fields;
  if (typeof decision !== "string" || !DECISIONS.has(decision)) {
    const got = typeof decision === "string" ? JSON.stringify(decision.slice(0, 64)) : kindOf(decision);
    return invalid(`decision.decision must be "allow", "block" or "escalate", got ${got}`);
  }
  if (typeof reason !== "string" || reason.length === 0) {
    return invalid("decision.reason must be a non-empty string");
  }
  if (longerThan(reason, MAX_REASON_CODE_POINTS)) {
    return invalid(`decision.reason is longer than ${MAX_REASON_CODE_POINTS} characters`);
  }
  if (stepUp !== undefined && typeof stepUp !== "boolean") {
    return invalid("decision.requires_step_up must be a boolean when present");
  }
  return { ok: true, decision: decision as PolicyDecision, reason, requiresStepUp: stepUp === true };
}
