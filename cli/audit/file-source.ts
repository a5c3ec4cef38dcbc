// Reads an export file (NDJSON): each line is a record (schema intentgate.audit/v1) or a checkpoint
// (intentgate.audit-checkpoint/v1). Read as a stream, twice (checkpoints, then rows), never whole.
import { closeSync, createReadStream, openSync } from "node:fs";
import { createInterface } from "node:readline";
import { CliError } from "../errors.ts";
import { CHECKPOINT_SCHEMA, lineSchema, parseCheckpointLine, parseRecordLine } from "./lines.ts";
import { inRange, type AuditSource, type CheckpointEntry, type ReadOptions, type SourceRow } from "./source.ts";

export const UNKNOWN_STREAM = "(unknown)";

export function openExportFile(path: string): AuditSource {
  try {
    closeSync(openSync(path, "r"));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read ${path}: ${code === "ENOENT" ? "no such file" : (code ?? (error as Error).message)}`);
  }
  return new FileSource(path);
}

class FileSource implements AuditSource {
  readonly kind = "file" as const;
  readonly prefixMayBeShipped = false;
  readonly #path: string;

  constructor(path: string) {
    this.#path = path;
  }

  async *#lines(): AsyncIterable<string> {
    const input = createReadStream(this.#path, { encoding: "utf8" });
    try {
      for await (const line of createInterface({ input, crlfDelay: Infinity })) yield line;
    } finally {
      input.destroy();
    }
  }

  async checkpoints(options?: ReadOptions): Promise<CheckpointEntry[]> {
    const out: CheckpointEntry[] = [];
    for await (const line of this.#lines()) {
      if (lineSchema(line) !== CHECKPOINT_SCHEMA) continue;
      const checkpoint = parseCheckpointLine(line);
      const stream = checkpoint?.stream ?? streamOf(line) ?? UNKNOWN_STREAM;
      const seq = checkpoint?.seq ?? 0;
      if (options?.streams === undefined || options.streams.has(stream)) out.push({ stream, seq, line, checkpoint });
    }
    return out;
  }

  async heads(options?: ReadOptions): Promise<Map<string, number>> {
    const heads = new Map<string, number>();
    for await (const row of this.rows(options)) heads.set(row.stream, Math.max(row.seq, heads.get(row.stream) ?? 0));
    return heads;
  }

  async *rows(options?: ReadOptions): AsyncIterable<SourceRow> {
    let stream = UNKNOWN_STREAM;
    let seq = 0;
    for await (const line of this.#lines()) {
      if (line === "" || lineSchema(line) === CHECKPOINT_SCHEMA) continue;
      const record = parseRecordLine(line);
      // An unreadable line is counted in the stream of the record before it, right after it.
      stream = record?.stream ?? stream;
      seq = record?.seq ?? seq + 1;
      if (inRange(options, stream, seq)) yield { stream, seq, line };
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function streamOf(line: string): string | undefined {
  try {
    const value = JSON.parse(line) as { stream?: unknown };
    return typeof value.stream === "string" ? value.stream : undefined;
  } catch {
    return undefined;
  }
}
