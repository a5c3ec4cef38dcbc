// Opens the store the configuration names: a PostgreSQL URL (given directly or, better, through an
// environment variable so no password sits in a file) or an embedded PGlite folder.
import { PgAuditStore, type PgStoreOptions } from "./pg.ts";
import { PgliteAuditStore } from "./pglite.ts";
import type { AuditStore } from "./types.ts";

export interface AuditDatabaseConfig {
  url?: string;
  urlEnv?: string;
  embedded?: string;
}

export function openAuditStore(config: AuditDatabaseConfig, env: NodeJS.ProcessEnv, pg: PgStoreOptions = {}): AuditStore {
  if (config.embedded !== undefined) return new PgliteAuditStore(config.embedded);
  return new PgAuditStore(connectionString(config, env), pg);
}

/** Where the store is, for logs: never the password. */
export function describeDatabase(config: AuditDatabaseConfig, env: NodeJS.ProcessEnv): string {
  if (config.embedded !== undefined) return `pglite:${config.embedded}`;
  try {
    const url = new URL(connectionString(config, env));
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return config.urlEnv !== undefined ? `$${config.urlEnv}` : "postgres (unparsable URL)";
  }
}

function connectionString(config: AuditDatabaseConfig, env: NodeJS.ProcessEnv): string {
  if (config.url !== undefined) return config.url;
  if (config.urlEnv !== undefined) {
    const value = env[config.urlEnv];
    if (value === undefined || value === "") throw new Error(`audit database: environment variable ${config.urlEnv} is not set`);
    return value;
  }
  throw new Error("audit database: one of url, urlEnv or embedded is required");
}
