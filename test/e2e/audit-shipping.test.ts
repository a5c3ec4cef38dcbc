// The spool shipped into a real PostgreSQL server by a running sidecar: records and checkpoints
// arrive and verify, acknowledged segments are deleted, a database that goes away (during a burst,
// or before start-up) costs nothing but spool space, and a full spool refuses calls.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PgAuditStore } from "../../sidecar/audit/store/index.ts";
import { readAuditKeys, spoolSegments, verifyStored } from "../support/audit.ts";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import { startRecordingUpstream } from "../support/recording-upstream.ts";
import { eventually, outcomeOf, postRpc, toolCall } from "../support/rpc.ts";

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

interface Setup {
  gw: Gateway;
  forwarded: () => number;
  close: () => Promise<void>;
}

async function gateway(stream: string, audit: Record<string, unknown> = {}, dir?: string): Promise<Setup> {
  const upstream = await startRecordingUpstream();
  const gw = await startGateway({
    policy: "default",
    upstreamUrl: upstream.url,
    config: {
      audit: {
        spool: dir === undefined ? "audit-spool" : `${dir}/audit-spool`,
        keys: dir === undefined ? "audit-keys.json" : `${dir}/audit-keys.json`,
        stream,
        storeArgumentValues: true,
        checkpointEvery: 20,
        database: { url: postgres.url, retryMaxMs: 200 },
        ...audit,
      },
    },
  });
  return {
    gw,
    forwarded: () => upstream.requests.length,
    close: async () => {
      await gw.close();
      await upstream.close();
    },
  };
}

/** `count` calls, `concurrency` at a time; read_file is allowed, delete_file refused by policy. Returns each answered call's nonce and outcome. */
async function calls(gw: Gateway, count: number, concurrency = 8, prefix = "n"): Promise<Map<string, string>> {
  const token = gw.mint();
  const answered = new Map<string, string>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const nonce = `${prefix}-${i}`;
        const tool = i % 4 === 3 ? "delete_file" : "read_file";
        answered.set(nonce, outcomeOf(await postRpc(`${gw.sidecar.url}/mcp/files`, toolCall(i, tool, { path: `/data/${nonce}` }), token)));
      }
    }),
  );
  return answered;
}

async function metric(gw: Gateway, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${gw.sidecar.adminUrl}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
  return m === null ? undefined : Number(m[1]);
}

/** Decision records stored for the stream (a forwarded call may also have an outcome record). */
async function storedDecisions(stream: string): Promise<number> {
  const { rows } = await store.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM intentgate_audit_records WHERE stream = $1 AND kind = 'decision'", [stream]);
  return rows[0]?.n ?? 0;
}

/** Every answered call has exactly one decision record, with the outcome the client saw. */
async function assertEveryAnswerRecorded(stream: string, answered: Map<string, string>): Promise<void> {
  const { rows } = await store.pool.query<{ line: string }>("SELECT line FROM intentgate_audit_records WHERE stream = $1 AND kind = 'decision'", [stream]);
  const byNonce = new Map<string, string[]>();
  for (const { line } of rows) {
    const r = JSON.parse(line) as { disposition: string; code: string | null; arguments: { values: { path: string } } };
    const nonce = r.arguments.values.path.slice("/data/".length);
    byNonce.set(nonce, [...(byNonce.get(nonce) ?? []), r.code ?? "allowed"]);
  }
  for (const [nonce, outcome] of answered) {
    if (outcome === "audit_unavailable") {
      assert.equal(byNonce.get(nonce), undefined, `${nonce} was refused for want of a record, yet has one`);
      continue;
    }
    assert.deepEqual(byNonce.get(nonce), [outcome], `call ${nonce} (answered ${outcome})`);
  }
}

describe("shipping to PostgreSQL", () => {
  test("records and signed checkpoints arrive, verify over the database rows, and the spool is emptied", async () => {
    const s = await gateway("ship-basic");
    const keys = readAuditKeys(`${s.gw.dir}/audit-keys.json`);
    try {
      const answered = await calls(s.gw, 120);
      assert.equal([...answered.values()].filter((o) => o === "allowed").length, 90);
      assert.ok(await eventually(async () => (await storedDecisions("ship-basic")) === 120), "all 120 records reach the database");
      assert.ok(await eventually(async () => (await metric(s.gw, "intentgate_audit_spool_pending_bytes")) === 0));
      assert.ok(await eventually(async () => (await metric(s.gw, "intentgate_audit_database_up")) === 1));
      await assertEveryAnswerRecorded("ship-basic", answered);
    } finally {
      await s.close();
    }
    // The final checkpoint (signed at close) was shipped at close as well.
    const report = await verifyStored(store, "ship-basic", keys);
    assert.equal(report.break, undefined, JSON.stringify(report.break));
    assert.equal(report.records, report.head.seq);
    assert.equal(await storedDecisions("ship-basic"), 120);
    assert.ok(report.macChecked);
    const checkpoints = await store.checkpoints("ship-basic");
    assert.equal(checkpoints.at(-1)?.seq, report.head.seq);
    assert.ok(checkpoints.length >= 2);
  });

  test("a restart on the same spool re-ships without duplicates, continues the chain, and deletes the acknowledged old segment", async () => {
    const first = await gateway("ship-restart");
    const dir = first.gw.dir;
    const keys = readAuditKeys(`${dir}/audit-keys.json`);
    let answered: Map<string, string>;
    try {
      answered = await calls(first.gw, 40, 4, "a");
    } finally {
      await first.close();
    }
    assert.deepEqual(spoolSegments(`${dir}/audit-spool`), ["seg-000000000001.ndjson"]);
    const firstHead = (await verifyStored(store, "ship-restart", keys)).head.seq;
    const second = await gateway("ship-restart", {}, dir);
    try {
      for (const [k, v] of await calls(second.gw, 30, 4, "b")) answered.set(k, v);
      assert.ok(await eventually(async () => (await storedDecisions("ship-restart")) === 70));
      const resumed = `seg-${String(firstHead + 1).padStart(12, "0")}.ndjson`;
      assert.ok(await eventually(async () => spoolSegments(`${dir}/audit-spool`).join() === resumed), "the first run's segment is deleted once shipped");
    } finally {
      await second.close();
    }
    await assertEveryAnswerRecorded("ship-restart", answered);
    const report = await verifyStored(store, "ship-restart", keys);
    assert.equal(report.break, undefined, JSON.stringify(report.break));
    assert.equal(report.records, report.head.seq);
    assert.ok(report.head.seq > firstHead);
  });

  test("PostgreSQL stopped during a burst: every call is answered, the spool grows, and after the restart it all drains, nothing lost", async () => {
    const s = await gateway("ship-outage");
    const keys = readAuditKeys(`${s.gw.dir}/audit-keys.json`);
    try {
      const warm = await calls(s.gw, 20, 4, "warm");
      assert.ok(await eventually(async () => (await storedDecisions("ship-outage")) === 20));
      postgres.stop("fast");
      let answered: Map<string, string>;
      try {
        answered = await calls(s.gw, 300, 10, "burst");
        assert.equal([...answered.values()].filter((o) => o === "allowed").length, 225, "calls go on while the database is away");
        assert.equal(s.forwarded(), 15 + 225);
        assert.ok(await eventually(async () => (await metric(s.gw, "intentgate_audit_database_up")) === 0));
        const pending = (await metric(s.gw, "intentgate_audit_spool_pending_bytes")) ?? 0;
        assert.ok(pending > 300 * 500, `the spool holds the burst (${pending} bytes)`);
        assert.ok(((await metric(s.gw, "intentgate_audit_ship_failures_total")) ?? 0) >= 1);
      } finally {
        postgres.start();
      }
      assert.ok(await eventually(async () => (await storedDecisions("ship-outage")) === 320, 15_000), "the spool drains when the database is back");
      assert.ok(await eventually(async () => (await metric(s.gw, "intentgate_audit_spool_pending_bytes")) === 0));
      assert.ok(await eventually(async () => (await metric(s.gw, "intentgate_audit_database_up")) === 1));
      for (const [k, v] of warm) answered.set(k, v);
      await assertEveryAnswerRecorded("ship-outage", answered);
    } finally {
      await s.close();
    }
    const report = await verifyStored(store, "ship-outage", keys);
    assert.equal(report.break, undefined, JSON.stringify(report.break));
    assert.equal(report.records, report.head.seq);
    assert.equal(await storedDecisions("ship-outage"), 320);
  });

  test("unreachable at start-up: the sidecar starts and is ready; a full spool (maxSpoolBytes) refuses calls with audit_unavailable until the database drains it", async () => {
    postgres.stop("fast");
    let s: Setup | undefined;
    try {
      s = await gateway("ship-bounded", { maxSpoolBytes: 65536 });
      assert.equal((await fetch(`${s.gw.sidecar.adminUrl}/readyz`)).status, 200);
      assert.equal(await metric(s.gw, "intentgate_audit_database_up"), 0);
      const gw = s.gw;
      const token = gw.mint();
      const answered = new Map<string, string>();
      let i = 0;
      for (; i < 400; i++) {
        const outcome = outcomeOf(await postRpc(`${gw.sidecar.url}/mcp/files`, toolCall(i, "read_file", { path: `/data/full-${i}` }), token));
        answered.set(`full-${i}`, outcome);
        if (outcome === "audit_unavailable") break;
      }
      const allowed = [...answered.values()].filter((o) => o === "allowed").length;
      assert.equal(answered.get(`full-${i}`), "audit_unavailable", "the spool's bound is reached and the call refused");
      assert.ok(allowed > 20 && allowed < 400, `${allowed} calls fit in the spool first`);
      assert.equal(s.forwarded(), allowed, "a refused call is not forwarded");
      assert.equal(outcomeOf(await postRpc(`${s.gw.sidecar.url}/mcp/files`, toolCall(999, "read_file", { path: "/data/full-refused" }), token)), "audit_unavailable");
      answered.set("full-refused", "audit_unavailable");
      assert.ok(((await metric(s.gw, "intentgate_audit_spool_pending_bytes")) ?? 0) > 65536);

      postgres.start();
      assert.ok(await eventually(async () => (await storedDecisions("ship-bounded")) === allowed, 15_000));
      assert.ok(await eventually(async () => outcomeOf(await postRpc(`${gw.sidecar.url}/mcp/files`, toolCall(1000, "read_file", { path: "/data/full-after" }), token)) === "allowed"));
      answered.set("full-after", "allowed");
      assert.ok(await eventually(async () => (await storedDecisions("ship-bounded")) === allowed + 1));
      await assertEveryAnswerRecorded("ship-bounded", answered);
      const report = await verifyStored(store, "ship-bounded", readAuditKeys(`${s.gw.dir}/audit-keys.json`));
      assert.equal(report.break, undefined, JSON.stringify(report.break));
    } finally {
      try {
        postgres.start();
      } catch {
        /* already running */
      }
      await s?.close();
    }
  });
});
