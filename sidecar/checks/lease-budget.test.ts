// The lease-based budget check against a real lease service (real PostgreSQL, real HTTP, the real
// client): exact under concurrency with one slice request per key in flight, the controller's
// refusals, fail-closed when it is away, slices given back before expiry and on close, the token
// file re-read on every request.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { SnapshotCeiling } from "../../wire/snapshot.ts";
import { eventually } from "../../test/support/rpc.ts";
import { startLeaseServer, type LeaseServer } from "../../test/support/lease-server.ts";
import { MemoryBudgetLedger } from "../budget/ledger.ts";
import { LeaseClient } from "../budget/lease-client.ts";
import { KeyRing, mintToken, verifySignature } from "../../wire/index.ts";
import { RING } from "../../wire/token/test-keys.ts";
import { agentKey, tenantKey, tokenCeilingRequests } from "./budget.ts";
import { createLeaseBudgetCheck, type LeaseBudgetDeps, type LeasePort } from "./lease-budget.ts";
import type { CallContext } from "./types.ts";

const AGENT = "team-a/bot";
const who = { tenant: "acme", agent: AGENT };
const dir = mkdtempSync(join(tmpdir(), "intentgate-lease-check-"));
let leases: LeaseServer;
let tokenFile: string;

before(async () => {
  leases = await startLeaseServer(
    [
      { name: "team-a/calls", tenant: "acme", scope: "agent", windowSeconds: 3600, calls: 30 },
      { name: "team-a/few", tenant: "acme", scope: "agent", windowSeconds: 3600, calls: 3 },
      { name: "team-a/spend", tenant: "acme", scope: "tenant", windowSeconds: 3600, cost: 10 },
      { name: "team-a/returns", tenant: "acme", scope: "agent", windowSeconds: 3600, calls: 100 },
      { name: "team-a/short", tenant: "acme", scope: "agent", windowSeconds: 3600, calls: 100 },
      { name: "team-a/tenant-wide", tenant: "acme", scope: "tenant", windowSeconds: 3600, cost: 100 },
      { name: "team-a/four", tenant: "acme", scope: "agent", windowSeconds: 3600, calls: 4 },
    ],
    { leaseSeconds: 4, tenantKeys: (tenant) => (tenant === "acme" ? RING : undefined) },
  );
  tokenFile = leases.tokenFile(dir, who);
});
after(() => leases.close());

let calls = 0;
const call = (name = "files.read_file"): CallContext => ({
  decisionId: `d${++calls}`,
  now: Date.now(),
  tenant: "acme",
  agent: AGENT,
  server: name.split(".")[0] as string,
  tool: name.split(".")[1] as string,
  name,
  arguments: {},
  token: undefined,
  prompt: undefined,
});
const ceiling = (budget: string, scope: "agent" | "tenant", limits: Partial<SnapshotCeiling>): SnapshotCeiling => ({ budget, scope, windowSeconds: 3600, ...limits });

function check(ceilings: SnapshotCeiling[], leasePort: LeasePort, extra: Partial<LeaseBudgetDeps> = {}) {
  return createLeaseBudgetCheck({ leases: leasePort, ceilings: () => ceilings, ledger: new MemoryBudgetLedger(), ...extra });
}
const codeOf = (v: { ok: boolean; code?: string }): string => (v.ok ? "allowed" : (v.code as string));

test("concurrent calls: exactly the ceiling allowed, and one slice request per key in flight", async () => {
  const client = new LeaseClient({ url: leases.url, tokenFile });
  let inFlight = 0;
  let most = 0;
  let asked = 0;
  const counting: LeasePort = {
    async grant(ask) {
      asked++;
      most = Math.max(most, ++inFlight);
      try {
        return await client.grant(ask);
      } finally {
        inFlight--;
      }
    },
    giveBack: (id, used) => client.giveBack(id, used),
  };
  const c = check([ceiling("team-a/calls", "agent", { calls: 30 })], counting, { sliceCalls: 4 });
  const verdicts = await Promise.all(Array.from({ length: 50 }, async () => c.run(call())));
  const codes = verdicts.map(codeOf);
  assert.equal(codes.filter((x) => x === "allowed").length, 30);
  assert.equal(codes.filter((x) => x === "budget_agent_calls").length, 20);
  assert.equal(most, 1);
  assert.ok(asked < 20, `${asked} slice requests for 30 calls`);
  await c.close();
  assert.equal((await leases.service.usage("team-a/calls", AGENT)).calls, 30);
  await client.close();
});

test("the controller's refusals keep their codes; a refused call gives back what it took from other budgets", async () => {
  const client = new LeaseClient({ url: leases.url, tokenFile });
  const ceilings = [ceiling("team-a/few", "agent", { calls: 3 }), ceiling("team-a/spend", "tenant", { cost: 10, costs: { "payments.*": 4 } })];
  const c = check(ceilings, client);
  const outcomes = [];
  for (let i = 0; i < 3; i++) outcomes.push(codeOf(await c.run(call("payments.transfer"))));
  // The third call took the agent's third call before the tenant refused it, and gave it back.
  outcomes.push(codeOf(await c.run(call("files.read_file"))));
  outcomes.push(codeOf(await c.run(call("files.read_file"))));
  assert.deepEqual(outcomes, ["allowed", "allowed", "budget_tenant_cost", "allowed", "budget_agent_calls"]);
  await c.close();
  assert.deepEqual(await leases.service.usage("team-a/few", AGENT), { calls: 3, cost: 3 }); // its own cost table: 1 a call
  assert.deepEqual(await leases.service.usage("team-a/spend", "acme"), { calls: 3, cost: 9 });
  await client.close();
});

test("the controller away: local slices still serve, then calls are refused with budget_unavailable", async () => {
  const client = new LeaseClient({ url: leases.url, tokenFile, timeoutMs: 500 });
  const c = check([ceiling("team-a/returns", "agent", { calls: 100 })], client, { sliceCalls: 2, useFor: 0.9 });
  assert.equal(codeOf(await c.run(call())), "allowed");
  await leases.pause();
  try {
    assert.equal(codeOf(await c.run(call())), "allowed"); // the slice's second call
    const refused = await c.run(call());
    assert.equal(codeOf(refused), "budget_unavailable");
  } finally {
    await leases.resume();
  }
  assert.equal(codeOf(await c.run(call())), "allowed");
  await c.close();
  await client.close();
});

test("slices go back before their lease expires, counting what was used; the token file is read per request", async () => {
  const client = new LeaseClient({ url: leases.url, tokenFile });
  const c = check([ceiling("team-a/short", "agent", { calls: 100 })], client, { sliceCalls: 10, useFor: 0.25 });
  for (let i = 0; i < 3; i++) assert.equal(codeOf(await c.run(call())), "allowed");
  assert.equal((await leases.service.usage("team-a/short", AGENT)).calls, 10);
  const rotated = leases.tokenFile(dir, who, "rotated-token");
  assert.equal(rotated, tokenFile);
  // Given back after a quarter of the 4 s lease, well before it expires (an expired one would count 10).
  assert.ok(await eventually(async () => (await leases.service.usage("team-a/short", AGENT)).calls === 3, 3500));
  assert.equal(leases.seen.at(-1), "rotated-token");
  const released = call();
  assert.equal(codeOf(await c.run(released)), "allowed");
  released.reservation?.release(); // e.g. the audit record could not be written
  await c.close();
  assert.equal((await leases.service.usage("team-a/short", AGENT)).calls, 3);
  await client.close();
});

test("an unreadable token file or an unknown identity fails closed", async () => {
  const missing = new LeaseClient({ url: leases.url, tokenFile: join(dir, "nope") });
  const c1 = check([ceiling("team-a/returns", "agent", { calls: 100 })], missing);
  assert.equal(codeOf(await c1.run(call())), "budget_unavailable");
  await c1.close();
  await missing.close();
  const forged = join(dir, "forged");
  writeFileSync(forged, "forged-token");
  const stranger = new LeaseClient({ url: leases.url, tokenFile: forged });
  const c2 = check([ceiling("team-a/returns", "agent", { calls: 100 })], stranger);
  const verdict = await c2.run(call());
  assert.equal(codeOf(verdict), "budget_unavailable");
  assert.match(verdict.ok ? "" : verdict.message, /unauthenticated/);
  await c2.close();
  await stranger.close();
});

test("the token's own ceilings are leased: exact across replicas and restarts, read from the token by the controller", async () => {
  const client = new LeaseClient({ url: leases.url, tokenFile });
  const issuedAt = Math.floor(Date.now() / 1000);
  const token = mintToken(RING, { tenant: "acme", subject: AGENT, issuedAt, caveats: [{ type: "calls", max: 3 }, { type: "rate", max: 2, window: 60 }] });
  const withToken = (presented = token): CallContext => {
    const ctx = call();
    const verified = verifySignature(presented, RING);
    assert.ok(verified.ok);
    return { ...ctx, token: presented, verified: { header: verified.header, effective: verified.effective } };
  };
  const ledger = new MemoryBudgetLedger();
  // No waiting for returns: a refusal is final at once, so no slice is given back mid-call.
  const quick = { waitForReturnsMs: 0 };
  const [a, b] = [check([], client, { ...quick, holder: "replica-a", ledger }), check([], client, { ...quick, holder: "replica-b" })];
  const outcomes = [codeOf(await a.run(withToken())), codeOf(await b.run(withToken())), codeOf(await a.run(withToken()))];
  // The rate ceiling (2 per minute) is met first, in whichever replica: never 2 per replica.
  assert.deepEqual(outcomes, ["allowed", "allowed", "budget_token_rate"]);
  // Counted locally too, uncapped, for the policy input.
  const key = tokenCeilingRequests(withToken())[0]?.key as string;
  assert.equal(ledger.usage(key, Infinity, Date.now()).calls, 1);
  await Promise.all([a.close(), b.close()]);
  // A restarted replica gets no fresh count: the ledger is the controller's.
  const restarted = check([], client, { ...quick, holder: "replica-c" });
  assert.equal(codeOf(await restarted.run(withToken())), "budget_token_rate");
  // A token signed with another key ring is not believed: the controller refuses, the call fails closed.
  const forged = mintToken(KeyRing.fromFile(KeyRing.generateFile("k1")), { tenant: "acme", subject: AGENT, issuedAt, caveats: [{ type: "calls", max: 1000 }] });
  const genuine = withToken();
  const verified = genuine.verified as NonNullable<CallContext["verified"]>;
  const forgedCall = { ...genuine, token: forged, verified: { ...verified, effective: { ...verified.effective, budgets: [{ kind: "calls" as const, max: 1000, window: null, scope: "forged-hop" }] } } };
  assert.equal(codeOf(await restarted.run(forgedCall)), "budget_unavailable");
  await restarted.close();
  await client.close();
});

test("this replica's own use of the agent and tenant keys is counted locally, for the policy input", async () => {
  const client = new LeaseClient({ url: leases.url, tokenFile });
  const ledger = new MemoryBudgetLedger();
  const c = check([ceiling("team-a/returns", "agent", { calls: 100 }), ceiling("team-a/tenant-wide", "tenant", { cost: 100 })], client, { ledger });
  for (let i = 0; i < 2; i++) {
    const ctx = call();
    ctx.cost = 2;
    assert.equal(codeOf(await c.run(ctx)), "allowed");
  }
  const now = Date.now();
  assert.deepEqual(ledger.usage(agentKey("acme", AGENT), 3600, now), { calls: 2, cost: 4 });
  assert.deepEqual(ledger.usage(tenantKey("acme"), 3600, now), { calls: 2, cost: 4 });
  await c.close();
  await client.close();
});

test("calls parked in an idle replica's slice reach a replica that needs them: the whole ceiling is spent, then refused at once", async () => {
  const client = new LeaseClient({ url: leases.url, tokenFile });
  const four = [ceiling("team-a/four", "agent", { calls: 4 })];
  const a = check(four, client, { holder: "replica-a", idleReturnMs: 200 });
  const b = check(four, client, { holder: "replica-b", idleReturnMs: 200 });
  // Replica a takes a slice of two calls and spends one; then it has no more traffic.
  assert.equal(codeOf(await a.run(call())), "allowed");
  // Replica b spends what is left, then its next call finds the rest parked in a's slice and waits for it.
  const outcomes = [];
  for (let i = 0; i < 3; i++) outcomes.push(codeOf(await b.run(call())));
  assert.deepEqual(outcomes, ["allowed", "allowed", "allowed"], "the call parked in a's idle slice was not spent by b");
  // Once nobody holds a slice, a call is refused on the first answer, not asked again.
  await Promise.all([a.close(), b.close()]);
  let asked = 0;
  const counting: LeasePort = { grant: (ask) => (asked++, client.grant(ask)), giveBack: (id, used) => client.giveBack(id, used) };
  const c = check(four, counting, { holder: "replica-c" });
  assert.equal(codeOf(await c.run(call())), "budget_agent_calls", "the fifth call");
  assert.equal(asked, 1);
  await c.close();
  await client.close();
});
