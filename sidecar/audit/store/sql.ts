// The one SQL dialect both stores speak, behind a three-method port: node-postgres (a pool) and
// PGlite (in-process) each adapt to it in a few lines, so every statement is shared.

export interface SqlResult<R> {
  rows: R[];
  /** Rows inserted, updated or deleted by the statement. */
  count: number;
}

export interface Sql {
  /** One statement with $n parameters. */
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<SqlResult<R>>;
  /** Several statements, no parameters (migrations). */
  exec(text: string): Promise<void>;
}

export interface SqlDriver extends Sql {
  /** Runs `body` in a transaction on one connection: COMMIT when it resolves, ROLLBACK when it throws. */
  transaction<T>(body: (tx: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** bigint columns come back as strings (pg) or numbers (PGlite). */
export function toSeq(value: unknown): number {
  const n = typeof value === "string" ? Number(value) : typeof value === "bigint" ? Number(value) : (value as number);
  if (!Number.isSafeInteger(n)) throw new Error(`seq ${String(value)} is not a safe integer`);
  return n;
}
