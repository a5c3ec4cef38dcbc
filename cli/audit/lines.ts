// Parsing stored audit lines. Records are parsed leniently here (for filters and display); the
// verifier (wire/audit/verify.ts) is what decides whether a line is a canonical, untouched record.
// Checkpoint lines are parsed strictly: one that is not canonical is reported, never trusted.
import { canonicalize } from "../../wire/jcs.ts";
import { AUDIT_SCHEMA, type AuditCheckpoint, type AuditRecord } from "../../wire/audit/index.ts";

export const CHECKPOINT_SCHEMA = "intentgate.audit-checkpoint/v1";

export function parseRecordLine(line: string): AuditRecord | undefined {
  try {
    const value = JSON.parse(line) as AuditRecord | null;
    if (typeof value !== "object" || value === null || value.schema !== AUDIT_SCHEMA) return undefined;
    if (typeof value.stream !== "string" || !Number.isSafeInteger(value.seq)) return undefined;
    return value;
  } catch {
    return undefined;
  }
}

export function parseCheckpointLine(line: string): AuditCheckpoint | undefined {
  try {
    const c = JSON.parse(line) as AuditCheckpoint | null;
    if (typeof c !== "object" || c === null || c.schema !== CHECKPOINT_SCHEMA) return undefined;
    if (typeof c.stream !== "string" || !Number.isSafeInteger(c.seq) || c.seq < 1) return undefined;
    if (typeof c.hash !== "string" || typeof c.time !== "string" || typeof c.key_id !== "string" || typeof c.signature !== "string") return undefined;
    if (Object.keys(c).length !== 7 || canonicalize(c) !== line) return undefined;
    return c;
  } catch {
    return undefined;
  }
}

/** What a line of an export file is, from its `schema`. */
export function lineSchema(line: string): string | undefined {
  try {
    const value = JSON.parse(line) as { schema?: unknown } | null;
    return typeof value === "object" && value !== null && typeof value.schema === "string" ? value.schema : undefined;
  } catch {
    return undefined;
  }
}
