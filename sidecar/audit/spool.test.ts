// The spool's shipper-facing side: readAfter finds lines by position across segment files (and
// reads on from where it stopped), and pendingBytes counts exactly what is not acknowledged.
import assert from "node:assert/strict";
import { constants, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { AuditKeys, OCSF, type AuditRecord, type OutcomeEvent } from "../../wire/audit/index.ts";
import { openFlags } from "../../test/support/fd-flags.ts";
import { AuditSpool } from "./spool.ts";

const keys = AuditKeys.fromFile(AuditKeys.generateFile("spool-test"));

const event = (i: number): OutcomeEvent => ({
  kind: "outcome",
  time: new Date(0).toISOString(),
  decision_id: `d-${i}`,
  tenant: "t",
  agent: "a",
  server: "s",
  // Lines of different lengths, some with multi-byte characters.
  tool: `tool-${"é".repeat(i % 7)}-${i}`,
  outcome: "ok",
  duration_ms: i,
  ocsf: OCSF,
});

async function filled(count: number, maxSegmentBytes: number): Promise<{ spool: AuditSpool; dir: string; lines: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "intentgate-spool-"));
  const spool = AuditSpool.open({ dir, stream: "s", chainKey: keys.chainKey, maxSegmentBytes, maxBatch: 7 });
  for (let i = 0; i < count; i += 10) await Promise.all(Array.from({ length: Math.min(10, count - i) }, (_, k) => spool.append(event(i + k))));
  const lines = readdirSync(dir)
    .filter((n) => n.startsWith("seg-"))
    .sort()
    .flatMap((n) => readFileSync(join(dir, n), "utf8").split("\n").filter(Boolean));
  return { spool, dir, lines };
}

const bytes = (lines: string[]): number => lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);

test("readAfter returns the lines after any seq, in order, across segments, whatever the batch size", async () => {
  const { spool, lines } = await filled(300, 2048);
  assert.ok(spool.segments().length > 10);
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as AuditRecord).seq), Array.from({ length: 300 }, (_, i) => i + 1));
  for (const after of [0, 1, 17, 18, 150, 299, 300]) {
    for (const limit of [1, 7, 64, 1000]) assert.deepEqual(spool.readAfter(after, limit), lines.slice(after, after + limit), `after ${after}, limit ${limit}`);
  }
  // Sequential reads (the shipper's pattern) resume from the cursor and see what was appended since.
  const seen: string[] = [];
  for (let after = 0; ; ) {
    const batch = spool.readAfter(after, 13);
    if (batch.length === 0) break;
    seen.push(...batch);
    after += batch.length;
    if (after === 260) {
      await Promise.all(Array.from({ length: 25 }, (_, k) => spool.append(event(300 + k))));
    }
  }
  assert.equal(seen.length, 325);
  assert.deepEqual(seen.slice(0, 300), lines);
  assert.deepEqual(seen.slice(300).map((l) => (JSON.parse(l) as AuditRecord).seq), Array.from({ length: 25 }, (_, i) => 301 + i));
  await spool.close();
});

test("pendingBytes counts the bytes after the acknowledged head, also after a reopen; whole acknowledged segments are deleted", async () => {
  const { spool, dir, lines } = await filled(120, 4096);
  assert.equal(spool.pendingBytes(), bytes(lines));
  const before = spool.segments().length;
  const at = (seq: number) => ({ seq, hash: (JSON.parse(lines[seq - 1] as string) as AuditRecord).hash });
  spool.readAfter(0, 50);
  spool.acknowledge(at(50));
  assert.equal(spool.pendingBytes(), bytes(lines.slice(50)));
  assert.ok(spool.segments().length < before);
  assert.ok(spool.segments()[0]!.firstSeq <= 51, "the segment holding seq 51 stays");
  spool.acknowledge(at(77)); // without a read first: found by scanning
  assert.equal(spool.pendingBytes(), bytes(lines.slice(77)));
  await spool.close();
  const reopened = AuditSpool.open({ dir, stream: "ignored", chainKey: keys.chainKey, maxSegmentBytes: 4096 });
  assert.equal(reopened.stream, "s");
  assert.deepEqual(reopened.head, at(120));
  assert.equal(reopened.pendingBytes(), bytes(lines.slice(77)));
  assert.deepEqual(reopened.readAfter(0, 1000).slice(-43), lines.slice(77));
  reopened.acknowledge(at(120));
  assert.equal(reopened.pendingBytes(), 0);
  assert.equal(reopened.segments().length, 1, "the last segment is kept: it holds the head");
  await reopened.close();
});

test("a spool over maxSpoolBytes refuses new records until enough is acknowledged", async () => {
  const dir = mkdtempSync(join(tmpdir(), "intentgate-spool-"));
  const spool = AuditSpool.open({ dir, stream: "s", chainKey: keys.chainKey, maxSpoolBytes: 2000, maxSegmentBytes: 1024 });
  let refused = 0;
  for (let i = 0; i < 40 && refused === 0; i++) await spool.append(event(i)).catch(() => refused++);
  assert.equal(refused, 1);
  assert.ok(spool.pendingBytes() > 2000);
  const lines = spool.readAfter(0, 1000);
  const last = JSON.parse(lines.at(-1) as string) as AuditRecord;
  spool.acknowledge({ seq: last.seq, hash: last.hash });
  assert.equal(spool.pendingBytes(), 0);
  const next = await spool.append(event(99));
  assert.equal(next.seq, last.seq + 1);
  await spool.close();
});

test("segments are written with O_DSYNC (durable when the write returns, no separate fdatasync)", async () => {
  const { spool, dir } = await filled(30, 2048);
  const current = spool.segments().at(-1)?.name ?? "";
  const flags = openFlags(join(dir, current));
  assert.equal(flags.length, 1);
  assert.ok(((flags[0] as number) & constants.O_DSYNC) !== 0);
  assert.ok(((flags[0] as number) & constants.O_APPEND) !== 0);
  await spool.close();
});
