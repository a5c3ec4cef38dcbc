// Outcome records share the write of the next decision record (no call waits on them), and are
// never left unwritten: a timer writes them when no decision comes, and close() writes the rest.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { AuditKeys, OCSF, type ChainHead, type DecisionEvent, type OutcomeEvent } from "../../wire/audit/index.ts";
import { AuditLog } from "./log.ts";
import { AuditSpool } from "./spool.ts";

const keys = AuditKeys.fromFile(AuditKeys.generateFile("log-test"));
const base = { time: new Date(0).toISOString(), tenant: "t", agent: "a", server: "s", tool: "x", ocsf: OCSF };
const outcome = (id: string): OutcomeEvent => ({ ...base, kind: "outcome", decision_id: id, outcome: "ok", duration_ms: 1 });
const decision = (id: string): DecisionEvent => ({
  ...base, kind: "decision", decision_id: id, disposition: "allowed", stage: null, code: null, reason: null, token_ids: null,
  arguments: { names: [], sha256: null, values: null }, cost: null, policy: null,
});

function open(outcomeDelayMs: number): { log: AuditLog; spool: AuditSpool; writes: ChainHead[] } {
  const spool = AuditSpool.open({ dir: mkdtempSync(join(tmpdir(), "intentgate-log-")), stream: "s", chainKey: keys.chainKey });
  const writes: ChainHead[] = [];
  spool.onDurable((head) => writes.push(head));
  const log = new AuditLog({ spool, keys, checkpointEvery: 1_000_000, checkpointIntervalMs: 3_600_000, storeArgumentValues: false, outcomeDelayMs });
  return { log, spool, writes };
}

const kinds = (spool: AuditSpool): string[] => spool.readAfter(0, 100).map((line) => (JSON.parse(line) as { kind: string }).kind);

void test("an outcome record rides in the next decision record's write, ahead of it", async () => {
  const { log, spool, writes } = open(60_000);
  const first = log.append(outcome("d-1"));
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(writes, [], "the outcome waits for a decision (or its timer)");
  const [o, d] = await Promise.all([first, log.append(decision("d-2"))]);
  assert.equal(writes.length, 1, "one write for both records");
  assert.deepEqual([o.seq, d.seq], [1, 2]);
  assert.deepEqual(kinds(spool), ["outcome", "decision"]);
  await log.close();
});

void test("with no decision coming, outcome records are written together once the delay is over", async () => {
  const { log, spool, writes } = open(30);
  const records = await Promise.all([log.append(outcome("d-1")), log.append(outcome("d-2"))]);
  assert.deepEqual(records.map((r) => r.seq), [1, 2]);
  assert.equal(writes.length, 1);
  assert.deepEqual(kinds(spool), ["outcome", "outcome"]);
  await log.close();
});

void test("close() writes the outcome records still waiting", async () => {
  const { log, spool } = open(60_000);
  const waiting = log.append(outcome("d-1"));
  await log.close();
  assert.equal((await waiting).seq, 1);
  assert.deepEqual(kinds(spool), ["outcome"]);
});

// The outcome delay is 60 s and the test's own limit 10 s: a decision that waited for the delay fails it.
void test("a decision record is queued at once: it never waits for the outcome delay", { timeout: 10_000 }, async () => {
  const { log, writes } = open(60_000);
  await log.append(decision("d-1"));
  assert.equal(writes.length, 1);
  await log.close();
});
