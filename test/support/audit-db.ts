// Loads a sidecar's spool into the audit tables with plain INSERTs, as a shipper would, for tests that
// tamper with the database. The tables follow the agreed schema (sidecar/audit/store owns the real
// migrations); IF NOT EXISTS lets this run against a database that already has them.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type pg from "pg";
import type { AuditCheckpoint, AuditRecord } from "../../wire/audit/index.ts";

export const AUDIT_TABLES = `
CREATE TABLE IF NOT EXISTS intentgate_audit_records (
  stream text NOT NULL, seq bigint NOT NULL, time timestamptz NOT NULL, tenant text NOT NULL, agent text NOT NULL,
  server text NOT NULL, tool text NOT NULL, kind text NOT NULL, disposition text, decision_id text NOT NULL,
  line text NOT NULL, PRIMARY KEY (stream, seq));
CREATE TABLE IF NOT EXISTS intentgate_audit_checkpoints (
  stream text NOT NULL, seq bigint NOT NULL, time timestamptz NOT NULL, key_id text NOT NULL, line text NOT NULL,
  PRIMARY KEY (stream, seq));`;

export function spoolLines(dir: string): { records: string[]; checkpoints: string[] } {
  const records = readdirSync(dir)
    .filter((name) => /^seg-\d{12}\.ndjson$/.test(name))
    .sort()
    .flatMap((name) => readFileSync(join(dir, name), "utf8").split("\n").filter(Boolean));
  let checkpoints: string[] = [];
  try {
    checkpoints = readFileSync(join(dir, "checkpoints.ndjson"), "utf8").split("\n").filter(Boolean);
  } catch {
    /* none signed yet */
  }
  return { records, checkpoints };
}

/** The index columns of a record line, as the shipper derives them. */
export function recordRow(line: string, stream?: string, seq?: number): unknown[] {
  const r = JSON.parse(line) as AuditRecord;
  const disposition = r.kind === "decision" ? r.disposition : null;
  return [stream ?? r.stream, seq ?? r.seq, r.time, r.tenant, r.agent, r.server, r.tool, r.kind, disposition, r.decision_id, line];
}

export async function insertRecord(db: pg.Client, line: string, stream?: string, seq?: number): Promise<void> {
  await db.query(
    "INSERT INTO intentgate_audit_records (stream, seq, time, tenant, agent, server, tool, kind, disposition, decision_id, line) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
    recordRow(line, stream, seq),
  );
}

export async function insertCheckpoint(db: pg.Client, line: string): Promise<void> {
  const c = JSON.parse(line) as AuditCheckpoint;
  await db.query("INSERT INTO intentgate_audit_checkpoints (stream, seq, time, key_id, line) VALUES ($1,$2,$3,$4,$5)", [c.stream, c.seq, c.time, c.key_id, line]);
}

/** Creates the tables if needed and inserts every record and checkpoint of the spool. */
export async function loadSpool(db: pg.Client, dir: string): Promise<{ records: string[]; checkpoints: string[] }> {
  await db.query(AUDIT_TABLES);
  const lines = spoolLines(dir);
  for (const line of lines.records) await insertRecord(db, line);
  for (const line of lines.checkpoints) await insertCheckpoint(db, line);
  return lines;
}
