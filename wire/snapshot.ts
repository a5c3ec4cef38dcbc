// The snapshot the controller pushes to each sidecar: everything one agent's sidecar enforces, as one
// immutable, content-addressed document. `version` is "sha256:" + hex of the JCS bytes of the document
// without `version`, so equal contents always carry equal versions and a sidecar can check what it got.
import { createHash } from "node:crypto";
import { canonicalize } from "./jcs.ts";

export const SNAPSHOT_SCHEMA = "intentgate.snapshot/v1";

export interface SnapshotPolicy {
  /** "<namespace>/<name>" of the ToolPolicy. */
  name: string;
  /** "sha256:<hex>" of the wasm. */
  version: string;
  mode: "enforce" | "dryRun";
  entrypoint: string;
  /** The compiled policy.wasm, base64. */
  wasm: string;
  data: Record<string, unknown>;
}

export interface SnapshotCeiling {
  /** "<namespace>/<name>" of the Budget; leases are taken per budget and key. */
  budget: string;
  scope: "agent" | "tenant";
  windowSeconds: number;
  calls?: number;
  cost?: number;
  costs?: Record<string, number>;
}

export interface SnapshotServer {
  /** The McpServer's name: the `server` of tool calls and the /mcp/<name> path. */
  name: string;
  url: string;
  /** The server's legacy HTTP+SSE endpoint, when it has one. */
  sseUrl?: string;
  /** host[:port] authorities routed to this server in redirect mode (the URL's own included). */
  hosts: string[];
  /** Header name -> value, resolved from the credentials Secret. */
  headers: Record<string, string>;
  allowedTools: string[];
  /** Tool name -> toolDefinitionHash() of the definition an administrator reviewed. */
  pinnedTools: Record<string, string>;
}

export interface SnapshotSettings {
  intent: { mode: "off" | "enforce" | "advisory"; extractor?: { kind: "http"; url: string; timeoutMs: number } | { kind: "builtin" }; minConfidence: number };
  memory: { provenance: boolean; mode: "enforce" | "advisory"; writers?: string[] };
  audit: { storeArgumentValues: boolean; recordOutcomes: boolean };
  maxSnapshotAgeSeconds: number;
  unknownHosts: "refuse" | "passthrough";
}

export interface Snapshot {
  schema: typeof SNAPSHOT_SCHEMA;
  version: string;
  tenant: string;
  /** "<namespace>/<serviceaccount>". */
  agent: string;
  /** Unix seconds when the controller built it; staleness is measured from the last time the controller confirmed it. */
  builtAt: number;
  settings: SnapshotSettings;
  /** The tenant's key file (same JSON as `intentgate keys generate` writes). */
  keys: unknown;
  /** The tenant's audit key file, when the tenant sets one. */
  auditKeys?: unknown;
  policies: SnapshotPolicy[];
  budgets: SnapshotCeiling[];
  revocations: string[];
  servers: SnapshotServer[];
}

/**
 * The pin of a tool definition: "sha256:" + hex SHA-256 of the RFC 8785 canonical JSON of the tool
 * object exactly as a tools/list result lists it, every field included (name, title, description,
 * inputSchema, outputSchema, annotations, icons, _meta, ...), so any change a client could see
 * changes the pin. Throws CanonicalizationError for a value that is not JSON (e.g. a lone surrogate).
 */
export function toolDefinitionHash(tool: unknown): string {
  return "sha256:" + createHash("sha256").update(canonicalize(tool)).digest("hex");
}

export type SnapshotBody = Omit<Snapshot, "version" | "builtAt">;

/** The version of a snapshot's contents; builtAt is left out so a rebuild of equal contents keeps its version. */
export function snapshotVersion(body: SnapshotBody): string {
  const { schema, tenant, agent, settings, keys, auditKeys, policies, budgets, revocations, servers } = body;
  const content = { schema, tenant, agent, settings, keys, ...(auditKeys === undefined ? {} : { auditKeys }), policies, budgets, revocations, servers };
  return "sha256:" + createHash("sha256").update(canonicalize(content)).digest("hex");
}

export function sealSnapshot(body: SnapshotBody, builtAt: number): Snapshot {
  return { ...body, version: snapshotVersion(body), builtAt };
}

/** Checks a received snapshot's shape and that its version matches its contents. */
export function checkSnapshot(value: unknown): { ok: true; snapshot: Snapshot } | { ok: false; reason: string } {
  if (typeof value !== "object" || value === null) return { ok: false, reason: "not an object" };
  const s = value as Partial<Snapshot>;
  if (s.schema !== SNAPSHOT_SCHEMA) return { ok: false, reason: `schema is not ${SNAPSHOT_SCHEMA}` };
  for (const field of ["tenant", "agent", "version"] as const) if (typeof s[field] !== "string") return { ok: false, reason: `${field} missing` };
  if (typeof s.builtAt !== "number") return { ok: false, reason: "builtAt missing" };
  for (const field of ["policies", "budgets", "revocations", "servers"] as const) if (!Array.isArray(s[field])) return { ok: false, reason: `${field} is not a list` };
  if (typeof s.settings !== "object" || s.settings === null) return { ok: false, reason: "settings missing" };
  const snapshot = s as Snapshot;
  if (snapshotVersion(snapshot) !== snapshot.version) return { ok: false, reason: "version does not match the contents" };
  return { ok: true, snapshot };
}
