import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { TerminalError, WorkQueue, objectKey, parseKey, type QueueResult } from "./queue.ts";

/** A process function whose runs the test releases one by one. */
function gated(): { process: (key: string) => Promise<void>; runs: string[]; release: (key: string) => void } {
  const runs: string[] = [];
  const gates = new Map<string, Array<() => void>>();
  return {
    runs,
    process: (key) => {
      runs.push(key);
      return new Promise((resolve) => gates.set(key, [...(gates.get(key) ?? []), resolve]));
    },
    release: (key) => gates.get(key)?.shift()?.(),
  };
}

test("a key added while queued is processed once", async () => {
  const g = gated();
  const queue = new WorkQueue({ process: g.process, concurrency: 1 });
  queue.add("Budget/ns/a"); // starts at once
  queue.add("Budget/ns/b");
  queue.add("Budget/ns/b");
  queue.add("Budget/ns/b");
  assert.equal(queue.length, 1);
  g.release("Budget/ns/a");
  await sleep(5);
  g.release("Budget/ns/b");
  await queue.idle();
  assert.deepEqual(g.runs, ["Budget/ns/a", "Budget/ns/b"]);
});

test("a key added while processing runs again afterwards, never concurrently with itself", async () => {
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  const queue = new WorkQueue({
    concurrency: 4,
    process: async () => {
      runs++;
      active++;
      maxActive = Math.max(maxActive, active);
      await sleep(20);
      active--;
    },
  });
  queue.add("k");
  await sleep(5);
  queue.add("k"); // while processing: marked dirty, not started
  queue.add("k"); // still one rerun
  await queue.idle();
  assert.equal(runs, 2);
  assert.equal(maxActive, 1);
});

test("transient errors retry with per-key exponential backoff, then the count resets", async () => {
  const attempts: number[] = [];
  const results: QueueResult[] = [];
  const queue = new WorkQueue({
    baseDelayMs: 40,
    maxDelayMs: 1000,
    process: () => {
      attempts.push(performance.now());
      return attempts.length <= 3 ? Promise.reject(new Error("apiserver unavailable")) : Promise.resolve();
    },
    onResult: (r) => results.push(r),
  });
  queue.add("k");
  while (attempts.length < 4) await sleep(10);
  await queue.idle();
  const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
  assert.deepEqual(results.map((r) => [r.outcome, r.failures, r.retryInMs]), [
    ["retry", 1, 40],
    ["retry", 2, 80],
    ["retry", 3, 160],
    ["ok", 0, undefined],
  ]);
  for (const [i, expected] of [40, 80, 160].entries()) assert.ok(gaps[i]! >= expected - 2, `gap ${i} ${gaps[i]} >= ${expected}`);
  assert.equal(queue.failures("k"), 0);
  await queue.stop();
});

test("backoff is capped and other keys are not delayed by a failing one", async () => {
  const done: string[] = [];
  const results: QueueResult[] = [];
  const queue = new WorkQueue({
    baseDelayMs: 10,
    maxDelayMs: 25,
    concurrency: 1,
    process: (key) => (key === "bad" ? Promise.reject(new Error("flaky")) : (done.push(key), Promise.resolve())),
    onResult: (r) => results.push(r),
  });
  queue.add("bad");
  queue.add("good");
  await sleep(150);
  await queue.stop();
  assert.deepEqual(done, ["good"]);
  const delays = results.filter((r) => r.key === "bad").map((r) => r.retryInMs);
  assert.ok(delays.length >= 4, `several retries: ${delays.join(",")}`);
  assert.deepEqual(delays.slice(0, 3), [10, 20, 25]);
  assert.ok(delays.every((d) => d !== undefined && d <= 25));
});

test("terminal errors are not retried; a later add processes the key again", async () => {
  let runs = 0;
  const results: QueueResult[] = [];
  const queue = new WorkQueue({
    baseDelayMs: 5,
    process: () => {
      runs++;
      return Promise.reject(new TerminalError("invalid_spec", "window must be a duration"));
    },
    onResult: (r) => results.push(r),
  });
  queue.add("Budget/ns/b");
  await queue.idle();
  await sleep(50);
  assert.equal(runs, 1);
  assert.equal(results[0]?.outcome, "terminal");
  assert.equal((results[0]?.error as TerminalError).code, "invalid_spec");
  queue.add("Budget/ns/b"); // the spec changed: try again
  await queue.idle();
  assert.equal(runs, 2);
});

test("concurrency is bounded", async () => {
  let active = 0;
  let maxActive = 0;
  const queue = new WorkQueue({
    concurrency: 3,
    process: async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await sleep(10);
      active--;
    },
  });
  for (let i = 0; i < 12; i++) queue.add(`k${i}`);
  await queue.idle();
  assert.equal(maxActive, 3);
});

test("stop waits for in-flight work, drops queued keys and retries, and ignores later adds", async () => {
  const g = gated();
  const queue = new WorkQueue({ process: g.process, concurrency: 1 });
  queue.add("a");
  queue.add("b");
  queue.addAfter("c", 10);
  let stopped = false;
  const stopping = queue.stop().then(() => (stopped = true));
  await sleep(30);
  assert.equal(stopped, false, "stop waits for the run in flight");
  queue.add("d");
  g.release("a");
  await stopping;
  await sleep(20);
  assert.deepEqual(g.runs, ["a"]);
});

test("a retry waiting for its backoff is replaced by a fresh add", async () => {
  let runs = 0;
  const queue = new WorkQueue({
    baseDelayMs: 10_000,
    process: () => (++runs === 1 ? Promise.reject(new Error("transient")) : Promise.resolve()),
  });
  queue.add("k");
  await queue.idle();
  queue.add("k"); // an informer event: process now, not in 10 s
  await queue.idle();
  assert.equal(runs, 2);
  await queue.stop();
});

test("keys name kind, namespace and name; cluster-scoped keys have an empty namespace", () => {
  assert.equal(objectKey("ToolPolicy", "team-a", "finance"), "ToolPolicy/team-a/finance");
  assert.equal(objectKey("Tenant", undefined, "acme"), "Tenant//acme");
  assert.deepEqual(parseKey("Tenant//acme"), { kind: "Tenant", namespace: "", name: "acme" });
  assert.deepEqual(parseKey("ToolPolicy/team-a/finance"), { kind: "ToolPolicy", namespace: "team-a", name: "finance" });
});

test("a delay longer than a Node timer holds (a 40-day token) waits instead of firing at once", async () => {
  const g = gated();
  const queue = new WorkQueue({ process: g.process, concurrency: 1 });
  queue.addAfter("CapabilityGrant/ns/long", 40 * 24 * 3600 * 1000);
  await sleep(50);
  assert.deepEqual(g.runs, [], "Node fires an overflowing timer after 1 ms: the grant would reconcile in a loop");
  queue.add("CapabilityGrant/ns/long");
  g.release("CapabilityGrant/ns/long");
  await queue.idle();
  assert.deepEqual(g.runs, ["CapabilityGrant/ns/long"], "an add() still wins over the long wait");
});
