// The controller's API router (controller/serve/api.ts) with its audit ingest routes, over a real
// audit store on a real PostgreSQL, on an ephemeral port. Callers authenticate with static bearer
// tokens standing in for the cluster's TokenReview (test/kube covers the real one); each token maps
// to a pod identity. Without a database the routes answer as a controller without one does.
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { pino } from "pino";
import { createApi } from "../../controller/serve/api.ts";
import { createAuditIngest } from "../../controller/serve/audit-ingest.ts";
import { AuthError } from "../../controller/serve/auth.ts";
import { SnapshotHub } from "../../controller/serve/hub.ts";
import type { AgentIdentity, ClusterView } from "../../controller/snapshot/build.ts";
import { PgAuditStore } from "../../sidecar/audit/store/pg.ts";
import type { TestPostgres } from "./postgres.ts";

export interface AuditIngestServer {
  url: string;
  /** The controller's store (undefined without a database); tests read through it too. */
  store: PgAuditStore | undefined;
  /** Writes a token file for a pod identity and returns its path. */
  tokenFile(dir: string, who: AgentIdentity): string;
  /** Stops answering (the listening socket closes); `resume` listens again on the same port. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

/** `tenants` maps namespace to the Tenant that owns it. */
export async function startAuditIngestServer(db: TestPostgres | undefined, tenants: Record<string, string>): Promise<AuditIngestServer> {
  const store = db === undefined ? undefined : new PgAuditStore(db.url, { connectTimeoutMs: 1000 });
  const identities = new Map<string, AgentIdentity>();
  const log = pino({ level: process.env["TEST_LOG_LEVEL"] ?? "silent" });
  const view = { tenants: () => [] } as unknown as ClusterView; // only the snapshot routes read it
  const hub = new SnapshotHub({ view, heartbeatMs: 3_600_000 });
  const api = createApi({
    authenticate: async (req) => {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
      const who = token === undefined ? undefined : identities.get(token);
      if (who === undefined) throw new AuthError(401, "unauthenticated", "unknown token");
      return who;
    },
    hub,
    view,
    log,
    routes: createAuditIngest({ store, tenantOf: (ns) => tenants[ns], log }),
  });
  let server: Server = createServer(api);
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
    store,
    tokenFile(dir, who) {
      const token = `token-${++issued}`;
      identities.set(token, who);
      const path = join(dir, `token-${issued}`);
      writeFileSync(path, token + "\n", { mode: 0o600 });
      return path;
    },
    pause: stop,
    async resume() {
      server = createServer(api);
      await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    },
    async close() {
      await stop();
      hub.close();
      await store?.close();
    },
  };
}
