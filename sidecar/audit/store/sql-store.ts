// The audit store in SQL, shared by PostgreSQL (pg) and PGlite. Batches go in as arrays through
// unnest() in one statement; ON CONFLICT DO NOTHING makes re-shipping safe, and a second look at
// the skipped rows turns "same key, different line" into an error instead of a silent drop.
import type { AuditCheckpoint, StoredRow } from "../../../wire/audit/index.ts";
import { migrate } from "./migrations.ts";
import { toSeq, type Sql, type SqlDriver } from "./sql.ts";
import { AuditConflictError, AuditLineError, type AuditStore, type ExportFilter, type ExportRow, type MigrationReport, type PageOptions } from "./types.ts";

const DEFAULT_PAGE = 1000;

const INSERT_RECORDS = `
  INSERT INTO intentgate_audit_records (stream, seq, time, tenant, agent, server, tool, kind, disposition, decision_id, line)
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
  ON CONFLICT (stream, seq) DO NOTHING`;

const INSERT_CHECKPOINTS = `
  INSERT INTO intentgate_audit_checkpoints (stream, seq, time, key_id, line)
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::text[], $5::text[])
  ON CONFLICT (stream, seq) DO NOTHING`;

// After the insert every key of the batch is stored (this batch's line or an older one). A scalar
// subquery is one primary-key probe per line; a join may be planned as a merge join that walks the
// stream's index from its first record, which grows with the stream.
const conflictsIn = (table: string): string => `
  SELECT i.stream, i.seq FROM unnest($1::text[], $2::bigint[], $3::text[]) AS i(stream, seq, line)
  WHERE (SELECT t.line FROM ${table} t WHERE t.stream = i.stream AND t.seq = i.seq) <> i.line
  ORDER BY i.stream, i.seq LIMIT 10`;

// A loose index scan: one index probe per stream instead of reading every row.
const STREAMS = `
  WITH RECURSIVE s AS (
    (SELECT stream FROM intentgate_audit_records ORDER BY stream LIMIT 1)
    UNION ALL
    SELECT (SELECT r.stream FROM intentgate_audit_records r WHERE r.stream > s.stream ORDER BY r.stream LIMIT 1)
    FROM s WHERE s.stream IS NOT NULL
  )
  SELECT stream FROM s WHERE stream IS NOT NULL
  UNION
  SELECT DISTINCT stream FROM intentgate_audit_checkpoints
  ORDER BY stream`;

export class SqlAuditStore implements AuditStore {
  readonly kind: string;
  protected readonly db: SqlDriver;

  constructor(kind: string, db: SqlDriver) {
    this.kind = kind;
    this.db = db;
  }

  migrate(): Promise<MigrationReport> {
    return migrate(this.db);
  }

  async insertRecords(lines: readonly string[]): Promise<number> {
    if (lines.length === 0) return 0;
    const c = { stream: [] as string[], seq: [] as number[], time: [] as string[], tenant: [] as string[], agent: [] as string[], server: [] as string[], tool: [] as string[], kind: [] as string[], disposition: [] as Array<string | null>, decisionId: [] as string[] };
    for (const line of lines) {
      const r = parseLine(line, "record");
      c.stream.push(text(r, "stream", line));
      c.seq.push(seqOf(r, line));
      c.time.push(time(r, line));
      c.tenant.push(text(r, "tenant", line));
      c.agent.push(text(r, "agent", line));
      c.server.push(text(r, "server", line));
      c.tool.push(text(r, "tool", line));
      const kind = text(r, "kind", line);
      c.kind.push(kind);
      c.disposition.push(kind === "decision" ? text(r, "disposition", line) : null);
      c.decisionId.push(text(r, "decision_id", line));
    }
    return this.#insert("intentgate_audit_records", INSERT_RECORDS, [c.stream, c.seq, c.time, c.tenant, c.agent, c.server, c.tool, c.kind, c.disposition, c.decisionId, lines], c.stream, c.seq, lines);
  }

  async insertCheckpoints(lines: readonly string[]): Promise<number> {
    if (lines.length === 0) return 0;
    const c = { stream: [] as string[], seq: [] as number[], time: [] as string[], keyId: [] as string[] };
    for (const line of lines) {
      const r = parseLine(line, "checkpoint");
      c.stream.push(text(r, "stream", line));
      c.seq.push(seqOf(r, line));
      c.time.push(time(r, line));
      c.keyId.push(text(r, "key_id", line));
    }
    return this.#insert("intentgate_audit_checkpoints", INSERT_CHECKPOINTS, [c.stream, c.seq, c.time, c.keyId, lines], c.stream, c.seq, lines);
  }

  async #insert(table: string, statement: string, params: unknown[], streams: string[], seqs: number[], lines: readonly string[]): Promise<number> {
    return this.db.transaction(async (tx: Sql) => {
      const { count } = await tx.query(statement, params);
      if (count < lines.length) {
        // Some keys were already there: they must hold these very lines (a re-ship after a restart).
        const { rows } = await tx.query<{ stream: string; seq: unknown }>(conflictsIn(table), [streams, seqs, lines]);
        if (rows.length > 0) {
          throw new AuditConflictError(rows.map((r) => ({ table: table === "intentgate_audit_records" ? "records" : "checkpoints", stream: r.stream, seq: toSeq(r.seq) })));
        }
      }
      return count;
    });
  }

  async streams(): Promise<string[]> {
    return (await this.db.query<{ stream: string }>(STREAMS)).rows.map((r) => r.stream);
  }

  async *readStream(stream: string, options: PageOptions & { afterSeq?: number } = {}): AsyncIterable<StoredRow> {
    const page = options.pageSize ?? DEFAULT_PAGE;
    let after = options.afterSeq ?? 0;
    for (;;) {
      const { rows } = await this.db.query<{ seq: unknown; line: string }>(
        "SELECT seq, line FROM intentgate_audit_records WHERE stream = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        [stream, after, page],
      );
      for (const r of rows) {
        after = toSeq(r.seq);
        yield { seq: after, line: r.line };
      }
      if (rows.length < page) return;
    }
  }

  async checkpoints(stream: string): Promise<AuditCheckpoint[]> {
    const { rows } = await this.db.query<{ line: string }>("SELECT line FROM intentgate_audit_checkpoints WHERE stream = $1 ORDER BY seq", [stream]);
    return rows.map((r) => JSON.parse(r.line) as AuditCheckpoint);
  }

  async *exportRecords(filter: ExportFilter = {}, options: PageOptions = {}): AsyncIterable<ExportRow> {
    const page = options.pageSize ?? DEFAULT_PAGE;
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: string, value: unknown): void => {
      params.push(value);
      where.push(clause.replace("?", `$${params.length}`));
    };
    if (filter.from !== undefined) add("time >= ?", filter.from.toISOString());
    if (filter.to !== undefined) add("time < ?", filter.to.toISOString());
    if (filter.stream !== undefined) add("stream = ?", filter.stream);
    if (filter.tenant !== undefined) add("tenant = ?", filter.tenant);
    if (filter.agent !== undefined) add("agent = ?", filter.agent);
    if (filter.tool !== undefined) add("tool = ?", filter.tool);
    if (filter.disposition !== undefined) add("disposition = ?", filter.disposition);
    // position(), not LIKE: "_" is a LIKE wildcard and ids may contain it. The quoted id can also
    // occur elsewhere in a line (an argument name), so each matching line is checked exactly below.
    const tokenId = filter.tokenId;
    if (tokenId !== undefined) add("position(? in line) > 0", JSON.stringify(tokenId));
    const n = params.length;
    const first = `SELECT stream, seq, line FROM intentgate_audit_records WHERE ${[...where, "TRUE"].join(" AND ")} ORDER BY stream, seq LIMIT $${n + 1}`;
    const next = `SELECT stream, seq, line FROM intentgate_audit_records WHERE ${[...where, `(stream, seq) > ($${n + 2}, $${n + 3})`].join(" AND ")} ORDER BY stream, seq LIMIT $${n + 1}`;
    let cursor: { stream: string; seq: number } | undefined;
    for (;;) {
      const { rows } = await this.db.query<{ stream: string; seq: unknown; line: string }>(
        cursor === undefined ? first : next,
        cursor === undefined ? [...params, page] : [...params, page, cursor.stream, cursor.seq],
      );
      for (const r of rows) {
        cursor = { stream: r.stream, seq: toSeq(r.seq) };
        if (tokenId === undefined || holdsTokenId(r.line, tokenId)) yield { stream: r.stream, seq: cursor.seq, line: r.line };
      }
      if (rows.length < page) return;
    }
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

function holdsTokenId(line: string, id: string): boolean {
  const ids = (JSON.parse(line) as { token_ids?: unknown }).token_ids;
  return Array.isArray(ids) && ids.includes(id);
}

function parseLine(line: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new AuditLineError(`not an audit ${what}: the line is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new AuditLineError(`not an audit ${what}: the line is not an object`);
  return value as Record<string, unknown>;
}

function text(r: Record<string, unknown>, field: string, line: string): string {
  const v = r[field];
  if (typeof v !== "string") throw new AuditLineError(`audit line has no string "${field}": ${line.slice(0, 120)}`);
  return v;
}

function seqOf(r: Record<string, unknown>, line: string): number {
  const v = r["seq"];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) throw new AuditLineError(`audit line has no valid "seq": ${line.slice(0, 120)}`);
  return v;
}

function time(r: Record<string, unknown>, line: string): string {
  const v = text(r, "time", line);
  if (Number.isNaN(Date.parse(v))) throw new AuditLineError(`audit line has an invalid "time": ${line.slice(0, 120)}`);
  return v;
}
