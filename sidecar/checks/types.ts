// The per-call pipeline's values. A check reads the call context and returns a verdict; the runner
// stops at the first denial. Checks do I/O only through the ports they were built with.
import type { EffectiveConstraints, TokenHeader } from "../../wire/index.ts";

export type Stage = "request" | "capability" | "intent" | "policy" | "budget" | "audit";

export interface IntentRecommendation {
  summary: string;
  allowed_tools: string[];
  forbidden_tools: string[];
  confidence: number;
  rationale: string;
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
  verified?: { header: TokenHeader; effective: EffectiveConstraints };
  intent?: IntentRecommendation | null;
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
