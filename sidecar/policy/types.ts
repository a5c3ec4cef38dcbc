// The policy contract in types: the input document a policy sees and the verdict the sidecar
// takes from it. docs/spec/policy.md is the normative text; keep the two in step.

export type PolicyDecision = "allow" | "block" | "escalate";

/** `policy_error`: evaluation failed. `policy_invalid_decision`: it returned no valid decision. */
export type PolicyErrorCode = "policy_error" | "policy_invalid_decision";

export type PolicyVerdict =
  | { ok: true; decision: PolicyDecision; reason: string; requiresStepUp: boolean }
  | { ok: false; code: PolicyErrorCode; message: string };

export interface PolicyUsage {
  calls: number;
  cost: number;
}

/** The effective token constraints (after every caveat), as the capability check folded them. */
export interface PolicyTokenInput {
  id: string;
  ids: string[];
  issuer: string;
  expires_at: number | null;
  tool_allow: string[][];
  tool_deny: string[];
  servers: string[][];
  max_calls: number | null;
  step_up: boolean;
}

export interface PolicyIntentInput {
  summary: string;
  allowed_tools: string[];
  forbidden_tools: string[];
  confidence: number;
  rationale: string;
  // The three below are always set by the sidecar (docs/intent.md); optional here so that
  // hand-built inputs in tests stay short.
  mode?: "enforce" | "advisory";
  /** `fits`, or the code an enforcing intent check refuses with. */
  verdict?: string;
  /** Why extraction failed, or null. */
  error?: string | null;
}

export interface PolicyMemoryInput {
  checked: boolean;
  /** `code` (null when ok) and `writer` are always set by the sidecar; optional here for hand-built inputs. */
  items: { id: string; ok: boolean; reason: string; code?: string | null; writer?: string | null }[];
}

/** The `input` document of every evaluation (snake_case, JSON only). */
export interface PolicyInput {
  time: { unix: number; iso: string };
  tenant: string;
  agent: string;
  server: string;
  tool: string;
  /** `server.tool`. */
  name: string;
  arguments: Record<string, unknown>;
  token: PolicyTokenInput;
  intent: PolicyIntentInput | null;
  /** Usage in the current windows before this call, and what this call will cost. */
  budget: { agent: PolicyUsage; tenant: PolicyUsage; call_cost: number };
  memory: PolicyMemoryInput | null;
  mode: "enforce" | "dry_run";
}
