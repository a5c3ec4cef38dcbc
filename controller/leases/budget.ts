// What the lease service needs to know of a Budget: whose it is, its scope, window and ceilings.
// The controller resolves it from its Budget informer; a sidecar never says what the ceiling is.
import { parseDurationSeconds } from "../../wire/duration.ts";
import type { Budget } from "../api/types.ts";
import type { Identity } from "./http.ts";

export interface LeaseBudget {
  /** "<namespace>/<name>" of the Budget, as in the snapshot's ceilings. */
  name: string;
  /** The tenant that owns the Budget's namespace. */
  tenant: string;
  scope: "agent" | "tenant" | "token";
  /** Infinity: a lifetime ceiling, counted until `until`. */
  windowSeconds: number;
  /** Unix ms a lifetime ceiling's slices count until (Infinity: for ever). */
  until?: number | undefined;
  /** The refusal code when not budget_<scope>_<ceiling> (a token's rate ceiling is a calls ceiling). */
  refusal?: string | undefined;
  calls?: number | undefined;
  cost?: number | undefined;
}

/** Finds a budget by "<namespace>/<name>"; undefined when there is none (or it is invalid). */
/** The budget by "namespace/name", if it exists and applies to the caller (else undefined: indistinguishable from none). */
export type BudgetLookup = (name: string, who: Identity) => LeaseBudget | undefined;

export function leaseBudgetOf(budget: Budget, tenant: string): LeaseBudget | undefined {
  const windowSeconds = parseDurationSeconds(budget.spec.window);
  if (windowSeconds === undefined || budget.metadata.namespace === undefined) return undefined;
  return {
    name: `${budget.metadata.namespace}/${budget.metadata.name}`,
    tenant,
    scope: budget.spec.scope,
    windowSeconds,
    calls: budget.spec.calls,
    cost: budget.spec.cost,
  };
}

/** The budget key an identity uses: its agent id for agent budgets, its tenant for tenant budgets. */
export function keyFor(budget: LeaseBudget, who: { tenant: string; agent: string }): string {
  return budget.scope === "agent" ? who.agent : who.tenant;
}
