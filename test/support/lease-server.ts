// A real lease service (controller/leases) on a real PostgreSQL, served over HTTP on an ephemeral
// port. Callers authenticate with static bearer tokens standing in for the cluster's TokenReview;
// `seen` records every token presented, so rotation can be observed. Token ceilings verify tokens
// with `tenantKeys` (none by default).
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { LeaseBudget } from "../../controller/leases/budget.ts";
import { createLeaseHandler, type Identity } from "../../controller/leases/http.ts";
import { LeaseService, type LeaseServiceOptions } from "../../controller/leases/service.ts";
import type { TenantKeys } from "../../controller/leases/token-ceiling.ts";
import { startPostgres, type TestPostgres } from "./postgres.ts";

export interface LeaseServer {
  url: string;
  service: LeaseService;
  db: TestPostgres;
  /** Bearer tokens presented so far, in order. */
  seen: string[];
  /** Writes a token file for an identity (issuing the token if new) and returns its path. */
  tokenFile(dir: string, who: Identity, token?: string): string;
  /** Stops answering (the listening socket closes); `resume` listens again on the same port. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

export async function startLeaseServer(
  budgets: readonly LeaseBudget[],
  { tenantKeys = () => undefined, ...options }: Partial<LeaseServiceOptions> & { tenantKeys?: TenantKeys } = {},
  db?: TestPostgres,
): Promise<LeaseServer> {
  const database = db ?? (await startPostgres());
  const service = await LeaseService.open({ ...options, database: database.url });
  const identities = new Map<string, Identity>();
  const seen: string[] = [];
  const byName = new Map(budgets.map((b) => [b.name, b]));
  const handler = createLeaseHandler({
    service,
    budgets: (name) => byName.get(name),
    tenantKeys,
    authenticate: async (req) => {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
      if (token !== undefined) seen.push(token);
      const who = token === undefined ? undefined : identities.get(token);
      if (who === undefined) throw new Error("unknown token");
      return who;
    },
  });
  let server: Server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  let issued = 0;
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    url: `http://127.0.0.1:${port}`,
    service,
    db: database,
    seen,
    tokenFile(dir, who, token = `token-${++issued}-${who.agent}`) {
      identities.set(token, who);
      const path = join(dir, `lease-token-${who.agent.replace(/\W/g, "_")}`);
      writeFileSync(path, token + "\n", { mode: 0o600 });
      return path;
    },
    pause: stop,
    async resume() {
      server = createServer((req, res) => void handler(req, res));
      await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    },
    async close() {
      await stop();
      await service.close();
      if (db === undefined) database.destroy();
    },
  };
}
