// The audit store: where the shipper puts what the spool holds. PostgreSQL in a cluster, PGlite
// (the same SQL, in-process) in standalone mode.
export { AuditConflictError, AuditLineError, type AuditStore, type ExportFilter, type ExportRow, type MigrationReport, type PageOptions } from "./types.ts";
export { MIGRATIONS, MIGRATION_LOCK, migrate, type Migration } from "./migrations.ts";
export { SqlAuditStore } from "./sql-store.ts";
export { PgAuditStore, type PgStoreOptions } from "./pg.ts";
export { PgliteAuditStore } from "./pglite.ts";
export { describeDatabase, openAuditStore, type AuditDatabaseConfig } from "./open.ts";
