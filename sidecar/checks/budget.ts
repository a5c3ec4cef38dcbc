// Check 4: budgets. Reserves the call against every ceiling that applies (the agent's, the tenant's,
// the token's own) or refuses naming the first one that would be exceeded. Any ledger error denies.
// After a restart, a token ceiling met for the first time is rebuilt from the audit log first.
import { anyGlobMatches, MAX_SKEW_SECONDS } from "../../wire/index.ts";
import type { BudgetLedger, BudgetRequest, Limit } from "../budget/ledger.ts";
import type { TokenCeilingReplay, TokenCeilingRequest } from "../budget/token-replay.ts";
import type { Ceilings } from "../config/types.ts";
import { ALLOW, block, type CallContext, type Check, type Verdict } from "./types.ts";

export interface BudgetDeps {
  ledger: BudgetLedger;
  agent?: Ceilings | undefined;
  tenant?: Ceilings | undefined;
  costs?: Record<string, number> | undefined;
  /** Counts what each token ceiling allowed before start, the first time it is met (standalone mode). */
  tokenCeilings?: TokenCeilingReplay | undefined;
}

export const agentKey = (tenant: string, agent: string): string => `agent/${tenant}/${agent}`;
export const tenantKey = (tenant: string): string => `tenant/${tenant}`;

export function ceilingLimits(scope: "agent" | "tenant", c: Ceilings | undefined): Limit[] {
  const limits: Limit[] = [];
  if (c?.calls) limits.push({ code: `budget_${scope}_calls`, kind: "calls", max: c.calls.max, window: c.calls.windowSeconds });
  if (c?.cost) limits.push({ code: `budget_${scope}_cost`, kind: "cost", max: c.cost.max, window: c.cost.windowSeconds });
  return limits;
}

export function createCostTable(costs: Record<string, number> | undefined): (name: string) => number {
  const entries = Object.entries(costs ?? {});
  return (name) => {
    for (const [glob, cost] of entries) if (anyGlobMatches([glob], name)) return cost;
    return 1;
  };
}

/** The token's own ceilings, keyed by the hop that added each, so tokens attenuated from it share one counter. */
export function tokenCeilingRequests(ctx: CallContext): readonly TokenCeilingRequest[] {
  const budgets = ctx.verified?.effective.budgets;
  if (budgets === undefined || budgets.length === 0) return NONE;
  const usableFrom = (ctx.verified?.header.issued_at ?? 0) - MAX_SKEW_SECONDS;
  return budgets.map((ceiling) => {
    const window = ceiling.window ?? Infinity;
    const limit: Limit =
      ceiling.kind === "cost"
        ? { code: "budget_token_cost", kind: "cost", max: ceiling.max, window }
        : { code: `budget_token_${ceiling.kind}`, kind: "calls", max: ceiling.max, window };
    return { key: `token/${ceiling.scope}/${ceiling.kind}/${window}`, limits: [limit], scope: ceiling.scope, window, usableFrom };
  });
}

const NONE: readonly TokenCeilingRequest[] = Object.freeze([]);

export function createBudgetCheck(deps: BudgetDeps): Check {
  const agentLimits = ceilingLimits("agent", deps.agent);
  const tenantLimits = ceilingLimits("tenant", deps.tenant);
  const costOf = createCostTable(deps.costs);
  return {
    stage: "budget",
    run(ctx: CallContext) {
      const cost = ctx.cost ?? costOf(ctx.name);
      ctx.cost = cost;
      const token = tokenCeilingRequests(ctx);
      const requests: BudgetRequest[] = [];
      if (agentLimits.length > 0) requests.push({ key: agentKey(ctx.tenant, ctx.agent), limits: agentLimits });
      if (tenantLimits.length > 0) requests.push({ key: tenantKey(ctx.tenant), limits: tenantLimits });
      for (const request of token) requests.push(request);
      if (requests.length === 0) return ALLOW;
      const rebuilding = token.length > 0 ? deps.tokenCeilings?.ready(token, ctx.now) : undefined;
      if (rebuilding === undefined) return reserve(deps.ledger, ctx, requests, cost);
      return rebuilding.then(
        () => reserve(deps.ledger, ctx, requests, cost),
        (error: Error) => block("budget_unavailable", `the token's budget use before start cannot be read: ${error.message}`),
      );
    },
  };
}

function reserve(ledger: BudgetLedger, ctx: CallContext, requests: readonly BudgetRequest[], cost: number): Verdict {
  let result;
  try {
    result = ledger.reserve(requests, cost, ctx.now);
  } catch (error) {
    return block("budget_unavailable", `budget state cannot be read: ${(error as Error).message}`);
  }
  if (!result.ok) return block(result.code, result.message);
  ctx.reservation = result;
  return ALLOW;
}
