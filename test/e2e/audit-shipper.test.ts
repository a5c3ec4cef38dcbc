// The shipper between a real spool and a real PostgreSQL server, without a sidecar around it:
// many small segments drained and deleted, a restart that re-ships without duplicates, a database
// that disagrees (nothing acknowledged, nothing deleted), an outage logged once and recovered
// from, a close that gives up in time, and checkpoints.ndjson compacted without re-signing.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { Writable } from "node:stream";
import { after, before, test } from "node:test";
import { pino, type Logger } from "pino";
import { AuditLog } from "../../sidecar/audit/log.ts";
import { AuditShipper, type ShipperObserver } from "../../sidecar/audit/shipper.ts";
import { AuditSpool } from "../../sidecar/audit/spool.ts";
import { PgAuditStore } from "../../sidecar/audit/store/index.ts";
import type { AuditKeys } from "../../wire/audit/index.ts";
import { chainedLines, decisionEvent, spoolSegments, testAuditKeys, verifyStored } from "../support/audit.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import { eventually } from "../support/rpc.ts";

let postgres: TestPostgres;
let store: PgAuditStore;
const keys = testAuditKeys();
before(async () => {
  postgres = await startPostgres();
  store = new PgAuditStore(postgres.url);
  await store.migrate();
});
after(async () => {
  await store.close();
  postgres.destroy();
});

function capture(): { log: Logger; messages: (text: string) => number } {
  const lines: Array<{ msg: string }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line) as { msg: string });
      done();
    },
  });
  return { log: pino({ level: "debug" }, sink), messages: (text) => lines.filter((l) => l.msg.includes(text)).length };
}

function counting(): ShipperObserver & { records: number; checkpoints: number; failures: number; up: boolean[] } {
  const o = {
    records: 0,
    checkpoints: 0,
    failures: 0,
    up: [] as boolean[],
    shipped(records: number, checkpoints: number) {
      o.records += records;
      o.checkpoints += checkpoints;
    },
    failed() {
      o.failures++;
    },
    database(up: boolean) {
      if (o.up.at(-1) !== up) o.up.push(up);
    },
  };
  return o;
}

function openSpool(stream: string, dir = mkdtempSync(join(tmpdir(), "intentgate-shipper-")), k: AuditKeys = keys): { spool: AuditSpool; audit: AuditLog; dir: string } {
  const spool = AuditSpool.open({ dir, stream, chainKey: k.chainKey, maxSegmentBytes: 4096 });
  const audit = new AuditLog({ spool, keys: k, checkpointEvery: 25, checkpointIntervalMs: 3_600_000, storeArgumentValues: false });
  return { spool, audit, dir };
}

async function append(audit: AuditLog, count: number): Promise<void> {
  for (let i = 0; i < count; i += 10) await Promise.all(Array.from({ length: Math.min(10, count - i) }, (_, k) => audit.append(decisionEvent(i + k))));
}

async function stored(stream: string): Promise<number> {
  const { rows } = await store.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM intentgate_audit_records WHERE stream = $1", [stream]);
  return rows[0]?.n ?? 0;
}

test("drains many segments, deleting each once acknowledged; a restarted shipper re-ships the rest without duplicates", async () => {
  const { spool, audit, dir } = openSpool("drain");
  await append(audit, 500);
  assert.ok(spool.segments().length >= 40);
  const observer = counting();
  const shipper = new AuditShipper({ spool, store, log: capture().log, batch: 64, intervalMs: 50, observer });
  await shipper.start();
  const signed = readFileSync(join(dir, "checkpoints.ndjson"), "utf8").split("\n").filter(Boolean).length;
  assert.ok(signed >= 10);
  assert.ok(await eventually(async () => spool.pendingBytes() === 0 && observer.checkpoints === signed));
  assert.equal(spool.segments().length, 1, "every segment but the current one is deleted");
  assert.equal(observer.records, 500);
  await shipper.close();

  const again = counting();
  const restarted = new AuditShipper({ spool, store, log: capture().log, batch: 64, observer: again });
  await restarted.drain();
  assert.equal(again.records, 0, "what was already stored is not stored again");
  assert.equal(await stored("drain"), 500);
  await append(audit, 7);
  await restarted.drain();
  assert.equal(again.records, 7);
  await restarted.close();
  await audit.close();
  const report = await verifyStored(store, "drain", keys);
  assert.equal(report.break, undefined, JSON.stringify(report.break));
  assert.equal(report.records, 507);
});

test("a database holding different records for the stream is a conflict: nothing acknowledged or deleted, logged once", async () => {
  await store.insertRecords(chainedLines("clash", 5, keys).lines);
  const { spool, audit, dir } = openSpool("clash");
  await append(audit, 40);
  const pending = spool.pendingBytes();
  const segments = spoolSegments(dir);
  const { log, messages } = capture();
  const observer = counting();
  const shipper = new AuditShipper({ spool, store, log, retryInitialMs: 10, retryMaxMs: 20, observer });
  await shipper.start();
  assert.ok(await eventually(async () => observer.failures >= 5));
  await shipper.close();
  await audit.close();
  assert.equal(messages("audit database refused a shipment"), 1);
  assert.deepEqual(observer.up, [true], "the database was reachable: it refused");
  assert.equal(observer.records, 0);
  assert.equal(spool.pendingBytes(), pending);
  assert.deepEqual(spoolSegments(dir), segments);
  assert.equal(await stored("clash"), 5);
});

test("PostgreSQL going away: one error log for the outage, retries with backoff, one log when shipping resumes, nothing lost", async () => {
  const { spool, audit } = openSpool("outage");
  const { log, messages } = capture();
  const observer = counting();
  const shipper = new AuditShipper({ spool, store, log, retryInitialMs: 20, retryMaxMs: 100, intervalMs: 50, observer });
  await shipper.start();
  await append(audit, 50);
  assert.ok(await eventually(async () => (await stored("outage")) === 50));
  postgres.stop("fast");
  try {
    await append(audit, 50);
    assert.ok(await eventually(async () => observer.failures >= 6));
    assert.ok(spool.pendingBytes() > 0);
  } finally {
    postgres.start();
  }
  assert.ok(await eventually(async () => (await stored("outage")) === 100, 10_000));
  assert.ok(await eventually(async () => messages("audit shipping resumed") === 1));
  assert.equal(messages("audit database unavailable"), 1);
  assert.deepEqual(observer.up, [true, false, true]);
  await shipper.close();
  await audit.close();
  const report = await verifyStored(store, "outage", keys);
  assert.equal(report.break, undefined, JSON.stringify(report.break));
  assert.equal(report.records, 100);
});

test("an idle shipper still notices the database going away and coming back (the database-up gauge follows it)", async () => {
  const { spool, audit } = openSpool("idle-probe");
  const observer = counting();
  const shipper = new AuditShipper({ spool, store, log: capture().log, retryInitialMs: 20, retryMaxMs: 100, intervalMs: 50, probeEveryMs: 200, observer });
  await shipper.start();
  await append(audit, 5);
  assert.ok(await eventually(async () => (await stored("idle-probe")) === 5));
  postgres.stop("fast");
  try {
    assert.ok(await eventually(async () => observer.up.at(-1) === false), "nothing to ship, yet the outage is seen");
  } finally {
    postgres.start();
  }
  assert.ok(await eventually(async () => observer.up.at(-1) === true, 10_000), "and so is the recovery");
  assert.deepEqual(observer.up, [true, false, true]);
  await shipper.close();
  await audit.close();
});

test("a database that hangs holds up neither start() nor close(): both give up at their deadlines, the records stay in the spool", { timeout: 30_000 }, async () => {
  // Accepts connections and never answers: connecting would take the pool's full timeout (60 s here).
  const sockets = new Set<Socket>();
  const blackHole = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => blackHole.listen(0, "127.0.0.1", resolve));
  const { port } = blackHole.address() as AddressInfo;
  const { spool, audit } = openSpool("hanging");
  await append(audit, 5);
  const hanging = new PgAuditStore(`postgres://intentgate@127.0.0.1:${port}/none`, { connectTimeoutMs: 60_000 });
  const { log, messages } = capture();
  const shipper = new AuditShipper({ spool, store: hanging, log, startWaitMs: 200, closeDeadlineMs: 300 });
  try {
    await shipper.start();
    await shipper.close();
    assert.equal(messages("audit records left in the spool at shutdown"), 1);
    assert.equal(spool.readAfter(0, 100).length, 5);
    assert.ok(spool.pendingBytes() > 0);
  } finally {
    for (const socket of sockets) socket.destroy();
    blackHole.close();
    await hanging.close();
    await audit.close();
  }
});

test("checkpoints.ndjson is compacted once shipped, keeping its last line, so a restarted log does not sign the same head twice", async () => {
  const k = testAuditKeys("audit-compact");
  const first = openSpool("compact", undefined, k);
  const file = join(first.dir, "checkpoints.ndjson");
  const observer = counting();
  const shipper = new AuditShipper({ spool: first.spool, store, log: capture().log, compactCheckpointsAt: 2000, observer });
  for (let i = 0; i < 40; i++) {
    await first.audit.append(decisionEvent(i));
    await first.audit.checkpoint();
    if (i % 10 === 9) await shipper.drain();
  }
  await shipper.drain();
  assert.equal(observer.checkpoints, 40);
  const kept = readFileSync(file, "utf8").split("\n").filter(Boolean);
  assert.ok(kept.length < 20, `compacted to ${kept.length} lines`);
  assert.equal((JSON.parse(kept.at(-1) as string) as { seq: number }).seq, 40);
  await shipper.close();
  await first.audit.close();

  const second = openSpool("compact", first.dir, k);
  assert.equal(await second.audit.checkpoint(), undefined, "head 40 is already signed");
  await second.audit.append(decisionEvent(41));
  const resumed = counting();
  const next = new AuditShipper({ spool: second.spool, store, log: capture().log, observer: resumed });
  await second.audit.close(); // signs seq 41
  await next.drain();
  assert.equal(resumed.failures, 0);
  assert.equal(resumed.checkpoints, 1);
  const report = await verifyStored(store, "compact", k);
  assert.equal(report.break, undefined, JSON.stringify(report.break));
  assert.equal(report.checkpoints, 41);
});
