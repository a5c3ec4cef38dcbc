// Verifies audit streams and reports the first break in each, precisely: which stream, which
// sequence number, and what kind of tampering it looks like. Works on rows from the database (each
// with the sequence number it is stored under) or on an export file's lines (in file order).
import type { KeyObject } from "node:crypto";
import { canonicalize } from "../jcs.ts";
import { checkpointSignatureValid, recomputeLinks } from "./chain.ts";
import { AUDIT_SCHEMA, GENESIS_HASH, type AuditCheckpoint, type AuditRecord } from "./record.ts";

export type BreakKind =
  | "modified" // a record's content no longer matches its hash, or the hash the next record links to
  | "inserted" // a record the writer never wrote (hash recomputed, MAC wrong), or a repeated sequence number
  | "deleted" // records missing from the middle of the stream
  | "reordered" // a record stored at another position than the one it was written at
  | "truncated" // the stream ends before a signed checkpoint says it reached
  | "moved" // a record written to another stream
  | "bad_checkpoint" // a checkpoint whose signature does not verify, or whose key is unknown
  | "unreadable"; // a stored line that is not a canonical audit record

export interface ChainBreak {
  stream: string;
  seq: number;
  kind: BreakKind;
  detail: string;
}

export interface StoredRow {
  /** The position the row is stored at (the database's seq column, or the line's own seq in a file). */
  seq: number;
  line: string;
}

export interface VerifyKeys {
  /** Without it, MACs are not checked (links and checkpoints still are). */
  chainKey?: KeyObject;
  /** Checkpoint signing keys by key id. */
  publicKeys: ReadonlyMap<string, KeyObject>;
}

export interface StreamReport {
  stream: string;
  records: number;
  head: { seq: number; hash: string };
  checkpoints: number;
  macChecked: boolean;
  break: ChainBreak | undefined;
}

/**
 * Verifies `rows` (in stored order) against the stream's checkpoints. `start` is the head the rows
 * continue from: the genesis by default, or a head vouched for by the caller (a signed checkpoint
 * among `checkpoints`, or the result of verifying the rows before these). Checkpoints must not
 * precede `start`.
 */
export function verifyStream(stream: string, rows: Iterable<StoredRow>, checkpoints: readonly AuditCheckpoint[], keys: VerifyKeys, start: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH }): StreamReport {
  const report: StreamReport = { stream, records: 0, head: { seq: start.seq, hash: start.hash }, checkpoints: checkpoints.length, macChecked: keys.chainKey !== undefined, break: undefined };
  const hashes = new Map<number, string>([[start.seq, start.hash]]);
  const fail = (seq: number, kind: BreakKind, detail: string): StreamReport => ({ ...report, break: { stream, seq, kind, detail } });
  let expected = start.seq + 1;
  let prevHash = start.hash;
  for (const row of rows) {
    report.records++;
    const record = parseRecord(row.line);
    if (record === undefined) return fail(row.seq, "unreadable", "stored line is not a canonical audit record");
    if (record.stream !== stream) return fail(row.seq, "moved", `record was written to stream ${record.stream} (its seq ${record.seq})`);
    if (record.seq !== row.seq) return fail(row.seq, "reordered", `record written as seq ${record.seq} is stored at seq ${row.seq}`);
    if (record.seq < expected) return fail(record.seq, "inserted", `seq ${record.seq} appears again after seq ${expected - 1}`);
    if (record.seq > expected) {
      const missing = record.seq - expected === 1 ? `seq ${expected} is` : `seqs ${expected}-${record.seq - 1} are`;
      return fail(expected, "deleted", `${missing} missing before seq ${record.seq}`);
    }
    const links = recomputeLinks(record, keys.chainKey);
    if (links.hash !== record.hash) return fail(record.seq, "modified", "content does not match the record's hash");
    if (links.mac !== undefined && links.mac !== record.mac) {
      return fail(record.seq, "inserted", "hash is consistent but the MAC is not the writer's: the record was forged");
    }
    if (record.prev_hash !== prevHash) {
      // Sequence numbers are contiguous here, so nothing is missing: a record was rewritten with its
      // hash recomputed (the MAC would name which one; without the chain key it was not checked).
      return fail(record.seq, "modified", `prev_hash does not match the hash of seq ${record.seq - 1}: seq ${record.seq - 1} or this record was rewritten with a recomputed hash`);
    }
    hashes.set(record.seq, record.hash);
    prevHash = record.hash;
    report.head = { seq: record.seq, hash: record.hash };
    expected = record.seq + 1;
  }
  for (const checkpoint of [...checkpoints].sort((a, b) => a.seq - b.seq)) {
    const key = keys.publicKeys.get(checkpoint.key_id);
    if (checkpoint.stream !== stream) return fail(checkpoint.seq, "bad_checkpoint", `checkpoint belongs to stream ${checkpoint.stream}`);
    if (key === undefined) return fail(checkpoint.seq, "bad_checkpoint", `no public key with id ${checkpoint.key_id}`);
    if (!checkpointSignatureValid(checkpoint, key)) return fail(checkpoint.seq, "bad_checkpoint", "checkpoint signature does not verify");
    if (checkpoint.seq > report.head.seq) {
      return fail(report.head.seq + 1, "truncated", `a signed checkpoint says the stream reached seq ${checkpoint.seq}; records end at seq ${report.head.seq}`);
    }
    if (hashes.get(checkpoint.seq) !== checkpoint.hash) {
      return fail(checkpoint.seq, "modified", "history differs from what a signed checkpoint recorded");
    }
  }
  return report;
}

function parseRecord(line: string): AuditRecord | undefined {
  try {
    const value = JSON.parse(line) as AuditRecord;
    if (canonicalize(value) !== line || value.schema !== AUDIT_SCHEMA || !Number.isSafeInteger(value.seq) || typeof value.stream !== "string") return undefined;
    return value;
  } catch {
    return undefined;
  }
}
