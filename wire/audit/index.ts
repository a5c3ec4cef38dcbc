// Audit record and chain contracts, shared by the sidecar (writer) and the audit tools (readers).
export { AUDIT_SCHEMA, OCSF, GENESIS_HASH, MAX_FIELD_CHARS, safeText } from "./record.ts";
export type { AuditBody, AuditCheckpoint, AuditEvent, AuditRecord, DecisionEvent, Disposition, OutcomeEvent } from "./record.ts";
export { chainRecord, recomputeLinks, signCheckpoint, checkpointSignatureValid, EMPTY_HEAD, type ChainHead } from "./chain.ts";
export { verifyStream, type BreakKind, type ChainBreak, type StoredRow, type StreamReport, type VerifyKeys } from "./verify.ts";
export { AuditKeys, type AuditKeyFile } from "./keys.ts";
