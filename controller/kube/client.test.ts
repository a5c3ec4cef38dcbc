// KubeConfig sources against a real etcd and kube-apiserver (test/support/kube.ts).
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startKube, type TestKube } from "../../test/support/kube.ts";
import { KubeConfigError, SERVICE_ACCOUNT_DIR, currentNamespace, kubeJson, loadKubeConfig } from "./client.ts";

let kube: TestKube;
let root: string;
before(async () => {
  kube = await startKube();
  root = mkdtempSync(join(tmpdir(), "intentgate-sa-"));
});
after(async () => {
  rmSync(root, { recursive: true, force: true });
  await kube?.destroy();
});

test("a kubeconfig file reaches the API server with its CA and token", async () => {
  const kc = loadKubeConfig({ kind: "file", path: kube.kubeconfigPath });
  const ns = await kubeJson<{ metadata: { name: string } }>(kc, { path: "/api/v1/namespaces/default" });
  assert.equal(ns.metadata.name, "default");
  assert.equal(currentNamespace(kc), "default");
});

test("in-cluster: the service account's token, CA and namespace files, and the service environment", async () => {
  const dir = join(root, SERVICE_ACCOUNT_DIR);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "token"), kube.admin.token);
  writeFileSync(join(dir, "ca.crt"), kube.caPem);
  writeFileSync(join(dir, "namespace"), "intentgate-system");
  const url = new URL(kube.server);
  process.env["KUBERNETES_SERVICE_HOST"] = url.hostname;
  process.env["KUBERNETES_SERVICE_PORT"] = url.port;
  try {
    const kc = loadKubeConfig({ kind: "inCluster", root });
    assert.equal(currentNamespace(kc), "intentgate-system");
    const ns = await kubeJson<{ metadata: { name: string } }>(kc, { path: "/api/v1/namespaces/default" });
    assert.equal(ns.metadata.name, "default");
  } finally {
    delete process.env["KUBERNETES_SERVICE_HOST"];
    delete process.env["KUBERNETES_SERVICE_PORT"];
  }
});

test("missing sources fail with stable codes", () => {
  assert.throws(() => loadKubeConfig({ kind: "file", path: join(root, "nope") }), (e: unknown) => e instanceof KubeConfigError && e.code === "kube_config_invalid");
  assert.throws(() => loadKubeConfig({ kind: "inCluster", root: join(root, "empty") }), (e: unknown) => e instanceof KubeConfigError && e.code === "kube_in_cluster_unavailable");
  const path = join(root, "bad-kubeconfig");
  writeFileSync(path, "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n");
  assert.throws(() => loadKubeConfig({ kind: "file", path }), (e: unknown) => e instanceof KubeConfigError && e.code === "kube_config_invalid");
});
