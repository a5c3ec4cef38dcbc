// The injector webhook against a real kube-apiserver: the controller's TLS code creates the CA and
// serving certificate in a Secret and patches the MutatingWebhookConfiguration's caBundle; the API
// server then calls the webhook (https://127.0.0.1:PORT/mutate) on every pod create. With no kubelet
// the pods stay Pending, but their stored specs show what was injected. Also: malformed reviews,
// certificate reuse and rotation, and what each failurePolicy does while the webhook is down.
import assert from "node:assert/strict";
import { request } from "node:https";
import { X509Certificate } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { AdmissionregistrationV1Api, CoreV1Api, CustomObjectsApi, type V1MutatingWebhookConfiguration, type V1Pod } from "@kubernetes/client-node";
import { pino } from "pino";
import { ensureWebhookTls, type WebhookTls, type WebhookTlsOptions } from "../../controller/webhook/certs.ts";
import type { InjectorSettings } from "../../controller/webhook/inject.ts";
import { apiLookup, createPodMutator } from "../../controller/webhook/mutate.ts";
import { startWebhookServer, type WebhookServer } from "../../controller/webhook/server.ts";
import { freePort } from "../support/ports.ts";
import { startKube, type TestKube } from "../support/kube.ts";

const CONTROLLER_NS = "intentgate-system";
const settings: InjectorSettings = {
  image: "intentgate/sidecar:test",
  redirectImage: "intentgate/redirect:test",
  ports: { mcp: 7070, admin: 7071 },
  controllerUrl: "https://intentgate-controller.intentgate-system.svc:8443",
  controllerNamespace: CONTROLLER_NS,
  defaultMode: "redirect",
  allowRedirect: true,
  proxyUid: 1337,
};

function webhookConfig(name: string, url: string, failurePolicy: "Fail" | "Ignore"): V1MutatingWebhookConfiguration {
  return {
    metadata: { name },
    webhooks: [
      {
        name: "inject.intentgate.dev",
        clientConfig: { url },
        rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"], scope: "Namespaced" }],
        namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["kube-system", CONTROLLER_NS] }] },
        failurePolicy,
        sideEffects: "None",
        admissionReviewVersions: ["v1"],
        timeoutSeconds: 5,
        reinvocationPolicy: "Never",
      },
    ],
  };
}

const agentPod = (name: string, extra: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): V1Pod => ({
  metadata: { name, ...extra },
  spec: { containers: [{ name: "agent", image: "agent:1" }] },
});

function post(url: string, ca: string, body: string | Buffer, contentType = "application/json"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", ca, headers: { "content-type": contentType } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("injector webhook on a real API server", () => {
  let kube: TestKube;
  let core: CoreV1Api;
  let admission: AdmissionregistrationV1Api;
  let server: WebhookServer;
  let tls: WebhookTls;
  let tlsOptions: WebhookTlsOptions;
  let url: string;

  before(async () => {
    kube = await startKube();
    await kube.applyCrds();
    const kc = kube.kubeConfig();
    core = kc.makeApiClient(CoreV1Api);
    admission = kc.makeApiClient(AdmissionregistrationV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    for (const [name, labels] of [[CONTROLLER_NS, {}], ["agents", { "intentgate.dev/inject": "enabled" }], ["plain", {}]] as const) {
      await core.createNamespace({ body: { metadata: { name, labels } } });
    }
    await custom.createNamespacedCustomObject({
      group: "intentgate.dev",
      version: "v1alpha1",
      namespace: "agents",
      plural: "mcpservers",
      body: { apiVersion: "intentgate.dev/v1alpha1", kind: "McpServer", metadata: { name: "payments" }, spec: { url: "http://payments.tools.svc:8080/mcp", hosts: ["payments:8080"] } },
    });
    const port = await freePort();
    url = `https://127.0.0.1:${port}/mutate`;
    await admission.createMutatingWebhookConfiguration({ body: webhookConfig("intentgate-injector", url, "Fail") });
    tlsOptions = { core, admission, namespace: CONTROLLER_NS, secretName: "intentgate-webhook-tls", webhookConfigName: "intentgate-injector", dnsNames: ["intentgate-webhook.intentgate-system.svc"], ipAddresses: ["127.0.0.1"] };
    tls = await ensureWebhookTls(tlsOptions);
    server = await startWebhookServer({ host: "127.0.0.1", port, tls, mutate: createPodMutator(apiLookup(core, custom), settings), log: pino({ level: "silent" }) });
  });

  after(async () => {
    await server?.close();
    await kube?.destroy();
  });

  test("the CA is in the Secret and in every webhook's caBundle", async () => {
    const secret = await core.readNamespacedSecret({ name: "intentgate-webhook-tls", namespace: CONTROLLER_NS });
    assert.deepEqual(Object.keys(secret.data ?? {}).sort(), ["ca-bundle.crt", "ca.crt", "ca.key", "tls.crt", "tls.key"]);
    const config = await admission.readMutatingWebhookConfiguration({ name: "intentgate-injector" });
    assert.equal(Buffer.from(config.webhooks?.[0]?.clientConfig.caBundle ?? "", "base64").toString(), tls.caPem);
    assert.ok(new X509Certificate(tls.certPem).verify(new X509Certificate(tls.caPem).publicKey));
  });

  test("a pod in a labelled namespace is stored with the redirect init container and the native sidecar", async () => {
    const pod = await core.createNamespacedPod({ namespace: "agents", body: agentPod("agent-a") });
    const stored = await core.readNamespacedPod({ name: "agent-a", namespace: "agents" });
    for (const p of [pod, stored]) {
      assert.deepEqual(p.spec?.initContainers?.map((c) => c.name), ["intentgate-redirect", "intentgate-sidecar"]);
      const sidecar = p.spec?.initContainers?.[1];
      assert.equal(sidecar?.restartPolicy, "Always");
      assert.equal(sidecar?.securityContext?.runAsUser, 1337);
      assert.equal(sidecar?.env?.find((e) => e.name === "INTENTGATE_POD_UID")?.valueFrom?.fieldRef?.fieldPath, "metadata.uid");
      const redirect = p.spec?.initContainers?.[0];
      assert.deepEqual(redirect?.securityContext?.capabilities?.add, ["NET_ADMIN", "NET_RAW"]);
      assert.equal(redirect?.env?.find((e) => e.name === "INTENTGATE_REDIRECT_DESTINATIONS")?.value, "payments.tools.svc:8080,payments:8080");
      assert.ok(p.spec?.volumes?.some((v) => v.name === "intentgate-token" && v.projected?.sources?.[0]?.serviceAccountToken?.audience === "intentgate"));
      assert.equal(p.metadata?.annotations?.["intentgate.dev/injected"], "redirect");
    }
  });

  test("env mode by pod annotation: the agent container's variables point at the sidecar", async () => {
    const annotations = { "intentgate.dev/interception": "env", "intentgate.dev/server-env": "payments=PAYMENTS_MCP_URL", "intentgate.dev/http-proxy": "true" };
    const pod = await core.createNamespacedPod({ namespace: "agents", body: agentPod("agent-env", { annotations }) });
    assert.deepEqual(pod.spec?.initContainers?.map((c) => c.name), ["intentgate-sidecar"]);
    const env = Object.fromEntries((pod.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    assert.deepEqual(env, { PAYMENTS_MCP_URL: "http://127.0.0.1:7070/mcp/payments", HTTP_PROXY: "http://127.0.0.1:7070", http_proxy: "http://127.0.0.1:7070" });
  });

  test("opted-out pods, unlabelled namespaces and kube-system are stored unchanged", async () => {
    const cases: Array<[string, V1Pod]> = [
      ["agents", agentPod("opted-out", { annotations: { "intentgate.dev/inject": "false" } })],
      ["plain", agentPod("plain-pod")],
      ["kube-system", agentPod("system-pod", { labels: { "intentgate.dev/inject": "enabled" } })],
    ];
    for (const [namespace, body] of cases) {
      const pod = await core.createNamespacedPod({ namespace, body });
      assert.equal(pod.spec?.initContainers, undefined, `${namespace}/${body.metadata?.name}`);
      assert.equal(pod.metadata?.annotations?.["intentgate.dev/injected"], undefined);
    }
  });

  test("a labelled pod in an unlabelled namespace is injected", async () => {
    const pod = await core.createNamespacedPod({ namespace: "plain", body: agentPod("opted-in", { labels: { "intentgate.dev/inject": "enabled" }, annotations: { "intentgate.dev/interception": "env" } }) });
    assert.deepEqual(pod.spec?.initContainers?.map((c) => c.name), ["intentgate-sidecar"]);
  });

  test("a denied pod is refused by the API server with the injector's reason", async () => {
    await assert.rejects(core.createNamespacedPod({ namespace: "agents", body: agentPod("bad-mode", { annotations: { "intentgate.dev/interception": "iptables" } }) }), (error: { code?: number; body?: unknown }) => {
      assert.equal(error.code, 403);
      assert.match(String(error.body), /intentgate\.dev\/interception must be/);
      return true;
    });
  });

  test("malformed reviews are answered with an error and the server keeps serving", async () => {
    assert.equal((await post(url, tls.caPem, "{not json")).status, 400);
    assert.equal((await post(url, tls.caPem, JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: {} }))).status, 400);
    assert.equal((await post(url, tls.caPem, JSON.stringify({ kind: "Pod" }))).status, 400);
    assert.equal((await post(url, tls.caPem, "{}", "text/plain")).status, 415);
    assert.equal((await post(url, tls.caPem, Buffer.alloc(5 * 1024 * 1024, 0x20))).status, 413);
    const review = { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { uid: "u-1", kind: { group: "", version: "v1", kind: "ConfigMap" }, operation: "CREATE", namespace: "agents", object: {} } };
    const ok = await post(url, tls.caPem, JSON.stringify(review));
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body), { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: "u-1", allowed: true } });
  });

  test("a valid pair is reused; near expiry the serving certificate is renewed under the same CA, then the CA itself with the old one kept in the bundle", async () => {
    const options = { ...tlsOptions, secretName: "rotation-test", webhookConfigName: "rotation-test" };
    const unused = webhookConfig("rotation-test", url, "Ignore");
    for (const w of unused.webhooks ?? []) w.namespaceSelector = { matchLabels: { "no-such": "namespace" } };
    await admission.createMutatingWebhookConfiguration({ body: unused });
    const first = await ensureWebhookTls(options);
    assert.equal((await ensureWebhookTls(options)).certPem, first.certPem, "reused while valid");
    const day = 86_400_000;
    const renewed = await ensureWebhookTls({ ...options, now: () => new Date(Date.now() + 300 * day) });
    assert.notEqual(renewed.certPem, first.certPem);
    assert.equal(renewed.caPem, first.caPem);
    const rotated = await ensureWebhookTls({ ...options, now: () => new Date(Date.now() + 600 * day) });
    assert.notEqual(rotated.caPem, first.caPem);
    assert.equal(rotated.caBundle, rotated.caPem + first.caPem);
    const config = await admission.readMutatingWebhookConfiguration({ name: "rotation-test" });
    assert.equal(Buffer.from(config.webhooks?.[0]?.clientConfig.caBundle ?? "", "base64").toString(), rotated.caBundle);
  });

  test("webhook down: failurePolicy Fail refuses pods in labelled namespaces, Ignore admits them uninjected", async () => {
    await server.close();
    await assert.rejects(core.createNamespacedPod({ namespace: "agents", body: agentPod("while-down") }), (error: { code?: number }) => error.code === 500 || error.code === 503 || error.code === 403);
    const config = await admission.readMutatingWebhookConfiguration({ name: "intentgate-injector" });
    for (const w of config.webhooks ?? []) w.failurePolicy = "Ignore";
    await admission.replaceMutatingWebhookConfiguration({ name: "intentgate-injector", body: config });
    // The API server picks up webhook configuration changes through its informer: retry briefly.
    let pod: V1Pod | undefined;
    for (let i = 0; i < 50 && pod === undefined; i++) {
      pod = await core.createNamespacedPod({ namespace: "agents", body: agentPod("while-down-ignored") }).catch(async () => {
        await new Promise((r) => setTimeout(r, 200));
        return undefined;
      });
    }
    assert.equal(pod?.spec?.initContainers, undefined, "admitted without a sidecar: the agent runs unprotected");
  });
});
