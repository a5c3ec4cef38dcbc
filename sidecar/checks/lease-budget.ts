// Check 4 in Kubernetes mode: budgets kept exact across replicas with leases. For every ceiling of
// the snapshot that applies to the call, the call takes one call (and its cost) from a local slice
// of the budget key; when no slice can serve it, one request for a new slice goes to the controller
// while other calls for that key wait on it. The controller's refusal refuses with the same codes as
// the local ledger; a controller that cannot be reached, with no slice left, refuses with
// budget_unavailable (fail closed). Slices are given back when they run dry, before they expire and
// on close. The token's own ceilings (calls, rate, cost caveats) are leased the same way, as keys
// of the "token" budget named by the hop that added them; the request carries the token, from
// which the controller reads the ceiling.
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { SnapshotCeiling } from "../../wire/snapshot.ts";
import type { BudgetLedger, BudgetRequest } from "../budget/ledger.ts";
import type { SliceAnswer, SliceAsk } from "../budget/lease-client.ts";
import { agentKey, createCostTable, tenantKey, tokenCeilingRequests } from "./budget.ts";
import { ALLOW, block, type CallContext, type Check, type Verdict } from "./types.ts";
import { KeySlices, type Refill, type Taken } from "./lease-slices.ts";

/** The lease API's budget name for a token's own ceilings (Budget names always hold a "/"). */
export const TOKEN_BUDGET = "token";

/** The controller's lease API, as the check uses it (LeaseClient in production). */
export interface LeasePort {
  grant(ask: SliceAsk): Promise<SliceAnswer>;
  giveBack(id: string, used: { calls: number; cost: number }): Promise<void>;
}

export interface LeaseBudgetDeps {
  leases: LeasePort;
  /** The current snapshot's ceilings, read on every call (snapshots are swapped atomically). */
  ceilings: () => readonly SnapshotCeiling[];
  /** This process's own use of every key, without ceilings, for the policy input. */
  ledger: BudgetLedger;
  /** This process, as the controller counts holders for fair shares. Default: a random id. */
  holder?: string;
  /** Calls asked for per slice (the controller may give fewer). Default 20. */
  sliceCalls?: number;
  /** Share of a lease's life after which the slice is given back. Default 0.8. */
  useFor?: number;
  /** Slices of a key not taken from for this long go back. Default 1000. */
  idleReturnMs?: number;
  /** How long a ceiling refusal is asked again while other replicas hold slices of the key. Default 2000. */
  waitForReturnsMs?: number;
  /** Milliseconds, monotonic. */
  clock?: () => number;
  /** Failures to give a slice back (the controller then counts the slice in full). */
  onReturnError?: (error: Error) => void;
}

export interface LeaseBudgetCheck extends Check {
  /** Gives every slice back; later calls are refused with budget_unavailable. */
  close(): Promise<void>;
}

export function createLeaseBudgetCheck(deps: LeaseBudgetDeps): LeaseBudgetCheck {
  const holder = deps.holder ?? randomUUID();
  const refill: Refill = {
    leases: deps.leases,
    holder,
    sliceCalls: deps.sliceCalls ?? 20,
    useFor: deps.useFor ?? 0.8,
    idleReturnMs: deps.idleReturnMs ?? 1000,
    waitForReturnsMs: deps.waitForReturnsMs ?? 2000,
    clock: deps.clock ?? (() => performance.now()),
    onReturnError: deps.onReturnError ?? (() => undefined),
  };
  const keys = new Map<string, KeySlices>();
  const costTables = new WeakMap<SnapshotCeiling, (name: string) => number>();
  let closed = false;

  const costOf = (ceiling: SnapshotCeiling, name: string): number => {
    let table = costTables.get(ceiling);
    if (table === undefined) costTables.set(ceiling, (table = createCostTable(ceiling.costs)));
    return table(name);
  };
  const slicesOf = (budget: string, key: string): KeySlices => {
    const id = `${budget}\n${key}`;
    let slices = keys.get(id);
    if (slices === undefined) keys.set(id, (slices = new KeySlices(budget, key, refill)));
    return slices;
  };

  return {
    stage: "budget",
    async run(ctx: CallContext): Promise<Verdict> {
      const ceilings = deps.ceilings();
      const tokenCeilings = tokenCeilingRequests(ctx);
      const tokenCost = ctx.cost ?? 1;
      const wanted = [
        ...tokenCeilings.map((r) => ({ budget: TOKEN_BUDGET, key: r.key.slice("token/".length), cost: tokenCost, token: ctx.token })),
        ...ceilings
          .filter((c) => c.calls !== undefined || c.cost !== undefined)
          .map((c) => ({ budget: c.budget, key: c.scope === "agent" ? ctx.agent : ctx.tenant, cost: costOf(c, ctx.name), token: undefined })),
      ];
      let reservation: { release(): void } | undefined;
      const usage = [...tokenCeilings.map(uncapped), ...ownUsage(ctx, ceilings)];
      if (usage.length > 0) {
        const reserved = deps.ledger.reserve(usage, tokenCost, ctx.now);
        if (!reserved.ok) return block(reserved.code, reserved.message);
        reservation = reserved;
      }
      const taken: Taken[] = [];
      const undo = (): void => {
        for (const t of taken) t.release();
        reservation?.release();
      };
      for (const want of wanted) {
        if (closed) {
          undo();
          return block("budget_unavailable", "the budget check is closed");
        }
        const result = await slicesOf(want.budget, want.key).take(want.cost, want.token);
        if (!result.ok) {
          undo();
          return block(result.code, result.message);
        }
        taken.push(result);
      }
      ctx.cost ??= 1;
      ctx.reservation = { release: undo };
      return ALLOW;
    },
    async close() {
      closed = true;
      await Promise.all([...keys.values()].map((k) => k.close()));
    },
  };
}

/** A token ceiling counted locally without its ceiling (the controller's ledger holds it). */
function uncapped(request: BudgetRequest): BudgetRequest {
  return { key: request.key, limits: request.limits.map((l) => ({ ...l, max: Infinity })) };
}

/**
 * This sidecar's own use of the agent and tenant keys, counted locally without a ceiling (the
 * controller's ledger holds the ceilings), so the policy input's budget usage is what this replica
 * has spent in the window rather than nothing.
 */
function ownUsage(ctx: CallContext, ceilings: readonly SnapshotCeiling[]): BudgetRequest[] {
  return ceilings.map((c) => ({
    key: c.scope === "agent" ? agentKey(ctx.tenant, ctx.agent) : tenantKey(ctx.tenant),
    // Never refuses (no ceiling); the codes are those of the ceilings the controller enforces.
    limits: [
      { code: `budget_${c.scope}_calls`, kind: "calls", max: Infinity, window: c.windowSeconds },
      { code: `budget_${c.scope}_cost`, kind: "cost", max: Infinity, window: c.windowSeconds },
    ],
  }));
}
