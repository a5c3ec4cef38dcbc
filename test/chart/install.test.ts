// The rendered chart against a real kube-apiserver: `kubectl apply --dry-run=server` of the default and the custom
// rendering (the chart's CRDs applied for real first), then a real install and `intentgate controller` run with
// the Deployment's own environment under the chart's ServiceAccount token, so its RBAC is shown to be enough for
// what the controller does: elect itself, keep its TLS Secret and the webhook's caBundle, compile and report a
// policy, mint a grant token, authenticate a sidecar (TokenReview, pod lookup), answer an admission review,
// revoke a deleted grant's token and sweep an expired revocation, with no request refused.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { stringify } from "yaml";
import { CASES, CHART_DIR, RELEASE, renderChart } from "../../scripts/chart-golden.ts";
import { AuditKeys } from "../../wire/audit/keys.ts";
import { newMasterEntry } from "../../wire/index.ts";
import { ROOT } from "../support/gateway.ts";
import { startKube, type TestKube } from "../support/kube.ts";
import { freePort } from "../support/ports.ts";
import { eventually } from "../support/rpc.ts";
import { find, parseManifests, type Manifest } from "./manifests.ts";

const SYSTEM = RELEASE.namespace;
const AGENTS = "agents";

// Only the kinds and their names, no schema: enough for the API server to accept ServiceMonitor and PodMonitor
// objects (the Prometheus Operator's own CRDs are not part of this repository).
const monitoringCrd = (kind: string): object => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `${kind.toLowerCase()}s.monitoring.coreos.com` },
  spec: {
    group: "monitoring.coreos.com",
    scope: "Namespaced",
    names: { kind, plural: `${kind.toLowerCase()}s`, singular: kind.toLowerCase(), listKind: `${kind}List` },
    versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }],
  },
});

describe("the chart on a real API server", { timeout: 180_000 }, () => {
  let kube: TestKube;
  let dir: string;
  const dryRun = (yaml: string): ReturnType<TestKube["tryKubectl"]> => kube.tryKubectl(["apply", "--dry-run=server", "-f", "-"], { input: yaml });

  before(async () => {
    kube = await startKube();
    dir = mkdtempSync(join(tmpdir(), "intentgate-chart-install-"));
    await kube.kubectl(["apply", "--server-side", "-f", join(CHART_DIR, "crds")]);
    await kube.kubectl(["wait", "--for=condition=Established", "--timeout=60s", "-f", join(CHART_DIR, "crds")]);
    for (const ns of [SYSTEM, AGENTS, "agents-a", "agents-b"]) await kube.kubectl(["create", "namespace", ns]);
  });

  after(async () => {
    await kube?.destroy();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test("the default rendering passes a server-side dry run, every object, and creates nothing", async () => {
    const yaml = renderChart(CASES["default"]!);
    const r = await dryRun(yaml);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split("\n").filter((l) => l.endsWith("(server dry run)")).length, parseManifests(yaml).length, r.stdout);
    assert.equal((await kube.kubectl(["-n", SYSTEM, "get", "deployments", "-o", "name"])).trim(), "");
  });

  test("the custom rendering needs the monitoring CRDs, and passes with them", async () => {
    const yaml = renderChart(CASES["custom"]!);
    assert.match((await dryRun(yaml)).stderr, /no matches for kind "(ServiceMonitor|PodMonitor)"/);
    await kube.kubectl(["apply", "-f", "-"], { input: [monitoringCrd("ServiceMonitor"), monitoringCrd("PodMonitor")].map((d) => stringify(d)).join("---\n") });
    await kube.kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd/servicemonitors.monitoring.coreos.com", "crd/podmonitors.monitoring.coreos.com"]);
    const r = await dryRun(yaml);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split("\n").length, parseManifests(yaml).length, r.stdout);
  });

  test("the dry run is the API server's validation: a value the schema lets through but Kubernetes refuses fails", async () => {
    const r = await dryRun(renderChart([], ["--set", "controller.podDisruptionBudget.minAvailable=most"]));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /PodDisruptionBudget.*minAvailable/s);
  });

  describe("installed, with the controller running as the chart's ServiceAccount", () => {
    const rendered = parseManifests(renderChart(CASES["default"]!));
    const deployment = find(rendered, "Deployment");
    const container = deployment.spec.template.spec.containers[0] as Manifest;
    let child: ReturnType<typeof spawn>;
    let logs = "";
    let apiPort = 0;
    let webhookPort = 0;

    before(async () => {
      await kube.kubectl(["apply", "-f", "-"], { input: renderChart(CASES["default"]!) });
      await kube.kubectl(["-n", SYSTEM, "create", "secret", "generic", "acme-keys", `--from-literal=keys.json=${JSON.stringify({ version: 1, active: "k1", keys: [newMasterEntry("k1")] })}`]);
      await kube.kubectl(["-n", SYSTEM, "create", "secret", "generic", "acme-audit-keys", `--from-literal=audit-keys.json=${JSON.stringify(AuditKeys.generateFile("acme-audit"))}`]);
      await kube.kubectl(["-n", AGENTS, "create", "serviceaccount", "agent-a"]);
      const apply = (doc: object): Promise<string> => kube.kubectl(["apply", "-f", "-"], { input: stringify(doc) });
      await apply({ apiVersion: "intentgate.dev/v1alpha1", kind: "Tenant", metadata: { name: "acme" }, spec: { namespaces: [AGENTS], keysSecret: { name: "acme-keys", key: "keys.json" }, auditKeysSecret: { name: "acme-audit-keys", key: "audit-keys.json" } } });
      await apply({ apiVersion: "intentgate.dev/v1alpha1", kind: "ToolPolicy", metadata: { name: "allow", namespace: AGENTS }, spec: { mode: "enforce", modules: { "policy.rego": 'package intentgate\n\ndecision := {"decision": "allow", "reason": "ok"}\n' } } });
      await apply({ apiVersion: "intentgate.dev/v1alpha1", kind: "CapabilityGrant", metadata: { name: "agent-tools", namespace: AGENTS }, spec: { agents: { serviceAccounts: ["agent-a"] }, caveats: [{ type: "tools", allow: ["tools.*"] }], ttl: "1h" } });

      // The ServiceAccount's own token: every API call the controller makes is authorised by the chart's RBAC alone.
      const token = (await kube.kubectl(["-n", SYSTEM, "create", "token", deployment.spec.template.spec.serviceAccountName, "--duration=1h"])).trim();
      const kubeconfig = join(dir, "controller.kubeconfig");
      writeFileSync(kubeconfig, stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "test", cluster: { server: kube.server, "certificate-authority-data": Buffer.from(kube.caPem).toString("base64") } }],
        users: [{ name: "controller", user: { token } }],
        contexts: [{ name: "controller", context: { cluster: "test", user: "controller" } }],
        "current-context": "controller",
      }));
      // The Deployment's environment as rendered; only what the kubelet would fill in, and the addresses, differ.
      const env: Record<string, string> = {};
      for (const e of container["env"] as Array<{ name: string; value?: string }>) if (e.value !== undefined) env[e.name] = e.value;
      apiPort = await freePort();
      webhookPort = await freePort();
      const admin = await freePort();
      Object.assign(env, {
        KUBECONFIG: kubeconfig,
        INTENTGATE_NAMESPACE: SYSTEM,
        INTENTGATE_POD_NAME: "intentgate-0",
        INTENTGATE_LISTEN: `127.0.0.1:${apiPort}`,
        INTENTGATE_ADMIN: `127.0.0.1:${admin}`,
        INTENTGATE_WEBHOOK_LISTEN: `127.0.0.1:${webhookPort}`,
        INTENTGATE_OPA: "opa",
        TMPDIR: dir,
      });
      child = spawn(process.execPath, [join(ROOT, "cli/main.ts"), ...(container["command"] as string[]).slice(2)], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
      child.stdout!.on("data", (c: Buffer) => (logs += c.toString()));
      child.stderr!.on("data", (c: Buffer) => (logs += c.toString()));
      const ready = await eventually(async () => (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => undefined))?.status === 200, 30_000);
      assert.ok(ready, `controller never ready:\n${logs}`);
    });

    after(async () => {
      if (child !== undefined && child.exitCode === null) {
        child.kill("SIGTERM");
        await once(child, "exit");
      }
    });

    const getJson = async (args: string[]): Promise<Manifest> => JSON.parse(await kube.kubectl([...args, "-o", "json"])) as Manifest;

    test("it leads, keeps its TLS Secret and writes its CA into both webhooks of the chart's configuration", async () => {
      assert.ok(await eventually(async () => (await getJson(["-n", SYSTEM, "get", "lease", "intentgate-leader"])).spec.holderIdentity === "intentgate-0", 20_000));
      const bundle = (await getJson(["-n", SYSTEM, "get", "secret", "intentgate-tls"])).data["ca-bundle.crt"];
      const webhooks = (await getJson(["get", "mutatingwebhookconfiguration", "intentgate-injector"])).webhooks as Manifest[];
      assert.equal(webhooks.length, 2);
      for (const w of webhooks) assert.equal(w["clientConfig"].caBundle, bundle);
    });

    test("it compiles and reports the policy and mints the grant's token into the agents' namespace", async () => {
      const ready = await eventually(async () => (await getJson(["-n", AGENTS, "get", "toolpolicy", "allow"])).status?.conditions?.some((c: Manifest) => c["type"] === "Ready" && c["status"] === "True") === true, 30_000);
      assert.ok(ready, `policy never Ready:\n${logs}`);
      assert.ok(await eventually(async () => (await kube.tryKubectl(["-n", AGENTS, "get", "secret", "agent-tools-agent-a"])).code === 0, 30_000), `no token minted:\n${logs}`);
    });

    test("it authenticates a sidecar's pod-bound token (TokenReview, then the pod)", async () => {
      await kube.kubectl(["apply", "-f", "-"], { input: stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "agent-0", namespace: AGENTS }, spec: { serviceAccountName: "agent-a", containers: [{ name: "agent", image: "example.invalid/agent" }] } }) });
      const podToken = (await kube.kubectl(["-n", AGENTS, "create", "token", "agent-a", "--audience", "intentgate", "--bound-object-kind", "Pod", "--bound-object-name", "agent-0"])).trim();
      const ca = Buffer.from((await getJson(["-n", SYSTEM, "get", "secret", "intentgate-tls"])).data["ca.crt"], "base64").toString("utf8");
      const ack = (token: string): ReturnType<typeof post> => post(apiPort, ca, "/v1/snapshots/ack", { version: "none" }, token);
      const answer = await ack(podToken);
      assert.equal(answer.status, 200, answer.body);
      assert.equal((await ack("not-a-token")).status, 401);
    });

    test("its webhook injects a pod of a labelled namespace (reading the namespace and its McpServers)", async () => {
      await kube.kubectl(["label", "namespace", AGENTS, "intentgate.dev/inject=enabled"]);
      await kube.kubectl(["apply", "-f", "-"], { input: stringify({ apiVersion: "intentgate.dev/v1alpha1", kind: "McpServer", metadata: { name: "tools", namespace: AGENTS }, spec: { url: "http://tools.example.invalid/mcp" } }) });
      const ca = Buffer.from((await getJson(["-n", SYSTEM, "get", "secret", "intentgate-tls"])).data["ca.crt"], "base64").toString("utf8");
      const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "agent-1", namespace: AGENTS }, spec: { serviceAccountName: "agent-a", containers: [{ name: "agent", image: "example.invalid/agent" }] } };
      const review = { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { uid: "u1", kind: { group: "", version: "v1", kind: "Pod" }, operation: "CREATE", namespace: AGENTS, object: pod } };
      const answer = await post(webhookPort, ca, "/mutate", review);
      assert.equal(answer.status, 200, answer.body);
      const response = (JSON.parse(answer.body) as { response: { allowed: boolean; patch?: string } }).response;
      assert.equal(response.allowed, true);
      assert.match(Buffer.from(response.patch ?? "", "base64").toString("utf8"), /intentgate-sidecar/);
    });

    test("it revokes a deleted grant's token with a TokenRevocation, releases the grant, and sweeps such a revocation once expired", async () => {
      const uid = await kube.kubectl(["-n", AGENTS, "get", "capabilitygrant", "agent-tools", "-o", "jsonpath={.metadata.uid}"]);
      const expired = { apiVersion: "intentgate.dev/v1alpha1", kind: "TokenRevocation", metadata: { name: "expired", namespace: AGENTS, labels: { "app.kubernetes.io/managed-by": "intentgate" }, annotations: { "intentgate.dev/grant-uid": "gone", "intentgate.dev/expires-at": new Date(Date.now() - 3600_000).toISOString() } }, spec: { ids: ["tok_expired0"], reason: "test" } };
      await kube.kubectl(["apply", "-f", "-"], { input: stringify(expired) });
      await kube.kubectl(["-n", AGENTS, "delete", "capabilitygrant", "agent-tools", "--wait=false"]);
      assert.ok(await eventually(async () => (await kube.tryKubectl(["-n", AGENTS, "get", "capabilitygrant", "agent-tools"])).code !== 0, 30_000), `grant never released:\n${logs}`);
      const revocations = (await getJson(["-n", AGENTS, "get", "tokenrevocations"])).items as Array<{ metadata: { annotations?: Record<string, string> } }>;
      assert.equal(revocations.filter((r) => r.metadata.annotations?.["intentgate.dev/grant-uid"] === uid).length, 1, "no TokenRevocation for the deleted grant");
      assert.ok(await eventually(async () => (await kube.tryKubectl(["-n", AGENTS, "get", "tokenrevocation", "expired"])).code !== 0, 30_000), `expired TokenRevocation never swept:\n${logs}`);
    });

    test("no request it made was refused", () => {
      assert.doesNotMatch(logs, /forbidden/i);
    });
  });
});

/** A JSON POST over the controller's TLS, verified against its CA for the Service's name. */
function post(port: number, ca: string, path: string, body: object, token?: string): Promise<{ status: number; body: string }> {
  const servername = `${RELEASE.name}.${SYSTEM}.svc`;
  const headers = { "content-type": "application/json", ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) };
  return new Promise((done, fail) => {
    const req = request({ host: "127.0.0.1", port, servername, ca, method: "POST", path, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (c: string) => (text += c));
      res.once("end", () => done({ status: res.statusCode ?? 0, body: text }));
    });
    req.once("error", fail);
    req.end(JSON.stringify(body));
  });
}
