// The whole path on a real kube-apiserver: a Kubernetes-mode sidecar records its decisions and ships
// them to the controller, which authenticates it by TokenReview of its pod-bound token and stores
// the lines in PostgreSQL; `intentgate audit verify` passes on that database. The stream is named
// for the pod's UID, as the real token's TokenReview gives it: another pod's real token cannot write
// into this pod's stream, nor can a pod created under the name of a deleted one write the dead pod's.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pino from "pino";
import { request } from "undici";
import { stringify } from "yaml";
import { startController, type ControllerHandle } from "../../controller/controller.ts";
import { PgAuditStore } from "../../sidecar/audit/store/pg.ts";
import { startKubernetesSidecar, type KubernetesSidecar } from "../../sidecar/kube/start.ts";
import { AuditKeys } from "../../wire/audit/keys.ts";
import { newMasterEntry } from "../../wire/index.ts";
import { podStream } from "../../wire/audit/pod-stream.ts";
import { canonicalize } from "../../wire/jcs.ts";
import { chainedLines, decisionEvent } from "../support/audit.ts";
import { cliIn } from "../support/cli.ts";
import { startKube, type TestKube } from "../support/kube.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import { startRecordingUpstream } from "../support/recording-upstream.ts";
import { eventually, outcomeOf, postRpc, toolCall } from "../support/rpc.ts";

const NS = "agents";
const SYSTEM = "intentgate-system";
const log = pino({ level: process.env["TEST_LOG_LEVEL"] ?? "silent" });
const POLICY = `package intentgate

default decision := {"decision": "allow", "reason": "allowed"}

decision := {"decision": "block", "reason": "blocked"} if input.name == "tools.send_email"
`;

describe("audit shipping from a Kubernetes-mode sidecar to the controller, on a real kube-apiserver", { timeout: 300_000 }, () => {
  let kube: TestKube;
  let postgres: TestPostgres;
  let controller: ControllerHandle | undefined;
  let sidecar: KubernetesSidecar | undefined;
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  const dir = mkdtempSync(join(tmpdir(), "intentgate-audit-cluster-"));
  const auditKeys = AuditKeys.generateFile("acme-audit");
  const keyFile = join(dir, "audit-keys.json");
  const apply = (doc: object): Promise<string> => kube.kubectl(["apply", "-f", "-"], { input: stringify(doc) });
  /** Creates a pod and a token bound to it; the uid is the one the API server gave the pod. */
  const podToken = async (pod: string): Promise<{ token: string; uid: string }> => {
    await apply({ apiVersion: "v1", kind: "Pod", metadata: { name: pod, namespace: NS }, spec: { serviceAccountName: "agent-a", containers: [{ name: "agent", image: "example.invalid/agent" }] } });
    const uid = await kube.kubectl(["-n", NS, "get", "pod", pod, "-o", "jsonpath={.metadata.uid}"]);
    const token = (await kube.kubectl(["-n", NS, "create", "token", "agent-a", "--audience", "intentgate", "--bound-object-kind", "Pod", "--bound-object-name", pod, "--duration", "1h"])).trim();
    return { token, uid };
  };
  let agentPod: { token: string; uid: string };

  before(async () => {
    [kube, postgres, upstream] = await Promise.all([startKube(), startPostgres(), startRecordingUpstream()]);
    await kube.applyCrds();
    writeFileSync(keyFile, JSON.stringify(auditKeys));
    await kube.kubectl(["create", "namespace", NS]);
    await kube.kubectl(["create", "namespace", SYSTEM]);
    await kube.kubectl(["-n", NS, "create", "serviceaccount", "agent-a"]);
    const keys = { version: 1, active: "k1", keys: [newMasterEntry("k1")] };
    await kube.kubectl(["-n", SYSTEM, "create", "secret", "generic", "acme-keys", `--from-literal=keys.json=${JSON.stringify(keys)}`]);
    await kube.kubectl(["-n", SYSTEM, "create", "secret", "generic", "acme-audit-keys", `--from-literal=audit-keys.json=${JSON.stringify(auditKeys)}`]);
    agentPod = await podToken("agent-pod");
    writeFileSync(join(dir, "sa-token"), agentPod.token);
    await apply({ apiVersion: "intentgate.dev/v1alpha1", kind: "Tenant", metadata: { name: "acme" }, spec: { namespaces: [NS], keysSecret: { name: "acme-keys", key: "keys.json" }, auditKeysSecret: { name: "acme-audit-keys", key: "audit-keys.json" } } });
    await apply({ apiVersion: "intentgate.dev/v1alpha1", kind: "McpServer", metadata: { name: "tools", namespace: NS }, spec: { url: `${upstream.url}/mcp`, allowedTools: ["read_*", "send_*"] } });
    await apply({ apiVersion: "intentgate.dev/v1alpha1", kind: "ToolPolicy", metadata: { name: "tools", namespace: NS }, spec: { mode: "enforce", modules: { "policy.rego": POLICY } } });
    await apply({ apiVersion: "intentgate.dev/v1alpha1", kind: "CapabilityGrant", metadata: { name: "agent-tools", namespace: NS }, spec: { agents: { serviceAccounts: ["agent-a"] }, caveats: [{ type: "tools", allow: ["tools.*"] }], ttl: "1h" } });
    controller = await startController({
      kc: kube.kubeConfig(),
      namespace: SYSTEM,
      log,
      listen: { host: "127.0.0.1", port: 0 },
      admin: { host: "127.0.0.1", port: 0 },
      heartbeatMs: 500,
      database: postgres.url,
      auditStore: new PgAuditStore(postgres.url),
    });
    sidecar = await startKubernetesSidecar({ controllerUrl: controller.url, tokenFile: join(dir, "sa-token"), stateDir: join(dir, "state"), podName: "agent-pod", podUid: agentPod.uid, listen: { host: "127.0.0.1", port: 0 }, admin: { host: "127.0.0.1", port: 0 }, log, idleTimeoutMs: 3000 });
  });

  after(async () => {
    await sidecar?.close();
    await controller?.close();
    await upstream?.close();
    await kube?.destroy();
    postgres?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const streams = async (): Promise<Array<{ stream: string; records: number }>> => {
    const store = new PgAuditStore(postgres.url);
    try {
      const { rows } = await store.pool.query<{ stream: string; records: number }>("SELECT stream, count(*)::int AS records FROM intentgate_audit_records GROUP BY stream ORDER BY stream");
      return rows;
    } finally {
      await store.close();
    }
  };

  test("the sidecar's decisions and outcomes reach the controller's database under its pod's stream, and audit verify passes", async () => {
    const secret = await eventually(async () => (await kube.tryKubectl(["-n", NS, "get", "secret", "agent-tools-agent-a"])).code === 0, 30_000);
    assert.ok(secret, "the grant's token Secret was never written");
    const agentToken = Buffer.from(await kube.kubectl(["-n", NS, "get", "secret", "agent-tools-agent-a", "-o", "jsonpath={.data.token}"]), "base64").toString("utf8");
    const call = async (tool: string): Promise<string> => outcomeOf(await postRpc(`${sidecar!.url}/mcp/tools`, toolCall(1, tool, {}), agentToken));
    assert.ok(await eventually(async () => (await call("read_file")) === "allowed", 30_000), "the sidecar never allowed a call");
    assert.equal(await call("send_email"), "policy_blocked");
    // Closing signs a final checkpoint and ships it.
    await sidecar!.close();
    sidecar = undefined;
    const rows = await streams();
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0]!.stream, `acme:agents:agent-pod:${agentPod.uid.replaceAll("-", "")}`);
    const r = cliIn(dir).cli(["audit", "verify", "--database", postgres.url, "--keys", keyFile]);
    assert.equal(r.status, 0, `audit verify: ${r.stdout}${r.stderr}`);
    const report = JSON.parse(r.stdout) as { ok: boolean; mac_checked: boolean; streams: Array<{ records: number; checkpoints: { verified: number } }> };
    assert.equal(report.ok, true);
    assert.equal(report.mac_checked, true);
    assert.equal(report.streams[0]?.records, rows[0]!.records);
    assert.ok((report.streams[0]?.checkpoints.verified ?? 0) >= 1, "no checkpoint shipped");
  });

  test("another pod's token (TokenReview-authenticated) cannot write into this pod's stream: 403, nothing stored", async () => {
    const [victim] = await streams();
    assert.ok(victim !== undefined);
    const store = new PgAuditStore(postgres.url);
    const line = (await store.pool.query<{ line: string }>("SELECT line FROM intentgate_audit_records WHERE stream = $1 ORDER BY seq DESC LIMIT 1", [victim.stream])).rows[0]!.line;
    await store.close();
    // The next seq in the victim's stream, as another pod of the same service account would forge it.
    const next = { ...(JSON.parse(line) as { seq: number }), seq: victim.records + 1 };
    const { token } = await podToken("other-pod");
    const res = await request(`${controller!.url}/v1/audit/records`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/x-ndjson" }, body: canonicalize(next) + "\n" });
    const body = (await res.body.json()) as { error: { code: string } };
    assert.equal(res.statusCode, 403);
    assert.equal(body.error.code, "audit_stream_forbidden");
    assert.deepEqual(await streams(), [victim]);
  });

  test("a pod created under a deleted pod's name cannot write the deleted pod's stream: 403, nothing stored", async () => {
    const post = async (token: string, lines: readonly string[]): Promise<{ status: number; code: string | undefined }> => {
      const res = await request(`${controller!.url}/v1/audit/records`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/x-ndjson" }, body: lines.join("\n") + "\n" });
      return { status: res.statusCode, code: ((await res.body.json()) as { error?: { code: string } }).error?.code };
    };
    const keys = AuditKeys.fromFile(auditKeys);
    const event = (i: number) => decisionEvent(i, { tenant: "acme", agent: `${NS}/agent-a` });
    const earlier = await podToken("agent-0");
    const stream = podStream("acme", NS, "agent-0", earlier.uid);
    const { lines, head } = chainedLines(stream, 2, keys, undefined, event);
    assert.deepEqual(await post(earlier.token, lines), { status: 200, code: undefined });
    await kube.kubectl(["-n", NS, "delete", "pod", "agent-0", "--wait=true"]);
    const later = await podToken("agent-0");
    assert.notEqual(later.uid, earlier.uid);
    // The rest of the dead pod's chain, MAC-valid (every sidecar of the tenant holds the chain key).
    assert.deepEqual(await post(later.token, chainedLines(stream, 2, keys, head, event).lines), { status: 403, code: "audit_stream_forbidden" });
    // The later pod's token is good for its own stream.
    assert.deepEqual(await post(later.token, chainedLines(podStream("acme", NS, "agent-0", later.uid), 1, keys, undefined, event).lines), { status: 200, code: undefined });
    assert.equal((await streams()).find((r) => r.stream === stream)?.records, 2);
  });
});
