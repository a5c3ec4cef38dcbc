// kill -9 of a sidecar process under load, twice, then a restart on the same spool: the stream in
// PostgreSQL is whole (no gap, no duplicate, every MAC and checkpoint verifies) and every call a
// client got an answer for has its decision record, with the outcome the client saw.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { PgAuditStore } from "../../sidecar/audit/store/index.ts";
import { KeyRing, mintToken } from "../../wire/index.ts";
import { AuditKeys } from "../../wire/audit/index.ts";
import { verifyStored } from "../support/audit.ts";
import { ROOT } from "../support/gateway.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import { startRecordingUpstream } from "../support/recording-upstream.ts";
import { outcomeOf, postRpc, toolCall } from "../support/rpc.ts";
import { spawnSidecar, type SidecarProcess } from "../support/sidecar-process.ts";

let postgres: TestPostgres;
let store: PgAuditStore;
before(async () => {
  postgres = await startPostgres();
  store = new PgAuditStore(postgres.url);
});
after(async () => {
  await store.close();
  postgres.destroy();
});

/** Calls from `workers` clients until `until` resolves or the sidecar stops answering; the answers they got. */
async function load(sidecar: SidecarProcess, token: string, prefix: string, answered: Map<string, string>, until: (count: number) => boolean): Promise<void> {
  let n = 0;
  let stop = false;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (!stop) {
        const i = n++;
        const nonce = `${prefix}-${i}`;
        const tool = i % 5 === 4 ? "delete_file" : "read_file";
        let outcome: string;
        try {
          outcome = outcomeOf(await postRpc(`${sidecar.url}/mcp/files`, toolCall(i, tool, { path: `/data/${nonce}` }), token));
        } catch {
          return; // the process is gone: this call got no answer
        }
        answered.set(nonce, outcome);
        if (until(answered.size)) stop = true;
      }
    }),
  );
}

test("kill -9 under load and restart: the chain is whole and every answered call has its decision record", async () => {
  const dir = mkdtempSync(join(tmpdir(), "intentgate-crash-"));
  const keyFile = KeyRing.generateFile("k1");
  writeFileSync(join(dir, "keys.json"), JSON.stringify(keyFile), { mode: 0o600 });
  const auditKeys = AuditKeys.generateFile("audit-crash");
  writeFileSync(join(dir, "audit-keys.json"), JSON.stringify(auditKeys), { mode: 0o600 });
  const upstream = await startRecordingUpstream();
  const config = {
    tenant: "acme",
    agent: "agent-1",
    listen: { host: "127.0.0.1", port: 0 },
    admin: { host: "127.0.0.1", port: 0 },
    keys: "keys.json",
    upstreams: [{ name: "files", url: upstream.url }],
    policy: { bundle: join(ROOT, "policies/default/build/policy.wasm") },
    audit: {
      spool: "audit-spool",
      keys: "audit-keys.json",
      stream: "crash",
      storeArgumentValues: true,
      checkpointEvery: 40,
      database: { urlEnv: "INTENTGATE_TEST_AUDIT_DATABASE", retryMaxMs: 200 },
    },
    logLevel: "info",
  };
  writeFileSync(join(dir, "sidecar.json"), JSON.stringify(config));
  const env = { ...process.env, INTENTGATE_TEST_AUDIT_DATABASE: postgres.url };
  const token = mintToken(KeyRing.fromFile(keyFile), { tenant: "acme", subject: "agent-1", caveats: [{ type: "tools", allow: ["files.*"] }], issuedAt: Math.floor(Date.now() / 1000) });
  const answered = new Map<string, string>();
  try {
    // Two runs killed with SIGKILL while 16 clients are mid-call (the kill lands while calls are
    // in flight, records are being fsynced and batches shipped), then one that stops cleanly.
    for (const run of ["first", "second"]) {
      const sidecar = await spawnSidecar(join(dir, "sidecar.json"), env);
      const target = answered.size + 400;
      let killed: Promise<void> | undefined;
      await load(sidecar, token, run, answered, (count) => {
        killed ??= count >= target ? sidecar.kill9() : undefined;
        return false;
      });
      await killed;
      assert.equal(sidecar.child.signalCode, "SIGKILL");
    }
    const last = await spawnSidecar(join(dir, "sidecar.json"), env);
    const target = answered.size + 100;
    await load(last, token, "third", answered, (count) => count >= target);
    assert.equal(await last.stop(), 0);
  } finally {
    await upstream.close();
  }

  const keys = AuditKeys.fromFile(auditKeys);
  const report = await verifyStored(store, "crash", keys);
  assert.equal(report.break, undefined, JSON.stringify(report.break));
  assert.equal(report.head.seq, report.records, "no gap: seqs run 1..n");
  assert.ok(report.records >= answered.size, `${report.records} records for ${answered.size} answers`);
  assert.ok(report.checkpoints >= 2);
  // Every answered call: exactly one decision record, saying what the client was told.
  const recorded = new Map<string, string[]>();
  for (const { line } of report.rows) {
    const r = JSON.parse(line) as { kind: string; code: string | null; arguments: { values: { path: string } } };
    if (r.kind !== "decision") continue;
    const nonce = r.arguments.values.path.slice("/data/".length);
    recorded.set(nonce, [...(recorded.get(nonce) ?? []), r.code ?? "allowed"]);
  }
  assert.ok(answered.size >= 900);
  for (const [nonce, outcome] of answered) assert.deepEqual(recorded.get(nonce), [outcome], `call ${nonce} (answered ${outcome})`);
  assert.ok([...answered.values()].includes("policy_blocked"), "refusals are among the answered calls");
  const { rows } = await store.pool.query("SELECT kind, decision_id FROM intentgate_audit_records WHERE stream = 'crash' GROUP BY kind, decision_id HAVING count(*) > 1");
  assert.deepEqual(rows, [], "no decision (or outcome) recorded twice");
});
