// The calls an audit log recorded as allowed, as budgets count them again after a restart: when,
// at what cost, under which token ids. Spool lines and audit database rows are read alike, and the
// two are deduplicated by stream and sequence number.
import type { AuditRecord } from "../../wire/audit/index.ts";
import type { ExportRow } from "../audit/store/types.ts";

export interface RecordedCall {
  readonly stream: string;
  readonly seq: number;
  /** Unix milliseconds: the decision's time. */
  readonly at: number;
  readonly cost: number;
  /** The presented token's ids, root first; empty when no token verified. */
  readonly tokenIds: readonly string[];
}

/** How long one read of the audit database may take while budgets are rebuilt. */
export const READ_DEADLINE_MS = 5000;

/** The allowed call a record line holds, or undefined for any other record or another tenant's or agent's. */
export function allowedCall(line: string, tenant: string, agent: string): RecordedCall | undefined {
  const r = JSON.parse(line) as AuditRecord;
  if (r.kind !== "decision" || r.disposition !== "allowed" || r.tenant !== tenant || r.agent !== agent) return undefined;
  return { stream: r.stream, seq: r.seq, at: Date.parse(r.time), cost: r.cost ?? 1, tokenIds: r.token_ids ?? [] };
}

export const callKey = (call: { stream: string; seq: number }): string => `${call.stream}\n${call.seq}`;

/** Reads every allowed call of the rows, or rejects when that takes longer than `deadlineMs`. */
export async function readStoredCalls(rows: AsyncIterable<ExportRow>, tenant: string, agent: string, deadlineMs = READ_DEADLINE_MS): Promise<RecordedCall[]> {
  const read = async (): Promise<RecordedCall[]> => {
    const calls: RecordedCall[] = [];
    for await (const row of rows) {
      const call = allowedCall(row.line, tenant, agent);
      if (call !== undefined) calls.push(call);
    }
    return calls;
  };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${deadlineMs} ms`)), deadlineMs);
  });
  try {
    return await Promise.race([read(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
