// A restart does not reset a token's own ceilings (`calls`, `rate` caveats): the first time a ceiling
// is met after start, the calls allowed under it before start are counted from the audit log (the
// spool, and the audit database for what was shipped). A database that cannot be read refuses the
// calls of ceiling tokens (budget_unavailable) until it can; tokens without ceilings go on.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { attenuateToken, KeyRing, mintToken, type Caveat } from "../../wire/index.ts";
import { AuditKeys } from "../../wire/audit/index.ts";
import { AGENT, startGateway, TENANT } from "../support/gateway.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import { startRecordingUpstream } from "../support/recording-upstream.ts";
import { eventually, outcomeOf, postRpc, toolCall } from "../support/rpc.ts";

type Database = { embedded: string } | { url: string };

/** What survives a restart: the key file, the audit keys, the spool and the upstream. */
interface Rig {
  keys: KeyRing;
  keysFile: string;
  spool: string;
  auditKeys: string;
  upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  dir: string;
}

let rig: Rig;
let calls = 0;

async function newRig(): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), "intentgate-token-budget-"));
  const keyFile = KeyRing.generateFile("k1");
  writeFileSync(join(dir, "keys.json"), JSON.stringify(keyFile), { mode: 0o600 });
  writeFileSync(join(dir, "audit-keys.json"), JSON.stringify(AuditKeys.generateFile("token-budget")), { mode: 0o600 });
  return { keys: KeyRing.fromFile(keyFile), keysFile: join(dir, "keys.json"), spool: join(dir, "spool"), auditKeys: join(dir, "audit-keys.json"), upstream: await startRecordingUpstream(), dir };
}

const mint = (caveats: Caveat[]): string =>
  mintToken(rig.keys, { tenant: TENANT, subject: AGENT, caveats: [{ type: "tools", allow: ["files.*"] }, ...caveats], issuedAt: Math.floor(Date.now() / 1000) });

interface Run {
  call(token: string): Promise<string>;
  /** Waits until the database holds everything the spool does. */
  shipped(): Promise<void>;
}

/** One sidecar lifetime over the rig's key file and spool; `offsetMs` moves its clock. */
async function lifetime(body: (run: Run) => Promise<void>, options: { database?: Database; offsetMs?: number } = {}): Promise<void> {
  const audit = { spool: rig.spool, keys: rig.auditKeys, stream: "token-budget", ...(options.database ? { database: options.database } : {}) };
  const offset = options.offsetMs ?? 0;
  const gw = await startGateway({ policy: "default", upstreamUrl: rig.upstream.url, config: { keys: rig.keysFile, audit }, start: { now: () => Date.now() + offset } });
  try {
    await body({
      call: async (token) => outcomeOf(await postRpc(`${gw.sidecar.url}/mcp/files`, toolCall(++calls, "read_file"), token)),
      async shipped() {
        const metrics = async (): Promise<string> => (await fetch(`${gw.sidecar.adminUrl}/metrics`)).text();
        assert.ok(await eventually(async () => /^intentgate_audit_spool_pending_bytes 0$/m.test(await metrics()), 20_000), "the spool was shipped");
      },
    });
  } finally {
    await gw.close();
    rmSync(gw.dir, { recursive: true, force: true });
  }
}

/** Three calls of a `calls <= 3` token, shipped; then the spool's segments are removed, as acknowledged shipping does over time. */
async function spendAllAndShip(token: string, database: Database): Promise<void> {
  await lifetime(
    async (run) => {
      assert.deepEqual(await times(3, run, token), ["allowed", "allowed", "allowed"]);
      await run.shipped();
    },
    { database },
  );
  for (const name of readdirSync(rig.spool)) if (name.startsWith("seg-")) rmSync(join(rig.spool, name));
}

async function times(n: number, run: Run, token: string): Promise<string[]> {
  const outcomes: string[] = [];
  for (let i = 0; i < n; i++) outcomes.push(await run.call(token));
  return outcomes;
}

describe("a token's own ceilings across a restart", () => {
  before(async () => {
    rig = await newRig();
  });
  after(async () => {
    await rig.upstream.close();
    rmSync(rig.dir, { recursive: true, force: true });
  });

  test("calls <= 3: three calls, a restart, and the fourth is refused (counted from the spool)", async () => {
    const token = mint([{ type: "calls", max: 3 }]);
    await lifetime(async (run) => assert.deepEqual(await times(3, run, token), ["allowed", "allowed", "allowed"]));
    await lifetime(async (run) => {
      assert.equal(await run.call(token), "budget_token_calls");
      assert.equal(await run.call(mint([{ type: "calls", max: 3 }])), "allowed", "another token with the same ceiling has its own counter");
    });
  });

  test("an attenuated token draws on its parent's counter across the restart, and keeps its own", async () => {
    const parent = mint([{ type: "calls", max: 3 }]);
    const child = attenuateToken(parent, [{ type: "calls", max: 1 }]);
    await lifetime(async (run) => {
      assert.equal(await run.call(child), "allowed");
      assert.equal(await run.call(parent), "allowed");
    });
    await lifetime(async (run) => {
      assert.equal(await run.call(child), "budget_token_calls", "the child's own ceiling: 1 call, made before the restart");
      assert.equal(await run.call(parent), "allowed", "the parent's third call: the child's call counted against it");
      assert.equal(await run.call(attenuateToken(parent, [])), "budget_token_calls", "a new child of the parent finds it spent");
    });
  });

  test("a rate ceiling counts only the calls inside its window", async () => {
    const token = mint([{ type: "rate", max: 2, window: 3600 }]);
    await lifetime(async (run) => assert.deepEqual(await times(3, run, token), ["allowed", "allowed", "budget_token_rate"]));
    // Half an hour later both calls are still inside the window; after another 40 minutes neither is.
    await lifetime(async (run) => assert.deepEqual(await times(1, run, token), ["budget_token_rate"]), { offsetMs: 1800_000 });
    await lifetime(async (run) => assert.deepEqual(await times(3, run, token), ["allowed", "allowed", "budget_token_rate"]), { offsetMs: 4200_000 });
  });

  test("with the embedded database and the spool's segments gone, the count comes from the database", async () => {
    const database = { embedded: join(rig.dir, "db") };
    const token = mint([{ type: "calls", max: 3 }]);
    await spendAllAndShip(token, database);
    await lifetime(async (run) => assert.deepEqual(await times(2, run, token), ["budget_token_calls", "budget_token_calls"]), { database });
  });
});

describe("the audit database unreachable at the first call after a restart (real PostgreSQL, stopped)", () => {
  let postgres: TestPostgres;
  before(async () => {
    rig = await newRig();
    postgres = await startPostgres();
  });
  after(async () => {
    postgres.destroy();
    await rig.upstream.close();
    rmSync(rig.dir, { recursive: true, force: true });
  });

  test("a ceiling token is refused with budget_unavailable, a token without ceilings is allowed; once the database is back the count holds", async () => {
    const database = { url: postgres.url };
    const token = mint([{ type: "calls", max: 3 }]);
    await spendAllAndShip(token, database);
    postgres.stop();
    await lifetime(
      async (run) => {
        assert.equal(await run.call(token), "budget_unavailable");
        assert.equal(await run.call(mint([])), "allowed");
        assert.equal(await run.call(token), "budget_unavailable", "the failure is not remembered as an empty count");
        postgres.start();
        assert.equal(await run.call(token), "budget_token_calls");
      },
      { database },
    );
  });
});
