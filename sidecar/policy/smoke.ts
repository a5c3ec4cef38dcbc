// The evaluation a new bundle must pass before it may replace the running one: a bundle that
// loads but cannot decide an ordinary call would otherwise deny everything until someone notices.
import type { PolicyEngine } from "./engine.ts";
import { PolicyLoadError } from "./engine.ts";
import type { PolicyInput } from "./types.ts";

/** An ordinary, harmless call with every field filled, as the pipeline would build it. */
export const SMOKE_INPUT: Readonly<PolicyInput> = Object.freeze({
  time: { unix: 1767225600, iso: "2026-01-01T00:00:00.000Z" },
  tenant: "smoke-tenant",
  agent: "smoke-agent",
  server: "smoke",
  tool: "read_status",
  name: "smoke.read_status",
  arguments: {},
  token: {
    id: "smoke-token",
    ids: ["smoke-token"],
    issuer: "smoke-tenant",
    expires_at: null,
    tool_allow: [],
    tool_deny: [],
    servers: [],
    max_calls: null,
    step_up: false,
  },
  intent: null,
  budget: { agent: { calls: 0, cost: 0 }, tenant: { calls: 0, cost: 0 }, call_cost: 1 },
  memory: null,
  mode: "enforce",
});

/**
 * Throws PolicyLoadError unless the engine returns a well-formed decision for the input. Any
 * decision counts, block included: the point is that the policy decides, not what it decides.
 */
export function smokeTest(engine: PolicyEngine, input: PolicyInput = SMOKE_INPUT): void {
  const verdict = engine.evaluate(input);
  if (!verdict.ok) {
    throw new PolicyLoadError("policy_smoke_failed", `smoke evaluation failed (${verdict.code}): ${verdict.message}`);
  }
}
