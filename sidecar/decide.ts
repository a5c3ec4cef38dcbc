// One tools/call, decided: run the checks, write the audit record durably, and only then say allow.
// A record that cannot be written turns the call into a refusal (audit_unavailable).
import { randomUUID } from "node:crypto";
import type { AuditSink } from "./audit/file-sink.ts";
import type { Decision } from "./checks/pipeline.ts";
import type { CallContext } from "./checks/types.ts";

export interface ToolCallRequest {
  server: string;
  tool: string;
  arguments: Record<string, unknown>;
  token: string | undefined;
  prompt: string | undefined;
}

export type CallOutcome =
  | { allowed: true; decisionId: string; ctx: CallContext }
  | { allowed: false; decisionId: string; decision: "block" | "escalate"; code: string; message: string };

export interface DeciderDeps {
  tenant: string;
  agent: string;
  pipeline: (ctx: CallContext) => Promise<Decision>;
  audit: AuditSink;
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
    };
    const decision = await deps.pipeline(ctx);
    try {
      await deps.audit.append(auditRecord(ctx, decision));
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

/** The interim record shape; argument values are never stored, only their names. */
function auditRecord(ctx: CallContext, decision: Decision): object {
  return {
    v: 1,
    kind: "decision",
    time: new Date(ctx.now).toISOString(),
    decision_id: ctx.decisionId,
    tenant: ctx.tenant,
    agent: ctx.agent,
    server: ctx.server,
    tool: ctx.tool,
    decision: decision.ok ? "allow" : decision.decision,
    ...(decision.ok ? {} : { stage: decision.stage, code: decision.code, reason: decision.message }),
    token_ids: ctx.verified?.effective.ids ?? null,
    argument_names: Object.keys(ctx.arguments).sort(),
    cost: ctx.cost ?? null,
    policy: ctx.policy ? { version: ctx.policy.version, decision: ctx.policy.decision, dry_run: ctx.policy.dryRun } : null,
  };
}
