// Check 4: budgets. Reserves the call against every ceiling that applies (the agent's, the tenant's,
// the token's own) or refuses naming the first one that would be exceeded. Any ledger error denies.
import { anyGlobMatches } from "../../wire/index.ts";
import type { BudgetLedger, BudgetRequest, Limit } from "../budget/ledger.ts";
import type { Ceilings } from "../config/types.ts";
import { ALLOW, block, type CallContext, type Check } from "./types.ts";

export interface BudgetDeps {
  ledger: BudgetLedger;
  agent?: Ceilings | undefined;
  tenant?: Ceilings | undefined;
  costs?: Record<string, number> | undefined;
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

export function createBudgetCheck(deps: BudgetDeps): Check {
  const agentLimits = ceilingLimits("agent", deps.agent);
  const tenantLimits = ceilingLimits("tenant", deps.tenant);
  const costOf = createCostTable(deps.costs);
  return {
    stage: "budget",
    run(ctx: CallContext) {
      const cost = ctx.cost ?? costOf(ctx.name);
      ctx.cost = cost;
      const requests: BudgetRequest[] = [];
      if (agentLimits.length > 0) requests.push({ key: agentKey(ctx.tenant, ctx.agent), limits: agentLimits });
      if (tenantLimits.length > 0) requests.push({ key: tenantKey(ctx.tenant), limits: tenantLimits });
      for (const ceiling of ctx.verified?.effective.budgets ?? []) {
        // Keyed by the hop that added the ceiling, so tokens attenuated from it share one counter.
        const window = ceiling.window ?? Infinity;
        const limit: Limit =
          ceiling.kind === "cost"
            ? { code: "budget_token_cost", kind: "cost", max: ceiling.max, window }
            : { code: `budget_token_${ceiling.kind}`, kind: "calls", max: ceiling.max, window };
        requests.push({ key: `token/${ceiling.scope}/${ceiling.kind}/${window}`, limits: [limit] });
      }
      if (requests.length === 0) return ALLOW;
      let result;
      try {
        result = deps.ledger.reserve(requests, cost, ctx.now);
      } catch (error) {
        return block("budget_unavailable", `budget state cannot be read: ${(error as Error).message}`);
      }
      if (!result.ok) return block(result.code, result.message);
      ctx.reservation = result;
      return ALLOW;
    },
  };
}
