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
// A Kubernetes object name, or "" for the chart's default.
const nameOrDefault = str({ pattern: "^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$", maxLength: 63 });
const duration = str({ pattern: "^[0-9]+(ms|s|m|h)$" });

const definitions: Record<string, Schema> = {
  logLevel: { ...SIDECAR_SCHEMA.properties.logLevel, description: "pino log level (the sidecar's config uses the same levels)." },
  // Ports the chart listens on: the sidecar's port definition, without 0 (an ephemeral port cannot be probed).
  port: { ...SIDECAR_SCHEMA.definitions.address.properties.port, minimum: 1 },
  image: closed({
    repository: str({ minLength: 1 }),
    tag: str({ pattern: "^([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$" }),
    digest: str({ pattern: "^(sha256:[a-f0-9]{64})?$", description: "Wins over tag when set." }),
  }, { required: ["repository"] }),
  quantity: { type: ["string", "number"], pattern: "^[0-9.]+([eE][-+]?[0-9]+|[numkMGTPE]|[KMGTPE]i)?$" },
  resources: closed({
    requests: { type: "object", additionalProperties: ref("quantity") },
    limits: { type: "object", additionalProperties: ref("quantity") },
  }),
  monitor: closed({ enabled: bool, interval: duration, labels: stringMap }),
  subject: closed({
    kind: { enum: ["User", "Group", "ServiceAccount"] },
    name: str({ minLength: 1 }),
    namespace: str(),
    apiGroup: str(),
  }, { required: ["kind", "name"] }),
  networkPolicyPeer: closed({ podSelector: { type: "object" }, namespaceSelector: { type: "object" }, ipBlock: { type: "object" } }),
};

const properties: Record<string, Schema> = {
  image: closed({
    controller: ref("image"),
    sidecar: ref("image"),
    redirect: ref("image"),
    pullPolicy: { enum: ["Always", "IfNotPresent", "Never"] },
    pullSecrets: { type: "array", items: str({ minLength: 1 }) },
  }),
  controller: closed({
    replicas: { type: "integer", minimum: 1 },
    logLevel: ref("logLevel"),
    resources: ref("resources"),
    ports: closed({ api: ref("port"), webhook: ref("port"), admin: ref("port") }),
    leaseName: nameOrDefault,
    tmpSizeLimit: ref("quantity"),
    podDisruptionBudget: closed({ enabled: bool, minAvailable: { type: ["integer", "string"] } }),
    topologySpread: closed({
      enabled: bool,
      maxSkew: { type: "integer", minimum: 1 },
      topologyKey: str({ minLength: 1 }),
      whenUnsatisfiable: { enum: ["DoNotSchedule", "ScheduleAnyway"] },
    }),
    priorityClassName: str(),
    nodeSelector: stringMap,
    tolerations: { type: "array", items: { type: "object" } },
    affinity: { type: "object" },
    podAnnotations: stringMap,
    podLabels: stringMap,
  }),
  database: closed({
    existingSecret: nameOrDefault,
    secretKey: str({ minLength: 1 }),
  }),
  serviceAccount: closed({ name: nameOrDefault, annotations: stringMap }),
  webhook: closed({
    name: nameOrDefault,
    failurePolicy: { enum: ["Fail", "Ignore"] },
    // The API server caps webhook timeouts at 30 s; a slow webhook stalls every pod create in scope.
    timeoutSeconds: { type: "integer", minimum: 1, maximum: 30 },
    tlsSecretName: nameOrDefault,
    excludedNamespaces: { type: "array", items: str({ minLength: 1 }) },
  }),
  injection: closed({
    defaultInterception: { enum: ["redirect", "env"] },
    allowRedirect: bool,
    sidecarResources: ref("resources"),
  }),
  rbac: closed({
    aggregateToDefaultRoles: bool,
    agentNamespaces: { type: "array", items: str({ minLength: 1 }), uniqueItems: true },
    keyAdmins: { type: "array", items: ref("subject") },
  }),
  networkPolicy: closed({ enabled: bool, metricsFrom: { type: "array", items: ref("networkPolicyPeer") } }),
  metrics: closed({ serviceMonitor: ref("monitor"), podMonitor: ref("monitor") }),
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
