// Generates charts/intentgate/values.schema.json: the chart's own fields, with the definitions the sidecar's
// config schema already has (log level, ports) taken from sidecar/config/schema.json so the two cannot drift.
// Every object is closed (additionalProperties: false), so a typo in values fails `helm install`.
// `--check` changes nothing and fails when the committed schema differs from what would be generated.
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

type Schema = Record<string, unknown>;

const ROOT = resolve(import.meta.dirname, "..");
export const SCHEMA_PATH = join(ROOT, "charts/intentgate/values.schema.json");
const SIDECAR_SCHEMA = JSON.parse(readFileSync(join(ROOT, "sidecar/config/schema.json"), "utf8")) as {
  properties: { logLevel: Schema };
  definitions: { address: { properties: { port: Schema } } };
};

const closed = (properties: Record<string, Schema>, extra: Schema = {}): Schema => ({ type: "object", additionalProperties: false, properties, ...extra });
const str = (extra: Schema = {}): Schema => ({ type: "string", ...extra });
const bool: Schema = { type: "boolean" };
const stringMap: Schema = { type: "object", additionalProperties: { type: "string" } };
const ref = (name: string): Schema => ({ $ref: `#/definitions/${name}` });
const doc = (schema: Schema, description: string): Schema => ({ ...schema, description });
// A Kubernetes object name, or "" for the chart's default.
const nameOrDefault = str({ pattern: "^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$", maxLength: 63 });
const duration = str({ pattern: "^[0-9]+(ms|s|m|h)$" });

const definitions: Record<string, Schema> = {
  logLevel: { ...SIDECAR_SCHEMA.properties.logLevel, description: "pino log level (the sidecar's config uses the same levels)." },
  // Ports the chart listens on: the sidecar's port definition, without 0 (an ephemeral port cannot be probed).
  port: { ...SIDECAR_SCHEMA.definitions.address.properties.port, minimum: 1 },
  image: closed({
    repository: str({ minLength: 1, description: "Image repository." }),
    tag: str({ pattern: "^([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$", description: "Image tag; empty: the chart's appVersion." }),
    digest: str({ pattern: "^(sha256:[a-f0-9]{64})?$", description: 'A digest ("sha256:..."); wins over tag when set.' }),
  }, { required: ["repository"] }),
  quantity: { type: ["string", "number"], pattern: "^[0-9.]+([eE][-+]?[0-9]+|[numkMGTPE]|[KMGTPE]i)?$" },
  resources: closed({
    requests: { type: "object", additionalProperties: ref("quantity"), description: "Resource requests (cpu, memory)." },
    limits: { type: "object", additionalProperties: ref("quantity"), description: "Resource limits." },
  }),
  monitor: closed({
    enabled: doc(bool, "Create it."),
    interval: doc(duration, "Scrape interval."),
    labels: doc(stringMap, "Extra labels, e.g. the one your Prometheus selects monitors by."),
  }),
  subject: closed({
    kind: { enum: ["User", "Group", "ServiceAccount"] },
    name: str({ minLength: 1 }),
    namespace: str(),
    apiGroup: str(),
  }, { required: ["kind", "name"] }),
  networkPolicyPeer: closed({ podSelector: { type: "object" }, namespaceSelector: { type: "object" }, ipBlock: { type: "object" } }),
};

// Every key carries a description: docs/kubernetes/values.md is generated from them (scripts/chart-values-docs.ts).
const properties: Record<string, Schema> = {
  image: closed({
    controller: doc(ref("image"), "The controller's image (the bundle plus opa)."),
    sidecar: doc(ref("image"), "The image of injected sidecars."),
    redirect: doc(ref("image"), "The image of the redirect init container (iptables only)."),
    pullPolicy: doc({ enum: ["Always", "IfNotPresent", "Never"] }, "imagePullPolicy of the controller and of injected containers."),
    pullSecrets: doc({ type: "array", items: str({ minLength: 1 }) }, "Names of existing docker-registry Secrets in the release namespace."),
  }, { description: "Container images. A non-empty digest wins over the tag." }),
  controller: closed({
    replicas: doc({ type: "integer", minimum: 1 }, "Controller replicas. Every replica serves snapshots and the webhook; one leader reconciles."),
    logLevel: ref("logLevel"),
    resources: doc(ref("resources"), "The controller container's resources."),
    ports: closed({
      api: doc(ref("port"), "HTTPS snapshot and budget-lease API that sidecars subscribe to."),
      webhook: doc(ref("port"), "HTTPS admission webhook (the Service exposes it on 443)."),
      admin: doc(ref("port"), "Plain HTTP /metrics, /healthz and /readyz."),
    }, { description: "Container ports." }),
    leaseName: doc(nameOrDefault, 'The leader-election Lease in the release namespace; empty: "<fullname>-leader".'),
    tmpSizeLimit: doc(ref("quantity"), "Size limit of the /tmp emptyDir where opa build compiles policies (the root filesystem is read-only)."),
    podDisruptionBudget: closed({
      enabled: doc(bool, "Create a PodDisruptionBudget for the controller."),
      minAvailable: doc({ type: ["integer", "string"] }, "Replicas kept during voluntary disruptions (a number or a percentage)."),
    }, { description: "Keeps the webhook served during node drains and upgrades." }),
    topologySpread: closed({
      enabled: doc(bool, "Spread replicas with a topologySpreadConstraint."),
      maxSkew: doc({ type: "integer", minimum: 1 }, "maxSkew of the constraint."),
      topologyKey: doc(str({ minLength: 1 }), "Node label to spread over (hostname, zone)."),
      whenUnsatisfiable: doc({ enum: ["DoNotSchedule", "ScheduleAnyway"] }, "Whether an unsatisfiable spread blocks scheduling."),
    }, { description: "Spreads replicas so one node or zone going away leaves one serving." }),
    priorityClassName: doc(str(), "priorityClassName of the controller pods; empty: none."),
    nodeSelector: doc(stringMap, "nodeSelector of the controller pods."),
    tolerations: doc({ type: "array", items: { type: "object" } }, "Tolerations of the controller pods."),
    affinity: doc({ type: "object" }, "Affinity of the controller pods."),
    podAnnotations: doc(stringMap, "Extra annotations on the controller pods."),
    podLabels: doc(stringMap, "Extra labels on the controller pods."),
  }, { description: "The controller Deployment." }),
  database: closed({
    existingSecret: doc(nameOrDefault, "An existing Secret in the release namespace holding the URL of the controller's PostgreSQL database: the budget lease ledger and the audit records sidecars ship. Empty: no lease API (sidecars count budgets alone) and no audit ingest (records stay in the pods' spools)."),
    secretKey: doc(str({ minLength: 1 }), "The key in that Secret holding the URL (postgres://user:password@host:5432/db?sslmode=verify-full)."),
  }, { description: "The controller's PostgreSQL database (exact budgets across replicas, the cluster's audit log), named, never inlined." }),
  serviceAccount: closed({
    name: doc(nameOrDefault, 'The controller\'s ServiceAccount (created by the chart); empty: "<fullname>".'),
    annotations: doc(stringMap, "Annotations on the ServiceAccount (workload identity bindings)."),
  }, { description: "The controller's ServiceAccount." }),
  webhook: closed({
    name: doc(nameOrDefault, 'The MutatingWebhookConfiguration; empty: "<fullname>-injector".'),
    failurePolicy: doc({ enum: ["Fail", "Ignore"] }, "Fail: no pod in scope starts without its sidecar while the webhook is down. Ignore: such pods start uninjected and unchecked."),
    // The API server caps webhook timeouts at 30 s; a slow webhook stalls every pod create in scope.
    timeoutSeconds: doc({ type: "integer", minimum: 1, maximum: 30 }, "How long the API server waits for the webhook (at most 30)."),
    tlsSecretName: doc(nameOrDefault, 'The Secret the controller creates and rotates for its CA and serving certificate; empty: "<fullname>-tls".'),
    excludedNamespaces: doc({ type: "array", items: str({ minLength: 1 }) }, "Namespaces never injected, besides the release namespace and kube-system."),
  }, { description: "The sidecar-injecting admission webhook." }),
  injection: closed({
    defaultInterception: doc({ enum: ["redirect", "env"] }, "redirect: an iptables init container with NET_ADMIN and NET_RAW sends MCP traffic to the sidecar. env: proxy variables only, no extra privilege."),
    allowRedirect: doc(bool, "false where Pod Security forbids NET_ADMIN: redirect is refused and env becomes the default."),
    sidecarResources: doc(ref("resources"), "Resources of every injected sidecar container."),
  }, { description: "Defaults of injected sidecars. Namespaces and pods override the mode with the intentgate.dev/interception annotation." }),
  rbac: closed({
    aggregateToDefaultRoles: doc(bool, "Label intentgate-viewer, -operator and -admin so the built-in view, edit and admin ClusterRoles include them."),
    agentNamespaces: doc({ type: "array", items: str({ minLength: 1 }), uniqueItems: true }, "Namespaces where the controller may read Secrets (McpServer credentials) and write minted grant token Secrets; empty: any namespace (a ClusterRoleBinding)."),
    keyAdmins: doc({ type: "array", items: ref("subject") }, "Subjects (rbacv1.Subject) who may manage Secrets, tenant keys among them, in the release namespace."),
  }, { description: "Roles for the controller and for people." }),
  networkPolicy: closed({
    enabled: doc(bool, "Restrict ingress to the controller to its ports."),
    metricsFrom: doc({ type: "array", items: ref("networkPolicyPeer") }, "Peers (NetworkPolicyPeer) allowed to reach the admin port; empty: any source."),
  }, { description: "A NetworkPolicy for the controller pods." }),
  metrics: closed({
    serviceMonitor: doc(ref("monitor"), "A ServiceMonitor for the controller's /metrics (needs the Prometheus Operator's CRDs)."),
    podMonitor: doc(ref("monitor"), "A PodMonitor for every injected sidecar's /metrics, in all namespaces (needs the Prometheus Operator's CRDs)."),
  }, { description: "Prometheus Operator objects." }),
};

export function chartSchema(): string {
  const schema = {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: "IntentGate chart values (generated by scripts/chart-schema.ts; do not edit)",
    ...closed(properties),
    definitions,
  };
  return JSON.stringify(schema, null, 2) + "\n";
}

if (import.meta.main) {
  if (process.argv.includes("--check")) {
    if (readFileSync(SCHEMA_PATH, "utf8") !== chartSchema()) {
      console.error("charts/intentgate/values.schema.json is stale: run node scripts/chart-schema.ts");
      process.exit(1);
    }
  } else {
    writeFileSync(SCHEMA_PATH, chartSchema());
  }
}
