// The counts behind ToolPolicy.status.loadedBy and Tenant.status.sidecars across replicas: each
// replica's summary counts what its own subscribers loaded, the leader adds the others' fresh
// summaries, a stale or malformed summary counts for nothing, and no replica is counted twice.
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { test } from "node:test";
import type { Tenant, ToolPolicy } from "../api/types.ts";
import type { ClusterView } from "../snapshot/build.ts";
import type { SnapshotHub, Subscriber } from "./hub.ts";
import { readReport, summarize, sumReports, type ReplicaReport } from "./replica-report.ts";

const policy = (name: string, agents?: ToolPolicy["spec"]["agents"]): ToolPolicy =>
  ({ metadata: { name, namespace: "agents" }, spec: { mode: "enforce", modules: {}, ...(agents ? { agents } : {}) } }) as unknown as ToolPolicy;

const view = {
  policies: (ns: string) => (ns === "agents" ? [policy("all"), policy("only-b", { serviceAccounts: ["b"] })] : []),
  tenants: () => [] as Tenant[],
} as unknown as ClusterView;

const subscriber = (id: number, serviceAccount: string, loaded?: Record<string, string>): Subscriber => ({
  id,
  who: { namespace: "agents", serviceAccount, podLabels: {} },
  tenant: "acme",
  sent: { version: "v" } as Subscriber["sent"],
  loaded: loaded === undefined ? undefined : { version: "v", policies: new Map(Object.entries(loaded)) },
  res: undefined as unknown as ServerResponse,
});

const hubOf = (subs: Subscriber[]): SnapshotHub => ({ subscribers: () => subs }) as unknown as SnapshotHub;

test("a replica's summary counts selected sidecars and loaded versions per policy, and sidecars per tenant", () => {
  const report = summarize(hubOf([subscriber(1, "a", { "agents/all": "v2" }), subscriber(2, "b", { "agents/all": "v1", "agents/only-b": "v9" }), subscriber(3, "b")]), view, "r1", 100);
  assert.deepEqual(report, {
    identity: "r1",
    at: 100,
    policies: { "agents/all": { selected: 3, loaded: { v2: 1, v1: 1 } }, "agents/only-b": { selected: 2, loaded: { v9: 1 } } },
    tenants: { acme: 3 },
    current: { acme: 2 },
  });
});

test("sums over replicas count each identity once, the first (live) summary winning", () => {
  const mine: ReplicaReport = { identity: "r1", at: 100, policies: { "agents/all": { selected: 2, loaded: { v2: 2 } } }, tenants: { acme: 2 }, current: { acme: 2 } };
  const myOldPublished: ReplicaReport = { identity: "r1", at: 90, policies: { "agents/all": { selected: 5, loaded: { v2: 5 } } }, tenants: { acme: 5 }, current: { acme: 5 } };
  const other: ReplicaReport = { identity: "r2", at: 95, policies: { "agents/all": { selected: 1, loaded: { v1: 1 } } }, tenants: { acme: 1 }, current: {} };
  const counts = sumReports([mine, myOldPublished, other]);
  assert.deepEqual(counts.policy("agents/all", "v2"), { selected: 3, loaded: 2 });
  assert.deepEqual(counts.policy("agents/all", "v1"), { selected: 3, loaded: 1 });
  assert.deepEqual(counts.policy("agents/none", "v1"), { selected: 0, loaded: 0 });
  assert.deepEqual(counts.tenant("acme"), { sidecars: 3, current: 2 });
});

test("a published summary older than the bound, or malformed, is not counted", () => {
  const data = (r: unknown): { data: Record<string, string> } => ({ data: { "report.json": JSON.stringify(r) } });
  const report: ReplicaReport = { identity: "r2", at: 1000, policies: {}, tenants: {}, current: {} };
  assert.deepEqual(readReport(data(report), 1090, 90), report);
  assert.equal(readReport(data(report), 1091, 90), undefined, "a dead replica's summary expires");
  assert.equal(readReport(data({ identity: "r2" }), 1000, 90), undefined);
  assert.equal(readReport({ data: { "report.json": "{not json" } }, 1000, 90), undefined);
  assert.equal(readReport({}, 1000, 90), undefined);
});
