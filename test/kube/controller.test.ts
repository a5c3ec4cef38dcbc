// The controller and a Kubernetes-mode sidecar against a real kube-apiserver: CRDs in, snapshots
// pushed, calls enforced; a policy change and a revocation reach the sidecar; status reports compile
// errors with line numbers and how many sidecars loaded a policy; the sidecar keeps enforcing its
// last snapshot while the controller or the API server is down, from disk after a restart, and fails
// closed once the snapshot is older than the tenant's bound. The time from `kubectl apply` to
// enforcement is measured over repeated trials and printed.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pino from "pino";
import { stringify } from "yaml";
import { startController, type ControllerHandle } from "../../controller/controller.ts";
import { startKubernetesSidecar, type KubernetesSidecar } from "../../sidecar/kube/start.ts";
import { AuditKeys } from "../../wire/audit/keys.ts";
import { decodeToken, newMasterEntry } from "../../wire/index.ts";
import { startKube, type TestKube } from "../support/kube.ts";
import { freePort } from "../support/ports.ts";
import { startRecordingUpstream } from "../support/recording-upstream.ts";
import { eventually, outcomeOf, postRpc, toolCall } from "../support/rpc.ts";

const NS = "agents";
const SYSTEM = "intentgate-system";
const log = pino({ level: process.env["TEST_LOG_LEVEL"] ?? "silent" });

const POLICY = `package intentgate

default decision := {"decision": "allow", "reason": "allowed"}

decision := {"decision": "block", "reason": sprintf("%s is blocked", [input.name])} if input.name in data.blocked
`;

function policy(blocked: string[], rego = POLICY): object {
  return { apiVersion: "intentgate.dev/v1alpha1", kind: "ToolPolicy", metadata: { name: "tools", namespace: NS }, spec: { mode: "enforce", modules: { "policy.rego": rego }, data: { blocked } } };
}

describe("controller and sidecar on a real kube-apiserver", { timeout: 300_000 }, () => {
  let kube: TestKube;
  let controller: ControllerHandle | undefined;
  let sidecar: KubernetesSidecar | undefined;
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let stateDir: string;
  let tokenFile: string;
  let agentToken: string;
  let controllerPort: number;
  let podUid: string;

  const apply = (doc: object): Promise<string> => kube.kubectl(["apply", "-f", "-"], { input: stringify(doc) });
  const call = async (tool: string, token = agentToken): Promise<string> => outcomeOf(await postRpc(`${sidecar!.url}/mcp/tools`, toolCall(1, tool, {}), token));
  const startOurController = async (): Promise<ControllerHandle> =>
    startController({ kc: kube.kubeConfig(), namespace: SYSTEM, log, listen: { host: "127.0.0.1", port: controllerPort }, admin: { host: "127.0.0.1", port: 0 }, heartbeatMs: 500, watch: { idleTimeoutMs: 10_000, maxBackoffMs: 1000 } });
  const startOurSidecar = async (): Promise<KubernetesSidecar> =>
    startKubernetesSidecar({ controllerUrl: `http://127.0.0.1:${controllerPort}`, tokenFile, stateDir, podName: "agent-pod", podUid, listen: { host: "127.0.0.1", port: 0 }, admin: { host: "127.0.0.1", port: 0 }, log, idleTimeoutMs: 3000 });

  before(async () => {
    kube = await startKube();
    await kube.applyCrds();
    upstream = await startRecordingUpstream();
    stateDir = mkdtempSync(join(tmpdir(), "intentgate-kube-sidecar-"));
    tokenFile = join(stateDir, "..", `sa-token-${process.pid}`);
    controllerPort = await freePort();
    await kube.kubectl(["create", "namespace", NS]);
    await kube.kubectl(["create", "namespace", SYSTEM]);
    await kube.kubectl(["-n", NS, "create", "serviceaccount", "agent-a"]);
    const keys = { version: 1, active: "k1", keys: [newMasterEntry("k1")] };
    await kube.kubectl(["-n", SYSTEM, "create", "secret", "generic", "acme-keys", `--from-literal=keys.json=${JSON.stringify(keys)}`]);
    await kube.kubectl(["-n", SYSTEM, "create", "secret", "generic", "acme-audit-keys", `--from-literal=audit-keys.json=${JSON.stringify(AuditKeys.generateFile("acme-audit"))}`]);
    await apply({ apiVersion: "v1", kind: "Pod", metadata: { name: "agent-pod", namespace: NS, labels: { app: "agent" } }, spec: { serviceAccountName: "agent-a", containers: [{ name: "agent", image: "example.invalid/agent" }] } });
    podUid = await kube.kubectl(["-n", NS, "get", "pod", "agent-pod", "-o", "jsonpath={.metadata.uid}"]);
    // A real projected token: audience intentgate, bound to the pod (TokenRequest API).
    const saToken = await kube.kubectl(["-n", NS, "create", "token", "agent-a", "--audience", "intentgate", "--bound-object-kind", "Pod", "--bound-object-name", "agent-pod", "--duration", "1h"]);
    writeFileSync(tokenFile, saToken.trim());
    await apply({ apiVersion: "intentgate.dev/v1alpha1", kind: "Tenant", metadata: { name: "acme" }, spec: { namespaces: [NS], keysSecret: { name: "acme-keys", key: "keys.json" }, auditKeysSecret: { name: "acme-audit-keys", key: "audit-keys.json" }, maxSnapshotAgeSeconds: 10 } });
    await apply({ apiVersion: "intentgate.dev/v1alpha1", kind: "McpServer", metadata: { name: "tools", namespace: NS }, spec: { url: `${upstream.url}/mcp`, allowedTools: ["read_*", "write_*", "send_*"] } });
    await apply(policy(["tools.send_email"]));
    await apply({ apiVersion: "intentgate.dev/v1alpha1", kind: "CapabilityGrant", metadata: { name: "agent-tools", namespace: NS }, spec: { agents: { serviceAccounts: ["agent-a"] }, caveats: [{ type: "tools", allow: ["tools.*"] }], ttl: "1h" } });
    controller = await startOurController();
    const secret = await eventually(async () => (await kube.tryKubectl(["-n", NS, "get", "secret", "agent-tools-agent-a"])).code === 0, 30_000);
    assert.ok(secret, "the grant's token Secret was never written");
    agentToken = Buffer.from(await kube.kubectl(["-n", NS, "get", "secret", "agent-tools-agent-a", "-o", "jsonpath={.data.token}"]), "base64").toString("utf8");
    sidecar = await startOurSidecar();
  });

  after(async () => {
    await sidecar?.close();
    await controller?.close();
    await upstream?.close();
    await kube?.destroy();
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(tokenFile, { force: true });
  });

  test("the grant minted a token for the service account, bound to its agent", () => {
    const decoded = decodeToken(agentToken);
    assert.ok(decoded.ok);
    assert.equal(decoded.token.header.tenant, "acme");
    assert.deepEqual(decoded.token.caveats.find((c) => (c as { type: string }).type === "agent"), { type: "agent", id: `${NS}/agent-a` });
  });

  test("the sidecar enforces the applied policy: allowed, blocked by policy, outside the server's allowed tools, no token", async () => {
    assert.ok(await eventually(async () => (await call("read_file")) === "allowed", 30_000), "the sidecar never allowed a call");
    assert.equal(await call("send_email"), "policy_blocked");
    assert.equal(await call("delete_all"), "tool_not_allowed_by_server");
    assert.equal(outcomeOf(await postRpc(`${sidecar!.url}/mcp/tools`, toolCall(1, "read_file", {}))), "token_missing");
    assert.ok(upstream.requests.every((r) => !r.body.toString().includes("send_email")), "a refused call reached the upstream");
  });

  test("policy status: compiled version, and the sidecar counted as having loaded it", async () => {
    const ok = await eventually(async () => {
      const s = JSON.parse(await kube.kubectl(["-n", NS, "get", "toolpolicy", "tools", "-o", "json"])).status;
      return s?.version?.startsWith("sha256:") && s.loadedBy === 1 && s.conditions?.some((c: any) => c.type === "Ready" && c.status === "True");
    }, 20_000);
    assert.ok(ok, "ToolPolicy status never showed the version loaded by 1 sidecar");
  });

  test("time from kubectl apply to enforcement, over repeated policy changes (median and p99 printed)", async () => {
    const samples: number[] = [];
    for (let i = 0; i < 8; i++) {
      const blockRead = i % 2 === 0;
      const started = performance.now();
      await apply(policy(blockRead ? ["tools.send_email", "tools.read_file"] : ["tools.send_email"]));
      const want = blockRead ? "policy_blocked" : "allowed";
      assert.ok(await eventually(async () => (await call("read_file")) === want, 30_000), `trial ${i}: change not enforced`);
      samples.push(performance.now() - started);
    }
    samples.sort((a, b) => a - b);
    const median = samples[Math.floor(samples.length / 2)] as number;
    const p99 = samples[Math.min(samples.length - 1, Math.ceil(samples.length * 0.99) - 1)] as number;
    console.log(`# apply-to-enforcement over ${samples.length} trials: median ${median.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms (includes kubectl's own start-up)`);
    assert.equal(await call("read_file"), "allowed");
  });

  test("a Rego error is reported on the policy's status with its line number, and the last good policy keeps enforcing", async () => {
    await apply(policy(["tools.send_email"], POLICY + "\nbroken := {\n  x\n}\n"));
    const shown = await eventually(async () => {
      const s = JSON.parse(await kube.kubectl(["-n", NS, "get", "toolpolicy", "tools", "-o", "json"])).status;
      const ready = s?.conditions?.find((c: any) => c.type === "Ready");
      return ready?.status === "False" && ready.reason === "CompileFailed" && /policy\.rego:\d+/.test(ready.message);
    }, 30_000);
    assert.ok(shown, "no CompileFailed condition with a line number");
    // The uncompilable generation denies (fail closed) rather than silently dropping the policy.
    assert.ok(await eventually(async () => (await call("read_file")) === "policy_error", 10_000));
    await apply(policy(["tools.send_email"]));
    assert.ok(await eventually(async () => (await call("read_file")) === "allowed", 30_000));
  });

  test("a TokenRevocation reaches the sidecar: the revoked token is refused", async () => {
    const decoded = decodeToken(agentToken);
    assert.ok(decoded.ok);
    await apply({ apiVersion: "intentgate.dev/v1alpha1", kind: "TokenRevocation", metadata: { name: "leaked", namespace: NS }, spec: { ids: [decoded.token.header.id], reason: "leaked in a log" } });
    let last = "";
    assert.ok(await eventually(async () => (last = await call("read_file")) === "revoked", 30_000), `revoked token still accepted (last outcome ${last})`);
    await kube.kubectl(["-n", NS, "delete", "tokenrevocation", "leaked"]);
    assert.ok(await eventually(async () => (await call("read_file")) === "allowed", 30_000));
  });

  test("a grant by pod labels mints for the service accounts of the labelled pods only", async () => {
    await kube.kubectl(["-n", NS, "create", "serviceaccount", "agent-b"]);
    await apply({ apiVersion: "v1", kind: "Pod", metadata: { name: "payments-pod", namespace: NS, labels: { team: "payments" } }, spec: { serviceAccountName: "agent-b", containers: [{ name: "agent", image: "example.invalid/agent" }] } });
    await apply({ apiVersion: "intentgate.dev/v1alpha1", kind: "CapabilityGrant", metadata: { name: "by-label", namespace: NS }, spec: { agents: { matchLabels: { team: "payments" } }, caveats: [{ type: "tools", allow: ["tools.read_*"] }], ttl: "1h" } });
    assert.ok(await eventually(async () => (await kube.tryKubectl(["-n", NS, "get", "secret", "by-label-agent-b"])).code === 0, 30_000), "no token for the labelled pod's service account");
    const token = decodeToken(Buffer.from(await kube.kubectl(["-n", NS, "get", "secret", "by-label-agent-b", "-o", "jsonpath={.data.token}"]), "base64").toString("utf8"));
    assert.ok(token.ok);
    assert.deepEqual(token.token.caveats.find((c) => (c as { type: string }).type === "agent"), { type: "agent", id: `${NS}/agent-b` });
    assert.equal((await kube.tryKubectl(["-n", NS, "get", "secret", "by-label-agent-a"])).code, 1, "agent-a's pod lacks the label: no token for it");
    const status = JSON.parse(await kube.kubectl(["-n", NS, "get", "capabilitygrant", "by-label", "-o", "json"])).status;
    assert.equal(status.tokenCount, 1);
    // The pods no longer selected: agent-b's token is withdrawn, and revoked in the tenant's sidecars until it expires.
    await kube.kubectl(["-n", NS, "patch", "capabilitygrant", "by-label", "--type=merge", "-p", JSON.stringify({ spec: { agents: { matchLabels: { team: "nobody" } } } })]);
    const withdrawn = await eventually(async () => {
      const s = JSON.parse(await kube.kubectl(["-n", NS, "get", "capabilitygrant", "by-label", "-o", "json"])).status;
      return s?.tokenCount === 0 && s.withdrawn?.some((w: any) => w.serviceAccount === "agent-b" && w.tokenId === token.token.header.id);
    }, 30_000);
    assert.ok(withdrawn, "agent-b's token is not listed as withdrawn");
    const revokedInSidecar = await eventually(async () => {
      const saved = JSON.parse(readFileSync(join(stateDir, "snapshot.json"), "utf8"));
      return (saved.revocations ?? saved.snapshot?.revocations ?? []).includes(token.token.header.id);
    }, 30_000);
    assert.ok(revokedInSidecar, "the withdrawn token is not revoked in the sidecar's snapshot");
    await kube.kubectl(["-n", NS, "delete", "capabilitygrant", "by-label"]);
  });

  test("two Tenants claiming one namespace: both report the conflict and its sidecars fail closed; resolved, enforcing again", async () => {
    await apply({ apiVersion: "intentgate.dev/v1alpha1", kind: "Tenant", metadata: { name: "rival" }, spec: { namespaces: [NS], keysSecret: { name: "acme-keys", key: "keys.json" } } });
    const reported = await eventually(async () => {
      const ready = (name: string) => kube.kubectl(["get", "tenant", name, "-o", "json"]).then((t) => JSON.parse(t).status?.conditions?.find((c: any) => c.type === "Ready"));
      const [a, r] = await Promise.all([ready("acme"), ready("rival")]);
      return a?.reason === "NamespaceConflict" && r?.reason === "NamespaceConflict" && a.message.includes(NS);
    }, 30_000);
    assert.ok(reported, "the conflict is not on both Tenants' status");
    // No snapshot is vouched for any more: after the tenant's bound (10 s) every call is refused.
    let last = "";
    assert.ok(await eventually(async () => (last = await call("read_file")) === "snapshot_stale", 30_000), `still served under a contested tenant (last ${last})`);
    await kube.kubectl(["delete", "tenant", "rival"]);
    assert.ok(await eventually(async () => (await call("read_file")) === "allowed", 30_000), "not enforcing again once one Tenant owns the namespace");
  });

  test("API server down: the sidecar keeps enforcing; back up: changes flow again", async () => {
    await kube.stop();
    assert.equal(await call("read_file"), "allowed");
    assert.equal(await call("send_email"), "policy_blocked");
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await call("read_file"), "allowed", "the controller kept heartbeating from its caches");
    await kube.start();
    await apply(policy(["tools.send_email", "tools.write_file"]));
    assert.ok(await eventually(async () => (await call("write_file")) === "policy_blocked", 60_000), "change after the API server restart not enforced");
  });

  test("controller down: last snapshot enforced, then fail closed after the bound; restarted sidecar enforces from disk; controller back: enforcing again", async () => {
    await controller!.close();
    controller = undefined;
    assert.equal(await call("read_file"), "allowed");
    assert.equal(await call("write_file"), "policy_blocked");
    assert.ok(await eventually(async () => (await call("read_file")) === "snapshot_stale", 20_000), "never failed closed");
    // A restart does not reset the bound: the saved confirmation time is what counts.
    await sidecar!.close();
    sidecar = await startOurSidecar();
    assert.equal(await call("read_file"), "snapshot_stale");
    controller = await startOurController();
    assert.ok(await eventually(async () => (await call("read_file")) === "allowed", 30_000), "not enforcing again after the controller came back");
    assert.equal(await call("write_file"), "policy_blocked");
  });

  test("a restarted sidecar enforces its saved snapshot before the controller answers", async () => {
    await controller!.close();
    controller = undefined;
    await sidecar!.close();
    sidecar = await startOurSidecar();
    assert.equal(await call("read_file"), "allowed");
    assert.equal(await call("write_file"), "policy_blocked");
    controller = await startOurController();
  });
});
