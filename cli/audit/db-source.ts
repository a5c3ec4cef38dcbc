// Reads the audit tables directly with pg: intentgate_audit_records (stream, seq, time, tenant, agent,
// server, tool, kind, disposition, decision_id, line) and intentgate_audit_checkpoints (stream, seq,
// time, key_id, line). Rows stream through a server-side cursor, so nothing is capped or held whole.
// verify and export read inside one REPEATABLE READ transaction: records and checkpoints are one
// consistent snapshot even while shippers keep inserting.
import pg from "pg";
import { CliError } from "../errors.ts";
import { parseCheckpointLine } from "./lines.ts";
import type { AuditSource, CheckpointEntry, IndexColumns, ReadOptions, SourceRow } from "./source.ts";

const FETCH = 500;
const COLUMNS = "stream, seq, line, time, tenant, agent, server, tool, kind, disposition, decision_id";

interface RecordRow extends IndexColumns {
  stream: string;
  seq: string | number;
  line: string;
}

export async function openDatabase(url: string, snapshot: boolean): Promise<AuditSource> {
  const client = new pg.Client({ connectionString: url, application_name: "intentgate-audit" });
  client.on("error", () => undefined); // a dropped connection surfaces as the next query's error
  try {
    await client.connect();
    if (snapshot) await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new CliError(`cannot connect to the audit database: ${oneLine(error)}`);
  }
  return new DatabaseSource(client, snapshot);
}

class DatabaseSource implements AuditSource {
  readonly kind = "database" as const;
  readonly prefixMayBeShipped = false;
  readonly #client: pg.Client;
  readonly #snapshot: boolean;
  #cursors = 0;

  constructor(client: pg.Client, snapshot: boolean) {
    this.#client = client;
    this.#snapshot = snapshot;
  }

  async #query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    try {
      return (await this.#client.query<R>(text, values)).rows;
    } catch (error) {
      throw new CliError(`audit database query failed: ${oneLine(error)}`);
    }
  }

  async checkpoints(options?: ReadOptions): Promise<CheckpointEntry[]> {
    const streams = options?.streams === undefined ? null : [...options.streams];
    const rows = await this.#query<{ stream: string; seq: string | number; line: string }>(
      "SELECT stream, seq, line FROM intentgate_audit_checkpoints WHERE $1::text[] IS NULL OR stream = ANY($1::text[]) ORDER BY stream, seq",
      [streams],
    );
    return rows.map((r) => ({ stream: r.stream, seq: Number(r.seq), line: r.line, checkpoint: parseCheckpointLine(r.line) }));
  }

  async heads(options?: ReadOptions): Promise<Map<string, number>> {
    const streams = options?.streams === undefined ? null : [...options.streams];
    const rows = await this.#query<{ stream: string; head: string | number }>(
      "SELECT stream, max(seq) AS head FROM intentgate_audit_records WHERE $1::text[] IS NULL OR stream = ANY($1::text[]) GROUP BY stream ORDER BY stream",
      [streams],
    );
    return new Map(rows.map((r) => [r.stream, Number(r.head)]));
  }

  async *rows(options?: ReadOptions): AsyncIterable<SourceRow> {
    if (options?.ranges === undefined) {
      const streams = options?.streams === undefined ? null : [...options.streams];
      yield* this.#cursor(`SELECT ${COLUMNS} FROM intentgate_audit_records WHERE $1::text[] IS NULL OR stream = ANY($1::text[]) ORDER BY stream, seq`, [streams]);
      return;
    }
    for (const [stream, range] of [...options.ranges].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (options.streams !== undefined && !options.streams.has(stream)) continue;
      yield* this.#cursor(
        `SELECT ${COLUMNS} FROM intentgate_audit_records WHERE stream = $1 AND seq > $2 AND ($3::bigint IS NULL OR seq <= $3) ORDER BY seq`,
        [stream, range.after, range.upTo ?? null],
      );
    }
  }

  async *#cursor(text: string, values: unknown[]): AsyncIterable<SourceRow> {
    const name = `intentgate_audit_${++this.#cursors}`;
    if (!this.#snapshot) await this.#query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    try {
      await this.#query(`DECLARE ${name} NO SCROLL CURSOR FOR ${text}`, values);
      for (;;) {
        const batch = await this.#query<RecordRow>(`FETCH ${FETCH} FROM ${name}`);
        for (const r of batch) {
          const { stream, seq, line, ...columns } = r;
          yield { stream, seq: Number(seq), line, columns };
        }
        if (batch.length < FETCH) break;
      }
    } finally {
      await this.#client.query(`CLOSE ${name}`).catch(() => undefined);
      if (!this.#snapshot) await this.#client.query("COMMIT").catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    if (this.#snapshot) await this.#client.query("COMMIT").catch(() => undefined);
    await this.#client.end().catch(() => undefined);
  }
}

function oneLine(error: unknown): string {
  return String((error as Error).message ?? error).replace(/\s+/g, " ").trim();
}
