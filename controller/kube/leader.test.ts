// Against a real etcd and kube-apiserver (test/support/kube.ts). Short lease timings keep it fast.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, test } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import { startKube, type TestKube } from "../../test/support/kube.ts";
import { startTcpProxy, type TcpProxy } from "../../test/support/tcp-proxy.ts";
import { kubeJson } from "./client.ts";
import { LeaderElectionConfigError, LeaderElector } from "./leader.ts";

let kube: TestKube;
let kc: KubeConfig;
const electors: LeaderElector[] = [];
const proxies: TcpProxy[] = [];

before(async () => {
  kube = await startKube();
  kc = kube.kubeConfig();
});
after(async () => {
  await Promise.all(electors.map((e) => e.stop()));
  await Promise.all(proxies.map((p) => p.close()));
  await kube?.destroy();
});

const TIMINGS = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 250 };

interface Candidate {
  elector: LeaderElector;
  /** [start, end] of each term, monotonic ms; end Infinity while leading. */
  terms: Array<[number, number]>;
}

function candidate(lease: string, identity: string, client = kc): Candidate {
  const terms: Array<[number, number]> = [];
  const elector = new LeaderElector({
    kc: client,
    namespace: "default",
    name: lease,
    identity,
    ...TIMINGS,
    onStartedLeading: () => void terms.push([performance.now(), Infinity]),
    onStoppedLeading: () => {
      const term = terms.at(-1);
      if (term) term[1] = performance.now();
    },
  });
  electors.push(elector);
  return { elector, terms };
}

/** Samples isLeader() of every candidate until stopped; fails if two ever say yes at once. */
function watchForTwoLeaders(candidates: Candidate[]): () => number {
  let worst = 0;
  const timer = setInterval(() => {
    worst = Math.max(worst, candidates.filter((c) => c.elector.isLeader()).length);
  }, 10);
  return () => {
    clearInterval(timer);
    return worst;
  };
}

function assertNoOverlap(a: Candidate, b: Candidate): void {
  for (const [as, ae] of a.terms) for (const [bs, be] of b.terms) assert.ok(ae <= bs || be <= as, `terms overlap: [${as}, ${ae}] and [${bs}, ${be}]`);
}

async function until(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<number> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
  return performance.now() - started;
}

const readLease = (name: string): Promise<{ spec: { holderIdentity?: string; leaseTransitions?: number; leaseDurationSeconds?: number } }> =>
  kubeJson(kc, { path: `/apis/coordination.k8s.io/v1/namespaces/default/leases/${name}` });

test("two electors: exactly one leads; stopping it releases the Lease and the other takes over at once", async () => {
  const a = candidate("stop-release", "replica-a");
  const b = candidate("stop-release", "replica-b");
  const twoLeaders = watchForTwoLeaders([a, b]);
  a.elector.start();
  b.elector.start();
  await until("a leader", () => a.elector.isLeader() || b.elector.isLeader());
  await sleep(1000); // several renewals: the leader keeps it, the other keeps waiting
  const [leader, follower] = a.elector.isLeader() ? [a, b] : [b, a];
  assert.equal(follower.elector.isLeader(), false);
  assert.equal(follower.elector.leader(), leader === a ? "replica-a" : "replica-b");
  assert.equal((await readLease("stop-release")).spec.holderIdentity, follower.elector.leader());

  await leader.elector.stop();
  const takeover = await until("the follower to lead", () => follower.elector.isLeader());
  assert.ok(takeover < TIMINGS.leaseDurationMs, `released Lease taken in ${takeover} ms, not after the lease duration`);
  const lease = await readLease("stop-release");
  assert.equal(lease.spec.holderIdentity, follower === a ? "replica-a" : "replica-b");
  assert.equal(lease.spec.leaseTransitions, 1);
  assert.equal(twoLeaders(), 1);
  assertNoOverlap(a, b);
  assert.ok(leader.terms[0]![1] !== Infinity, "onStoppedLeading ran on stop");
});

test("real network fault: a leader cut off from the API server (TCP proxy blackholed) steps down within the renew deadline; the other takes over within the lease duration; never two leaders", async () => {
  const url = new URL(kube.server);
  const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
  proxies.push(proxy);
  const cutOff = new KubeConfig();
  cutOff.loadFromString(kube.kubeconfigYaml().replace(kube.server, `https://127.0.0.1:${proxy.port}`));
  const a = candidate("partition", "replica-a", cutOff);
  const b = candidate("partition", "replica-b");
  const twoLeaders = watchForTwoLeaders([a, b]);
  a.elector.start();
  await until("a to lead", () => a.elector.isLeader());
  b.elector.start();
  await sleep(700);
  assert.equal(b.elector.isLeader(), false);

  const cut = performance.now();
  proxy.blackhole(); // a's renewals now hang; it never hears an answer
  await until("a to step down", () => a.terms[0]![1] !== Infinity, 5000);
  const steppedDown = a.terms[0]![1] - cut;
  await until("b to lead", () => b.elector.isLeader(), 10_000);
  const tookOver = b.terms[0]![0] - cut;
  assert.ok(steppedDown <= TIMINGS.renewDeadlineMs + 300, `a stepped down ${steppedDown} ms after the cut`);
  assert.ok(tookOver <= TIMINGS.leaseDurationMs + TIMINGS.retryPeriodMs * 1.2 + 500, `b took over ${tookOver} ms after the cut`);
  assert.equal(twoLeaders(), 1);
  assertNoOverlap(a, b);
  assert.ok(a.terms[0]![1] < b.terms[0]![0], "a stopped before b started");
  proxy.resume();
  await a.elector.stop();
  assert.equal((await readLease("partition")).spec.holderIdentity, "replica-b", "the cut-off replica does not release a Lease it lost");
});

test("timings that would allow two leaders are refused", () => {
  const base = { kc, namespace: "default", name: "x", identity: "i", onStartedLeading: () => undefined, onStoppedLeading: () => undefined };
  assert.throws(() => new LeaderElector({ ...base, leaseDurationMs: 2000, renewDeadlineMs: 2000 }), LeaderElectionConfigError);
  assert.throws(() => new LeaderElector({ ...base, leaseDurationMs: 2000, renewDeadlineMs: 1000, retryPeriodMs: 900 }), LeaderElectionConfigError);
  assert.throws(() => new LeaderElector({ ...base, leaseDurationMs: 1500 }), LeaderElectionConfigError);
  assert.throws(() => new LeaderElector({ ...base, identity: "" }), LeaderElectionConfigError);
});
