// The audit store on a PostgreSQL server through a node-postgres pool. The pool connects lazily,
// so opening never fails for an unreachable server: the first query does, and the shipper retries.
import pg from "pg";
import { SqlAuditStore } from "./sql-store.ts";
import type { Sql, SqlDriver, SqlResult } from "./sql.ts";

export interface PgStoreOptions {
  /** Connections in the pool (the shipper uses one at a time; exports may use more). */
  max?: number;
  connectTimeoutMs?: number;
  /** Client-side limit on one statement, so a hung connection cannot hold the shipper forever. */
  queryTimeoutMs?: number;
  /** Errors of idle connections (e.g. the server restarted); they are replaced on the next query. */
  onIdleError?: (error: Error) => void;
}

export class PgAuditStore extends SqlAuditStore {
  readonly pool: pg.Pool;

  constructor(connectionString: string, options: PgStoreOptions = {}) {
    const pool = new pg.Pool({
      connectionString,
      max: options.max ?? 4,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      query_timeout: options.queryTimeoutMs ?? 60_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: "intentgate-audit",
    });
    // Without a listener an idle client's error (server shut down) would crash the process.
    pool.on("error", (error) => options.onIdleError?.(error));
    super("postgres", pgDriver(pool));
    this.pool = pool;
  }
}

function adapt(client: pg.Pool | pg.PoolClient): Sql {
  return {
    async query<R>(text: string, params: readonly unknown[] = []): Promise<SqlResult<R>> {
      const r = await client.query(text, params as unknown[]);
      return { rows: r.rows as R[], count: r.rowCount ?? 0 };
    },
    async exec(text: string): Promise<void> {
      await client.query(text);
    },
  };
}

function pgDriver(pool: pg.Pool): SqlDriver {
  return {
    ...adapt(pool),
    async transaction<T>(body: (tx: Sql) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken: Error | undefined;
      // A checked-out client has no listener of the pool's: the server going away between two
      // statements would otherwise be an uncaught 'error' event (the process would exit).
      const onError = (error: Error): void => {
        broken = error;
      };
      client.on("error", onError);
      try {
        await client.query("BEGIN");
        const result = await body(adapt(client));
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch((rollbackError: Error) => {
          broken = rollbackError; // the connection is unusable: drop it rather than return it to the pool
        });
        throw error;
      } finally {
        client.off("error", onError);
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}
