// Budget exactness across replicas: three real sidecars of one agent share one lease service (a
// real ledger in PostgreSQL, over HTTP) and are hammered concurrently; exactly the ceiling is
// allowed. A sidecar killed with SIGKILL while holding a slice never gives it back, and the others
// still never exceed. A controller that cannot be reached refuses calls (fail closed). A token's own
// `calls` ceiling, shared by every replica the token is presented to, is exact the same way and
// survives a sidecar's restart.
// Run with INTENTGATE_LEASE_CHILD set, this file is instead the killable sidecar process.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { MemoryBudgetLedger } from "../../sidecar/budget/ledger.ts";
import { LeaseClient } from "../../sidecar/budget/lease-client.ts";
import { createLeaseBudgetCheck, type LeaseBudgetCheck } from "../../sidecar/checks/lease-budget.ts";
import { KeyRing, mintToken } from "../../wire/index.ts";
import type { SnapshotCeiling } from "../../wire/snapshot.ts";
import { AGENT, startGateway, TENANT, type Gateway } from "../support/gateway.ts";
import { startLeaseServer, type LeaseServer } from "../support/lease-server.ts";
import { freePort } from "../support/ports.ts";
import { startRecordingUpstream } from "../support/recording-upstream.ts";
import { outcomeOf, postRpc, toolCall } from "../support/rpc.ts";

interface Replica {
  gateway: Gateway;
  check: LeaseBudgetCheck;
  client: LeaseClient;
  token: string;
}

async function startReplica(upstreamUrl: string, leaseUrl: string, tokenFile: string, ceilings: SnapshotCeiling[], keysFile?: string): Promise<Replica> {
  const client = new LeaseClient({ url: leaseUrl, tokenFile, timeoutMs: 1000 });
  const check = createLeaseBudgetCheck({ leases: client, ceilings: () => ceilings, ledger: new MemoryBudgetLedger(), sliceCalls: 10 });
  const gateway = await startGateway({ policy: "default", upstreamUrl, start: { budgetCheck: check }, ...(keysFile ? { config: { keys: keysFile } } : {}) });
  return { gateway, check, client, token: gateway.mint() };
}

async function stopReplica(r: Replica): Promise<void> {
  await r.gateway.close();
  await r.check.close();
  await r.client.close();
}

const child = process.env["INTENTGATE_LEASE_CHILD"];
if (child !== undefined) {
  const { upstreamUrl, leaseUrl, tokenFile, ceiling } = JSON.parse(child) as { upstreamUrl: string; leaseUrl: string; tokenFile: string; ceiling: SnapshotCeiling };
  const r = await startReplica(upstreamUrl, leaseUrl, tokenFile, [ceiling]);
  process.stdout.write(`LEASE_CHILD_READY ${JSON.stringify({ url: r.gateway.sidecar.url, token: r.token })}\n`);
} else {
  const dir = mkdtempSync(join(tmpdir(), "intentgate-budget-leases-"));
  const hourly: SnapshotCeiling = { budget: "team-a/hourly", scope: "agent", windowSeconds: 3600, calls: 100 };
  const crash: SnapshotCeiling = { budget: "team-a/crash", scope: "agent", windowSeconds: 3600, calls: 30 };
  let leases: LeaseServer;
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let tokenFile: string;
  // Every replica of the agent holds the tenant's keys, as the controller does.
  const keysFile = join(dir, "tenant-keys.json");
  const keyFile = KeyRing.generateFile("k1");
  writeFileSync(keysFile, JSON.stringify(keyFile), { mode: 0o600 });
  const ring = KeyRing.fromFile(keyFile);
  const mintWithCalls = (max: number): string =>
    mintToken(ring, { tenant: TENANT, subject: AGENT, issuedAt: Math.floor(Date.now() / 1000), caveats: [{ type: "tools", allow: ["files.*"] }, { type: "calls", max }] });

  before(async () => {
    leases = await startLeaseServer(
      [hourly, crash].map((c) => ({ name: c.budget, tenant: TENANT, scope: c.scope, windowSeconds: c.windowSeconds, calls: c.calls })),
      { leaseSeconds: 60, tenantKeys: (tenant) => (tenant === TENANT ? ring : undefined) },
    );
    upstream = await startRecordingUpstream();
    tokenFile = leases.tokenFile(dir, { tenant: TENANT, agent: AGENT });
  });
  after(async () => {
    await upstream.close();
    await leases.close();
  });

  const callAll = (replicas: Replica[], n: number, from: number): Promise<string[]> =>
    Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const r = replicas[i % replicas.length] as Replica;
        return outcomeOf(await postRpc(`${r.gateway.sidecar.url}/mcp/files`, toolCall(from + i, "read_file"), r.token));
      }),
    );
  const tally = (outcomes: string[]): Record<string, number> => {
    const counts: Record<string, number> = {};
    for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
    return counts;
  };

  test("three sidecars of one agent, 150 concurrent calls against 100: exactly 100 allowed", async () => {
    const replicas = await Promise.all([1, 2, 3].map(() => startReplica(upstream.url, leases.url, tokenFile, [hourly])));
    const forwardedBefore = upstream.requests.length;
    try {
      const outcomes = await callAll(replicas, 150, 0);
      assert.deepEqual(tally(outcomes), { allowed: 100, budget_agent_calls: 50 });
      assert.equal(upstream.requests.length - forwardedBefore, 100);
      // Each replica served some of them: the ceiling was shared, not held by one.
      for (let i = 0; i < 3; i++) assert.ok(outcomes.filter((o, j) => j % 3 === i && o === "allowed").length > 0);
      assert.equal(await callAll(replicas, 3, 1000).then((o) => o.join()), "budget_agent_calls,budget_agent_calls,budget_agent_calls");
    } finally {
      await Promise.all(replicas.map(stopReplica));
    }
    assert.equal((await leases.service.usage(hourly.budget, AGENT)).calls, 100);
  });

  test("a sidecar killed while holding a slice never gives it back; the others still never exceed", async () => {
    const proc = spawn(process.execPath, [new URL(import.meta.url).pathname], {
      env: { ...process.env, INTENTGATE_LEASE_CHILD: JSON.stringify({ upstreamUrl: upstream.url, leaseUrl: leases.url, tokenFile, ceiling: crash }) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = once(proc, "exit");
    try {
      let out = "";
      const ready = await new Promise<{ url: string; token: string }>((resolve, reject) => {
        proc.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString();
          const line = /LEASE_CHILD_READY (.+)\n/.exec(out);
          if (line) resolve(JSON.parse(line[1] as string) as { url: string; token: string });
        });
        void exited.then(() => reject(new Error(`child exited before it was ready:\n${out}`)));
      });
      const used = [];
      for (let i = 0; i < 3; i++) used.push(outcomeOf(await postRpc(`${ready.url}/mcp/files`, toolCall(i, "read_file"), ready.token)));
      assert.deepEqual(used, ["allowed", "allowed", "allowed"]);
      assert.equal((await leases.service.usage(crash.budget, AGENT)).calls, 10); // its slice: 3 used, 7 unused
    } finally {
      proc.kill("SIGKILL");
      await exited;
    }
    assert.equal((await leases.service.usage(crash.budget, AGENT)).calls, 10); // not returned: counts in full

    const replicas = await Promise.all([1, 2].map(() => startReplica(upstream.url, leases.url, tokenFile, [crash])));
    try {
      const outcomes = await callAll(replicas, 40, 2000);
      // 30 - the dead sidecar's whole slice: its 7 unused calls are lost until the slice ages out, never over-granted.
      assert.deepEqual(tally(outcomes), { allowed: 20, budget_agent_calls: 20 });
    } finally {
      await Promise.all(replicas.map(stopReplica));
    }
    assert.equal((await leases.service.usage(crash.budget, AGENT)).calls, 30);
  });

  test("three sidecars sharing a token with calls <= 12, 30 concurrent calls: exactly 12 allowed; a restarted sidecar gets no fresh count", async () => {
    const replicas = await Promise.all([1, 2, 3].map(() => startReplica(upstream.url, leases.url, tokenFile, [], keysFile)));
    const shared = mintWithCalls(12);
    for (const r of replicas) r.token = shared;
    const forwardedBefore = upstream.requests.length;
    try {
      const outcomes = await callAll(replicas, 30, 4000);
      assert.deepEqual(tally(outcomes), { allowed: 12, budget_token_calls: 18 });
      assert.equal(upstream.requests.length - forwardedBefore, 12);
    } finally {
      await Promise.all(replicas.map(stopReplica));
    }
    const restarted = await startReplica(upstream.url, leases.url, tokenFile, [], keysFile);
    restarted.token = shared;
    try {
      assert.deepEqual(await callAll([restarted], 2, 4100), ["budget_token_calls", "budget_token_calls"]);
      // Another token, with its own ceiling, is counted apart.
      restarted.token = mintWithCalls(1);
      assert.deepEqual(await callAll([restarted], 2, 4200), ["allowed", "budget_token_calls"]);
    } finally {
      await stopReplica(restarted);
    }
    assert.equal(upstream.requests.length - forwardedBefore, 13);
  });

  test("a token with a calls ceiling and the controller unreachable: budget_unavailable, nothing forwarded", async () => {
    const replica = await startReplica(upstream.url, `http://127.0.0.1:${await freePort()}`, tokenFile, [], keysFile);
    replica.token = mintWithCalls(100);
    const forwardedBefore = upstream.requests.length;
    try {
      assert.deepEqual(await callAll([replica], 2, 5000), ["budget_unavailable", "budget_unavailable"]);
      assert.equal(upstream.requests.length, forwardedBefore);
    } finally {
      await stopReplica(replica);
    }
  });

  test("the controller unreachable and no slice held: calls are refused with budget_unavailable, nothing forwarded", async () => {
    const replica = await startReplica(upstream.url, `http://127.0.0.1:${await freePort()}`, tokenFile, [hourly]);
    const forwardedBefore = upstream.requests.length;
    try {
      assert.deepEqual(await callAll([replica], 3, 3000), ["budget_unavailable", "budget_unavailable", "budget_unavailable"]);
      assert.equal(upstream.requests.length, forwardedBefore);
    } finally {
      await stopReplica(replica);
    }
  });
}
