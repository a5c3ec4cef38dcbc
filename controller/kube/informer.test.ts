// Against a real etcd and kube-apiserver (test/support/kube.ts).
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, test } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import { startKube, type TestKube } from "../../test/support/kube.ts";
import { startTcpProxy, type TcpProxy } from "../../test/support/tcp-proxy.ts";
import { kubeJson } from "./client.ts";
import { Informer, type InformerOptions, type KubeObject } from "./informer.ts";

let kube: TestKube;
let kc: KubeConfig;
const informers: Array<Informer<KubeObject>> = [];
const proxies: TcpProxy[] = [];

before(async () => {
  kube = await startKube();
  kc = kube.kubeConfig();
});
after(async () => {
  await Promise.all(informers.map((i) => i.stop()));
  await Promise.all(proxies.map((p) => p.close()));
  await kube?.destroy();
});

async function namespace(name: string): Promise<string> {
  await kubeJson(kc, { method: "POST", path: "/api/v1/namespaces", body: { metadata: { name } } });
  return name;
}
const secretsPath = (ns: string): string => `/api/v1/namespaces/${ns}/secrets`;
const createSecret = (ns: string, name: string, value = "v1"): Promise<KubeObject> =>
  kubeJson(kc, { method: "POST", path: secretsPath(ns), body: { metadata: { name }, stringData: { value } } });
const deleteSecret = (ns: string, name: string): Promise<unknown> => kubeJson(kc, { method: "DELETE", path: `${secretsPath(ns)}/${name}` });

/** Every handler call as "add:name", "update:name", "delete:name". */
function recorded(options: Partial<InformerOptions> & { path: string }, client = kc): { informer: Informer<KubeObject>; events: string[] } {
  const events: string[] = [];
  const informer = new Informer<KubeObject>({ kc: client, initialBackoffMs: 100, maxBackoffMs: 1000, ...options })
    .on({
      add: (o) => events.push(`add:${o.metadata.name}`),
      update: (o) => events.push(`update:${o.metadata.name}`),
      delete: (o) => events.push(`delete:${o.metadata.name}`),
    });
  informers.push(informer);
  return { informer, events };
}

async function until(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A client that reaches the API server through a proxy (the serving certificate names 127.0.0.1, any port). */
async function proxiedClient(): Promise<{ proxy: TcpProxy; client: KubeConfig }> {
  const url = new URL(kube.server);
  const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
  proxies.push(proxy);
  const client = new KubeConfig();
  client.loadFromString(kube.kubeconfigYaml().replace(kube.server, `https://127.0.0.1:${proxy.port}`));
  return { proxy, client };
}

test("lists in pages, syncs, then watches adds, updates and deletes into the store", async () => {
  const ns = await namespace("inf-basic");
  for (const name of ["a", "b", "c"]) await createSecret(ns, name);
  const { informer, events } = recorded({ path: secretsPath(ns), pageSize: 2 });
  assert.equal(informer.hasSynced(), false);
  informer.start();
  await informer.waitForSync();
  assert.equal(informer.hasSynced(), true);
  assert.deepEqual(informer.list(ns).map((s) => s.metadata.name).sort(), ["a", "b", "c"]);
  assert.equal(informer.get("a", ns)?.kind, "Secret", "listed items get their kind");
  assert.deepEqual(informer.list("elsewhere"), []);

  await createSecret(ns, "d");
  await kubeJson(kc, { method: "PATCH", path: `${secretsPath(ns)}/a`, contentType: "application/merge-patch+json", body: { stringData: { value: "v2" } } });
  await deleteSecret(ns, "b");
  await until("three watch events", () => events.length >= 6);
  assert.deepEqual(events, ["add:a", "add:b", "add:c", "add:d", "update:a", "delete:b"]);
  assert.deepEqual(informer.list(ns).map((s) => s.metadata.name).sort(), ["a", "c", "d"]);
  assert.equal(informer.stats().lists, 1);
});

test("survives an API server restart: watches resume and later changes arrive", async () => {
  const ns = await namespace("inf-restart");
  await createSecret(ns, "before");
  const { informer, events } = recorded({ path: secretsPath(ns) });
  await informer.start().waitForSync();
  await kube.stop();
  await until("the informer noticing", () => informer.stats().failures > 0);
  await sleep(500); // a few failed restarts while the API server is away
  await kube.start();
  await createSecret(ns, "after");
  await until("the secret created after the restart", () => informer.get("after", ns) !== undefined, 30_000);
  await deleteSecret(ns, "before");
  await until("the delete", () => events.includes("delete:before"));
  assert.deepEqual(events, ["add:before", "add:after", "delete:before"]);
});

test("410 Gone on a stale resourceVersion relists, and emits the deletion it missed", async () => {
  const ns = await namespace("inf-gone");
  await createSecret(ns, "kept");
  await createSecret(ns, "removed");
  // Through a proxy so that the informer can be kept from seeing the changes below; no bookmarks reach it either.
  const { proxy, client } = await proxiedClient();
  const { informer, events } = recorded({ path: secretsPath(ns), idleTimeoutMs: 1500, requestTimeoutMs: 2000 }, client);
  await informer.start().waitForSync();
  proxy.blackhole();
  await deleteSecret(ns, "removed");
  await createSecret(ns, "added");
  // A restarted API server's watch cache starts at etcd's current revision: the informer's is now too old.
  await kube.stop();
  await kube.start();
  proxy.resume();
  await until("the relist", () => informer.get("added", ns) !== undefined && informer.get("removed", ns) === undefined, 30_000).catch((error: Error) => {
    throw new Error(`${error.message}: ${JSON.stringify(informer.stats())}`);
  });
  assert.ok(informer.stats().expired >= 1, `a 410 was answered: ${JSON.stringify(informer.stats())}`);
  assert.equal(informer.stats().lists, 2);
  // Only the differences: nothing for the unchanged "kept".
  assert.deepEqual(events, ["add:kept", "add:removed", "add:added", "delete:removed"]);
});

test("real network fault: a silent half-open watch (TCP proxy stops forwarding) is restarted by the watchdog", async () => {
  const ns = await namespace("inf-silent");
  const { proxy, client } = await proxiedClient();
  const { informer } = recorded({ path: secretsPath(ns), idleTimeoutMs: 1000, requestTimeoutMs: 2000 }, client);
  await informer.start().waitForSync();
  proxy.blackhole(); // the open watch now hears nothing, and never learns it is dead
  await sleep(200);
  proxy.resume(); // new connections work again
  await createSecret(ns, "after-silence");
  await until("the secret, over a fresh watch", () => informer.get("after-silence", ns) !== undefined, 10_000).catch((error: Error) => {
    throw new Error(`${error.message}: ${JSON.stringify(informer.stats())}`);
  });
  assert.ok(informer.stats().watchdogRestarts >= 1, JSON.stringify(informer.stats()));
});

test("stop ends the watch and the informer makes no more requests", async () => {
  const ns = await namespace("inf-stop");
  const { proxy, client } = await proxiedClient();
  const { informer } = recorded({ path: secretsPath(ns) }, client);
  await informer.start().waitForSync();
  await until("the watch connection", () => proxy.connections() >= 1);
  await informer.stop();
  await until("the connections closed", () => proxy.connections() === 0, 5000);
  const watches = informer.stats().watches;
  await sleep(300);
  assert.equal(informer.stats().watches, watches);
});
