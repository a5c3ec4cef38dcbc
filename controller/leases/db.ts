// The lease ledger's connection to PostgreSQL: a pool, transactions on one checked-out client, and
// one clock. Every controller replica reads the time from the database, so replicas whose own
// clocks disagree still agree on when a slice was granted and until when it counts.
import pg from "pg";

export type Clock = (client: pg.PoolClient) => Promise<number>;

/** Unix milliseconds by PostgreSQL's clock (clock_timestamp: the time now, not the transaction's start). */
export const databaseClock: Clock = async (client) => {
  const r = await client.query<{ now: number }>("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now");
  return Math.floor(Number(r.rows[0]?.now));
};

export function openPool(connectionString: string, onIdleError: (error: Error) => void): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: 8,
    connectionTimeoutMillis: 5000,
    // A hung statement must not hold a sidecar's grant for long: it waits on the answer.
    query_timeout: 10_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: "intentgate-leases",
  });
  // Without a listener an idle client's error (server shut down) would crash the process.
  pool.on("error", onIdleError);
  return pool;
}

/** Runs `body` in a READ COMMITTED transaction: COMMIT when it resolves, ROLLBACK when it throws. */
export async function transaction<T>(pool: pg.Pool, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A checked-out client has no pool listener: the server going away mid-transaction would
  // otherwise be an uncaught 'error' event.
  const onError = (error: Error): void => {
    broken = error;
  };
  client.on("error", onError);
  try {
    await client.query("BEGIN");
    const result = await body(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch((rollbackError: Error) => {
      broken = rollbackError; // unusable: drop it rather than return it to the pool
    });
    throw error;
  } finally {
    client.off("error", onError);
    client.release(broken);
  }
}
