// After a restart, budgets are rebuilt from the audit log so a restart does not hand out fresh ones:
// the agent's and the tenant's sliding windows at start (every call allowed inside the longest
// window is counted again), the token's own ceilings when first met (token-replay.ts). The records
// come from the audit database (what was shipped) and the spool (what was not yet), deduplicated by
// stream and sequence number. The spool is read once, here.
import type { Logger } from "pino";
import { agentKey, ceilingLimits, tenantKey } from "../checks/budget.ts";
import type { Ceilings } from "../config/types.ts";
import type { AuditSpool } from "../audit/spool.ts";
import type { AuditStore } from "../audit/store/types.ts";
import type { BudgetRequest, MemoryBudgetLedger } from "./ledger.ts";
import { allowedCall, callKey, readStoredCalls, type RecordedCall } from "./recorded-calls.ts";
import { TokenCeilingReplay } from "./token-replay.ts";

export interface ReplayOptions {
  ledger: MemoryBudgetLedger;
  spool: AuditSpool;
  /** The audit database, when one is configured; it must stay open while token ceilings are rebuilt. */
  store: AuditStore | undefined;
  tenant: string;
  agent: string;
  budget: { agent?: Ceilings | undefined; tenant?: Ceilings | undefined };
  nowMs: number;
  log: Logger;
}

/** Rebuilds the agent's and the tenant's windows; returns what rebuilds each token ceiling when first met. */
export async function rebuildBudgets(o: ReplayOptions): Promise<TokenCeilingReplay> {
  const spooled: RecordedCall[] = [];
  for (const line of o.spool.readAfter(0, Number.MAX_SAFE_INTEGER)) {
    const call = allowedCall(line, o.tenant, o.agent);
    if (call !== undefined) spooled.push(call);
  }
  const replayed = await replayWindows(o, spooled);
  if (replayed > 0) o.log.info({ calls: replayed }, "budget windows rebuilt from the audit log");
  const own = { stream: o.spool.stream, seq: o.spool.head.seq };
  return new TokenCeilingReplay({ ledger: o.ledger, spooled, store: o.store, tenant: o.tenant, agent: o.agent, startedAt: o.nowMs, own });
}

/** Replays the calls allowed inside the longest agent or tenant window; returns how many were counted. */
async function replayWindows(o: ReplayOptions, spooled: readonly RecordedCall[]): Promise<number> {
  const agentLimits = ceilingLimits("agent", o.budget.agent);
  const tenantLimits = ceilingLimits("tenant", o.budget.tenant);
  const windows = [...agentLimits, ...tenantLimits].map((l) => l.window);
  if (windows.length === 0) return 0;
  const sinceMs = o.nowMs - Math.max(...windows) * 1000;
  const calls = new Map<string, RecordedCall>();
  if (o.store !== undefined) {
    try {
      const rows = o.store.exportRecords({ from: new Date(sinceMs), tenant: o.tenant, agent: o.agent, disposition: "allowed" });
      for (const call of await readStoredCalls(rows, o.tenant, o.agent)) calls.set(callKey(call), call);
    } catch (error) {
      o.log.warn({ reason: (error as Error).message }, "audit database unreadable at start: budget windows rebuilt from the local spool only");
    }
  }
  for (const call of spooled) calls.set(callKey(call), call);
  const counted = [...calls.values()].filter((c) => c.at > sinceMs && c.at <= o.nowMs).sort((a, b) => a.at - b.at);
  const requests: BudgetRequest[] = [];
  if (agentLimits.length > 0) requests.push({ key: agentKey(o.tenant, o.agent), limits: agentLimits });
  if (tenantLimits.length > 0) requests.push({ key: tenantKey(o.tenant), limits: tenantLimits });
  for (const call of counted) o.ledger.replay(requests, call.cost, call.at);
  return counted.length;
}
