import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryBudgetLedger, type Limit } from "./ledger.ts";

const calls = (max: number, window: number): Limit => ({ code: "budget_agent_calls", kind: "calls", max, window });
const cost = (max: number, window: number): Limit => ({ code: "budget_agent_cost", kind: "cost", max, window });

void test("a sliding window: the call that leaves the window frees its place exactly when it leaves", () => {
  const ledger = new MemoryBudgetLedger();
  const req = [{ key: "a", limits: [calls(2, 10)] }];
  assert.equal(ledger.reserve(req, 1, 0).ok, true);
  assert.equal(ledger.reserve(req, 1, 5_000).ok, true);
  assert.equal(ledger.reserve(req, 1, 9_999).ok, false);
  assert.equal(ledger.reserve(req, 1, 10_000).ok, true, "10 s after it, the first call has left the window");
  assert.equal(ledger.reserve(req, 1, 10_001).ok, false);
  assert.deepEqual(ledger.usage("a", 10, 10_001), { calls: 2, cost: 2 });
});

void test("several windows and a lifetime ceiling on one key count the same calls", () => {
  const ledger = new MemoryBudgetLedger();
  const req = [{ key: "t", limits: [calls(3, 60), cost(10, 3600), calls(5, Infinity)] }];
  for (const at of [0, 1_000, 2_000]) assert.equal(ledger.reserve(req, 3, at).ok, true);
  const fourth = ledger.reserve(req, 3, 61_000);
  assert.equal(fourth.ok, false, "cost 12 > 10 within the hour");
  assert.equal(!fourth.ok && fourth.code, "budget_agent_cost");
  assert.deepEqual(ledger.usage("t", 60, 61_000), { calls: 1, cost: 3 });
  assert.deepEqual(ledger.usage("t", Infinity, 61_000), { calls: 3, cost: 9 });
});

void test("a released reservation no longer counts, in every window", () => {
  const ledger = new MemoryBudgetLedger();
  const req = [{ key: "r", limits: [calls(1, 60), calls(1, Infinity)] }];
  const first = ledger.reserve(req, 1, 0);
  assert.ok(first.ok);
  first.release();
  first.release();
  assert.deepEqual(ledger.usage("r", 60, 1), { calls: 0, cost: 0 });
  assert.equal(ledger.reserve(req, 1, 2).ok, true);
  assert.equal(ledger.reserve(req, 1, 3).ok, false);
});

void test("exact over many calls: old entries are compacted away and totals stay exact", () => {
  const ledger = new MemoryBudgetLedger();
  const req = [{ key: "m", limits: [calls(1_000, 1)] }];
  let allowed = 0;
  for (let i = 0; i < 50_000; i++) if (ledger.reserve(req, 1, i).ok) allowed++; // one call per ms for 50 s
  assert.equal(allowed, 50_000, "1,000 per second is never exceeded at one per millisecond");
  assert.deepEqual(ledger.usage("m", 1, 49_999), { calls: 1_000, cost: 1_000 });
  assert.equal(ledger.reserve(req, 1, 49_999).ok, false, "the 1,001st call in the second is refused");
});

void test("one call counts once per key, however many requests name the key", () => {
  const ledger = new MemoryBudgetLedger();
  const reqs = [{ key: "k", limits: [calls(2, 60)] }, { key: "k", limits: [cost(5, 60)] }];
  assert.equal(ledger.reserve(reqs, 2, 0).ok, true);
  assert.deepEqual(ledger.usage("k", 60, 0), { calls: 1, cost: 2 });
});
