// The per-call pipeline's values. A check reads the call context and returns a verdict; the runner
// stops at the first denial. Checks do I/O only through the ports they were built with.
import type { EffectiveConstraints, TokenHeader } from "../../wire/index.ts";

export type Stage = "request" | "capability" | "memory" | "intent" | "policy" | "budget" | "audit";

export interface IntentRecommendation {
  summary: string;
  allowed_tools: string[];
  forbidden_tools: string[];
  confidence: number;
  rationale: string;
}

/**
 * What the intent check found, as the policy sees it (`input.intent`): the recommendation (empty
 * lists and zero confidence when there is none), the tenant's mode, the check's verdict (`fits`, or
 * the code an enforcing check refuses with) and, when extraction failed, why.
 */
export interface IntentResult extends IntentRecommendation {
  mode: "enforce" | "advisory";
  verdict: string;
  error: string | null;
}

/** One presented memory item's verdict (`input.memory.items[]`); `code` is null when it verified. */
export interface MemoryItemVerdict {
  id: string;
  ok: boolean;
  code: string | null;
  reason: string;
  /** The writer the item names; verified only when `ok`. */
  writer: string | null;
}

export interface MemoryResult {
  checked: boolean;
  items: MemoryItemVerdict[];
}

export interface CallContext {
  readonly decisionId: string;
  /** Unix milliseconds when the call arrived; every time-based check uses this one instant. */
  readonly now: number;
  readonly tenant: string;
  readonly agent: string;
  readonly server: string;
  readonly tool: string;
  readonly name: string;
  readonly arguments: Record<string, unknown>;
  readonly token: string | undefined;
  readonly prompt: string | undefined;
  /** `params._meta["dev.intentgate/memory"]` as the agent sent it (unvalidated), when present. */
  readonly memoryItems?: unknown;
  verified?: { header: TokenHeader; effective: EffectiveConstraints };
  intent?: IntentResult | null;
  memory?: MemoryResult;
  policy?: { decision: "allow" | "block" | "escalate"; reason: string; requiresStepUp: boolean; version: string; dryRun: boolean };
  cost?: number;
  reservation?: { release(): void };
}

export type Verdict =
  | { ok: true }
  | { ok: false; decision: "block" | "escalate"; code: string; message: string };

export interface Check {
  readonly stage: Stage;
  run(ctx: CallContext): Verdict | Promise<Verdict>;
}

export const ALLOW: Verdict = Object.freeze({ ok: true });

export function block(code: string, message: string): Verdict {
  return { ok: false, decision: "block", code, message };
}
