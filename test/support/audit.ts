// Audit fixtures for store, shipping and benchmark runs: chained record lines made the way the
// sidecar makes them, reading a stream back out of a store, and verifying it with wire/audit.
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { canonicalize } from "../../wire/jcs.ts";
import { AuditKeys, chainRecord, EMPTY_HEAD, OCSF, signCheckpoint, verifyStream, type ChainHead, type DecisionEvent, type StoredRow, type StreamReport } from "../../wire/audit/index.ts";
import type { AuditStore } from "../../sidecar/audit/store/types.ts";

export function testAuditKeys(keyId = "audit-test"): AuditKeys {
  return AuditKeys.fromFile(AuditKeys.generateFile(keyId));
}

export function decisionEvent(i: number, overrides: Partial<DecisionEvent> = {}, time = new Date()): DecisionEvent {
  return {
    kind: "decision",
    time: time.toISOString(),
    decision_id: randomUUID(),
    tenant: "acme",
    agent: "agent-1",
    server: "files",
    tool: i % 3 === 0 ? "delete_file" : "read_file",
    disposition: i % 3 === 0 ? "blocked" : "allowed",
    stage: i % 3 === 0 ? "policy" : null,
    code: i % 3 === 0 ? "policy_block" : null,
    reason: i % 3 === 0 ? `deleting is not allowed "here" \\ ünïcødé ${i}` : null,
    token_ids: ["r4nd0m1d0000000000000a", "r4nd0m1d0000000000000b"],
    arguments: { names: ["path"], sha256: "ab".repeat(32), values: null },
    cost: 1,
    policy: { version: "0123456789ab", decision: i % 3 === 0 ? "block" : "allow", dry_run: false, requires_step_up: false },
    ocsf: OCSF,
    ...overrides,
  };
}

/** `count` chained record lines of `stream` after `head`, and the new head. */
export function chainedLines(stream: string, count: number, keys: AuditKeys, head: ChainHead = EMPTY_HEAD, event = decisionEvent): { lines: string[]; head: ChainHead } {
  const lines: string[] = [];
  let h = head;
  for (let i = 0; i < count; i++) {
    const { record, line } = chainRecord(event(h.seq + 1), stream, h, keys.chainKey);
    lines.push(line);
    h = { seq: record.seq, hash: record.hash };
  }
  return { lines, head: h };
}

export function checkpointLine(stream: string, head: ChainHead, keys: AuditKeys, time = new Date()): string {
  return canonicalize(signCheckpoint({ stream, ...head }, time, keys.keyId, keys.signingKey));
}

export async function collect<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const row of rows) out.push(row);
  return out;
}

/** Reads a stream and its checkpoints back from the store and verifies them (MACs included). */
export async function verifyStored(store: AuditStore, stream: string, keys: AuditKeys): Promise<StreamReport & { rows: StoredRow[] }> {
  const rows = await collect(store.readStream(stream));
  const report = verifyStream(stream, rows, await store.checkpoints(stream), { chainKey: keys.chainKey, publicKeys: new Map([[keys.keyId, keys.publicKey]]) });
  return { ...report, rows };
}

export function readAuditKeys(file: string): AuditKeys {
  return AuditKeys.fromFile(JSON.parse(readFileSync(file, "utf8")));
}

/** Segment file names still in a spool folder. */
export function spoolSegments(spoolDir: string): string[] {
  return readdirSync(spoolDir).filter((name) => /^seg-\d{12}\.ndjson$/.test(name)).sort();
}
