// Where audit lines come from: the PostgreSQL tables, a sidecar's spool folder, or an export file.
// Every source yields each stream's rows in stored order (by seq; an export file in file order)
// and the stream's checkpoints, so verification, export and tail work the same on all three.
import type { AuditCheckpoint } from "../../wire/audit/index.ts";

/** The database's index columns, next to the line they were derived from (verify compares them). */
export interface IndexColumns {
  time: Date | string | null;
  tenant: string | null;
  agent: string | null;
  server: string | null;
  tool: string | null;
  kind: string | null;
  disposition: string | null;
  decision_id: string | null;
}

export interface SourceRow {
  /** The stream the row is stored under (an export file: the record's own, or "?" if unreadable). */
  stream: string;
  /** The position the row is stored at (the seq column; in a file the record's own seq, or its line number). */
  seq: number;
  line: string;
  columns?: IndexColumns;
}

export interface CheckpointEntry {
  stream: string;
  /** Stored position (the seq column, or the checkpoint's own seq in a file). */
  seq: number;
  line: string;
  /** Undefined when the stored line is not a canonical checkpoint. */
  checkpoint: AuditCheckpoint | undefined;
}

/** Per stream: rows with after < seq <= upTo (upTo omitted: to the end). */
export type Ranges = ReadonlyMap<string, { after: number; upTo?: number }>;

export interface ReadOptions {
  /** Only these streams (all when omitted). */
  streams?: ReadonlySet<string>;
  /** Only these ranges; streams not in the map are skipped. */
  ranges?: Ranges;
}

export interface AuditSource {
  readonly kind: "database" | "spool" | "file";
  /** A spool keeps only what was not yet shipped: its first records may be gone, legitimately. */
  readonly prefixMayBeShipped: boolean;
  checkpoints(options?: ReadOptions): Promise<CheckpointEntry[]>;
  /** Rows grouped by stream, each stream in stored order. */
  rows(options?: ReadOptions): AsyncIterable<SourceRow>;
  /** The highest stored seq of each stream. */
  heads(options?: ReadOptions): Promise<Map<string, number>>;
  close(): Promise<void>;
}

export function inRange(options: ReadOptions | undefined, stream: string, seq: number): boolean {
  if (options?.streams !== undefined && !options.streams.has(stream)) return false;
  if (options?.ranges === undefined) return true;
  const range = options.ranges.get(stream);
  return range !== undefined && seq > range.after && (range.upTo === undefined || seq <= range.upTo);
}
