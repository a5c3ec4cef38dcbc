// Audit ingest throughput (records/s): the shipper's batch insert (one unnest() INSERT ... ON
// CONFLICT DO NOTHING per batch, in one transaction) into a real PostgreSQL server (a fresh local
// cluster, fsync on) and into PGlite, against the naive baseline of one autocommitted INSERT per
// record, measured in the same run; plus the whole shipper (read the fsynced spool, insert,
// acknowledge, delete segments) and a re-ship of stored records (what a restart costs). About two
// minutes.
// Only the database side is timed: records are chained (and spools filled) before the clock starts.
//   node bench/audit-ingest.ts [records per run, default 20000]
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { AuditShipper } from "../sidecar/audit/shipper.ts";
import { AuditSpool } from "../sidecar/audit/spool.ts";
import { PgAuditStore, PgliteAuditStore, type AuditStore } from "../sidecar/audit/store/index.ts";
import { chainedLines, decisionEvent, testAuditKeys } from "../test/support/audit.ts";
import { startPostgres } from "../test/support/postgres.ts";

const RECORDS = Number(process.argv[2] ?? 20_000);
const BASELINE_RECORDS = 2_000;
const RUNS = 3;
const keys = testAuditKeys("bench");
let streams = 0;

interface Row {
  target: string;
  method: string;
  records: number;
  perSecond: number[];
}
const rows: Row[] = [];

/** RUNS times: `setup` a fresh stream (untimed), then time `run`. */
async function measure<T>(target: string, method: string, records: number, setup: (stream: string) => Promise<T> | T, run: (input: T) => Promise<void>): Promise<void> {
  const perSecond: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const input = await setup(`bench-${++streams}`);
    const started = process.hrtime.bigint();
    await run(input);
    perSecond.push(records / (Number(process.hrtime.bigint() - started) / 1e9));
  }
  rows.push({ target, method, records, perSecond });
  console.error(`${target} | ${method}: ${Math.round(median(perSecond))} records/s`);
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
}

async function inBatches(store: AuditStore, lines: string[], batch: number): Promise<void> {
  for (let i = 0; i < lines.length; i += batch) await store.insertRecords(lines.slice(i, i + batch));
}

async function benchStore(target: string, store: AuditStore, oneRow: (line: string) => Promise<void>): Promise<void> {
  await store.migrate();
  const fresh = (count: number) => (stream: string) => chainedLines(stream, count, keys).lines;
  await measure(target, "baseline: one autocommitted INSERT per record", BASELINE_RECORDS, fresh(BASELINE_RECORDS), async (lines) => {
    for (const line of lines) await oneRow(line);
  });
  for (const batch of [100, 500, 2000]) {
    await measure(target, `insertRecords, batches of ${batch}${batch === 500 ? " (the shipper's default)" : ""}`, RECORDS, fresh(RECORDS), (lines) => inBatches(store, lines, batch));
  }
  await measure(
    target,
    "re-ship of records already stored, batches of 500 (after a restart)",
    RECORDS,
    async (stream) => {
      const lines = chainedLines(stream, RECORDS, keys).lines;
      await inBatches(store, lines, 500);
      return lines;
    },
    (lines) => inBatches(store, lines, 500),
  );
  await measure(
    target,
    "shipper.drain(): read the fsynced spool, insert (500), acknowledge, delete segments",
    RECORDS,
    async (stream) => {
      const dir = mkdtempSync(join(tmpdir(), "intentgate-bench-spool-"));
      const spool = AuditSpool.open({ dir, stream, chainKey: keys.chainKey });
      for (let i = 0; i < RECORDS; i += 256) await Promise.all(Array.from({ length: Math.min(256, RECORDS - i) }, (_, k) => spool.append(decisionEvent(i + k))));
      await spool.close();
      return { dir, shipper: new AuditShipper({ spool, store, log: pino({ level: "silent" }), batch: 500 }) };
    },
    async ({ dir, shipper }) => {
      await shipper.drain();
      rmSync(dir, { recursive: true, force: true });
    },
  );
}

const postgres = await startPostgres();
try {
  const pg = new PgAuditStore(postgres.url);
  try {
    await benchStore("PostgreSQL 15, local, fsync on", pg, async (line) => {
      const r = JSON.parse(line) as Record<string, string | number | null>;
      await pg.pool.query(
        "INSERT INTO intentgate_audit_records (stream, seq, time, tenant, agent, server, tool, kind, disposition, decision_id, line) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (stream, seq) DO NOTHING",
        [r["stream"], r["seq"], r["time"], r["tenant"], r["agent"], r["server"], r["tool"], r["kind"], r["disposition"], r["decision_id"], line],
      );
    });
  } finally {
    await pg.close();
  }
} finally {
  postgres.destroy();
}

const liteDir = mkdtempSync(join(tmpdir(), "intentgate-bench-pglite-"));
const lite = new PgliteAuditStore(join(liteDir, "db"));
try {
  // The store is all there is to PGlite here: a batch of one is its row-at-a-time path.
  await benchStore("PGlite 0.5, in-process", lite, (line) => lite.insertRecords([line]).then(() => undefined));
} finally {
  await lite.close();
  rmSync(liteDir, { recursive: true, force: true });
}

const fmt = (n: number): string => Math.round(n).toLocaleString("en");
console.log(`Audit ingest: ${RECORDS.toLocaleString("en")} records per run (${BASELINE_RECORDS.toLocaleString("en")} for the baseline), median and range of ${RUNS} runs; ${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}, Node ${process.version}.\n`);
console.log("| target | method | records/s | range |");
console.log("|---|---|---:|---:|");
for (const r of rows) {
  const sorted = [...r.perSecond].sort((a, b) => a - b);
  console.log(`| ${r.target} | ${r.method} | ${fmt(median(r.perSecond))} | ${fmt(sorted[0] as number)}-${fmt(sorted.at(-1) as number)} |`);
}
