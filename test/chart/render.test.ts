// The chart without a cluster: `helm lint --strict` passes, values.schema.json refuses typos and wrong types,
// the committed golden renderings, schema and CRD copies are current, and the rendered objects carry the
// settings the chart promises (non-root, probes, webhook failure policy, secret indirection, interception).
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import { CASES, CHART_DIR, helm, staleGoldens } from "../../scripts/chart-golden.ts";
import { chartSchema, SCHEMA_PATH } from "../../scripts/chart-schema.ts";
import { renderValuesReference, VALUES_DOC_PATH } from "../../scripts/chart-values-docs.ts";
import { crdDrift } from "../../scripts/sync-chart-crds.ts";
import { buildRedirectContainer } from "../../controller/webhook/containers.ts";
import { find, renderCase, type Manifest } from "./manifests.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const lint = (extra: string[]): ReturnType<typeof helm> => helm(["lint", "--strict", CHART_DIR, ...extra]);
const template = (extra: string[]): ReturnType<typeof helm> => helm(["template", "intentgate", CHART_DIR, ...extra]);

describe("helm lint and the values schema", () => {
  test("helm lint --strict passes with the default values and with values-custom.yaml", () => {
    for (const files of Object.values(CASES)) {
      const r = lint(files.flatMap((f) => ["--values", f]));
      assert.equal(r.code, 0, r.stdout + r.stderr);
    }
  });

  const refused: Array<[string, string[], RegExp]> = [
    ["an unknown key (a typo)", ["--set", "controller.replicaz=3"], /replicaz/],
    ["an unknown top-level key", ["--set", "webhok.failurePolicy=Ignore"], /webhok/],
    ["a wrong type", ["--set", "controller.replicas=two"], /replicas/],
    ["a value outside its enum", ["--set", "webhook.failurePolicy=Sometimes"], /failurePolicy/],
    ["an interception mode that does not exist", ["--set", "injection.defaultInterception=ebpf"], /defaultInterception/],
    ["a secret value where only a Secret's name belongs", ["--set", "database.url=postgres://u:p@db/x"], /url/],
    ["an image digest that is not sha256", ["--set", "image.controller.digest=latest"], /digest/],
  ];
  for (const [what, args, mention] of refused) {
    test(`${what} fails helm lint and helm template, naming the field`, () => {
      for (const r of [lint(args), template(args)]) {
        assert.notEqual(r.code, 0, `accepted: ${args.join(" ")}`);
        assert.match(r.stdout + r.stderr, /values don't meet the specifications of the schema/);
        assert.match(r.stdout + r.stderr, mention);
      }
    });
  }

  test("a typo in a values file fails the same way", () => {
    const dir = mkdtempSync(join(tmpdir(), "intentgate-chart-"));
    try {
      writeFileSync(join(dir, "typo.yaml"), "networkPolicy:\n  enable: false\n");
      const r = template(["--values", join(dir, "typo.yaml")]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /enable/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe("generated artifacts are current", () => {
  test("test/chart/golden is what helm template renders (node scripts/chart-golden.ts regenerates)", () => {
    assert.deepEqual(staleGoldens(), [], "stale: run node scripts/chart-golden.ts and review the diff");
  });
  test("values.schema.json is what scripts/chart-schema.ts generates", () => {
    assert.equal(readFileSync(SCHEMA_PATH, "utf8"), chartSchema(), "stale: run node scripts/chart-schema.ts");
  });
  test("the chart's CRDs equal crds/", () => {
    assert.deepEqual(crdDrift(), []);
  });
  test("docs/kubernetes/values.md is what scripts/chart-values-docs.ts generates", () => {
    assert.equal(readFileSync(VALUES_DOC_PATH, "utf8"), renderValuesReference(), "stale: run node scripts/chart-values-docs.ts");
  });
});

const envOf = (container: Manifest): Record<string, Manifest> => Object.fromEntries((container["env"] as Manifest[]).map((e) => [e["name"] as string, e]));
const controllerOf = (manifests: Manifest[]): Manifest => find(manifests, "Deployment").spec.template.spec.containers[0];

describe("what the chart installs", () => {
  const defaults = renderCase("default");
  const custom = renderCase("custom");

  test("no Secret objects and no secret values: the database URL comes from a named Secret", () => {
    for (const m of [...defaults, ...custom]) assert.notEqual(m.kind, "Secret", `${m.metadata.name} is a Secret`);
    assert.equal(envOf(controllerOf(defaults))["INTENTGATE_DATABASE_URL"], undefined, "no database by default");
    assert.deepEqual(envOf(controllerOf(custom))["INTENTGATE_DATABASE_URL"], {
      name: "INTENTGATE_DATABASE_URL",
      valueFrom: { secretKeyRef: { name: "intentgate-postgres", key: "connection-url" } },
    });
  });

  test("every INTENTGATE_* variable the Deployment sets is one `intentgate controller` reads", () => {
    const cli = readFileSync(join(ROOT, "cli/commands/controller.ts"), "utf8");
    const read = new Set([...cli.matchAll(/env\("([A-Z_]+)"\)/g)].map((m) => `INTENTGATE_${m[1]}`));
    read.add(/"--database-env <name>".*"(INTENTGATE_[A-Z_]+)"\)/.exec(cli)?.[1] ?? "");
    for (const name of Object.keys(envOf(controllerOf(custom))).filter((n) => n.startsWith("INTENTGATE_"))) {
      assert.ok(read.has(name), `${name} is set by the chart but not read by the controller`);
    }
  });

  test("the controller runs non-root, read-only, without privileges, probed on its admin port", () => {
    for (const manifests of [defaults, custom]) {
      const pod = find(manifests, "Deployment").spec.template.spec;
      const c = controllerOf(manifests);
      assert.equal(pod.securityContext.runAsNonRoot, true);
      assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
      assert.deepEqual(c.readinessProbe.httpGet, { path: "/readyz", port: "admin" });
      assert.deepEqual(c.livenessProbe.httpGet, { path: "/healthz", port: "admin" });
      const admin = c.ports.find((p: Manifest) => p["name"] === "admin").containerPort;
      assert.equal(envOf(c)["INTENTGATE_ADMIN"]!["value"], `0.0.0.0:${admin}`);
    }
  });

  test("replicas, disruption budget and topology spread follow the values", () => {
    assert.equal(find(defaults, "Deployment").spec.replicas, 2);
    assert.equal(find(custom, "Deployment").spec.replicas, 3);
    assert.equal(find(custom, "PodDisruptionBudget").spec.minAvailable, 2);
    assert.equal(find(custom, "Deployment").spec.template.spec.topologySpreadConstraints[0].topologyKey, "topology.kubernetes.io/zone");
  });

  test("the webhook: Fail by default, configurable, never the release namespace or kube-system, caBundle left to the controller", () => {
    const service = find(defaults, "Service");
    for (const [manifests, policy] of [[defaults, "Fail"], [custom, "Ignore"]] as const) {
      for (const w of find(manifests, "MutatingWebhookConfiguration").webhooks) {
        assert.equal(w.failurePolicy, policy);
        assert.equal(w.clientConfig.caBundle, undefined);
        assert.deepEqual(w.clientConfig.service, { name: service.metadata.name, namespace: "intentgate-system", path: "/mutate", port: 443 });
        const excluded = w.namespaceSelector.matchExpressions.find((e: Manifest) => e["key"] === "kubernetes.io/metadata.name");
        assert.ok(excluded.values.includes("intentgate-system") && excluded.values.includes("kube-system"));
      }
    }
    assert.equal(service.spec.ports.find((p: Manifest) => p["port"] === 443).targetPort, "webhook");
  });

  test("interception: redirect by default, env where NET_ADMIN is not allowed; the redirect container adds only NET_ADMIN and NET_RAW", () => {
    assert.equal(envOf(controllerOf(defaults))["INTENTGATE_DEFAULT_INTERCEPTION"]!["value"], "redirect");
    assert.equal(envOf(controllerOf(custom))["INTENTGATE_DEFAULT_INTERCEPTION"]!["value"], "env");
    assert.equal(envOf(controllerOf(custom))["INTENTGATE_ALLOW_REDIRECT"]!["value"], "false");
    assert.deepEqual(JSON.parse(envOf(controllerOf(custom))["INTENTGATE_SIDECAR_RESOURCES"]!["value"]), { requests: { cpu: "25m", memory: "64Mi" }, limits: { memory: "128Mi" } });
    const redirect = buildRedirectContainer({ redirectImage: "r", proxyUid: 1337, ports: { mcp: 7070, admin: 7071 } } as Parameters<typeof buildRedirectContainer>[0], []);
    assert.deepEqual(redirect.securityContext?.capabilities, { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] });
    assert.equal(redirect.securityContext?.allowPrivilegeEscalation, false);
  });

  test("people roles aggregate into view, edit and admin only when asked", () => {
    const aggregation = (manifests: Manifest[], name: string): string[] =>
      Object.keys(find(manifests, "ClusterRole", name).metadata.labels ?? {}).filter((l) => l.startsWith("rbac.authorization.k8s.io/aggregate-to-"));
    assert.deepEqual(aggregation(defaults, "intentgate-viewer"), ["rbac.authorization.k8s.io/aggregate-to-view"]);
    assert.deepEqual(aggregation(defaults, "intentgate-operator"), ["rbac.authorization.k8s.io/aggregate-to-edit"]);
    assert.deepEqual(aggregation(defaults, "intentgate-admin"), ["rbac.authorization.k8s.io/aggregate-to-admin"]);
    for (const name of ["intentgate-viewer", "intentgate-operator", "intentgate-admin"]) assert.deepEqual(aggregation(custom, name), []);
    for (const m of defaults.filter((m) => m.kind === "ClusterRole" && !m.metadata.name.startsWith("intentgate-"))) assert.deepEqual(aggregation(defaults, m.metadata.name), []);
  });

  test("agent Secrets (read, and grant tokens written): cluster-wide by default, RoleBindings in rbac.agentNamespaces only when listed", () => {
    const writers = (manifests: Manifest[]): string[] =>
      manifests.filter((m) => m.kind.endsWith("Binding") && m["roleRef"].name === "intentgate-agent-secrets").map((m) => `${m.kind}/${m.metadata.namespace ?? ""}`);
    assert.deepEqual(writers(defaults), ["ClusterRoleBinding/"]);
    assert.deepEqual(writers(custom).sort(), ["RoleBinding/agents-a", "RoleBinding/agents-b"]);
  });

  test("monitors: off by default; the PodMonitor scrapes the injected sidecar's admin port by its name", () => {
    assert.ok(!defaults.some((m) => m.kind === "PodMonitor" || m.kind === "ServiceMonitor"));
    const injected = readFileSync(join(ROOT, "controller/webhook/containers.ts"), "utf8");
    const podMonitor = find(custom, "PodMonitor");
    const port = podMonitor.spec.podMetricsEndpoints[0].port as string;
    assert.ok(injected.includes(`name: "${port}"`), `the injected sidecar has no port named ${port}`);
    assert.deepEqual(podMonitor.spec.namespaceSelector, { any: true });
    const serviceMonitorPort = find(custom, "ServiceMonitor").spec.endpoints[0].port;
    assert.ok(find(custom, "Service").spec.ports.some((p: Manifest) => p["name"] === serviceMonitorPort));
  });
});
