// The CRDs against a real kube-apiserver: they install and become Established, the examples apply,
// `kubectl get` shows the printer columns, and every validation rule refuses a bad spec at apply time
// with its message. Also: the generated CRD reference is up to date.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseAllDocuments, stringify } from "yaml";
import { REFERENCE_PATH, renderCrdReference } from "../../scripts/crd-docs.ts";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { startKube, type TestKube } from "../support/kube.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const EXAMPLES = join(ROOT, "examples/kubernetes");
const NS = "finance-agents";

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec: any; status?: any };

const example = (file: string, index = 0): Manifest => parseAllDocuments(readFileSync(join(EXAMPLES, file), "utf8"))[index]!.toJS() as Manifest;

// One valid manifest per kind, from the examples; the negative cases each break one rule of a fresh copy.
const bases = {
  tenant: () => example("01-tenant.yaml"),
  policy: () => example("02-toolpolicy-finance.yaml"),
  grant: () => example("03-capabilitygrant.yaml"),
  budget: () => example("04-budgets.yaml"),
  revocation: () => example("05-tokenrevocation.yaml"),
  server: () => example("06-mcpservers.yaml"),
};

describe("CRD reference docs", () => {
  test("docs/kubernetes/crd-reference.md is what scripts/crd-docs.ts generates from crds/", () => {
    assert.equal(readFileSync(REFERENCE_PATH, "utf8"), renderCrdReference(), "stale: run node scripts/crd-docs.ts");
  });

  test("the example ToolPolicy carries policies/finance unchanged", () => {
    const policy = example("02-toolpolicy-finance.yaml");
    assert.equal(policy.spec.modules["policy.rego"], readFileSync(join(ROOT, "policies/finance/policy.rego"), "utf8"));
    assert.deepEqual(policy.spec.data, JSON.parse(readFileSync(join(ROOT, "policies/finance/data.json"), "utf8")));
  });
});

test("the harness fails, never skips, when the Kubernetes binaries are missing", async () => {
  const saved = process.env["INTENTGATE_KUBE_BIN"];
  const empty = mkdtempSync(join(tmpdir(), "intentgate-no-kube-"));
  process.env["INTENTGATE_KUBE_BIN"] = empty;
  try {
    await assert.rejects(startKube(), /etcd not found in .*: run scripts\/test\.sh \(its ensure_kube builds it\)/);
  } finally {
    if (saved === undefined) delete process.env["INTENTGATE_KUBE_BIN"];
    else process.env["INTENTGATE_KUBE_BIN"] = saved;
    rmSync(empty, { recursive: true });
  }
});

describe("CRDs on a real kube-apiserver", () => {
  let kube: TestKube;
  before(async () => {
    kube = await startKube();
    await kube.applyCrds();
  });
  after(() => kube?.destroy());

  test("every CRD is Established with its names, short names and the intentgate category", async () => {
    const crds = JSON.parse(await kube.kubectl(["get", "crd", "-o", "json"])).items as any[];
    const byKind = new Map(crds.map((c) => [c.spec.names.kind, c]));
    for (const kind of ["Tenant", "ToolPolicy", "CapabilityGrant", "Budget", "TokenRevocation", "McpServer"]) {
      const crd = byKind.get(kind);
      assert.ok(crd, `${kind} installed`);
      assert.equal(crd.spec.group, "intentgate.dev");
      assert.equal(crd.spec.scope, kind === "Tenant" ? "Cluster" : "Namespaced");
      assert.deepEqual(crd.spec.names.categories, ["intentgate"]);
      assert.ok(crd.spec.names.shortNames.length > 0);
      assert.ok(crd.status.conditions.some((c: any) => c.type === "Established" && c.status === "True"));
      assert.deepEqual(crd.spec.versions[0].subresources, { status: {} });
    }
  });

  describe("the examples", () => {
    before(async () => {
      await kube.kubectl(["apply", "-f", EXAMPLES]);
    });

    test("all apply, and `kubectl get intentgate` lists every namespaced kind", async () => {
      const out = await kube.kubectl(["get", "intentgate", "-n", NS, "-o", "name"]);
      for (const name of [
        "toolpolicy.intentgate.dev/finance",
        "capabilitygrant.intentgate.dev/payments-agent-token",
        "budget.intentgate.dev/per-agent-calls",
        "budget.intentgate.dev/tenant-spend",
        "tokenrevocation.intentgate.dev/leaked-laptop-token",
        "mcpserver.intentgate.dev/payments",
        "mcpserver.intentgate.dev/files",
      ]) {
        assert.match(out, new RegExp(`^${name}$`, "m"));
      }
      assert.match(await kube.kubectl(["get", "igtenant", "-o", "name"]), /^tenant.intentgate.dev\/acme$/m);
    });

    test("the API server fills in defaults", async () => {
      const tenant = JSON.parse(await kube.kubectl(["get", "tenant", "acme", "-o", "json"]));
      assert.equal(tenant.spec.keysSecret.key, "keys.json");
      assert.equal(tenant.spec.auditKeysSecret.key, "audit-keys.json");
      assert.equal(tenant.spec.intent.minConfidence, 0.5);
      assert.equal(tenant.spec.audit.storeArgumentValues, false);
      const policy = JSON.parse(await kube.kubectl(["get", "tpol", "finance", "-n", NS, "-o", "json"]));
      assert.equal(policy.spec.entrypoint, "intentgate/decision");
      const grant = JSON.parse(await kube.kubectl(["get", "capgrant", "payments-agent-token", "-n", NS, "-o", "json"]));
      assert.equal(grant.spec.ttl, "24h");
      assert.deepEqual(grant.spec.caveats[2], { type: "arg", tools: ["payments.transfer"], path: "/amount", op: "le", value: 50000 });
    });

    test("status is written only through the status subresource, and shows in `kubectl get`", async () => {
      const status = {
        observedGeneration: 1,
        version: "sha256:" + "ab".repeat(32),
        loadedBy: 3,
        selectedSidecars: 4,
        conditions: [
          { type: "Ready", status: "True", reason: "Distributed", message: "loaded by 3 of 4 sidecars", lastTransitionTime: "2026-01-01T00:00:00Z" },
        ],
      };
      // A status in the main resource is dropped.
      await kube.kubectl(["patch", "toolpolicy", "finance", "-n", NS, "--type=merge", "-p", JSON.stringify({ status })]);
      assert.equal(JSON.parse(await kube.kubectl(["get", "toolpolicy", "finance", "-n", NS, "-o", "json"])).status, undefined);
      await kube.kubectl(["patch", "toolpolicy", "finance", "-n", NS, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })]);
      const table = await kube.kubectl(["get", "toolpolicies", "-n", NS, "-o", "wide"]);
      assert.match(table.split("\n")[0]!, /^NAME\s+MODE\s+READY\s+VERSION\s+LOADED\s+SELECTED\s+AGE$/);
      assert.match(table, new RegExp(`^finance\\s+enforce\\s+True\\s+sha256:(ab){32}\\s+3\\s+4\\s+\\S+$`, "m"));
    });

    test("a condition in the wrong shape is refused on the status subresource", async () => {
      const bad = { status: { conditions: [{ type: "Ready", status: "Maybe", reason: "x", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" }] } };
      const result = await kube.tryKubectl(["patch", "toolpolicy", "finance", "-n", NS, "--subresource=status", "--type=merge", "-p", JSON.stringify(bad)]);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /status\.conditions\[0\]\.status: Unsupported value: "Maybe"/);
    });

    test("kubectl explain serves the field descriptions", async () => {
      const out = await kube.kubectl(["explain", "toolpolicy.spec.modules"]);
      assert.match(out, /Rego modules by file name/);
      assert.match(await kube.kubectl(["explain", "budget.spec.scope"]), /tenant gives the whole\s+tenant one shared ceiling/);
    });

    test("a caveat's unknown fields are kept for the controller to refuse, not silently pruned", async () => {
      const grant = bases.grant();
      grant.metadata.name = "typo-grant";
      grant.spec.caveats[2] = { ...grant.spec.caveats[2], tols: ["payments.transfer"] };
      await kube.kubectl(["apply", "-f", "-"], { input: stringify(grant) });
      const stored = JSON.parse(await kube.kubectl(["get", "capgrant", "typo-grant", "-n", NS, "-o", "json"]));
      assert.deepEqual(stored.spec.caveats[2].tols, ["payments.transfer"]);
    });

    test("printer columns of every kind", async () => {
      const headers: Array<[string, RegExp, RegExp]> = [
        ["tenants", /^NAME\s+NAMESPACES\s+READY\s+SIDECARS\s+CURRENT\s+AGE$/, /^acme\s+\["finance-agents"\]\s+\S+$/m],
        ["capabilitygrants", /^NAME\s+READY\s+TOKENS\s+AGE$/, /^payments-agent-token\s+\S+$/m],
        ["budgets", /^NAME\s+SCOPE\s+WINDOW\s+CALLS\s+COST\s+READY\s+AGE$/, /^tenant-spend\s+tenant\s+1d\s+5000\s+\S+$/m],
        ["tokenrevocations", /^NAME\s+IDS\s+REASON\s+READY\s+AGE$/, /^leaked-laptop-token\s+\["tok_3Fq9xZ2mK8pLw1Vd"\]\s+token copied to a lost laptop \(incident 4711\)\s+\S+$/m],
        ["mcpservers", /^NAME\s+URL\s+READY\s+AGE$/, /^files\s+http:\/\/files\.finance-agents\.svc\.cluster\.local:8080\/mcp\s+\S+$/m],
      ];
      for (const [resource, header, row] of headers) {
        const table = await kube.kubectl(["get", resource, ...(resource === "tenants" ? [] : ["-n", NS])]);
        assert.match(table.split("\n")[0]!, header, `${resource} header`);
        assert.match(table, row, `${resource} row`);
      }
      const budgets = await kube.kubectl(["get", "budgets", "-n", NS]);
      assert.match(budgets, /^per-agent-calls\s+agent\s+1h\s+100\s+\S+$/m);
    });
  });

  describe("bad specs are refused at apply time, one rule each", () => {
    const cases: Array<[string, keyof typeof bases, (m: Manifest) => void, string]> = [
      ["tenant without keysSecret", "tenant", (m) => delete m.spec.keysSecret, "spec.keysSecret: Required value"],
      ["tenant without namespaces", "tenant", (m) => (m.spec.namespaces = []), "spec.namespaces: Invalid value: 0: spec.namespaces in body should have at least 1 items"],
      ["tenant owning kube-system", "tenant", (m) => (m.spec.namespaces = ["kube-system"]), "kube-system, kube-public and kube-node-lease cannot belong to a tenant"],
      ["tenant namespace not a DNS label", "tenant", (m) => (m.spec.namespaces = ["Finance"]), "spec.namespaces[0] in body should match"],
      ["tenant with a misspelt field", "tenant", (m) => (m.spec.namespace = "x"), 'unknown field "spec.namespace"'],
      ["intent enforced without an extractor", "tenant", (m) => (m.spec.intent = { mode: "enforce" }), "intent mode enforce or advisory needs an extractor"],
      ["unknown intent mode", "tenant", (m) => (m.spec.intent.mode = "strict"), 'spec.intent.mode: Unsupported value: "strict"'],
      ["http extractor without url", "tenant", (m) => (m.spec.intent.extractor = { kind: "http" }), "an http extractor needs url"],
      ["builtin extractor with url", "tenant", (m) => (m.spec.intent.extractor = { kind: "builtin", url: "http://x" }), "url and timeoutMs apply to the http extractor only"],
      ["extractor url not http", "tenant", (m) => (m.spec.intent.extractor = { kind: "http", url: "ftp://x/y" }), "url must be an absolute http or https URL"],
      ["minConfidence above 1", "tenant", (m) => (m.spec.intent.minConfidence = 1.5), "spec.intent.minConfidence in body should be less than or equal to 1"],
      ["snapshot age bound too small", "tenant", (m) => (m.spec.maxSnapshotAgeSeconds = 5), "spec.maxSnapshotAgeSeconds in body should be greater than or equal to 10"],
      ["unknownHosts allow", "tenant", (m) => (m.spec.unknownHosts = "allow"), 'spec.unknownHosts: Unsupported value: "allow"'],
      ["memory writer name", "tenant", (m) => (m.spec.memory.writers = ["crm sync"]), "spec.memory.writers[0] in body should match"],

      ["policy without modules", "policy", (m) => delete m.spec.modules, "spec.modules: Required value"],
      ["policy with no .rego module", "policy", (m) => (m.spec.modules = { "policy.txt": "package intentgate" }), "modules must hold at least one Rego module (a name ending in .rego)"],
      ["policy module name escaping the folder", "policy", (m) => (m.spec.modules = { "../evil.rego": "package intentgate" }), "module names must be plain file names ending in .rego"],
      ["policy module in a subfolder", "policy", (m) => (m.spec.modules = { "lib/util.rego": "package intentgate" }), "module names must be plain file names ending in .rego"],
      ["policy mode audit", "policy", (m) => (m.spec.mode = "audit"), 'spec.mode: Unsupported value: "audit"'],
      ["policy entrypoint outside package intentgate", "policy", (m) => (m.spec.entrypoint = "system/main"), "spec.entrypoint in body should match"],
      ["service account not a DNS name", "policy", (m) => (m.spec.agents = { serviceAccounts: ["Payments_Agent"] }), "spec.agents.serviceAccounts[0] in body should match"],
      ["matchLabels key not a label key", "policy", (m) => (m.spec.agents = { matchLabels: { "bad key": "x" } }), "matchLabels keys must be label keys"],
      ["matchLabels value too long", "policy", (m) => (m.spec.agents = { matchLabels: { app: "x".repeat(64) } }), "Too long: may not be more than 63"],

      ["grant selecting no agent", "grant", (m) => (m.spec.agents = {}), "a grant must select at least one agent"],
      ["grant with empty selector lists", "grant", (m) => (m.spec.agents = { serviceAccounts: [], matchLabels: {} }), "a grant must select at least one agent"],
      ["grant minting an agent caveat", "grant", (m) => m.spec.caveats.push({ type: "agent", id: "x" }), 'spec.caveats[4].type: Unsupported value: "agent"'],
      ["tools caveat without allow", "grant", (m) => (m.spec.caveats[1] = { type: "tools" }), "a tools caveat needs allow"],
      ["rate caveat without window", "grant", (m) => (m.spec.caveats[3] = { type: "rate", max: 10 }), "a rate caveat needs max and window"],
      ["arg caveat with an unknown op", "grant", (m) => (m.spec.caveats[2].op = "like"), 'spec.caveats[2].op: Unsupported value: "like"'],
      ["arg caveat path not a JSON pointer", "grant", (m) => (m.spec.caveats[2].path = "amount"), "spec.caveats[2].path in body should match '^/'"],
      ["grant ttl not a duration", "grant", (m) => (m.spec.ttl = "1 day"), "ttl must be a duration such as 90s, 30m, 1h or 7d"],
      ["grant ttl too short", "grant", (m) => (m.spec.ttl = "1m"), "ttl must be between 5m and 90d"],
      ["grant ttl too long", "grant", (m) => (m.spec.ttl = "91d"), "ttl must be between 5m and 90d"],
      ["grant secretPrefix", "grant", (m) => (m.spec.secretPrefix = "Tokens_"), "spec.secretPrefix in body should match"],
      ["grant name longer than a label value", "grant", (m) => (m.metadata.name = `grant-${"x".repeat(60)}`), "a CapabilityGrant's name labels the Secrets it writes"],

      ["budget with no ceiling", "budget", (m) => delete m.spec.calls, "a budget needs a calls or a cost ceiling (or both)"],
      ["tenant budget selecting agents", "budget", (m) => Object.assign(m.spec, { scope: "tenant", agents: { serviceAccounts: ["payments-agent"] } }), "a tenant-scoped budget covers the whole tenant and must not select agents"],
      ["per-tool costs without a cost ceiling", "budget", (m) => (m.spec.costs = { "payments.transfer": 5 }), "costs price calls against a cost ceiling, so they need cost"],
      ["budget window in weeks", "budget", (m) => (m.spec.window = "1w"), "window must be a duration such as 90s, 30m, 1h or 7d"],
      ["budget window of zero", "budget", (m) => (m.spec.window = "0s"), "window must be a duration such as 90s, 30m, 1h or 7d"],
      ["budget window above 31d", "budget", (m) => (m.spec.window = "745h"), "window must be at most 31d"],
      ["budget scope team", "budget", (m) => (m.spec.scope = "team"), 'spec.scope: Unsupported value: "team"'],
      ["negative call ceiling", "budget", (m) => (m.spec.calls = -1), "spec.calls in body should be greater than or equal to 0"],
      ["negative tool cost", "budget", (m) => Object.assign(m.spec, { cost: 10, costs: { "search.*": -1 } }), "spec.costs.search.* in body should be greater than or equal to 0"],

      ["revocation without ids", "revocation", (m) => (m.spec.ids = []), "spec.ids in body should have at least 1 items"],
      ["revocation id not a token id", "revocation", (m) => (m.spec.ids = ["short"]), "spec.ids[0] in body should match"],
      ["revocation with a repeated id", "revocation", (m) => (m.spec.ids = ["tok_3Fq9xZ2mK8pLw1Vd", "tok_3Fq9xZ2mK8pLw1Vd"]), 'spec.ids[1]: Duplicate value: "tok_3Fq9xZ2mK8pLw1Vd"'],
      ["revocation without a reason", "revocation", (m) => delete m.spec.reason, "spec.reason: Required value"],

      ["server url not http", "server", (m) => (m.spec.url = "ftp://payments/mcp"), "url must be an absolute http or https URL"],
      ["server url not a URL", "server", (m) => (m.spec.url = "payments:8080"), "url must be an absolute http or https URL"],
      ["server sseUrl not http", "server", (m) => (m.spec.sseUrl = "file:///etc/passwd"), "sseUrl must be an absolute http or https URL"],
      ["server name with a dot", "server", (m) => (m.metadata.name = "pay.ments"), "an McpServer's name is the server in server.tool names"],
      ["credentials setting Host", "server", (m) => (m.spec.credentials.headers = { Host: "host" }), "credentials cannot set Host, framing, hop-by-hop or MCP session headers"],
      ["credentials header not a token", "server", (m) => (m.spec.credentials.headers = { "x api key": "k" }), "header names must be HTTP tokens"],
      ["pinned tool not a sha256", "server", (m) => (m.spec.pinnedTools = { transfer: "abc" }), "spec.pinnedTools.transfer in body should match '^sha256:[0-9a-f]{64}$'"],
      ["host with a path", "server", (m) => (m.spec.hosts = ["payments/mcp"]), "spec.hosts[0] in body should match"],
    ];

    before(async () => {
      await kube.kubectl(["apply", "-f", join(EXAMPLES, "00-namespace.yaml")]);
    });

    let n = 0;
    for (const [name, base, mutate, message] of cases) {
      test(name, async () => {
        const manifest = bases[base]();
        manifest.metadata.name = `bad-${++n}`;
        mutate(manifest);
        const result = await kube.tryKubectl(["apply", "-f", "-"], { input: stringify(manifest) });
        assert.notEqual(result.code, 0, `accepted: ${result.stdout}`);
        assert.ok(result.stderr.includes(message), `expected "${message}" in:\n${result.stderr}`);
      });
    }

    test("each base manifest is valid on its own (so each case above fails for its own rule)", async () => {
      for (const [base, make] of Object.entries(bases)) {
        const manifest = make();
        manifest.metadata.name = `good-${base}`;
        const result = await kube.tryKubectl(["apply", "--dry-run=server", "-f", "-"], { input: stringify(manifest) });
        assert.equal(result.code, 0, `${base}: ${result.stderr}`);
      }
    });
  });

  // The harness itself, which the controller's suites build on.
  describe("the harness", () => {
    test("@kubernetes/client-node reads the custom resources with the harness's kubeconfig", async () => {
      const api = kube.kubeConfig().makeApiClient(CustomObjectsApi);
      const list = (await api.listNamespacedCustomObject({ group: "intentgate.dev", version: "v1alpha1", namespace: NS, plural: "mcpservers" })) as any;
      assert.deepEqual(list.items.map((i: any) => i.metadata.name).sort(), ["files", "payments"]);
    });

    test("a static-token user has only the rights RBAC gives it", async () => {
      await kube.addUser("policy-viewer", ["intentgate:viewers"]);
      const forbidden = await kube.tryKubectl(["get", "toolpolicies", "-n", NS], { user: "policy-viewer" });
      assert.notEqual(forbidden.code, 0);
      assert.match(forbidden.stderr, /User "policy-viewer" cannot list resource "toolpolicies"/);
      await kube.kubectl(["create", "role", "view-policies", "-n", NS, "--verb=get,list,watch", "--resource=toolpolicies.intentgate.dev"]);
      await kube.kubectl(["create", "rolebinding", "view-policies", "-n", NS, "--role=view-policies", "--group=intentgate:viewers"]);
      assert.match(await kube.kubectl(["get", "toolpolicies", "-n", NS, "-o", "name"], { user: "policy-viewer" }), /toolpolicy.intentgate.dev\/finance/);
      const write = await kube.tryKubectl(["delete", "toolpolicy", "finance", "-n", NS], { user: "policy-viewer" });
      assert.notEqual(write.code, 0);
      assert.match(write.stderr, /cannot delete resource "toolpolicies"/);
      const unknown = await kube.tryKubectl(["get", "toolpolicies", "-n", NS, "--token=not-a-token"]);
      assert.notEqual(unknown.code, 0);
      assert.match(unknown.stderr, /Unauthorized/);
    });

    test("the API server stops and starts again with etcd's data", async () => {
      await kube.stop();
      const down = await kube.tryKubectl(["get", "tenants", "--request-timeout=2s"]);
      assert.notEqual(down.code, 0);
      await kube.start();
      assert.match(await kube.kubectl(["get", "tenants", "-o", "name"]), /^tenant.intentgate.dev\/acme$/m);
    });

    test("service-account tokens are issued and verified (TokenRequest, TokenReview)", async () => {
      await kube.kubectl(["create", "serviceaccount", "payments-agent", "-n", NS]);
      const token = (await kube.kubectl(["create", "token", "payments-agent", "-n", NS, "--audience=intentgate"])).trim();
      const review = { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token, audiences: ["intentgate"] } };
      const answer = JSON.parse(await kube.kubectl(["create", "-o", "json", "-f", "-"], { input: JSON.stringify(review) }));
      assert.equal(answer.status.authenticated, true);
      assert.equal(answer.status.user.username, `system:serviceaccount:${NS}:payments-agent`);
      const forged = { ...review, spec: { token: token.slice(0, -4) + "AAAA", audiences: ["intentgate"] } };
      const refused = JSON.parse(await kube.kubectl(["create", "-o", "json", "-f", "-"], { input: JSON.stringify(forged) }));
      assert.notEqual(refused.status.authenticated, true);
    });
  });
});
