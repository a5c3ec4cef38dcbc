// Audit records: one per decision and one per forwarded call's outcome, in a stable, versioned,
// OCSF-aligned shape (docs/spec/audit.md). A record is canonical JSON (RFC 8785); its `hash` and
// `mac` cover every other field, and `prev_hash` ties it to the record before it in its stream.

export const AUDIT_SCHEMA = "intentgate.audit/v1";
/** OCSF API Activity (class 6003, category Application Activity), activity Other (99). */
export const OCSF = { category_uid: 6, class_uid: 6003, activity_id: 99, type_uid: 600399 } as const;
export const GENESIS_HASH = "0".repeat(64);

export type Disposition = "allowed" | "blocked" | "escalated";

/** What the sidecar knows about a decision; the chain fields are added when it is appended. */
export interface DecisionEvent {
  kind: "decision";
  time: string;
  decision_id: string;
  tenant: string;
  agent: string;
  server: string;
  tool: string;
  disposition: Disposition;
  stage: string | null;
  code: string | null;
  reason: string | null;
  token_ids: string[] | null;
  /** Argument names, and values only when the tenant stores them. */
  arguments: { names: string[]; sha256: string | null; values: Record<string, unknown> | null };
  cost: number | null;
  policy: { version: string; decision: string; dry_run: boolean; requires_step_up: boolean } | null;
  /** Memory provenance, when the tenant checks it: each presented item's id, verdict code (null: verified) and writer. */
  memory?: { checked: boolean; items: { id: string; ok: boolean; code: string | null; writer: string | null }[] };
  /** The intent check's finding, when the tenant checks intent: never the prompt or the extracted summary. */
  intent?: { mode: "enforce" | "advisory"; verdict: string; confidence: number; error: string | null };
  ocsf: typeof OCSF;
}

export interface OutcomeEvent {
  kind: "outcome";
  time: string;
  decision_id: string;
  tenant: string;
  agent: string;
  server: string;
  tool: string;
  /** `ok`, `tool_error` (result isError), `rpc_error`, `http_<status>`, `upstream_failed`. */
  outcome: string;
  duration_ms: number;
  ocsf: typeof OCSF;
}

export type AuditEvent = DecisionEvent | OutcomeEvent;

/** The chained record as stored: the event plus its place in its stream. */
export type AuditBody = AuditEvent & { schema: typeof AUDIT_SCHEMA; stream: string; seq: number; prev_hash: string };
export type AuditRecord = AuditBody & { hash: string; mac: string };

/** A signed statement that a stream reached `seq` with head `hash`; verifiable with the public key alone. */
export interface AuditCheckpoint {
  schema: "intentgate.audit-checkpoint/v1";
  stream: string;
  seq: number;
  hash: string;
  time: string;
  key_id: string;
  /** base64url Ed25519 signature over JCS of every other field. */
  signature: string;
}

/** Bounds what a reader sees: control characters escaped by JSON, very long strings cut and marked. */
export const MAX_FIELD_CHARS = 2048;
export function safeText(text: string): string {
  const clean = text.isWellFormed() ? text : text.toWellFormed();
  if (clean.length <= MAX_FIELD_CHARS) return clean;
  // Never cut a surrogate pair in half: a lone surrogate cannot be canonicalised, so the record could not be written.
  const kept = /[\ud800-\udbff]/.test(clean[MAX_FIELD_CHARS - 1] ?? "") ? MAX_FIELD_CHARS - 1 : MAX_FIELD_CHARS;
  return `${clean.slice(0, kept)}…[${clean.length - kept} more characters]`;
}
