// After a restart, the agent's and the tenant's sliding windows are rebuilt from the audit log:
// every call allowed inside the longest window is counted again, so a restart does not hand an
// agent a fresh budget. The records come from the audit database (what was shipped) and the
// spool (what was not yet), deduplicated by stream and sequence number.
import type { Logger } from "pino";
import type { AuditRecord } from "../../wire/audit/index.ts";
import { agentKey, ceilingLimits, tenantKey } from "../checks/budget.ts";
import type { Ceilings } from "../config/types.ts";
import type { AuditSpool } from "../audit/spool.ts";
import type { AuditStore } from "../audit/store/types.ts";
import type { BudgetRequest, MemoryBudgetLedger } from "./ledger.ts";

export interface ReplayOptions {
  ledger: MemoryBudgetLedger;
  spool: AuditSpool;
  /** The audit database, when one is configured; opened and closed by the caller. */
  store: AuditStore | undefined;
  tenant: string;
  agent: string;
  budget: { agent?: Ceilings | undefined; tenant?: Ceilings | undefined };
  nowMs: number;
  log: Logger;
}

const READ_DEADLINE_MS = 5000;

/** Replays allowed calls into the ledger; returns how many were counted. */
export async function replayBudgets(o: ReplayOptions): Promise<number> {
  const agentLimits = ceilingLimits("agent", o.budget.agent);
  const tenantLimits = ceilingLimits("tenant", o.budget.tenant);
  const windows = [...agentLimits, ...tenantLimits].map((l) => l.window);
  if (windows.length === 0) return 0;
  const sinceMs = o.nowMs - Math.max(...windows) * 1000;
  const lines = new Map<string, string>();
  if (o.store !== undefined) {
    const store = o.store;
    const read = async (): Promise<void> => {
      for await (const row of store.exportRecords({ from: new Date(sinceMs), tenant: o.tenant, agent: o.agent, disposition: "allowed" })) {
        lines.set(`${row.stream}\n${row.seq}`, row.line);
      }
    };
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${READ_DEADLINE_MS} ms`)), READ_DEADLINE_MS);
    });
    try {
      await Promise.race([read(), deadline]);
    } catch (error) {
      o.log.warn({ reason: (error as Error).message }, "audit database unreadable at start: budget windows rebuilt from the local spool only");
    } finally {
      clearTimeout(timer);
    }
  }
  for (const line of o.spool.readAfter(0, Number.MAX_SAFE_INTEGER)) {
    const record = JSON.parse(line) as AuditRecord;
    lines.set(`${record.stream}\n${record.seq}`, line);
  }
  const calls: Array<{ at: number; cost: number }> = [];
  for (const line of lines.values()) {
    const r = JSON.parse(line) as AuditRecord;
    if (r.kind !== "decision" || r.disposition !== "allowed" || r.tenant !== o.tenant || r.agent !== o.agent) continue;
    const at = Date.parse(r.time);
    if (at > sinceMs && at <= o.nowMs) calls.push({ at, cost: r.cost ?? 1 });
  }
  calls.sort((a, b) => a.at - b.at);
  const requests: BudgetRequest[] = [];
  if (agentLimits.length > 0) requests.push({ key: agentKey(o.tenant, o.agent), limits: agentLimits });
  if (tenantLimits.length > 0) requests.push({ key: tenantKey(o.tenant), limits: tenantLimits });
  for (const call of calls) o.ledger.replay(requests, call.cost, call.at);
  return calls.length;
}
