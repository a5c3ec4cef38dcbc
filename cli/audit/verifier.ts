// Verifies every stream of a source with wire/audit's verifyStream, streaming: rows are checked in
// chunks, each chunk continuing from the head the chunk before it reached, so a stream of any length
// is verified in bounded memory. Also reports what the chain cannot see: checkpoint lines that are
// not canonical, and database index columns that disagree with the record line they index.
import { verifyStream, type AuditCheckpoint, type ChainBreak, type StoredRow, type VerifyKeys } from "../../wire/audit/index.ts";
import { GENESIS_HASH } from "../../wire/audit/index.ts";
import { readFileSync } from "node:fs";
import { CliError } from "../errors.ts";
import { keysForStream, type AuditorKeys } from "./keys.ts";
import { parseCheckpointLine, parseRecordLine } from "./lines.ts";
import type { AuditSource, CheckpointEntry, IndexColumns, ReadOptions, SourceRow } from "./source.ts";

const CHUNK = 2000;

export interface StreamResult {
  stream: string;
  ok: boolean;
  records: number;
  /** Where verification started: seq 1 (genesis), right after a signed checkpoint, or unanchored (a spool whose start was shipped). */
  start: { seq: number; from: "genesis" | "checkpoint" | "unanchored" };
  head: { seq: number; hash: string };
  checkpoints: { verified: number; latest: number | null; before_start: number };
  mac_checked: boolean;
  break: ChainBreak | null;
}

export class StreamVerifier {
  readonly #stream: string;
  readonly #entries: CheckpointEntry[];
  readonly #keysAll: AuditorKeys;
  readonly #prefixMayBeShipped: boolean;
  #keys: VerifyKeys | undefined;
  #pending: AuditCheckpoint[] = [];
  #checked: AuditCheckpoint[] = [];
  #rows: StoredRow[] = [];
  #start: StreamResult["start"] = { seq: 1, from: "genesis" };
  #head = { seq: 0, hash: GENESIS_HASH };
  #records = 0;
  #chainBreak: ChainBreak | undefined;
  #otherBreak: ChainBreak | undefined;

  constructor(stream: string, entries: CheckpointEntry[], keys: AuditorKeys, prefixMayBeShipped: boolean) {
    this.#stream = stream;
    this.#entries = entries;
    this.#keysAll = keys;
    this.#prefixMayBeShipped = prefixMayBeShipped;
    const bad = entries.find((e) => e.checkpoint === undefined);
    if (bad !== undefined) this.#other({ stream, seq: bad.seq, kind: "bad_checkpoint", detail: "stored checkpoint line is not a canonical signed checkpoint" });
  }

  push(row: SourceRow): void {
    if (this.#keys === undefined) this.#begin(row);
    if (row.columns !== undefined) {
      const mismatch = columnMismatch(row.columns, row.line);
      if (mismatch !== undefined) this.#other({ stream: this.#stream, seq: row.seq, kind: "modified", detail: mismatch });
    }
    if (this.#chainBreak !== undefined) return this.#watch(row.seq);
    this.#rows.push({ seq: row.seq, line: row.line });
    if (this.#rows.length >= CHUNK) this.#flush();
  }

  finish(): StreamResult {
    if (this.#keys === undefined) this.#begin(undefined);
    this.#flush();
    if (this.#chainBreak === undefined && this.#pending.length > 0) this.#verify([], this.#pending.splice(0)); // checkpoints past the last record
    const found = [this.#chainBreak, this.#otherBreak].filter((b) => b !== undefined).sort((a, b) => a.seq - b.seq)[0];
    return {
      stream: this.#stream,
      ok: found === undefined,
      records: this.#records,
      start: this.#start,
      head: this.#head,
      checkpoints: {
        verified: this.#checked.length,
        latest: this.#checked.at(-1)?.seq ?? null,
        before_start: this.#entries.filter((e) => e.checkpoint !== undefined && e.checkpoint.seq < this.#start.seq - 1).length,
      },
      mac_checked: this.#keys?.chainKey !== undefined,
      break: found ?? null,
    };
  }

  /** Decides where the chain starts and which keys apply, from the first row. */
  #begin(row: SourceRow | undefined): void {
    const first = row === undefined ? undefined : parseRecordLine(row.line);
    const checkpoints = this.#entries.flatMap((e) => (e.checkpoint === undefined ? [] : [e.checkpoint])).sort((a, b) => a.seq - b.seq);
    this.#keys = keysForStream(this.#keysAll, first, checkpoints);
    if (row !== undefined && row.seq > 1) {
      const anchor = checkpoints.find((c) => c.seq === row.seq - 1);
      if (anchor !== undefined) {
        this.#start = { seq: row.seq, from: "checkpoint" };
        this.#head = { seq: anchor.seq, hash: anchor.hash };
      } else if (this.#prefixMayBeShipped && first !== undefined) {
        this.#start = { seq: row.seq, from: "unanchored" };
        this.#head = { seq: row.seq - 1, hash: first.prev_hash };
      }
    }
    this.#pending = checkpoints.filter((c) => c.seq >= this.#head.seq);
  }

  #flush(): void {
    if (this.#rows.length === 0 || this.#chainBreak !== undefined) return;
    const rows = this.#rows.splice(0);
    const last = rows.at(-1) as StoredRow;
    const covered = this.#pending.filter((c) => c.seq <= last.seq);
    this.#pending = this.#pending.filter((c) => c.seq > last.seq);
    this.#verify(rows, covered);
  }

  #verify(rows: StoredRow[], checkpoints: AuditCheckpoint[]): void {
    const report = verifyStream(this.#stream, rows, checkpoints, this.#keys as VerifyKeys, this.#head);
    this.#records += report.records;
    this.#head = report.head; // with a break: the last record that verified
    if (report.break !== undefined) {
      this.#chainBreak = report.break;
      for (const row of rows) this.#watch(row.seq);
      return;
    }
    this.#checked.push(...checkpoints);
  }

  /** A "deleted" record that turns up later was not deleted but stored out of order (an export file, a spool). */
  #watch(seq: number): void {
    const b = this.#chainBreak;
    if (b?.kind !== "deleted" || seq !== b.seq) return;
    this.#chainBreak = { ...b, kind: "reordered", detail: `seq ${b.seq} is present but stored out of order (${b.detail})` };
  }

  #other(b: ChainBreak): void {
    if (this.#otherBreak === undefined || b.seq < this.#otherBreak.seq) this.#otherBreak = b;
  }
}

/** Checkpoints the auditor kept outside the source (one canonical checkpoint line each). */
export function readTrustedCheckpoints(paths: readonly string[]): CheckpointEntry[] {
  const out: CheckpointEntry[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      throw new CliError(`cannot read checkpoints ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    for (const [i, line] of text.split("\n").entries()) {
      if (line.trim() === "") continue;
      const checkpoint = parseCheckpointLine(line);
      if (checkpoint === undefined) throw new CliError(`${path} line ${i + 1} is not a canonical signed checkpoint`);
      out.push({ stream: checkpoint.stream, seq: checkpoint.seq, line, checkpoint });
    }
  }
  return out;
}

/**
 * Verifies every stream the source holds (records or checkpoints), one result per stream, by name.
 * Checkpoints from `trusted` files count as if stored: a stream they name that the source lacks
 * entirely is reported truncated.
 */
export async function verifySource(source: AuditSource, keys: AuditorKeys, options: ReadOptions = {}, trusted: readonly string[] = []): Promise<StreamResult[]> {
  const stored = await source.checkpoints(options);
  const lines = new Set(stored.map((e) => e.line));
  const extra = readTrustedCheckpoints(trusted).filter((e) => !lines.has(e.line) && (options.streams === undefined || options.streams.has(e.stream)));
  const entries = Map.groupBy([...stored, ...extra], (e) => e.stream);
  const live = new Map<string, StreamVerifier>();
  const results = new Map<string, StreamResult>();
  const verifier = (stream: string): StreamVerifier => {
    let v = live.get(stream);
    if (v === undefined) live.set(stream, (v = new StreamVerifier(stream, entries.get(stream) ?? [], keys, source.prefixMayBeShipped)));
    return v;
  };
  const finish = (stream: string): void => {
    const v = live.get(stream);
    if (v === undefined) return;
    results.set(stream, v.finish());
    live.delete(stream);
  };
  let current: string | undefined;
  for await (const row of source.rows(options)) {
    // Databases and spools yield each stream's rows together: finish a stream as soon as it ends.
    if (source.kind !== "file" && current !== undefined && row.stream !== current) finish(current);
    current = row.stream;
    if (!results.has(row.stream)) verifier(row.stream).push(row);
  }
  for (const stream of [...live.keys()]) finish(stream);
  for (const stream of entries.keys()) if (!results.has(stream)) results.set(stream, verifier(stream).finish());
  return [...results.values()].sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0));
}

const COLUMN_FIELDS = ["tenant", "agent", "server", "tool", "kind", "decision_id"] as const;

/** The index columns must say what the line says: a query on them must not be able to miss a record. */
export function columnMismatch(columns: IndexColumns, line: string): string | undefined {
  const record = parseRecordLine(line) as (Record<string, unknown> & { time?: unknown; kind?: unknown }) | undefined;
  if (record === undefined) return undefined; // the chain check reports the line itself
  const expected: Record<string, unknown> = { disposition: record.kind === "decision" ? (record["disposition"] ?? null) : null };
  for (const field of COLUMN_FIELDS) expected[field] = record[field] ?? null;
  for (const field of [...COLUMN_FIELDS, "disposition" as const]) {
    const actual = columns[field] ?? null;
    if (actual !== expected[field]) {
      return `index column ${field} is ${JSON.stringify(actual)} but the record line says ${JSON.stringify(expected[field])}: the column was edited`;
    }
  }
  if (columns.time !== null && columns.time !== undefined) {
    const stored = columns.time instanceof Date ? columns.time.getTime() : Date.parse(columns.time);
    if (stored !== Date.parse(String(record.time))) return `index column time disagrees with the record line's time ${JSON.stringify(record.time)}: the column was edited`;
  }
  return undefined;
}
