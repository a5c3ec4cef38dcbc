// The audit store against a real PostgreSQL cluster and against PGlite (the embedded default):
// the same suite runs on both, so the shared SQL is proven on each. Migrations are idempotent and
// safe to run concurrently; inserts are idempotent but never overwrite or drop a different line;
// reads page through a stream in order; exports filter.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { AuditConflictError, AuditLineError, MIGRATIONS, PgAuditStore, PgliteAuditStore, type AuditStore } from "../../sidecar/audit/store/index.ts";
import { chainedLines, checkpointLine, collect, decisionEvent, testAuditKeys, verifyStored } from "../support/audit.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import type { DecisionEvent } from "../../wire/audit/index.ts";

const keys = testAuditKeys();

interface Opened {
  store: AuditStore;
  /** A second, independent client of the same database (none for PGlite: its folder is one process's). */
  second: (() => AuditStore) | undefined;
  cleanup: () => Promise<void>;
}

function storeSuite(name: string, open: () => Promise<Opened>): void {
  describe(name, () => {
    let store: AuditStore;
    let second: Opened["second"];
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ store, second, cleanup } = await open());
    });
    after(async () => {
      await store.close();
      await cleanup();
    });

    test("migrations apply once; running them again (and from a second client at once) changes nothing", async () => {
      const first = await store.migrate();
      assert.deepEqual(first.applied, MIGRATIONS.map((m) => m.name));
      assert.equal(first.version, MIGRATIONS.length);
      const other = second?.();
      try {
        const [a, b] = await Promise.all([store.migrate(), (other ?? store).migrate()]);
        assert.deepEqual(a.applied, []);
        assert.deepEqual(b.applied, []);
        assert.equal(b.version, MIGRATIONS.length);
      } finally {
        await other?.close();
      }
    });

    test("a batch is stored once; shipping it again stores nothing new and reads back byte for byte", async () => {
      const { lines, head } = chainedLines("s-idem", 250, keys);
      assert.equal(await store.insertRecords(lines), 250);
      assert.equal(await store.insertRecords(lines), 0);
      assert.equal(await store.insertRecords([...lines.slice(100, 120), ...chainedLines("s-idem", 5, keys, head).lines]), 5);
      const report = await verifyStored(store, "s-idem", keys);
      assert.equal(report.break, undefined);
      assert.equal(report.records, 255);
      assert.deepEqual(report.rows.slice(0, 250).map((r) => r.line), lines);
    });

    test("a different line at a stored (stream, seq) is a conflict: nothing of that batch is stored, nothing is overwritten", async () => {
      const { lines } = chainedLines("s-conflict", 10, keys);
      await store.insertRecords(lines.slice(0, 5));
      const other = chainedLines("s-conflict", 10, keys).lines; // same seqs, different records
      await assert.rejects(store.insertRecords([...lines.slice(3, 5), ...other.slice(5, 7), other[4] as string]), (error: unknown) => {
        assert.ok(error instanceof AuditConflictError);
        assert.deepEqual(error.conflicts, [{ table: "records", stream: "s-conflict", seq: 5 }]);
        return true;
      });
      const rows = await collect(store.readStream("s-conflict"));
      assert.deepEqual(rows.map((r) => r.line), lines.slice(0, 5));
      // The same two lines twice within one batch are fine; two different ones for one key are not.
      await assert.rejects(store.insertRecords([other[5] as string, lines[5] as string]), AuditConflictError);
      assert.equal(await store.insertRecords([lines[5] as string, lines[5] as string]), 1);
    });

    test("lines that are not records are refused before anything is sent", async () => {
      await assert.rejects(store.insertRecords(["not json"]), AuditLineError);
      await assert.rejects(store.insertRecords([JSON.stringify({ stream: "x", seq: 0 })]), AuditLineError);
      await assert.rejects(store.insertCheckpoints([JSON.stringify({ stream: "x", seq: 1, time: "yesterday", key_id: "k" })]), AuditLineError);
    });

    test("checkpoints are stored idempotently, conflict like records, and verify with the records", async () => {
      const { lines, head } = chainedLines("s-check", 40, keys);
      await store.insertRecords(lines);
      const mid = JSON.parse(lines[19] as string) as { seq: number; hash: string };
      const checkpoints = [checkpointLine("s-check", { seq: mid.seq, hash: mid.hash }, keys), checkpointLine("s-check", head, keys)];
      assert.equal(await store.insertCheckpoints(checkpoints), 2);
      assert.equal(await store.insertCheckpoints(checkpoints), 0);
      await assert.rejects(store.insertCheckpoints([checkpointLine("s-check", head, keys, new Date(0))]), AuditConflictError);
      const stored = await store.checkpoints("s-check");
      assert.deepEqual(stored.map((c) => c.seq), [20, 40]);
      const report = await verifyStored(store, "s-check", keys);
      assert.equal(report.break, undefined);
      assert.equal(report.checkpoints, 2);
    });

    test("readStream pages in seq order from any point; streams() lists every stream", async () => {
      const a = chainedLines("s-page", 1234, keys).lines;
      // Inserted out of order, in several batches.
      await store.insertRecords(a.slice(600));
      await store.insertRecords(a.slice(0, 600));
      const rows = await collect(store.readStream("s-page", { pageSize: 100 }));
      assert.deepEqual(rows.map((r) => r.seq), Array.from({ length: 1234 }, (_, i) => i + 1));
      const tail = await collect(store.readStream("s-page", { pageSize: 7, afterSeq: 1200 }));
      assert.deepEqual(tail.map((r) => r.seq), Array.from({ length: 34 }, (_, i) => i + 1201));
      await store.insertCheckpoints([checkpointLine("s-only-checkpoints", { seq: 3, hash: "0".repeat(64) }, keys)]);
      const streams = await store.streams();
      for (const s of ["s-check", "s-conflict", "s-idem", "s-only-checkpoints", "s-page"]) assert.ok(streams.includes(s), s);
      assert.deepEqual(streams, [...streams].sort());
      assert.deepEqual(await collect(store.readStream("no-such-stream")), []);
    });

    test("exportRecords filters by time range, tenant, agent, tool and disposition, and pages in (stream, seq) order", async () => {
      const t0 = Date.parse("2026-01-01T00:00:00Z");
      const at = (i: number) => new Date(t0 + i * 60_000);
      const event = (tenant: string) => (i: number) => decisionEvent(i, { tenant, agent: i % 2 === 0 ? "even" : "odd" }, at(i));
      const x = chainedLines("x-export", 30, keys, undefined, event("t-x")).lines;
      const y = chainedLines("y-export", 30, keys, undefined, event("t-y")).lines;
      await store.insertRecords([...y, ...x]);
      const all = await collect(store.exportRecords({ from: at(1), to: at(31) }, { pageSize: 4 }));
      assert.deepEqual(all.map((r) => `${r.stream}:${r.seq}`), [...x, ...y].map((l) => { const r = JSON.parse(l) as { stream: string; seq: number }; return `${r.stream}:${r.seq}`; }));
      const window = await collect(store.exportRecords({ tenant: "t-x", from: at(10), to: at(20) }));
      assert.deepEqual(window.map((r) => r.seq), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
      const blocked = await collect(store.exportRecords({ tenant: "t-y", disposition: "blocked", agent: "even", tool: "delete_file" }, { pageSize: 2 }));
      assert.deepEqual(blocked.map((r) => r.seq), [6, 12, 18, 24, 30]);
      assert.ok(blocked.every((r) => r.line === y[r.seq - 1]));
      assert.deepEqual(await collect(store.exportRecords({ stream: "x-export", from: at(29) })), [{ stream: "x-export", seq: 29, line: x[28] }, { stream: "x-export", seq: 30, line: x[29] }]);
    });

    test("exportRecords by token id: only records whose token_ids hold that very id (\"_\" is no wildcard, the id elsewhere in a line is not enough)", async () => {
      const allowed = { disposition: "allowed", stage: null, code: null, reason: null } as const;
      const records: Array<Partial<DecisionEvent>> = [
        { ...allowed, token_ids: ["tok_a_000001", "hop_b_000001"] },
        { ...allowed, token_ids: ["tokXaX000001"] }, // what LIKE '%"tok_a_000001"%' would also match
        { ...allowed, token_ids: ["tok_a_0000012"] },
        { ...allowed, token_ids: null, arguments: { names: ["tok_a_000001"], sha256: null, values: null } },
        { disposition: "blocked", stage: "policy", code: "policy_blocked", reason: "no", token_ids: ["tok_a_000001"] },
      ];
      const lines = chainedLines("tok-export", records.length, keys, undefined, (i) => decisionEvent(i, records[i - 1])).lines;
      await store.insertRecords(lines);
      const seqs = async (filter: Parameters<AuditStore["exportRecords"]>[0], pageSize = 1000): Promise<number[]> =>
        (await collect(store.exportRecords({ stream: "tok-export", ...filter }, { pageSize }))).map((r) => r.seq);
      assert.deepEqual(await seqs({ tokenId: "tok_a_000001" }), [1, 5]);
      assert.deepEqual(await seqs({ tokenId: "tok_a_000001" }, 1), [1, 5], "pages of one row, most of them left out");
      assert.deepEqual(await seqs({ tokenId: "tok_a_000001", disposition: "allowed" }), [1]);
      assert.deepEqual(await seqs({ tokenId: "hop_b_000001" }), [1]);
      assert.deepEqual(await seqs({ tokenId: "tokXaX000001" }), [2]);
      assert.deepEqual(await seqs({ tokenId: "tok_a_00000" }), []);
    });
  });
}

let postgres: TestPostgres;
before(async () => {
  postgres = await startPostgres();
});
after(() => postgres.destroy());

storeSuite("PostgreSQL (a real server)", async () => ({
  store: new PgAuditStore(postgres.url),
  second: () => new PgAuditStore(postgres.url),
  cleanup: async () => undefined,
}));

storeSuite("PGlite (embedded, same SQL)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "intentgate-pglite-"));
  return {
    store: new PgliteAuditStore(join(dir, "db")),
    second: undefined,
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describe("concurrent start-ups (PostgreSQL)", () => {
  test("eight sidecars migrating a fresh database at the same moment all succeed; each migration is recorded once", async () => {
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    try {
      await admin.query("CREATE DATABASE concurrent_migrations");
    } finally {
      await admin.end();
    }
    const url = postgres.url.replace(/\/postgres$/, "/concurrent_migrations");
    const stores = Array.from({ length: 8 }, () => new PgAuditStore(url));
    try {
      const reports = await Promise.all(stores.map((s) => s.migrate()));
      assert.equal(reports.filter((r) => r.applied.length > 0).length, 1);
      assert.ok(reports.every((r) => r.version === MIGRATIONS.length));
      const { rows } = await (stores[0] as PgAuditStore).pool.query("SELECT id, count(*)::int AS n FROM intentgate_migrations GROUP BY id ORDER BY id");
      assert.deepEqual(rows, MIGRATIONS.map((m) => ({ id: m.id, n: 1 })));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});
