// Reads sidecar spool folders: stream.json names the stream, seg-<first seq>.ndjson hold the canonical
// record lines, checkpoints.ndjson the signed checkpoints. A spool holds only what was not yet
// shipped (acknowledged segments are deleted), so its first record may legitimately be past seq 1.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "../errors.ts";
import { parseCheckpointLine, parseRecordLine } from "./lines.ts";
import { inRange, type AuditSource, type CheckpointEntry, type ReadOptions, type SourceRow } from "./source.ts";

const SEGMENT = /^seg-(\d{12})\.ndjson$/;

interface Spool {
  dir: string;
  stream: string;
}

export function openSpools(dirs: readonly string[]): AuditSource {
  const spools: Spool[] = [];
  for (const dir of dirs) {
    let stream: unknown;
    try {
      stream = (JSON.parse(readFileSync(join(dir, "stream.json"), "utf8")) as { stream?: unknown }).stream;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new CliError(`${dir} is not an audit spool folder (stream.json: ${code === "ENOENT" ? "no such file" : (code ?? "not valid JSON")})`);
    }
    if (typeof stream !== "string" || stream === "") throw new CliError(`${dir}/stream.json does not name a stream`);
    if (spools.some((s) => s.stream === stream)) throw new CliError(`two spool folders hold stream ${stream}`);
    spools.push({ dir, stream });
  }
  return new SpoolSource(spools.sort((a, b) => (a.stream < b.stream ? -1 : 1)));
}

/** Complete lines only: a batch being written right now may end without its newline. */
function readLines(path: string): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined; // shipped and deleted meanwhile
    throw new CliError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return text.slice(0, text.lastIndexOf("\n") + 1).split("\n").slice(0, -1);
}

class SpoolSource implements AuditSource {
  readonly kind = "spool" as const;
  readonly prefixMayBeShipped = true;
  readonly #spools: Spool[];

  constructor(spools: Spool[]) {
    this.#spools = spools;
  }

  #selected(options?: ReadOptions): Spool[] {
    return this.#spools.filter((s) => (options?.streams === undefined || options.streams.has(s.stream)) && (options?.ranges === undefined || options.ranges.has(s.stream)));
  }

  checkpoints(options?: ReadOptions): Promise<CheckpointEntry[]> {
    const out: CheckpointEntry[] = [];
    for (const spool of this.#selected(options)) {
      for (const [i, line] of (readLines(join(spool.dir, "checkpoints.ndjson")) ?? []).entries()) {
        if (line === "") continue;
        const checkpoint = parseCheckpointLine(line);
        out.push({ stream: spool.stream, seq: checkpoint?.seq ?? i + 1, line, checkpoint });
      }
    }
    return Promise.resolve(out);
  }

  async heads(options?: ReadOptions): Promise<Map<string, number>> {
    const heads = new Map<string, number>();
    for await (const row of this.rows(options)) heads.set(row.stream, row.seq);
    return heads;
  }

  async *rows(options?: ReadOptions): AsyncIterable<SourceRow> {
    for (const spool of this.#selected(options)) {
      const after = options?.ranges?.get(spool.stream)?.after ?? 0;
      const segments = readdirSync(spool.dir)
        .map((name) => ({ name, first: Number(SEGMENT.exec(name)?.[1] ?? NaN) }))
        .filter((s) => !Number.isNaN(s.first))
        .sort((a, b) => a.first - b.first);
      let seq = 0;
      for (const [i, segment] of segments.entries()) {
        const next = segments[i + 1];
        if (next !== undefined && next.first <= after + 1) continue; // wholly before the range
        for (const line of readLines(join(spool.dir, segment.name)) ?? []) {
          // A line is stored at its own seq; an unreadable one right after the line before it.
          seq = parseRecordLine(line)?.seq ?? seq + 1;
          if (inRange(options, spool.stream, seq)) yield { stream: spool.stream, seq, line };
        }
      }
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
