// A real PostgreSQL server per test file: a fresh cluster in a temporary folder on a free port,
// started and stopped by the test (so fault tests can take it away and bring it back). Uses the
// server binaries scripts/toolchain.sh ensure_postgres installs (INTENTGATE_PG_BIN).
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.ts";

export interface TestPostgres {
  url: string;
  port: number;
  start(): void;
  stop(mode?: "fast" | "immediate"): void;
  destroy(): void;
}

function pgBin(): string {
  const configured = process.env["INTENTGATE_PG_BIN"];
  if (configured && existsSync(join(configured, "initdb"))) return configured;
  const versions = existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(`/usr/lib/postgresql/${v}/bin/initdb`)) return `/usr/lib/postgresql/${v}/bin`;
  throw new Error("PostgreSQL server binaries not found: run scripts/test.sh (it installs them) or set INTENTGATE_PG_BIN");
}


/** Runs a PostgreSQL binary, as the postgres user when we are root (the server refuses to run as root). */
function run(bin: string, args: string[]): void {
  const asRoot = process.getuid?.() === 0;
  const command = asRoot ? "runuser" : bin;
  const argv = asRoot ? ["-u", "postgres", "--", bin, ...args] : args;
  const r = spawnSync(command, argv, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(" ")} failed: ${r.stderr || r.stdout}`);
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = pgBin();
  const dir = mkdtempSync(join(tmpdir(), "intentgate-pg-"));
  chmodSync(dir, 0o777);
  const data = join(dir, "data");
  if (process.getuid?.() === 0) execFileSync("chown", ["postgres", dir]);
  run(join(bin, "initdb"), ["-D", data, "-U", "intentgate", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=50`;
  const pg: TestPostgres = {
    url: `postgres://intentgate@127.0.0.1:${port}/postgres`,
    port,
    start: () => run(join(bin, "pg_ctl"), ["-D", data, "-o", options, "-w", "-l", join(dir, "log"), "start"]),
    stop: (mode = "fast") => run(join(bin, "pg_ctl"), ["-D", data, "-m", mode, "-w", "stop"]),
    destroy: () => {
      try {
        pg.stop("immediate");
      } catch {
        /* already stopped */
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  pg.start();
  return pg;
}
