// Standalone mode's embedded audit database: a sidecar configured with `audit.database.embedded`
// ships its spool into PGlite (the same SQL as PostgreSQL, in-process); the stream verifies over
// what PGlite returns, across a restart of the sidecar on the same spool and data folder.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { PgliteAuditStore } from "../../sidecar/audit/store/index.ts";
import { readAuditKeys, spoolSegments, verifyStored } from "../support/audit.ts";
import { ROOT, startGateway, type Gateway } from "../support/gateway.ts";
import { startRecordingUpstream } from "../support/recording-upstream.ts";
import { eventually, outcomeOf, postRpc, toolCall } from "../support/rpc.ts";

async function run(dir: string | undefined, prefix: string, count: number, answered: Map<string, string>): Promise<Gateway> {
  const upstream = await startRecordingUpstream();
  const at = (name: string): string => (dir === undefined ? name : join(dir, name));
  const gw = await startGateway({
    policy: "default",
    upstreamUrl: upstream.url,
    config: {
      audit: { spool: at("audit-spool"), keys: at("audit-keys.json"), stream: "embedded", storeArgumentValues: true, checkpointEvery: 10, database: { embedded: at("audit-db") } },
    },
  });
  try {
    const token = gw.mint();
    for (let i = 0; i < count; i++) {
      const nonce = `${prefix}-${i}`;
      answered.set(nonce, outcomeOf(await postRpc(`${gw.sidecar.url}/mcp/files`, toolCall(i, i % 4 === 3 ? "delete_file" : "read_file", { path: `/data/${nonce}` }), token)));
    }
    const metrics = async (): Promise<string> => (await fetch(`${gw.sidecar.adminUrl}/metrics`)).text();
    assert.ok(await eventually(async () => /^intentgate_audit_spool_pending_bytes 0$/m.test(await metrics()), 10_000), "the spool drains into PGlite");
    assert.match(await metrics(), /^intentgate_audit_database_up 1$/m);
  } finally {
    await gw.close();
    await upstream.close();
  }
  return gw;
}

/** The stream's head as the embedded database holds it (the sidecar is closed: one process per folder). */
async function headOf(dir: string): Promise<number> {
  const store = new PgliteAuditStore(join(dir, "audit-db"));
  try {
    return (await verifyStored(store, "embedded", readAuditKeys(join(dir, "audit-keys.json")))).head.seq;
  } finally {
    await store.close();
  }
}

test("a sidecar with an embedded PGlite database ships every record and checkpoint; a restart continues the stream", async () => {
  const answered = new Map<string, string>();
  const first = await run(undefined, "one", 30, answered);
  const dir = first.dir;
  const firstHead = await headOf(dir);
  await run(dir, "two", 20, answered);
  const resumed = `seg-${String(firstHead + 1).padStart(12, "0")}.ndjson`;
  assert.deepEqual(spoolSegments(join(dir, "audit-spool")), [resumed], "the first run's segment was deleted once shipped");

  const store = new PgliteAuditStore(join(dir, "audit-db"));
  try {
    const report = await verifyStored(store, "embedded", readAuditKeys(join(dir, "audit-keys.json")));
    assert.equal(report.break, undefined, JSON.stringify(report.break));
    assert.equal(report.records, report.head.seq);
    assert.ok(report.head.seq > firstHead);
    assert.ok(report.macChecked);
    const checkpoints = await store.checkpoints("embedded");
    assert.equal(checkpoints.at(-1)?.seq, report.head.seq);
    const decisions = report.rows.map(({ line }) => JSON.parse(line) as { kind: string; code: string | null; arguments: { values: { path: string } } }).filter((r) => r.kind === "decision");
    const recorded = new Map(decisions.map((r) => [r.arguments.values.path.slice("/data/".length), r.code ?? "allowed"]));
    assert.equal(decisions.length, 50);
    assert.deepEqual(recorded, answered);
    assert.deepEqual(await store.streams(), ["embedded"]);
  } finally {
    await store.close();
  }
});

test("intentgate audit verify reads the embedded database: intact passes, an edited row is found", async () => {
  const answered = new Map<string, string>();
  const gw = await run(undefined, "cli", 6, answered);
  const db = join(gw.dir, "audit-db");
  const keys = join(gw.dir, "audit-keys.json");
  const verify = (): { status: number | null; report: { ok: boolean; streams: Array<{ break: { seq: number; kind: string } | null }> } } => {
    const r = spawnSync(process.execPath, [join(ROOT, "cli/main.ts"), "audit", "verify", "--embedded", db, "--keys", keys], { encoding: "utf8" });
    return { status: r.status, report: JSON.parse(r.stdout) as never };
  };
  const clean = verify();
  assert.equal(clean.status, 0);
  assert.equal(clean.report.ok, true);
  const { PGlite } = await import("@electric-sql/pglite");
  const raw = await PGlite.create(db);
  try {
    await raw.query("UPDATE intentgate_audit_records SET line = replace(line, '\"read_file\"', '\"list_files\"') WHERE stream = 'embedded' AND seq = 3");
  } finally {
    await raw.close();
  }
  const tampered = verify();
  assert.equal(tampered.status, 1);
  assert.deepEqual(tampered.report.streams.map((s) => s.break && [s.break.seq, s.break.kind]), [[3, "modified"]]);
});
