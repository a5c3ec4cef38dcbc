// The audit store embedded in the process: PGlite is PostgreSQL compiled to WebAssembly, so
// standalone mode runs the very same SQL as a server, with no server. Its data folder belongs to
// one process at a time. It is opened on first use (creating a new folder takes a few seconds).
import { PGlite, type Transaction } from "@electric-sql/pglite";
import { SqlAuditStore } from "./sql-store.ts";
import type { Sql, SqlDriver, SqlResult } from "./sql.ts";

export class PgliteAuditStore extends SqlAuditStore {
  readonly dataDir: string;

  constructor(dataDir: string) {
    super("pglite", pgliteDriver(dataDir));
    this.dataDir = dataDir;
  }
}

function adapt(db: PGlite | Transaction): Sql {
  return {
    async query<R>(text: string, params: readonly unknown[] = []): Promise<SqlResult<R>> {
      const r = await db.query<R>(text, params as unknown[]);
      return { rows: r.rows, count: r.affectedRows ?? 0 };
    },
    async exec(text: string): Promise<void> {
      await db.exec(text);
    },
  };
}

function pgliteDriver(dataDir: string): SqlDriver {
  let opening: Promise<PGlite> | undefined;
  let closed = false;
  const db = (): Promise<PGlite> => {
    if (closed) return Promise.reject(new Error("audit store is closed"));
    opening ??= PGlite.create(dataDir).catch((error: unknown) => {
      opening = undefined; // let the next attempt try again
      throw error;
    });
    return opening;
  };
  return {
    query: async (text, params) => adapt(await db()).query(text, params),
    exec: async (text) => adapt(await db()).exec(text),
    transaction: async (body) => (await db()).transaction((tx) => body(adapt(tx))),
    async close() {
      closed = true;
      const open = opening;
      opening = undefined;
      if (open !== undefined) await (await open.catch(() => undefined))?.close();
    },
  };
}
