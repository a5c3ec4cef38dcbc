// One tools/call, decided: run the checks, write the audit record durably, and only then say allow.
// A record that cannot be written turns the call into a refusal (audit_unavailable).
import { randomUUID } from "node:crypto";
import type { AuditEvent, DecisionEvent } from "../wire/audit/index.ts";
import { OCSF, safeText } from "../wire/audit/index.ts";
import type { Decision } from "./checks/pipeline.ts";
import type { CallContext } from "./checks/types.ts";

export interface ToolCallRequest {
  server: string;
  tool: string;
  arguments: Record<string, unknown>;
  token: string | undefined;
  prompt: string | undefined;
  /** `params._meta["dev.intentgate/memory"]`, unvalidated, when the call carries it. */
  memory?: unknown;
}

export type CallOutcome =
  | { allowed: true; decisionId: string; ctx: CallContext }
  | { allowed: false; decisionId: string; decision: "block" | "escalate"; code: string; message: string };

export interface DeciderDeps {
  tenant: string;
  agent: string;
  pipeline: (ctx: CallContext) => Promise<Decision>;
  audit: {
    append(event: AuditEvent): Promise<unknown>;
    argumentsSummary(args: Record<string, unknown>): DecisionEvent["arguments"];
  };
  now: () => number;
  onDecision: (stage: string, decision: string, code: string) => void;
  onAuditFailure: (error: Error) => void;
}

export function createDecider(deps: DeciderDeps): (call: ToolCallRequest) => Promise<CallOutcome> {
  return async (call) => {
    const ctx: CallContext = {
      decisionId: randomUUID(),
      now: deps.now(),
      tenant: deps.tenant,
      agent: deps.agent,
      server: call.server,
      tool: call.tool,
      name: `${call.server}.${call.tool}`,
      arguments: call.arguments,
      token: call.token,
      prompt: call.prompt,
      ...(call.memory !== undefined ? { memoryItems: call.memory } : {}),
    };
    const decision = await deps.pipeline(ctx);
    try {
      await deps.audit.append(auditEvent(ctx, decision, deps.audit.argumentsSummary(ctx.arguments)));
    } catch (error) {
      ctx.reservation?.release();
      deps.onAuditFailure(error as Error);
      deps.onDecision("audit", "block", "audit_unavailable");
      return { allowed: false, decisionId: ctx.decisionId, decision: "block", code: "audit_unavailable", message: "the decision could not be recorded, so the call was not forwarded" };
    }
    if (decision.ok) {
      deps.onDecision("all", "allow", "allowed");
      return { allowed: true, decisionId: ctx.decisionId, ctx };
    }
    deps.onDecision(decision.stage, decision.decision, decision.code);
    return { allowed: false, decisionId: ctx.decisionId, decision: decision.decision, code: decision.code, message: decision.message };
  };
}

/** The decision's audit event: what was decided and why, never the token or the prompt. */
function auditEvent(ctx: CallContext, decision: Decision, args: DecisionEvent["arguments"]): DecisionEvent {
  return {
    kind: "decision",
    time: new Date(ctx.now).toISOString(),
    decision_id: ctx.decisionId,
    tenant: ctx.tenant,
    agent: ctx.agent,
    server: ctx.server,
    tool: safeText(ctx.tool),
    disposition: decision.ok ? "allowed" : decision.decision === "escalate" ? "escalated" : "blocked",
    stage: decision.ok ? null : decision.stage,
    code: decision.ok ? null : decision.code,
    reason: decision.ok ? null : safeText(decision.message),
    token_ids: ctx.verified?.effective.ids ?? null,
    arguments: args,
    cost: ctx.cost ?? null,
    policy: ctx.policy
      ? { version: ctx.policy.version, decision: ctx.policy.decision, dry_run: ctx.policy.dryRun, requires_step_up: ctx.policy.requiresStepUp }
      : null,
    ...(ctx.memory
      ? { memory: { checked: ctx.memory.checked, items: ctx.memory.items.map((i) => ({ id: safeText(i.id), ok: i.ok, code: i.code, writer: i.writer })) } }
      : {}),
    ...(ctx.intent
      ? { intent: { mode: ctx.intent.mode, verdict: ctx.intent.verdict, confidence: ctx.intent.confidence, error: ctx.intent.error === null ? null : safeText(ctx.intent.error) } }
      : {}),
    ocsf: OCSF,
  };
}
