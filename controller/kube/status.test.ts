// Condition semantics as unit tests; status patches against a real etcd and kube-apiserver with the CRDs from crds/.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { KubeConfig } from "@kubernetes/client-node";
import { startKube, type TestKube } from "../../test/support/kube.ts";
import { GROUP, VERSION, type Condition, type Tenant, type ToolPolicy } from "../api/types.ts";
import { KubeApiError, kubeJson } from "./client.ts";
import { findCondition, patchStatus, setCondition, statusChanged } from "./status.ts";

const T0 = new Date("2026-01-02T03:04:05.678Z");
const T1 = new Date("2026-01-02T03:09:00.000Z");

test("setCondition keeps lastTransitionTime while the status stays, and moves it when the status changes", () => {
  const first = setCondition(undefined, { type: "Ready", status: "False", reason: "CompileError", message: "policy.rego:3: rego_parse_error", observedGeneration: 1 }, T0);
  assert.deepEqual(first, [{ type: "Ready", status: "False", reason: "CompileError", message: "policy.rego:3: rego_parse_error", observedGeneration: 1, lastTransitionTime: "2026-01-02T03:04:05Z" }]);
  const sameStatus = setCondition(first, { type: "Ready", status: "False", reason: "CompileError", message: "policy.rego:4: rego_parse_error", observedGeneration: 2 }, T1);
  assert.equal(sameStatus[0]?.lastTransitionTime, "2026-01-02T03:04:05Z");
  assert.equal(sameStatus[0]?.message, "policy.rego:4: rego_parse_error");
  assert.equal(sameStatus[0]?.observedGeneration, 2);
  const flipped = setCondition(sameStatus, { type: "Ready", status: "True", reason: "Compiled", message: "", observedGeneration: 3 }, T1);
  assert.equal(flipped[0]?.lastTransitionTime, "2026-01-02T03:09:00Z");
  assert.equal(first[0]?.message, "policy.rego:3: rego_parse_error", "the input is not modified");
});

test("setCondition keeps other conditions in place and appends new types", () => {
  let conditions: Condition[] = setCondition(undefined, { type: "Compiled", status: "True", reason: "Compiled", message: "" }, T0);
  conditions = setCondition(conditions, { type: "Ready", status: "Unknown", reason: "Distributing", message: "" }, T0);
  conditions = setCondition(conditions, { type: "Compiled", status: "False", reason: "CompileError", message: "x" }, T1);
  assert.deepEqual(conditions.map((c) => c.type), ["Compiled", "Ready"]);
  assert.equal(findCondition(conditions, "Compiled")?.status, "False");
  assert.equal(findCondition(conditions, "Missing"), undefined);
});

test("statusChanged compares only the fields being written", () => {
  const conditions = setCondition(undefined, { type: "Ready", status: "True", reason: "Ok", message: "" }, T0);
  assert.equal(statusChanged(undefined, { conditions }), true);
  assert.equal(statusChanged({ conditions, observedGeneration: 4 }, { conditions }), false);
  assert.equal(statusChanged({ conditions, observedGeneration: 4 }, { conditions, observedGeneration: 5 }), true);
  assert.equal(statusChanged({ conditions }, { conditions: setCondition(conditions, { type: "Ready", status: "False", reason: "No", message: "" }, T1) }), true);
});

let kube: TestKube;
let kc: KubeConfig;
before(async () => {
  kube = await startKube();
  kc = kube.kubeConfig();
  await kube.applyCrds();
  await kubeJson(kc, { method: "POST", path: "/api/v1/namespaces", body: { metadata: { name: "team-a" } } });
});
after(async () => {
  await kube?.destroy();
});

const policyRef = { group: GROUP, version: VERSION, plural: "toolpolicies", namespace: "team-a", name: "finance" };
const policyPath = `/apis/${GROUP}/${VERSION}/namespaces/team-a/toolpolicies/finance`;

test("patchStatus writes a namespaced resource's status subresource with a merge patch and leaves the spec alone", async () => {
  const created = await kubeJson<ToolPolicy>(kc, {
    method: "POST",
    path: `/apis/${GROUP}/${VERSION}/namespaces/team-a/toolpolicies`,
    body: {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: "ToolPolicy",
      metadata: { name: "finance" },
      spec: { mode: "enforce", modules: { "policy.rego": "package intentgate.finance\n\ndecision := {\"decision\": \"allow\"}\n" } },
    },
  });
  const generation = created.metadata.generation ?? 0;
  const conditions = setCondition(undefined, { type: "Compiled", status: "False", reason: "CompileError", message: "policy.rego:3: rego_parse_error", observedGeneration: generation });
  const patched = await patchStatus<ToolPolicy>(kc, policyRef, { observedGeneration: generation, conditions, version: null });
  assert.deepEqual(patched.status?.conditions, conditions);
  // A merge patch on /status changes status only: a spec in the body is ignored, and the generation does not move.
  await patchStatus(kc, policyRef, { loadedBy: 2 });
  await kubeJson(kc, { method: "PATCH", path: `${policyPath}/status`, contentType: "application/merge-patch+json", body: { spec: { mode: "dryRun" } } });
  const stored = await kubeJson<ToolPolicy>(kc, { path: policyPath });
  assert.equal(stored.spec.mode, "enforce");
  assert.equal(stored.metadata.generation, generation);
  assert.equal(stored.status?.loadedBy, 2, "fields the patch does not name are kept");
  assert.deepEqual(stored.status?.conditions, conditions);
});

test("patchStatus writes a cluster-scoped resource's status; the schema still applies", async () => {
  await kubeJson(kc, {
    method: "POST",
    path: `/apis/${GROUP}/${VERSION}/tenants`,
    body: { apiVersion: `${GROUP}/${VERSION}`, kind: "Tenant", metadata: { name: "acme" }, spec: { namespaces: ["team-a"], keysSecret: { name: "acme-keys", key: "keys.json" } } },
  });
  const ready = setCondition(undefined, { type: "Ready", status: "True", reason: "SnapshotBuilt", message: "", observedGeneration: 1 });
  const patched = await patchStatus<Tenant>(kc, { group: GROUP, version: VERSION, plural: "tenants", name: "acme" }, { conditions: ready, sidecars: 3 });
  assert.equal(patched.status?.sidecars, 3);
  await assert.rejects(
    patchStatus(kc, { group: GROUP, version: VERSION, plural: "tenants", name: "acme" }, { sidecars: -1 }),
    (error: unknown) => error instanceof KubeApiError && error.statusCode === 422,
  );
});

test("patchStatus of a resource that is gone fails with a 404 KubeApiError", async () => {
  await assert.rejects(
    patchStatus(kc, { ...policyRef, name: "deleted" }, { loadedBy: 1 }),
    (error: unknown) => error instanceof KubeApiError && error.statusCode === 404 && error.reason === "NotFound",
  );
});
