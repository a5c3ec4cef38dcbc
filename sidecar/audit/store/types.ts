// The audit store's contract: where shipped records and checkpoints live (PostgreSQL, or PGlite
// running the same SQL in-process). Lines are stored exactly as the spool wrote them (canonical
// JSON), so hashes and MACs verify over what the database returns.
import type { AuditCheckpoint, Disposition, StoredRow } from "../../../wire/audit/index.ts";

export interface ExportFilter {
  /** Records at or after this time. */
  from?: Date;
  /** Records before this time. */
  to?: Date;
  stream?: string;
  tenant?: string;
  agent?: string;
  tool?: string;
  /** Decision records with this disposition (outcome records have none, so they are left out). */
  disposition?: Disposition;
  /** Decision records whose `token_ids` hold this id (a token's root id or one of its hop ids). */
  tokenId?: string;
}

export interface ExportRow {
  stream: string;
  seq: number;
  line: string;
}

export interface MigrationReport {
  /** Names of the migrations this call applied (empty when the schema was already current). */
  applied: string[];
  /** The highest migration id recorded in the database after this call. */
  version: number;
}

export interface PageOptions {
  /** Rows fetched per round trip (default 1000). */
  pageSize?: number;
}

export interface AuditStore {
  /** "postgres" or "pglite". */
  readonly kind: string;
  /** Applies pending migrations in one transaction under an advisory lock (safe to call concurrently). */
  migrate(): Promise<MigrationReport>;
  /**
   * Stores record lines in one transaction. A line already stored at its (stream, seq) is skipped;
   * a different line there throws AuditConflictError and nothing of the batch is stored.
   * Returns how many lines were new.
   */
  insertRecords(lines: readonly string[]): Promise<number>;
  /** The same for signed checkpoint lines. */
  insertCheckpoints(lines: readonly string[]): Promise<number>;
  /** Every stream with records or checkpoints, in order. */
  streams(): Promise<string[]>;
  /** A stream's rows in seq order, fetched page by page (keyset pagination). */
  readStream(stream: string, options?: PageOptions & { afterSeq?: number }): AsyncIterable<StoredRow>;
  /** A stream's checkpoints in seq order. */
  checkpoints(stream: string): Promise<AuditCheckpoint[]>;
  /** Records matching the filter, ordered by stream then seq, fetched page by page. */
  exportRecords(filter?: ExportFilter, options?: PageOptions): AsyncIterable<ExportRow>;
  close(): Promise<void>;
}

/** A stored line disagrees with the one being shipped for the same (stream, seq): never overwritten, never dropped. */
export class AuditConflictError extends Error {
  readonly code = "audit_conflict";
  readonly conflicts: ReadonlyArray<{ table: string; stream: string; seq: number }>;
  constructor(conflicts: ReadonlyArray<{ table: string; stream: string; seq: number }>) {
    const first = conflicts[0];
    super(
      `the audit database already holds a different ${first?.table === "checkpoints" ? "checkpoint" : "record"} at stream ${first?.stream} seq ${first?.seq}` +
        `${conflicts.length > 1 ? ` (and ${conflicts.length - 1} more)` : ""}: refusing to store or drop it`,
    );
    this.conflicts = conflicts;
  }
}

/** A line that is not an audit record or checkpoint the store can index. */
export class AuditLineError extends Error {
  readonly code = "audit_invalid_line";
}
