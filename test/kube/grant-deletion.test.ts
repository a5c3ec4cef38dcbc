// Deleting a CapabilityGrant revokes the tokens it handed out, against a real kube-apiserver: the controller holds
// the grant with a finalizer until a TokenRevocation lists every unexpired token (current and withdrawn), and the
// snapshot sidecars receive revokes them. While the TokenRevocation cannot be created (an admission policy refuses
// it) the grant stays, its status says why, and its tokens are revoked anyway; allowed again, the deletion
// completes. A TokenRevocation written for a deleted grant is deleted once its tokens have expired, no other.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pino from "pino";
import { stringify } from "yaml";
import { startController, type ControllerHandle } from "../../controller/controller.ts";
import { newMasterEntry } from "../../wire/index.ts";
import { startKube, type TestKube } from "../support/kube.ts";
import { eventually } from "../support/rpc.ts";

const NS = "agents";
const SYSTEM = "intentgate-system";
const FINALIZER = "intentgate.dev/revoke-tokens";
const log = pino({ level: process.env["TEST_LOG_LEVEL"] ?? "silent" });

type Json = Record<string, any>;

describe("deleting a CapabilityGrant revokes its tokens", { timeout: 240_000 }, () => {
  let kube: TestKube;
  let controller: ControllerHandle;

  const apply = (doc: object): Promise<string> => kube.kubectl(["apply", "-f", "-"], { input: stringify(doc) });
  const getJson = async (args: string[]): Promise<Json | undefined> => {
    const r = await kube.tryKubectl([...args, "-o", "json"]);
    if (r.code !== 0 && /NotFound/.test(r.stderr)) return undefined;
    if (r.code !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout) as Json;
  };
  const grant = (name: string): Promise<Json | undefined> => getJson(["-n", NS, "get", "capabilitygrant", name]);
  const revocationsOf = async (uid: string): Promise<Json[]> =>
    ((await getJson(["-n", NS, "get", "tokenrevocations"]))?.["items"] as Json[]).filter((r) => r["metadata"].annotations?.["intentgate.dev/grant-uid"] === uid);
  const applyGrant = (name: string, serviceAccounts: string[]): Promise<string> =>
    apply({ apiVersion: "intentgate.dev/v1alpha1", kind: "CapabilityGrant", metadata: { name, namespace: NS }, spec: { agents: { serviceAccounts }, caveats: [{ type: "tools", allow: ["tools.*"] }], ttl: "1h" } });
  const mintedTokens = async (name: string, count: number): Promise<Json> => {
    let last: Json | undefined;
    assert.ok(await eventually(async () => (last = await grant(name))?.["status"]?.tokens?.length === count, 30_000), `grant ${name} never minted ${count} tokens`);
    return last!;
  };

  // What a sidecar of agent-a receives: the first line of its snapshot subscription.
  const revokedInSnapshot = async (): Promise<string[]> => {
    const response = await fetch(`${controller.url}/v1/snapshots/watch`);
    const reader = response.body!.getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString("utf8");
    }
    await reader.cancel();
    const line = JSON.parse(text.split("\n")[0]!) as { type: string; snapshot?: { revocations: string[] } };
    assert.equal(line.type, "snapshot", text);
    return line.snapshot!.revocations;
  };

  before(async () => {
    kube = await startKube();
    await kube.applyCrds();
    for (const ns of [NS, SYSTEM]) await kube.kubectl(["create", "namespace", ns]);
    for (const sa of ["agent-a", "agent-b"]) await kube.kubectl(["-n", NS, "create", "serviceaccount", sa]);
    await kube.kubectl(["-n", SYSTEM, "create", "secret", "generic", "acme-keys", `--from-literal=keys.json=${JSON.stringify({ version: 1, active: "k1", keys: [newMasterEntry("k1")] })}`]);
    await apply({ apiVersion: "intentgate.dev/v1alpha1", kind: "Tenant", metadata: { name: "acme" }, spec: { namespaces: [NS], keysSecret: { name: "acme-keys", key: "keys.json" } } });
    // Every subscriber is agent-a's sidecar (TokenReview is tested in controller.test.ts).
    const authenticate = async (): Promise<{ namespace: string; serviceAccount: string; podLabels: Record<string, string> }> => ({ namespace: NS, serviceAccount: "agent-a", podLabels: {} });
    controller = await startController({ kc: kube.kubeConfig(), namespace: SYSTEM, log, listen: { host: "127.0.0.1", port: 0 }, admin: { host: "127.0.0.1", port: 0 }, authenticate, watch: { idleTimeoutMs: 10_000, maxBackoffMs: 1000 } });
  });

  after(async () => {
    await controller?.close();
    await kube?.destroy();
  });

  test("the grant's current and withdrawn tokens end up in a TokenRevocation, revoked in the snapshot, and the grant is gone", async () => {
    await applyGrant("reader", ["agent-a", "agent-b"]);
    const minted = await mintedTokens("reader", 2);
    assert.deepEqual(minted["metadata"].finalizers, [FINALIZER]);
    const idOf = (g: Json, sa: string): string => (g["status"].tokens as Json[]).find((t) => t["serviceAccount"] === sa)!["tokenId"];
    const [tokenA, tokenB] = [idOf(minted, "agent-a"), idOf(minted, "agent-b")];
    // agent-b no longer selected: its token is withdrawn (revoked), agent-a's is in use.
    await kube.kubectl(["-n", NS, "patch", "capabilitygrant", "reader", "--type=merge", "-p", JSON.stringify({ spec: { agents: { serviceAccounts: ["agent-a"] } } })]);
    assert.ok(await eventually(async () => (await grant("reader"))?.["status"]?.withdrawn?.some((w: Json) => w["tokenId"] === tokenB) === true, 30_000), "agent-b's token never withdrawn");
    assert.ok(await eventually(async () => (await revokedInSnapshot()).includes(tokenB), 30_000));
    assert.equal((await revokedInSnapshot()).includes(tokenA), false, "agent-a's token is revoked before the grant is deleted");
    const uid = minted["metadata"].uid as string;

    await kube.kubectl(["-n", NS, "delete", "capabilitygrant", "reader", "--wait=false"]);
    assert.ok(await eventually(async () => (await grant("reader")) === undefined, 30_000), "the grant was never released");
    const [revocation, ...others] = await revocationsOf(uid);
    assert.ok(revocation !== undefined, "no TokenRevocation for the deleted grant");
    assert.equal(others.length, 0);
    assert.equal(revocation["metadata"].name, `reader-${uid.slice(0, 8)}`);
    assert.deepEqual([...revocation["spec"].ids].sort(), [tokenA, tokenB].sort());
    assert.match(revocation["spec"].reason, /CapabilityGrant reader was deleted/);
    const expiries = (minted["status"].tokens as Json[]).map((t) => Date.parse(t["expiresAt"]));
    assert.equal(Date.parse(revocation["metadata"].annotations["intentgate.dev/expires-at"]), Math.max(...expiries));
    assert.ok(await eventually(async () => (await revokedInSnapshot()).includes(tokenA), 30_000), "the deleted grant's token is not revoked in the snapshot");
    assert.ok((await revokedInSnapshot()).includes(tokenB), "the withdrawn token is no longer revoked");
    // Its tokens live another hour: the controller looked at it (status written after the sweep) and kept it.
    const ready = await eventually(async () => (await revocationsOf(uid))[0]?.["status"]?.conditions?.some((c: Json) => c["type"] === "Ready" && c["status"] === "True") === true, 30_000);
    assert.ok(ready, "the TokenRevocation was never reconciled");
    assert.equal((await revocationsOf(uid)).length, 1, "a TokenRevocation of unexpired tokens was swept");
  });

  test("while the TokenRevocation is refused the grant stays, with its finalizer and its tokens revoked; allowed again, it goes", async () => {
    await applyGrant("writer", ["agent-a"]);
    const minted = await mintedTokens("writer", 1);
    const uid = minted["metadata"].uid as string;
    const tokenId = minted["status"].tokens[0].tokenId as string;
    // A real API failure: the API server's admission refuses every TokenRevocation create.
    await apply({
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata: { name: "no-revocations" },
      spec: {
        failurePolicy: "Fail",
        matchConstraints: { resourceRules: [{ apiGroups: ["intentgate.dev"], apiVersions: ["*"], operations: ["CREATE"], resources: ["tokenrevocations"] }] },
        validations: [{ expression: "false", message: "TokenRevocations are refused for this test" }],
      },
    });
    await apply({ apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicyBinding", metadata: { name: "no-revocations" }, spec: { policyName: "no-revocations", validationActions: ["Deny"] } });
    const probe = stringify({ apiVersion: "intentgate.dev/v1alpha1", kind: "TokenRevocation", metadata: { name: "probe", namespace: NS }, spec: { ids: ["tok_probe0000"], reason: "probe" } });
    assert.ok(await eventually(async () => /refused for this test/.test((await kube.tryKubectl(["create", "--dry-run=server", "-f", "-"], { input: probe })).stderr), 30_000), "the admission policy never took effect");

    await kube.kubectl(["-n", NS, "delete", "capabilitygrant", "writer", "--wait=false"]);
    let held: Json | undefined;
    const reported = await eventually(async () => {
      held = await grant("writer");
      return held?.["status"]?.conditions?.some((c: Json) => c["type"] === "Ready" && c["reason"] === "RevocationFailed") === true;
    }, 30_000);
    assert.ok(reported, `the grant does not report the refused revocation: ${JSON.stringify(held?.["status"])}`);
    assert.ok(held!["metadata"].deletionTimestamp, "the grant is not being deleted");
    assert.deepEqual(held!["metadata"].finalizers, [FINALIZER], "the finalizer was removed with the tokens unrevoked");
    assert.match(held!["status"].conditions.find((c: Json) => c["type"] === "Ready").message, /refused for this test/);
    assert.deepEqual(await revocationsOf(uid), []);
    assert.ok((await revokedInSnapshot()).includes(tokenId), "the deleted grant's token is accepted while its revocation is refused");

    await kube.kubectl(["delete", "validatingadmissionpolicybinding", "no-revocations"]);
    assert.ok(await eventually(async () => (await grant("writer")) === undefined, 90_000), "the grant was never released once revocations were allowed");
    assert.deepEqual((await revocationsOf(uid)).map((r) => r["spec"].ids), [[tokenId]]);
    assert.ok((await revokedInSnapshot()).includes(tokenId));
    await kube.kubectl(["delete", "validatingadmissionpolicy", "no-revocations"]);
  });

  test("a deleted grant's TokenRevocation is deleted once its tokens expired (plus the allowed skew); others are kept", async () => {
    const revocation = (name: string, expiresAt: Date | undefined, managed: boolean): object => ({
      apiVersion: "intentgate.dev/v1alpha1",
      kind: "TokenRevocation",
      metadata: {
        name,
        namespace: NS,
        ...(managed ? { labels: { "app.kubernetes.io/managed-by": "intentgate" } } : {}),
        annotations: { "intentgate.dev/grant-uid": `uid-${name}`, ...(expiresAt ? { "intentgate.dev/expires-at": expiresAt.toISOString() } : {}) },
      },
      spec: { ids: [`tok_${name.replace(/-/g, "_")}`], reason: "test" },
    });
    const hourAgo = new Date(Date.now() - 3600_000);
    await apply(revocation("within-skew", new Date(Date.now() - 60_000), true));
    await apply(revocation("by-hand", hourAgo, false));
    await apply(revocation("no-expiry", undefined, true));
    await apply(revocation("expired", hourAgo, true));
    assert.ok(await eventually(async () => (await getJson(["-n", NS, "get", "tokenrevocation", "expired"])) === undefined, 30_000), "the expired TokenRevocation was not deleted");
    for (const name of ["within-skew", "by-hand", "no-expiry"]) {
      // Status is written after the sweep looked: Ready means it was looked at and kept.
      const kept = await eventually(async () => (await getJson(["-n", NS, "get", "tokenrevocation", name]))?.["status"]?.conditions?.some((c: Json) => c["type"] === "Ready") === true, 30_000);
      assert.ok(kept, `${name} was deleted or never reconciled`);
    }
  });
});
