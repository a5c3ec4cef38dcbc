// The lease ledger against a real PostgreSQL: concurrent grants from two controller replicas never
// exceed a ceiling, returns give back headroom, unreturned leases count in full until they age out,
// and slices count over the sliding window.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import pg from "pg";
import { startPostgres, type TestPostgres } from "../../test/support/postgres.ts";
import type { LeaseBudget } from "./budget.ts";
import { LeaseService, type GrantRequest } from "./service.ts";

let db: TestPostgres;
before(async () => {
  db = await startPostgres();
});
after(() => db.destroy());

const AGENT = "team-a/bot";
const who = { tenant: "acme", agent: AGENT };
const budget = (name: string, ceilings: Partial<LeaseBudget>): LeaseBudget => ({ name: `team-a/${name}`, tenant: "acme", scope: "agent", windowSeconds: 3600, ...ceilings });
const ask = (b: LeaseBudget, holder: string, calls: number, extra: Partial<GrantRequest> = {}): GrantRequest => ({ ...who, holder, budget: b, key: AGENT, calls, minCost: 0, ...extra });

async function stateOf(id: string): Promise<string | undefined> {
  const client = new pg.Client(db.url);
  await client.connect();
  try {
    return (await client.query<{ state: string }>("SELECT state FROM intentgate_budget_leases WHERE id = $1", [id])).rows[0]?.state;
  } finally {
    await client.end();
  }
}

test("migrations apply once, also when replicas start together", async () => {
  const services = await Promise.all([1, 2, 3].map(() => LeaseService.open({ database: db.url })));
  await Promise.all(services.map((s) => s.close()));
  const client = new pg.Client(db.url);
  await client.connect();
  const { rows } = await client.query("SELECT id FROM intentgate_lease_migrations ORDER BY id");
  await client.end();
  assert.deepEqual(rows, [{ id: 1 }, { id: 2 }]);
});

test("concurrent grants from two controller replicas never exceed the call ceiling, and fill it exactly", async () => {
  const [a, b] = await Promise.all([LeaseService.open({ database: db.url }), LeaseService.open({ database: db.url })]);
  try {
    const b100 = budget("concurrent-calls", { calls: 100 });
    const results = await Promise.all(
      Array.from({ length: 160 }, (_, i) => (i % 2 === 0 ? a : b).grant(ask(b100, `holder-${i % 6}`, 1 + (i % 7)))),
    );
    const granted = results.reduce((sum, r) => sum + (r.ok ? r.lease.calls : 0), 0);
    assert.equal(granted, 100);
    const refusals = results.filter((r) => !r.ok);
    assert.ok(refusals.length > 0);
    for (const r of refusals) assert.equal(r.ok ? "" : r.code, "budget_agent_calls");
    assert.deepEqual(await a.usage(b100.name, AGENT), { calls: 100, cost: 0 });
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test("concurrent grants never exceed the cost ceiling; a slice always covers the asking call", async () => {
  const service = await LeaseService.open({ database: db.url });
  try {
    const tenantBudget: LeaseBudget = { name: "team-a/spend", tenant: "acme", scope: "tenant", windowSeconds: 3600, cost: 50 };
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => service.grant({ ...who, holder: `h${i % 3}`, budget: tenantBudget, key: "acme", calls: 4, minCost: 3 })),
    );
    let cost = 0;
    for (const r of results) {
      if (!r.ok) {
        assert.equal(r.code, "budget_tenant_cost");
        continue;
      }
      assert.ok((r.lease.cost ?? 0) >= 3, "a slice smaller than the asking call's cost could not serve it");
      cost += r.lease.cost ?? 0;
    }
    assert.ok(cost <= 50 && cost > 47, `granted cost ${cost}`);
  } finally {
    await service.close();
  }
});

test("slices shrink near the ceiling: half of what is left, shared by the live holders", async () => {
  const service = await LeaseService.open({ database: db.url });
  try {
    const b = budget("adaptive", { calls: 100 });
    const first = await service.grant(ask(b, "h1", 80));
    assert.equal(first.ok && first.lease.calls, 50); // alone: at most half of 100
    const second = await service.grant(ask(b, "h2", 80));
    assert.equal(second.ok && second.lease.calls, 12); // 50 left, two holders: 50 / 4
    const small = await service.grant(ask(b, "h1", 5));
    assert.equal(small.ok && small.lease.calls, 5); // asked for less than its share
  } finally {
    await service.close();
  }
});

test("a returned lease counts what was used; returns are idempotent and only by the lease's agent", async () => {
  const service = await LeaseService.open({ database: db.url });
  try {
    const b = budget("returns", { calls: 10, cost: 100 });
    const r = await service.grant(ask(b, "h1", 20, { cost: 200, minCost: 2 }));
    assert.ok(r.ok);
    assert.equal(r.lease.calls, 5);
    assert.deepEqual(await service.usage(b.name, AGENT), { calls: 5, cost: 50 });

    assert.deepEqual(await service.returnLease(r.lease.id, { tenant: "acme", agent: "team-a/other" }, { calls: 0, cost: 0 }), {
      ok: false,
      code: "unknown_lease",
      message: "no such lease",
    });
    const tooMuch = await service.returnLease(r.lease.id, who, { calls: 6, cost: 0 });
    assert.equal(tooMuch.ok ? "" : tooMuch.code, "invalid_usage");
    assert.deepEqual(await service.returnLease(r.lease.id, who, { calls: 2, cost: 7 }), { ok: true, returned: { calls: 2, cost: 7 } });
    assert.deepEqual(await service.returnLease(r.lease.id, who, { calls: 0, cost: 0 }), { ok: true, returned: { calls: 2, cost: 7 } });
    assert.deepEqual(await service.usage(b.name, AGENT), { calls: 2, cost: 7 });
    const unknown = await service.returnLease("not-a-uuid", who, { calls: 0, cost: 0 });
    assert.equal(unknown.ok ? "" : unknown.code, "unknown_lease");
  } finally {
    await service.close();
  }
});

test("an unreturned lease expires and counts in full until lease + window after its grant", async () => {
  let now = Date.UTC(2030, 0, 1);
  const service = await LeaseService.open({ database: db.url, leaseSeconds: 30, now: () => now });
  try {
    const b = budget("expiry", { calls: 4, windowSeconds: 60 });
    const crashed = await service.grant(ask(b, "crashed", 4));
    assert.ok(crashed.ok);
    assert.equal(crashed.lease.calls, 2);
    const other = await service.grant(ask(b, "h2", 4));
    assert.ok(other.ok);
    assert.equal(other.lease.calls, 1); // 2 left, two holders: floor(2 / 4), at least 1
    assert.deepEqual(await service.returnLease(other.lease.id, who, { calls: 0, cost: 0 }), { ok: true, returned: { calls: 0, cost: 0 } });

    now += 30_000; // the crashed holder's lease has expired
    assert.ok((await service.sweep()).expired >= 1); // the sweep covers every budget in the database
    assert.equal(await stateOf(crashed.lease.id), "expired");
    assert.equal(await stateOf(other.lease.id), "returned");
    const late = await service.returnLease(crashed.lease.id, who, { calls: 0, cost: 0 });
    assert.equal(late.ok ? "" : late.code, "lease_expired");
    assert.deepEqual(await service.usage(b.name, AGENT), { calls: 2, cost: 0 });
    const rest = await service.grant(ask(b, "h2", 4));
    assert.ok(rest.ok);
    assert.equal(rest.lease.calls, 1); // floor(2 / 2): the expired slice still counts
    const rest2 = await service.grant(ask(b, "h2", 4));
    assert.equal(rest2.ok && rest2.lease.calls, 1);
    const none = await service.grant(ask(b, "h2", 1));
    assert.equal(none.ok ? "" : none.code, "budget_agent_calls");

    now = Date.UTC(2030, 0, 1) + 30_000 + 60_000 - 1; // the last moment the crashed slice counts
    assert.equal((await service.usage(b.name, AGENT)).calls, 4);
    now += 1;
    assert.equal((await service.usage(b.name, AGENT)).calls, 2); // the two later slices of h2, still out
  } finally {
    await service.close();
  }
});

test("a returned slice counts over the window after its return, then frees its headroom", async () => {
  const t0 = Date.UTC(2031, 0, 1);
  let now = t0;
  const service = await LeaseService.open({ database: db.url, leaseSeconds: 10, now: () => now });
  try {
    const b = budget("window", { calls: 3, windowSeconds: 60 });
    const leases = [];
    for (let i = 0; i < 3; i++) {
      const r = await service.grant(ask(b, "solo", 1));
      assert.ok(r.ok);
      leases.push(r.lease);
    }
    assert.equal((await service.grant(ask(b, "solo", 1))).ok, false);
    now = t0 + 5_000;
    for (const lease of leases) assert.ok((await service.returnLease(lease.id, who, { calls: 1, cost: 0 })).ok);
    now = t0 + 5_000 + 60_000 - 1; // calls made up to the return are still inside the window
    const refused = await service.grant(ask(b, "solo", 1));
    assert.equal(refused.ok ? "" : refused.code, "budget_agent_calls");
    now += 1;
    const granted = await service.grant(ask(b, "solo", 3));
    assert.equal(granted.ok && granted.lease.calls, 1); // 3 left, alone: floor(3 / 2)
    assert.ok((await service.sweep()).deleted >= 3);
    for (const lease of leases) assert.equal(await stateOf(lease.id), undefined);
  } finally {
    await service.close();
  }
});

test("a lifetime ceiling (no window) counts its slices, returned or not, until its end; no window prunes them", async () => {
  const t0 = Date.UTC(2032, 0, 1);
  let now = t0;
  const service = await LeaseService.open({ database: db.url, leaseSeconds: 10, now: () => now });
  try {
    const until = t0 + 86_400_000;
    const life: LeaseBudget = { name: "token", tenant: "acme", scope: "token", refusal: "budget_token_calls", windowSeconds: Infinity, until, calls: 2 };
    const key = "acme/hop-1/calls/Infinity";
    const first = await service.grant(ask(life, "pod-a", 2, { key }));
    assert.ok(first.ok);
    assert.ok((await service.returnLease(first.lease.id, who, { calls: 1, cost: 0 })).ok);
    const crashed = await service.grant(ask(life, "pod-b", 2, { key }));
    assert.ok(crashed.ok); // never returned
    now = t0 + 3_600_000 * 12; // long past any lease and any window a Budget would have
    await service.sweep();
    const refused = await service.grant(ask(life, "pod-c", 1, { key }));
    assert.equal(refused.ok ? "" : refused.code, "budget_token_calls");
    assert.match(refused.ok ? "" : refused.message, /for life/);
    assert.equal(await stateOf(first.lease.id), "returned");
    now = until;
    assert.ok((await service.sweep()).deleted >= 2);
    assert.equal((await service.usage("token", key)).calls, 0);
    // A token without expiry: its slices count for ever.
    const forever = await service.grant(ask({ ...life, until: Infinity }, "pod-a", 1, { key: "acme/hop-2/calls/Infinity" }));
    assert.ok(forever.ok);
    now = Date.UTC(2999, 0, 1);
    await service.sweep();
    assert.equal(await stateOf(forever.lease.id), "expired");
  } finally {
    await service.close();
  }
});
