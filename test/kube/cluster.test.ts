// The product as it runs in a cluster, every part in its own process: two controller replicas
// (`intentgate controller`, leader election with a Lease, the API over TLS the controller manages,
// budget leases on a real PostgreSQL, the sidecar injector) and three Kubernetes-mode sidecars
// (`intentgate sidecar --kubernetes`) of one agent, against a real kube-apiserver. Shows: the webhook
// mutating a real pod create; budget exactness across the three replicas (100 allowed, the 101st
// refused, under concurrency); a token's own calls ceiling exact across them, the controller reading
// it from the token; policy and tenant status counting the sidecars of both replicas;
// leader failover when the leader is killed.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { stringify } from "yaml";
import { AuditKeys } from "../../wire/audit/keys.ts";
import { attenuateToken, newMasterEntry } from "../../wire/index.ts";
import { ROOT } from "../support/gateway.ts";
import { startKube, type TestKube } from "../support/kube.ts";
import { freePort } from "../support/ports.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import { startRecordingUpstream } from "../support/recording-upstream.ts";
import { eventually, outcomeOf, postRpc, toolCall } from "../support/rpc.ts";

const NS = "agents";
const SYSTEM = "intentgate-system";
const WEBHOOK_CONFIG = "intentgate-sidecar-injector";

interface Proc {
  child: ChildProcess;
  logs(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

function spawnCli(args: string[], env: NodeJS.ProcessEnv): Proc {
  const child = spawn(process.execPath, [join(ROOT, "cli/main.ts"), ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let logs = "";
  child.stdout!.on("data", (c: Buffer) => (logs += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (logs += c.toString()));
  const exited = once(child, "exit");
  return {
    child,
    logs: () => logs,
    async kill(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

describe("a cluster: two controller replicas, three sidecars of one agent", { timeout: 300_000 }, () => {
  let kube: TestKube;
  let pg: TestPostgres;
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let dir: string;
  const controllers = new Map<string, Proc>();
  const sidecars: Array<{ proc: Proc; url: string }> = [];
  let apiPort: number;
  let apiPortB: number;
  let webhookPort: number;
  let caPem = "";
  let agentToken = "";

  const apply = (doc: object): Promise<string> => kube.kubectl(["apply", "-f", "-"], { input: stringify(doc) });
  const leaseHolder = async (): Promise<string> => JSON.parse(await kube.kubectl(["-n", SYSTEM, "get", "lease", "intentgate-controller", "-o", "json"])).spec?.holderIdentity ?? "";

  // Each replica has its own API port (one machine); two sidecars subscribe to the first, one to the second.
  const startReplica = async (name: string, port: number, admin: number, webhook: number): Promise<void> => {
    const proc = spawnCli(
      ["controller", "--kubeconfig", kube.kubeconfigPath, "--namespace", SYSTEM, "--listen", `127.0.0.1:${port}`, "--admin", `127.0.0.1:${admin}`, "--webhook", `127.0.0.1:${webhook}`, "--service-name", "localhost", "--tls-secret", "intentgate-tls", "--webhook-config", WEBHOOK_CONFIG, "--sidecar-image", "intentgate/sidecar:test", "--redirect-image", "intentgate/redirect:test", "--default-interception", "env", "--log-level", "warn"],
      { INTENTGATE_POD_NAME: name, INTENTGATE_DATABASE_URL: pg.url },
    );
    controllers.set(name, proc);
    const ready = await eventually(async () => (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => undefined))?.status === 200, 30_000);
    assert.ok(ready, `controller ${name} never ready:\n${proc.logs()}`);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "intentgate-cluster-"));
    [kube, pg, upstream] = await Promise.all([startKube(), startPostgres(), startRecordingUpstream()]);
    await kube.applyCrds();
    for (const ns of [NS, SYSTEM]) await kube.kubectl(["create", "namespace", ns]);
    await kube.kubectl(["label", "namespace", NS, "intentgate.dev/inject=enabled"]);
    await kube.kubectl(["-n", NS, "create", "serviceaccount", "agent-a"]);
    await kube.kubectl(["-n", SYSTEM, "create", "secret", "generic", "acme-keys", `--from-literal=keys.json=${JSON.stringify({ version: 1, active: "k1", keys: [newMasterEntry("k1")] })}`]);
    await kube.kubectl(["-n", SYSTEM, "create", "secret", "generic", "acme-audit-keys", `--from-literal=audit-keys.json=${JSON.stringify(AuditKeys.generateFile("acme-audit"))}`]);
    apiPort = await freePort();
    webhookPort = await freePort();
    // The chart creates this; the controller keeps its caBundle current.
    await apply({
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "MutatingWebhookConfiguration",
      metadata: { name: WEBHOOK_CONFIG },
      webhooks: [{ name: "pods.intentgate.dev", admissionReviewVersions: ["v1"], sideEffects: "None", failurePolicy: "Fail", timeoutSeconds: 5, clientConfig: { url: `https://localhost:${webhookPort}/mutate` }, rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"] }], namespaceSelector: { matchLabels: { "intentgate.dev/inject": "enabled" } } }],
    });
    await apply({ apiVersion: "intentgate.dev/v1alpha1", kind: "Tenant", metadata: { name: "acme" }, spec: { namespaces: [NS], keysSecret: { name: "acme-keys", key: "keys.json" }, auditKeysSecret: { name: "acme-audit-keys", key: "audit-keys.json" } } });
    await apply({ apiVersion: "intentgate.dev/v1alpha1", kind: "McpServer", metadata: { name: "tools", namespace: NS }, spec: { url: `${upstream.url}/mcp` } });
    await apply({ apiVersion: "intentgate.dev/v1alpha1", kind: "ToolPolicy", metadata: { name: "allow", namespace: NS }, spec: { mode: "enforce", modules: { "policy.rego": 'package intentgate\n\ndecision := {"decision": "allow", "reason": "ok"}\n' } } });
    await apply({ apiVersion: "intentgate.dev/v1alpha1", kind: "Budget", metadata: { name: "hundred", namespace: NS }, spec: { scope: "agent", window: "1h", calls: 100 } });
    await apply({ apiVersion: "intentgate.dev/v1alpha1", kind: "CapabilityGrant", metadata: { name: "agent-tools", namespace: NS }, spec: { agents: { serviceAccounts: ["agent-a"] }, caveats: [{ type: "tools", allow: ["tools.*"] }], ttl: "1h" } });
    await startReplica("controller-a", apiPort, await freePort(), webhookPort);
    caPem = Buffer.from(await kube.kubectl(["-n", SYSTEM, "get", "secret", "intentgate-tls", "-o", "jsonpath={.data.ca-bundle\\.crt}"]), "base64").toString("utf8");
    assert.match(caPem, /BEGIN CERTIFICATE/);
    apiPortB = await freePort();
    await startReplica("controller-b", apiPortB, await freePort(), await freePort());
    assert.ok(await eventually(async () => (await kube.tryKubectl(["-n", NS, "get", "secret", "agent-tools-agent-a"])).code === 0, 30_000), "grant token never minted");
    agentToken = Buffer.from(await kube.kubectl(["-n", NS, "get", "secret", "agent-tools-agent-a", "-o", "jsonpath={.data.token}"]), "base64").toString("utf8");
  });

  after(async () => {
    await Promise.all(sidecars.map((s) => s.proc.kill()));
    await Promise.all([...controllers.values()].map((c) => c.kill()));
    await upstream?.close();
    pg?.destroy();
    await kube?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the webhook mutates a real pod create: the stored pod carries the sidecar, wired to the controller over TLS", async () => {
    await apply({ apiVersion: "v1", kind: "Pod", metadata: { name: "agent-0", namespace: NS }, spec: { serviceAccountName: "agent-a", containers: [{ name: "agent", image: "example.invalid/agent" }] } });
    const pod = JSON.parse(await kube.kubectl(["-n", NS, "get", "pod", "agent-0", "-o", "json"]));
    const sidecar = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c: any) => c.name === "intentgate-sidecar");
    assert.ok(sidecar, `no sidecar injected: ${JSON.stringify(pod.spec)}`);
    assert.deepEqual(sidecar.command, ["node", "/app/intentgate.mjs", "sidecar", "--kubernetes"]);
    const env = Object.fromEntries(sidecar.env.map((e: any) => [e.name, e.value]));
    assert.equal(env.INTENTGATE_CONTROLLER_CA, caPem);
    assert.equal(env.INTENTGATE_BUDGET_LEASES, "true");
    assert.equal(sidecar.env.find((e: any) => e.name === "INTENTGATE_POD_UID")?.valueFrom?.fieldRef?.fieldPath, "metadata.uid");
    assert.equal(pod.status.phase, "Pending", "no kubelet here: the pod stays Pending");
  });

  test("three sidecar replicas of one agent: exactly 100 calls allowed across them, the rest refused, under concurrency", async () => {
    for (let i = 1; i <= 3; i++) {
      await apply({ apiVersion: "v1", kind: "Pod", metadata: { name: `agent-${i}`, namespace: NS, annotations: { "intentgate.dev/inject": "false" } }, spec: { serviceAccountName: "agent-a", containers: [{ name: "agent", image: "example.invalid/agent" }] } });
      const tokenFile = join(dir, `sa-${i}`);
      writeFileSync(tokenFile, (await kube.kubectl(["-n", NS, "create", "token", "agent-a", "--audience", "intentgate", "--bound-object-kind", "Pod", "--bound-object-name", `agent-${i}`])).trim());
      const port = await freePort();
      const proc = spawnCli(["sidecar", "--kubernetes"], {
        INTENTGATE_CONTROLLER_URL: `https://localhost:${i === 3 ? apiPortB : apiPort}`,
        INTENTGATE_CONTROLLER_CA: caPem,
        INTENTGATE_TOKEN_FILE: tokenFile,
        INTENTGATE_STATE_DIR: join(dir, `state-${i}`),
        INTENTGATE_POD_NAME: `agent-${i}`,
        INTENTGATE_POD_UID: await kube.kubectl(["-n", NS, "get", "pod", `agent-${i}`, "-o", "jsonpath={.metadata.uid}"]),
        INTENTGATE_LISTEN: `127.0.0.1:${port}`,
        INTENTGATE_ADMIN: `127.0.0.1:${await freePort()}`,
        INTENTGATE_BUDGET_LEASES: "true",
        INTENTGATE_LOG_LEVEL: "warn",
      });
      const url = `http://127.0.0.1:${port}`;
      sidecars.push({ proc, url });
      const ready = await eventually(async () => (await postRpc(`${url}/mcp/tools`, toolCall(1, "probe_no_token", {})).catch(() => undefined))?.status === 200, 30_000);
      assert.ok(ready, `sidecar ${i} never served:\n${proc.logs()}`);
    }
    const outcomes = await Promise.all(Array.from({ length: 130 }, (_, i) => postRpc(`${sidecars[i % 3]!.url}/mcp/tools`, toolCall(i, "read_file", {}), agentToken).then(outcomeOf)));
    const allowed = outcomes.filter((o) => o === "allowed").length;
    const refused = outcomes.filter((o) => o === "budget_agent_calls").length;
    assert.equal(allowed, 100, `outcomes: ${JSON.stringify(outcomes.reduce<Record<string, number>>((m, o) => ((m[o] = (m[o] ?? 0) + 1), m), {}))}`);
    assert.equal(refused, 30);
    assert.equal(await postRpc(`${sidecars[1]!.url}/mcp/tools`, toolCall(999, "read_file", {}), agentToken).then(outcomeOf), "budget_agent_calls", "the 131st call");
    assert.equal(upstream.requests.filter((r) => r.body.toString().includes("read_file")).length, 100, "exactly the allowed calls reached the upstream");
  });

  test("a token's own calls ceiling, presented to the three sidecars of both controller replicas: exactly its max allowed", async () => {
    // Without the Budget, only the token's ceiling applies.
    await kube.kubectl(["-n", NS, "delete", "budget", "hundred"]);
    for (const s of sidecars) {
      const lifted = await eventually(async () => (await postRpc(`${s.url}/mcp/tools`, toolCall(1, "probe_budget", {}), agentToken).then(outcomeOf)) === "allowed", 30_000);
      assert.ok(lifted, "the deleted Budget still refuses");
    }
    // The agent attenuates its grant token with a ceiling of its own; every replica counts against one ledger.
    const capped = attenuateToken(agentToken, [{ type: "calls", max: 7 }]);
    const outcomes = await Promise.all(Array.from({ length: 21 }, (_, i) => postRpc(`${sidecars[i % 3]!.url}/mcp/tools`, toolCall(2000 + i, "write_note", {}), capped).then(outcomeOf)));
    const tally = outcomes.reduce<Record<string, number>>((m, o) => ((m[o] = (m[o] ?? 0) + 1), m), {});
    assert.deepEqual(tally, { allowed: 7, budget_token_calls: 14 });
    assert.equal(upstream.requests.filter((r) => r.body.toString().includes("write_note")).length, 7, "exactly the allowed calls reached the upstream");
  });

  test("status counts the sidecars of both replicas: the policy loaded by 3, the tenant serving 3", async () => {
    let last: unknown;
    const counted = await eventually(async () => {
      const policy = JSON.parse(await kube.kubectl(["-n", NS, "get", "toolpolicy", "allow", "-o", "json"])).status;
      const tenant = JSON.parse(await kube.kubectl(["get", "tenant", "acme", "-o", "json"])).status;
      last = { policy, tenant };
      return policy?.loadedBy === 3 && policy?.selectedSidecars === 3 && tenant?.sidecars === 3 && tenant?.currentSidecars === 3;
    }, 30_000);
    assert.ok(counted, `status does not count every replica's sidecars: ${JSON.stringify(last)}`);
    const reports = JSON.parse(await kube.kubectl(["-n", SYSTEM, "get", "configmaps", "-l", "intentgate.dev/replica-report=true", "-o", "json"])).items;
    assert.deepEqual(reports.map((r: any) => r.metadata.name).sort(), ["intentgate-sidecars-controller-a", "intentgate-sidecars-controller-b"]);
  });

  test("leader failover: the leader is killed, the other replica takes the Lease and reconciles", async () => {
    const first = await leaseHolder();
    assert.ok(controllers.has(first), `unexpected leader "${first}"`);
    await controllers.get(first)!.kill("SIGKILL");
    const other = first === "controller-a" ? "controller-b" : "controller-a";
    assert.ok(await eventually(async () => (await leaseHolder()) === other, 40_000), "no failover");
    await apply({ apiVersion: "intentgate.dev/v1alpha1", kind: "ToolPolicy", metadata: { name: "after-failover", namespace: NS }, spec: { mode: "dryRun", modules: { "policy.rego": 'package intentgate\n\ndecision := {"decision": "allow", "reason": "ok"}\n' } } });
    const reconciled = await eventually(async () => {
      const s = JSON.parse(await kube.kubectl(["-n", NS, "get", "toolpolicy", "after-failover", "-o", "json"])).status;
      return s?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True") === true;
    }, 30_000);
    assert.ok(reconciled, "the new leader did not reconcile");
  });
});
