// The custom resources' shapes (group intentgate.dev, version v1alpha1). The CRD schemas in crds/ are
// the source of truth the API server enforces (docs/kubernetes/crd-reference.md lists every rule); these
// types mirror them for the controller's code. Fields the CRDs default are still optional here: objects
// stored before a default existed, or built in tests, may lack them.
//
// Model: a Tenant is cluster-scoped and owns namespaces; every other kind is namespaced and belongs to
// the tenant that owns its namespace. An agent is a service account, named "<namespace>/<serviceaccount>".

export const GROUP = "intentgate.dev";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
}

export interface Condition {
  type: string; // "Ready" on every kind; "Compiled" on ToolPolicy; "Minted" on CapabilityGrant
  status: "True" | "False" | "Unknown";
  reason: string; // CamelCase, stable
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface CommonStatus {
  observedGeneration?: number;
  conditions?: Condition[];
}

export interface Resource<Spec, Status extends CommonStatus = CommonStatus> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: Spec;
  status?: Status;
}

/** Which agents a resource applies to. Empty selector (no fields) = every agent in the namespace. */
export interface AgentSelector {
  /** Service account names in the resource's namespace. */
  serviceAccounts?: string[];
  /** Pod labels (matchLabels semantics); the sidecar reports its pod's labels when it subscribes. */
  matchLabels?: Record<string, string>;
}

export interface SecretKeyRef {
  name: string; // a Secret in the controller's namespace (Tenant) or the resource's namespace (others)
  key: string;
}

// --- Tenant (cluster-scoped) ---
export interface TenantSpec {
  /** Namespaces whose agents belong to this tenant; a namespace belongs to at most one tenant. */
  namespaces: string[];
  /** Secret holding the tenant's key file (intentgate keys generate), key "keys.json". */
  keysSecret: SecretKeyRef;
  /** Secret holding the audit key file (intentgate audit keygen), key "audit-keys.json". */
  auditKeysSecret?: SecretKeyRef;
  intent?: {
    mode: "off" | "enforce" | "advisory";
    extractor?: { kind: "http"; url: string; timeoutMs?: number } | { kind: "builtin" };
    minConfidence?: number;
  };
  memory?: { provenance: boolean; mode?: "enforce" | "advisory"; writers?: string[] };
  audit?: { storeArgumentValues?: boolean; recordOutcomes?: boolean };
  /** Sidecars fail closed when their snapshot is older than this (revocations might be missing). Default 300. */
  maxSnapshotAgeSeconds?: number;
  /** What a sidecar does with a request for a host no McpServer declares. Default "refuse". */
  unknownHosts?: "refuse" | "passthrough";
}
export interface TenantStatus extends CommonStatus {
  sidecars?: number;
  currentSidecars?: number;
}

// --- ToolPolicy ---
export interface ToolPolicySpec {
  agents?: AgentSelector;
  mode: "enforce" | "dryRun";
  /** Rego modules by plain file name ending in .rego (at least one, no folders); Rego v1, package intentgate. */
  modules: Record<string, string>;
  /** JSON data document, as an object. */
  data?: Record<string, unknown>;
  /** Entrypoint, a path under package intentgate; default "intentgate/decision". */
  entrypoint?: string;
}
export interface ToolPolicyStatus extends CommonStatus {
  /** sha256 of the compiled wasm, "sha256:<hex>". */
  version?: string;
  /** How many connected sidecars report this version loaded. */
  loadedBy?: number;
  selectedSidecars?: number;
}

// --- CapabilityGrant ---
export interface CapabilityGrantSpec {
  agents: AgentSelector;
  /** The caveats minted into each agent's token (wire/token caveat objects, minus the agent caveat, which is added). */
  caveats: Array<Record<string, unknown>>;
  /** Lifetime of each minted token, 5m to 90d; rotated at 2/3 of it. Default "24h". */
  ttl?: string;
  /** Secret name (in the grant's namespace) per service account: "<secretPrefix>-<serviceaccount>", key "token". */
  secretPrefix?: string;
}
export interface CapabilityGrantStatus extends CommonStatus {
  tokens?: Array<{ serviceAccount: string; secret: string; tokenId: string; expiresAt: string }>;
  /** Tokens of accounts no longer selected: revoked in the tenant's snapshots until they expire. */
  withdrawn?: Array<{ serviceAccount: string; tokenId: string; expiresAt: string }>;
  /** tokens.length, for the Tokens printer column (kubectl cannot count a list). */
  tokenCount?: number;
}

// --- Budget ---
export interface BudgetSpec {
  /** "agent": each selected agent has its own ceiling; "tenant": the whole tenant shares one. */
  scope: "agent" | "tenant";
  agents?: AgentSelector;
  window: string; // duration with a unit, 1s to 31d, e.g. "90s", "1h", "7d"
  calls?: number;
  cost?: number;
  /** Cost per call by "server.tool" (glob allowed); default 1. */
  costs?: Record<string, number>;
}
export interface BudgetStatus extends CommonStatus {
  used?: { calls: number; cost: number };
}

// --- TokenRevocation ---
export interface TokenRevocationSpec {
  /** Token ids (root) or hop ids; either revokes every token derived from it. */
  ids: string[];
  reason: string;
}

// --- McpServer ---
export interface McpServerSpec {
  /** Upstream Streamable HTTP URL, http or https. The McpServer's name (1-63 of a-z 0-9 -) is the server in server.tool. */
  url: string;
  /** The server's legacy HTTP+SSE endpoint, if it has one. */
  sseUrl?: string;
  /** Other authorities (host[:port]) agents use for this server in redirect mode. */
  hosts?: string[];
  /** Headers added upstream from a Secret in the same namespace: header name -> key in the Secret. */
  credentials?: { secretName: string; headers: Record<string, string> };
  /** Only these tools are callable (globs); empty or absent = all. */
  allowedTools?: string[];
  /** Tool name -> toolDefinitionHash (wire/snapshot.ts) of its reviewed tools/list entry; a changed definition is refused. */
  pinnedTools?: Record<string, string>;
}

export type Tenant = Resource<TenantSpec, TenantStatus>;
export type ToolPolicy = Resource<ToolPolicySpec, ToolPolicyStatus>;
export type CapabilityGrant = Resource<CapabilityGrantSpec, CapabilityGrantStatus>;
export type Budget = Resource<BudgetSpec, BudgetStatus>;
export type TokenRevocation = Resource<TokenRevocationSpec>;
export type McpServer = Resource<McpServerSpec>;

export const KINDS = {
  Tenant: { plural: "tenants", namespaced: false },
  ToolPolicy: { plural: "toolpolicies", namespaced: true },
  CapabilityGrant: { plural: "capabilitygrants", namespaced: true },
  Budget: { plural: "budgets", namespaced: true },
  TokenRevocation: { plural: "tokenrevocations", namespaced: true },
  McpServer: { plural: "mcpservers", namespaced: true },
} as const;
export type Kind = keyof typeof KINDS;
