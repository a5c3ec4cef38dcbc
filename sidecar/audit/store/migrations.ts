// Schema migrations, applied at start-up by every sidecar (and later the controller): ordered,
// each recorded in intentgate_migrations, all pending ones in one transaction that first takes a
// transaction-scoped advisory lock, so concurrent starters queue instead of racing on CREATE.
import type { SqlDriver } from "./sql.ts";
import type { MigrationReport } from "./types.ts";

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

/** Append only: a released migration is never edited, a change is a new migration. */
export const MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    id: 1,
    name: "audit records and checkpoints",
    sql: `
      CREATE TABLE IF NOT EXISTS intentgate_audit_records (
        stream text NOT NULL,
        seq bigint NOT NULL,
        time timestamptz NOT NULL,
        tenant text NOT NULL,
        agent text NOT NULL,
        server text NOT NULL,
        tool text NOT NULL,
        kind text NOT NULL,
        disposition text NULL,
        decision_id text NOT NULL,
        -- The record's canonical JSON exactly as chained; text, not jsonb, which would reorder keys.
        line text NOT NULL,
        PRIMARY KEY (stream, seq)
      );
      CREATE INDEX IF NOT EXISTS intentgate_audit_records_time ON intentgate_audit_records (time);
      CREATE INDEX IF NOT EXISTS intentgate_audit_records_tenant_time ON intentgate_audit_records (tenant, time);
      CREATE TABLE IF NOT EXISTS intentgate_audit_checkpoints (
        stream text NOT NULL,
        seq bigint NOT NULL,
        time timestamptz NOT NULL,
        key_id text NOT NULL,
        line text NOT NULL,
        PRIMARY KEY (stream, seq)
      );
    `,
  },
]);

/** Key of the advisory lock every migrator takes ("intent" in ASCII). */
export const MIGRATION_LOCK = "115970555897460";

export async function migrate(db: SqlDriver, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationReport> {
  return db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1::bigint)", [MIGRATION_LOCK]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS intentgate_migrations (
      id integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Set((await tx.query<{ id: number }>("SELECT id FROM intentgate_migrations")).rows.map((r) => Number(r.id)));
    const applied: string[] = [];
    for (const m of [...migrations].sort((a, b) => a.id - b.id)) {
      if (done.has(m.id)) continue;
      await tx.exec(m.sql);
      await tx.query("INSERT INTO intentgate_migrations (id, name) VALUES ($1, $2)", [m.id, m.name]);
      done.add(m.id);
      applied.push(m.name);
    }
    return { applied, version: Math.max(0, ...done) };
  });
}
