// The chart's roles on a real kube-apiserver: the chart is installed (helm template | kubectl apply), its people
// roles are bound to test users and its controller role to the chart's ServiceAccount, and the API server's own
// authorizer answers (SubjectAccessReview, and real requests made as those users) what each may and may not do.
// Aggregation into view/edit/admin is checked against the bootstrap roles' selectors: the aggregation controller
// runs in kube-controller-manager, which this harness does not start.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { stringify } from "yaml";
import { RELEASE, renderChart } from "../../scripts/chart-golden.ts";
import { startKube, type TestKube } from "../support/kube.ts";
import { accessChecker, each, mismatches, person, serviceAccount, type Ask } from "./access.ts";

const SYSTEM = RELEASE.namespace;
const AGENTS = "agents";
const OTHER = "elsewhere";
const KINDS = ["toolpolicies", "capabilitygrants", "budgets", "tokenrevocations", "mcpservers"] as const;
const READ = ["get", "list", "watch"];
const WRITE = ["create", "update", "patch", "delete"];
const [vera, otto, ada] = [person("vera"), person("otto"), person("ada")];

describe("the chart's roles on a real API server", { timeout: 180_000 }, () => {
  let kube: TestKube;
  let dir: string;
  let check: ReturnType<typeof accessChecker>;
  const expectAll = async (who: ReturnType<typeof person>, asks: Ask[], allowed: boolean): Promise<void> => {
    assert.deepEqual(await mismatches(check, who, asks, allowed), [], `${who.user}: ${allowed ? "refused" : "allowed"} these`);
  };
  // Namespaced kinds in the agents' namespace, and the cluster-scoped Tenant.
  const onKinds = (verbs: string[], kinds: readonly string[] = KINDS, withTenants = true): Ask[] => [
    ...each(verbs, kinds, AGENTS),
    ...(withTenants ? each(verbs, ["tenants"]) : []),
  ];

  before(async () => {
    kube = await startKube();
    check = accessChecker(kube.kubeConfig());
    dir = mkdtempSync(join(tmpdir(), "intentgate-chart-rbac-"));
    await kube.kubectl(["apply", "--server-side", "-f", join(import.meta.dirname, "../../charts/intentgate/crds")]);
    for (const ns of [SYSTEM, AGENTS, OTHER, "narrow-system"]) await kube.kubectl(["create", "namespace", ns]);
    const values = join(dir, "values.yaml");
    writeFileSync(values, stringify({ rbac: { keyAdmins: [{ kind: "User", name: "ada", apiGroup: "rbac.authorization.k8s.io" }] } }));
    await kube.kubectl(["apply", "-f", "-"], { input: renderChart([values]) });
    for (const [user, role] of [["vera", "viewer"], ["otto", "operator"], ["ada", "admin"]]) {
      await kube.kubectl(["create", "clusterrolebinding", `${user}-${role}`, `--clusterrole=intentgate-${role}`, `--user=${user}`]);
    }
  });

  after(async () => {
    await kube?.destroy();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test("viewer reads every IntentGate kind and its status, and changes nothing", async () => {
    await expectAll(vera, [...onKinds(READ), ...each(["get"], KINDS.map((k) => `${k}/status`), AGENTS)], true);
    await expectAll(vera, [...onKinds(WRITE), ...each(["get", "list"], ["secrets"], SYSTEM), ...each(["get"], ["secrets"], AGENTS)], false);
  });

  test("operator manages policies, budgets and revocations; reads the rest; no grants, tenants, servers or Secrets", async () => {
    await expectAll(otto, [...onKinds(READ), ...each(WRITE, ["toolpolicies", "budgets", "tokenrevocations"], AGENTS)], true);
    await expectAll(otto, [...onKinds(WRITE, ["capabilitygrants", "mcpservers"]), ...each(["get", "list", "create", "update"], ["secrets"], SYSTEM), ...each(["get", "create"], ["secrets"], AGENTS)], false);
    await expectAll(otto, each(["patch", "update"], ["toolpolicies/status", "budgets/status"], AGENTS), false);
  });

  test("admin manages every kind and the key Secrets of the release namespace (rbac.keyAdmins), nothing else", async () => {
    await expectAll(ada, [...onKinds([...READ, ...WRITE]), ...each([...READ, ...WRITE], ["secrets"], SYSTEM)], true);
    await expectAll(ada, [...each(["get", "create", "delete"], ["secrets"], AGENTS), ...each(["get"], ["secrets"], "kube-system"), ...each(["patch"], KINDS.map((k) => `${k}/status`), AGENTS)], false);
  });

  test("real requests as those users meet the same answers", async () => {
    const revocation = stringify({ apiVersion: "intentgate.dev/v1alpha1", kind: "TokenRevocation", metadata: { name: "leak", namespace: AGENTS }, spec: { ids: ["tok_3Fq9xZ2mK8pLw1Vd"], reason: "test" } });
    const grant = stringify({ apiVersion: "intentgate.dev/v1alpha1", kind: "CapabilityGrant", metadata: { name: "g", namespace: AGENTS }, spec: { agents: { serviceAccounts: ["a"] }, ttl: "1h", caveats: [] } });
    assert.equal((await kube.tryKubectl(["create", "-f", "-", "--as=otto"], { input: revocation })).code, 0);
    assert.match((await kube.tryKubectl(["create", "-f", "-", "--as=otto"], { input: grant })).stderr, /forbidden/);
    assert.match((await kube.tryKubectl(["-n", AGENTS, "delete", "tokenrevocation", "leak", "--as=vera"])).stderr, /forbidden/);
    assert.equal((await kube.tryKubectl(["-n", AGENTS, "get", "tokenrevocation", "leak", "--as=vera"])).code, 0);
    assert.equal((await kube.tryKubectl(["-n", SYSTEM, "create", "secret", "generic", "acme-keys", "--from-literal=keys.json={}", "--as=ada"])).code, 0);
    assert.match((await kube.tryKubectl(["-n", AGENTS, "create", "secret", "generic", "x", "--from-literal=a=b", "--as=ada"])).stderr, /forbidden/);
  });

  test("aggregation: view selects only intentgate-viewer, edit only -operator, admin only -admin", async () => {
    for (const [builtIn, ours] of [["view", "intentgate-viewer"], ["edit", "intentgate-operator"], ["admin", "intentgate-admin"]]) {
      const role = JSON.parse(await kube.kubectl(["get", "clusterrole", builtIn!, "-o", "json"]));
      const selectors = role.aggregationRule.clusterRoleSelectors as Array<{ matchLabels: Record<string, string> }>;
      const selected = new Set<string>();
      for (const s of selectors) {
        const labels = [...Object.entries(s.matchLabels).map(([k, v]) => `${k}=${v}`), "app.kubernetes.io/name=intentgate"].join(",");
        const names = (await kube.kubectl(["get", "clusterroles", "-l", labels, "-o", "name"])).split("\n").filter(Boolean);
        for (const n of names) selected.add(n.replace("clusterrole.rbac.authorization.k8s.io/", ""));
      }
      assert.deepEqual([...selected], [ours], `${builtIn} aggregates`);
    }
  });

  describe("the controller's ServiceAccount", () => {
    const controller = serviceAccount(SYSTEM, "intentgate");
    const statuses = ["tenants/status", ...KINDS.map((k) => `${k}/status`)];

    test("may make every call the controller makes", async () => {
      await expectAll(controller, [
        ...each(["list", "watch"], ["tenants", ...KINDS]),
        ...each(["patch"], statuses, AGENTS),
        // A deleted grant's tokens: its finalizer, and their TokenRevocation (swept once they expired).
        ...each(["get", "patch"], ["capabilitygrants"], AGENTS),
        ...each(["create", "delete"], ["tokenrevocations"], AGENTS),
        ...each(["list", "watch", "create", "update"], ["secrets"], AGENTS),
        ...each(["list", "watch"], ["secrets"], SYSTEM),
        ...each(["get", "list"], ["pods"], AGENTS),
        { do: "get namespaces:agents" },
        { do: "create tokenreviews" },
        { do: "get mutatingwebhookconfigurations:intentgate-injector" },
        { do: "update mutatingwebhookconfigurations:intentgate-injector" },
        { do: "create leases", namespace: SYSTEM },
        { do: "get leases:intentgate-leader", namespace: SYSTEM },
        { do: "update leases:intentgate-leader", namespace: SYSTEM },
        { do: "get secrets:intentgate-tls", namespace: SYSTEM },
        { do: "update secrets:intentgate-tls", namespace: SYSTEM },
        ...each(["list", "watch", "create", "update", "delete"], ["configmaps"], SYSTEM),
      ], true);
    });

    test("may not create, replace or delete what people declare, delete or read Secrets by name, touch others' webhooks or leases, or escalate", async () => {
      await expectAll(controller, [
        ...each(["create", "update", "patch", "delete"], KINDS.filter((k) => k !== "capabilitygrants" && k !== "tokenrevocations"), AGENTS),
        ...each(["create", "update", "delete"], ["capabilitygrants"], AGENTS),
        ...each(["update", "patch"], ["tokenrevocations"], AGENTS),
        ...each(["get"], ["secrets"], "kube-system"),
        ...each(["get"], ["secrets"], AGENTS),
        ...each(["delete", "patch"], ["secrets"], AGENTS),
        { do: "update mutatingwebhookconfigurations:someone-elses" },
        { do: "update validatingwebhookconfigurations:intentgate-injector" },
        { do: "update leases:kube-scheduler", namespace: "kube-system" },
        { do: "update leases:someone-elses", namespace: SYSTEM },
        { do: "create leases", namespace: AGENTS },
        { do: "create pods", namespace: AGENTS },
        { do: "create deployments", namespace: SYSTEM },
        { do: "create clusterrolebindings" },
        { do: "impersonate users" },
        ...each(["list"], ["configmaps"], AGENTS),
      ], false);
    });

    test("with rbac.agentNamespaces, Secret reads and grant token writes reach only those namespaces (and its own)", async () => {
      // A second release, its controller RBAC only (the people roles are cluster-wide names the first one owns).
      const narrow = renderChart([], ["--set", `rbac.agentNamespaces={${AGENTS}}`, "--show-only", "templates/rbac-controller.yaml"], { name: "narrow", namespace: "narrow-system" });
      await kube.kubectl(["apply", "-f", "-"], { input: narrow });
      const sa = serviceAccount("narrow-system", "narrow-intentgate");
      await expectAll(sa, [...each(["list", "watch", "create", "update"], ["secrets"], AGENTS), ...each(["list", "watch", "create"], ["secrets"], "narrow-system"), { do: "update secrets:narrow-intentgate-tls", namespace: "narrow-system" }], true);
      await expectAll(sa, [
        ...each(["list", "watch", "create", "update"], ["secrets"], OTHER),
        ...each(["list", "watch", "create", "update"], ["secrets"], "kube-system"),
        // Its own namespace: its TLS Secret only, not the database or tenant key Secrets beside it.
        { do: "update secrets:intentgate-postgres", namespace: "narrow-system" },
        { do: "update secrets:acme-keys", namespace: "narrow-system" },
      ], false);
    });
  });
});
