// `audit tail`: a live, human-readable view, one line per record. Everything shown from a record is
// made terminal-safe first (a stored reason can hold any character an agent or tool sent).
// A view, not a verification: run `audit verify` for that.
import { setTimeout as sleep } from "node:timers/promises";
import { parseRecordLine } from "./lines.ts";
import type { RecordFilter } from "./filters.ts";
import type { AuditSource, ReadOptions, SourceRow } from "./source.ts";
import { terminalSafe } from "./text.ts";

export function formatRow(row: SourceRow): string {
  const r = parseRecordLine(row.line);
  const where = terminalSafe(`${row.stream}#${row.seq}`);
  if (r === undefined) return `${"?".padEnd(24)} ${where} UNREADABLE stored line (run intentgate audit verify)`;
  const t = (value: unknown): string => terminalSafe(String(value));
  const who = `${t(r.tenant)}/${t(r.agent)} ${t(r.server)}.${t(r.tool)}`;
  const fields =
    r.kind === "decision"
      ? [t(String(r.disposition).toUpperCase()), who, t(r.code ?? ""), r.reason === null ? "" : quoted(String(r.reason))]
      : ["OUTCOME", who, t(r.outcome), `${t(r.duration_ms)}ms`];
  return [t(r.time).padEnd(24), where, ...fields, `id=${t(r.decision_id)}`].filter((s) => s !== "").join(" ");
}

/** A reason, quoted: inner quotes escaped after terminalSafe has escaped backslashes, so it reads back unambiguously. */
const quoted = (text: string): string => `"${terminalSafe(text).replaceAll('"', '\\"')}"`;

interface Shown {
  time: number;
  row: SourceRow;
}

const byTime = (a: Shown, b: Shown): number => a.time - b.time || (a.row.stream < b.row.stream ? -1 : a.row.stream > b.row.stream ? 1 : a.row.seq - b.row.seq);

export interface TailOptions {
  lines: number;
  follow: boolean;
  intervalMs: number;
  print: (line: string) => void;
  /** Stops following (tests, signals). */
  signal?: AbortSignal;
}

export async function tail(source: AuditSource, filter: RecordFilter, o: TailOptions): Promise<void> {
  const base: ReadOptions = filter.streams === undefined ? {} : { streams: filter.streams };
  const positions = await source.heads(base);
  // The last `lines` of each stream hold the newest records; with a record filter, look further back.
  const ranges = new Map([...positions].map(([s, head]) => [s, { after: filter.active ? 0 : Math.max(0, head - o.lines) }]));
  let recent: Shown[] = [];
  for await (const row of source.rows({ ...base, ranges })) {
    const shown = keep(row, filter);
    if (shown === undefined) continue;
    recent.push(shown);
    if (recent.length > 4 * o.lines + 1000) recent = recent.sort(byTime).slice(-o.lines);
    positions.set(row.stream, Math.max(row.seq, positions.get(row.stream) ?? 0));
  }
  for (const s of recent.sort(byTime).slice(-o.lines)) o.print(formatRow(s.row));
  const stopped = (): boolean => o.signal?.aborted === true;
  while (o.follow && !stopped()) {
    await sleep(o.intervalMs, undefined, o.signal === undefined ? {} : { signal: o.signal }).catch(() => undefined);
    if (stopped()) break;
    const heads = await source.heads(base);
    const moved = new Map([...heads].filter(([s, head]) => head > (positions.get(s) ?? 0)).map(([s]) => [s, { after: positions.get(s) ?? 0 }]));
    if (moved.size === 0) continue;
    const fresh: Shown[] = [];
    for await (const row of source.rows({ ...base, ranges: moved })) {
      positions.set(row.stream, Math.max(row.seq, positions.get(row.stream) ?? 0));
      const shown = keep(row, filter);
      if (shown !== undefined) fresh.push(shown);
    }
    for (const s of fresh.sort(byTime)) o.print(formatRow(s.row));
  }
}

function keep(row: SourceRow, filter: RecordFilter): Shown | undefined {
  const record = parseRecordLine(row.line);
  if (record === undefined) return filter.active ? undefined : { time: Number.MAX_SAFE_INTEGER, row };
  return filter.matches(record) ? { time: Date.parse(record.time) || 0, row } : undefined;
}
