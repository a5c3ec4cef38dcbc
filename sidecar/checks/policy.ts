// Check 3: the tenant's Rego policy, compiled to wasm, evaluated locally. The input document is
// specified in docs/spec/policy.md. A missing engine, an evaluation error or a malformed decision denies.
import type { BudgetLedger } from "../budget/ledger.ts";
import type { Ceilings } from "../config/types.ts";
import type { PolicyInput, PolicyVerdict } from "../policy/types.ts";
import { agentKey, tenantKey } from "./budget.ts";
import { ALLOW, block, type CallContext, type Check } from "./types.ts";

export interface LoadedPolicy {
  readonly version: string;
  evaluate(input: PolicyInput): PolicyVerdict;
}

export interface PolicyDeps {
  current: () => LoadedPolicy | undefined;
  mode: "enforce" | "dryRun";
  ledger: BudgetLedger;
  budget: { agent?: Ceilings | undefined; tenant?: Ceilings | undefined };
  costOf: (name: string) => number;
}

export function createPolicyCheck(deps: PolicyDeps): Check {
  const agentWindow = deps.budget.agent?.calls?.windowSeconds ?? deps.budget.agent?.cost?.windowSeconds ?? 3600;
  const tenantWindow = deps.budget.tenant?.calls?.windowSeconds ?? deps.budget.tenant?.cost?.windowSeconds ?? 3600;
  return {
    stage: "policy",
    run(ctx) {
      const policy = deps.current();
      if (policy === undefined) return block("policy_unavailable", "no policy bundle is loaded");
      if (ctx.verified === undefined) return block("internal_error", "policy check ran without a verified token");
      ctx.cost = deps.costOf(ctx.name);
      const verdict = policy.evaluate(policyInput({ ...ctx, verified: ctx.verified }, deps, agentWindow, tenantWindow));
      if (!verdict.ok) return block(verdict.code, verdict.message);
      const dryRun = deps.mode === "dryRun";
      ctx.policy = { decision: verdict.decision, reason: verdict.reason, requiresStepUp: verdict.requiresStepUp, version: policy.version, dryRun };
      if (verdict.decision === "allow" || dryRun) return ALLOW;
      if (verdict.decision === "escalate") {
        return { ok: false, decision: "escalate", code: "approval_required", message: verdict.reason || "the policy requires a human approval" };
      }
      return block("policy_blocked", verdict.reason || "blocked by policy");
    },
  };
}

function policyInput(ctx: CallContext & Required<Pick<CallContext, "verified">>, deps: PolicyDeps, agentWindow: number, tenantWindow: number): PolicyInput {
  const { effective: e, header } = ctx.verified;
  const agentUse = deps.ledger.usage(agentKey(ctx.tenant, ctx.agent), agentWindow, ctx.now);
  const tenantUse = deps.ledger.usage(tenantKey(ctx.tenant), tenantWindow, ctx.now);
  return {
    time: { unix: Math.floor(ctx.now / 1000), iso: new Date(ctx.now).toISOString() },
    tenant: ctx.tenant,
    agent: ctx.agent,
    server: ctx.server,
    tool: ctx.tool,
    name: ctx.name,
    arguments: ctx.arguments,
    token: {
      id: header.id,
      ids: e.ids,
      issuer: header.issuer,
      expires_at: e.expiresAt,
      tool_allow: e.toolAllow,
      tool_deny: e.toolDeny,
      servers: e.servers,
      max_calls: e.maxCalls,
      step_up: e.stepUp,
    },
    intent: ctx.intent ?? null,
    budget: { agent: agentUse, tenant: tenantUse, call_cost: ctx.cost ?? 1 },
    memory: ctx.memory ?? null,
    mode: deps.mode === "dryRun" ? "dry_run" : "enforce",
  };
}
