// `audit export`: NDJSON that verifies offline, or CSV for spreadsheets.
//
// NDJSON holds exact stored lines: records and the signed checkpoints needed to check them. A chain
// can only be checked over contiguous records, so a filtered NDJSON export does not drop records
// from the middle of a stream: for each stream with a matching record it exports the whole range
// from just after the last checkpoint before the first match (or from seq 1) through the first
// checkpoint at or after the last match (or the stream's end), with both checkpoints. The range's
// ends are then pinned by signatures, and records that did not match travel along as context.
// CSV holds only the matching records, and is a view: it cannot be verified.
import type { Writable } from "node:stream";
import type { AuditRecord } from "../../wire/audit/index.ts";
import { parseRecordLine } from "./lines.ts";
import type { RecordFilter } from "./filters.ts";
import type { AuditSource, CheckpointEntry, ReadOptions } from "./source.ts";
import { csvCell } from "./text.ts";

export interface ExportSummary {
  format: "ndjson" | "csv";
  streams: number;
  records: number;
  checkpoints: number;
  /** NDJSON: records exported only to keep a range verifiable. CSV: lines that could not be parsed. */
  context_records?: number;
  unreadable_skipped?: number;
}

/** A Writable with backpressure, whose failure (EPIPE, ENOSPC) surfaces at the next write. */
export class Sink {
  readonly #out: Writable;
  #error: Error | undefined;

  constructor(out: Writable) {
    this.#out = out;
    out.on("error", (error: Error) => (this.#error ??= error));
  }

  async write(text: string): Promise<void> {
    if (this.#error !== undefined) throw this.#error;
    if (this.#out.write(text)) return;
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        this.#out.off("drain", done).off("error", done).off("close", done);
        if (this.#error !== undefined) reject(this.#error);
        else resolve();
      };
      this.#out.on("drain", done).on("error", done).on("close", done);
    });
  }

  get error(): Error | undefined {
    return this.#error;
  }
}

/** Per stream: which range to export (after < seq <= upTo), from the first and last matching seqs. */
async function rangesFor(source: AuditSource, filter: RecordFilter, checkpoints: Map<string, CheckpointEntry[]>): Promise<Map<string, { after: number; upTo?: number }>> {
  const matched = new Map<string, { first: number; last: number }>();
  for await (const row of source.rows(readOptions(filter))) {
    const record = parseRecordLine(row.line);
    if (record === undefined || !filter.matches(record)) continue;
    const m = matched.get(row.stream);
    if (m === undefined) matched.set(row.stream, { first: row.seq, last: row.seq });
    else m.last = row.seq;
  }
  const ranges = new Map<string, { after: number; upTo?: number }>();
  for (const [stream, { first, last }] of matched) {
    const seqs = (checkpoints.get(stream) ?? []).flatMap((e) => (e.checkpoint === undefined ? [] : [e.checkpoint.seq]));
    const after = Math.max(0, ...seqs.filter((s) => s < first));
    const end = Math.min(...seqs.filter((s) => s >= last));
    ranges.set(stream, Number.isFinite(end) ? { after, upTo: end } : { after });
  }
  return ranges;
}

const readOptions = (filter: RecordFilter): ReadOptions => (filter.streams === undefined ? {} : { streams: filter.streams });

/** Only the checkpoint lines (every one, of the selected streams): the file to keep where the database's admins cannot write. */
export async function exportCheckpoints(source: AuditSource, filter: RecordFilter, out: Sink): Promise<ExportSummary> {
  const entries = await source.checkpoints(readOptions(filter));
  for (const e of entries) await out.write(`${e.line}\n`);
  return { format: "ndjson", streams: new Set(entries.map((e) => e.stream)).size, records: 0, checkpoints: entries.length };
}

export async function exportNdjson(source: AuditSource, filter: RecordFilter, out: Sink): Promise<ExportSummary> {
  const all = Map.groupBy(await source.checkpoints(readOptions(filter)), (e) => e.stream);
  const ranges = filter.active ? await rangesFor(source, filter, all) : undefined;
  const summary: ExportSummary = { format: "ndjson", streams: 0, records: 0, checkpoints: 0, context_records: 0 };
  // The checkpoints each exported stream carries: those inside its range (all of them, unfiltered).
  const carried = new Map<string, CheckpointEntry[]>();
  for (const [stream, entries] of all) {
    const range = ranges === undefined ? { after: 0 } : ranges.get(stream);
    if (range === undefined) continue;
    carried.set(stream, entries.filter((e) => e.seq >= range.after && (range.upTo === undefined || e.seq <= range.upTo)).sort((a, b) => a.seq - b.seq));
  }
  let stream: string | undefined;
  const flushUpTo = async (name: string, seq: number): Promise<void> => {
    const queue = carried.get(name) ?? [];
    while (queue.length > 0 && (queue[0] as CheckpointEntry).seq <= seq) {
      await out.write(`${(queue.shift() as CheckpointEntry).line}\n`);
      summary.checkpoints++;
    }
  };
  const options: ReadOptions = { ...readOptions(filter), ...(ranges === undefined ? {} : { ranges }) };
  for await (const row of source.rows(options)) {
    if (row.stream !== stream) {
      if (stream !== undefined) await flushUpTo(stream, Infinity);
      stream = row.stream;
      summary.streams++;
      await flushUpTo(stream, row.seq - 1); // the anchor before the first record
    }
    await out.write(`${row.line}\n`);
    summary.records++;
    const record = parseRecordLine(row.line);
    if (filter.active && (record === undefined || !filter.matches(record))) summary.context_records = (summary.context_records ?? 0) + 1;
    await flushUpTo(row.stream, row.seq);
  }
  if (stream !== undefined) await flushUpTo(stream, Infinity);
  // Streams whose checkpoints outlive every record (the records were removed): the evidence goes along.
  for (const [name, queue] of carried) {
    if (queue.length === 0) continue;
    summary.streams++;
    await flushUpTo(name, Infinity);
  }
  return summary;
}

export const CSV_COLUMNS = [
  "stream", "seq", "time", "kind", "decision_id", "tenant", "agent", "server", "tool", "disposition", "stage", "code", "reason",
  "outcome", "duration_ms", "argument_names", "arguments_sha256", "argument_values", "token_ids", "cost",
  "policy_version", "policy_decision", "policy_dry_run", "policy_requires_step_up", "intent_mode", "intent_verdict", "hash",
] as const;

function csvRow(r: AuditRecord): string {
  const d = r.kind === "decision" ? r : undefined;
  const o = r.kind === "outcome" ? r : undefined;
  const values: Record<(typeof CSV_COLUMNS)[number], unknown> = {
    stream: r.stream, seq: r.seq, time: r.time, kind: r.kind, decision_id: r.decision_id, tenant: r.tenant, agent: r.agent,
    server: r.server, tool: r.tool, disposition: d?.disposition, stage: d?.stage, code: d?.code, reason: d?.reason,
    outcome: o?.outcome, duration_ms: o?.duration_ms, argument_names: d?.arguments?.names?.join(" "), arguments_sha256: d?.arguments?.sha256,
    argument_values: d?.arguments?.values ?? undefined, token_ids: d?.token_ids?.join(" "), cost: d?.cost,
    policy_version: d?.policy?.version, policy_decision: d?.policy?.decision, policy_dry_run: d?.policy?.dry_run,
    policy_requires_step_up: d?.policy?.requires_step_up, intent_mode: d?.intent?.mode, intent_verdict: d?.intent?.verdict, hash: r.hash,
  };
  return `${CSV_COLUMNS.map((c) => csvCell(values[c])).join(",")}\r\n`;
}

export async function exportCsv(source: AuditSource, filter: RecordFilter, out: Sink): Promise<ExportSummary> {
  const summary: ExportSummary = { format: "csv", streams: 0, records: 0, checkpoints: 0, unreadable_skipped: 0 };
  const streams = new Set<string>();
  await out.write(`${CSV_COLUMNS.join(",")}\r\n`);
  for await (const row of source.rows(readOptions(filter))) {
    const record = parseRecordLine(row.line);
    if (record === undefined) {
      summary.unreadable_skipped = (summary.unreadable_skipped ?? 0) + 1;
      continue;
    }
    if (!filter.matches(record)) continue;
    streams.add(row.stream);
    await out.write(csvRow(record));
    summary.records++;
  }
  summary.streams = streams.size;
  return summary;
}
