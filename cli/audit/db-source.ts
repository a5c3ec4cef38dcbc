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

/** What the reader needs of a connection: pg's Client and an embedded PGlite both provide it. */
interface QueryClient {
  query<R>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
  end(): Promise<void>;
}

/**
 * Reads a standalone sidecar's embedded audit database (PGlite, the same tables). PGlite is one
 * process's database: read it while that sidecar is stopped, or read a copy of its folder.
 */
export async function openEmbedded(dir: string, snapshot: boolean): Promise<AuditSource> {
  const { PGlite } = await import("@electric-sql/pglite");
  let db;
  try {
    db = await PGlite.create(dir);
    if (snapshot) await db.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  } catch (error) {
    throw new CliError(`cannot open the embedded audit database ${dir}: ${oneLine(error)}`);
  }
  const client: QueryClient = { query: (text, values) => (db as InstanceType<typeof PGlite>).query(text, values), end: () => (db as InstanceType<typeof PGlite>).close() };
  return new DatabaseSource(client, snapshot);
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
  readonly #client: QueryClient;
  readonly #snapshot: boolean;
  #cursors = 0;

  constructor(client: QueryClient, snapshot: boolean) {
    this.#client = client;
    this.#snapshot = snapshot;
  }

  async #query<R>(text: string, values: unknown[] = []): Promise<R[]> {
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
