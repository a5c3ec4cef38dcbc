// The lease ledger's schema. Migrations are append only and applied at start-up by every controller
// replica, all pending ones in one transaction behind a transaction-scoped advisory lock, so
// replicas starting together queue instead of racing on CREATE. Its own migrations table keeps
// its numbering apart from the audit store's.
import type pg from "pg";

export interface LeaseMigration {
  id: number;
  name: string;
  sql: string;
}

export const LEASE_MIGRATIONS: readonly LeaseMigration[] = Object.freeze([
  {
    id: 1,
    name: "budget keys and leases",
    sql: `
      -- One row per budget key: the row grants lock, so grants of one key are serialised.
      CREATE TABLE IF NOT EXISTS intentgate_budget_keys (
        budget text NOT NULL,
        key text NOT NULL,
        PRIMARY KEY (budget, key)
      );
      CREATE TABLE IF NOT EXISTS intentgate_budget_leases (
        id uuid PRIMARY KEY,
        budget text NOT NULL,
        key text NOT NULL,
        tenant text NOT NULL,
        agent text NOT NULL,
        holder text NOT NULL,
        state text NOT NULL CHECK (state IN ('active', 'returned', 'expired')),
        granted_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        -- The end of the span the slice counts in: granted_at + lease + window, or, once returned,
        -- returned_at + window.
        counts_until timestamptz NOT NULL,
        window_ms bigint NOT NULL,
        calls integer NOT NULL CHECK (calls >= 0),
        -- NULL: the budget had no cost ceiling when granted, so the slice carries no cost limit.
        cost double precision NULL CHECK (cost >= 0),
        used_calls integer NULL CHECK (used_calls >= 0),
        used_cost double precision NULL CHECK (used_cost >= 0),
        returned_at timestamptz NULL
      );
      CREATE INDEX IF NOT EXISTS intentgate_budget_leases_counting ON intentgate_budget_leases (budget, key, counts_until);
      CREATE INDEX IF NOT EXISTS intentgate_budget_leases_active ON intentgate_budget_leases (expires_at) WHERE state = 'active';
    `,
  },
  {
    id: 2,
    name: "lifetime ceilings",
    sql: `
      -- NULL: a lifetime ceiling (a token's calls); its rows count until counts_until, returned or not.
      ALTER TABLE intentgate_budget_leases ALTER COLUMN window_ms DROP NOT NULL;
    `,
  },
]);

/** Key of the advisory lock lease migrators take ("leases" in ASCII). */
export const LEASE_MIGRATION_LOCK = "119182682449267";

export async function migrateLeases(pool: pg.Pool, migrations: readonly LeaseMigration[] = LEASE_MIGRATIONS): Promise<string[]> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1::bigint)", [LEASE_MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS intentgate_lease_migrations (
      id integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Set((await client.query<{ id: number }>("SELECT id FROM intentgate_lease_migrations")).rows.map((r) => Number(r.id)));
    const applied: string[] = [];
    for (const m of [...migrations].sort((a, b) => a.id - b.id)) {
      if (done.has(m.id)) continue;
      await client.query(m.sql);
      await client.query("INSERT INTO intentgate_lease_migrations (id, name) VALUES ($1, $2)", [m.id, m.name]);
      applied.push(m.name);
    }
    await client.query("COMMIT");
    client.release();
    return applied;
  } catch (error) {
    let broken: Error | undefined;
    await client.query("ROLLBACK").catch((rollbackError: Error) => (broken = rollbackError));
    client.release(broken);
    throw error;
  }
}
