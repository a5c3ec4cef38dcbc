// Choosing the source from the command line: exactly one of --database, --database-env, --embedded, --spool, --file.
import { CliError } from "../errors.ts";
import { openDatabase, openEmbedded } from "./db-source.ts";
import { openExportFile } from "./file-source.ts";
import type { AuditSource } from "./source.ts";
import { openSpools } from "./spool-source.ts";

export interface SourceFlags {
  database?: string;
  databaseEnv?: string;
  embedded?: string;
  spool?: string[];
  file?: string;
}

export async function openSource(flags: SourceFlags, allowFile: boolean, snapshot: boolean): Promise<AuditSource> {
  const given = [flags.database, flags.databaseEnv, flags.embedded, flags.spool, allowFile ? flags.file : undefined].filter((v) => v !== undefined);
  const names = allowFile ? "--database, --database-env, --embedded, --spool or --file" : "--database, --database-env, --embedded or --spool";
  if (given.length !== 1) throw new CliError(`give exactly one source: ${names}`);
  if (flags.spool !== undefined) return openSpools(flags.spool);
  if (flags.embedded !== undefined) return openEmbedded(flags.embedded, snapshot);
  if (flags.file !== undefined) return openExportFile(flags.file);
  let url = flags.database;
  if (flags.databaseEnv !== undefined) {
    url = process.env[flags.databaseEnv];
    if (url === undefined || url === "") throw new CliError(`--database-env: environment variable ${flags.databaseEnv} is not set`);
  }
  return openDatabase(url as string, snapshot);
}
