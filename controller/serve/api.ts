// The controller's API for sidecars: the snapshot subscription and its acknowledgement (and the
// budget leases, mounted by the caller). Every route authenticates; errors are JSON with a stable code.
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { AuthError, type Authenticate } from "./auth.ts";
import type { SnapshotHub } from "./hub.ts";
import type { AgentIdentity, ClusterView } from "../snapshot/build.ts";
import { tenantOf } from "../snapshot/build.ts";

export type Route = (req: IncomingMessage, res: ServerResponse, who: AgentIdentity) => Promise<void> | void;

export interface ApiOptions {
  authenticate: Authenticate;
  hub: SnapshotHub;
  view: ClusterView;
  log: Logger;
  /** Extra routes by "METHOD /path-prefix" (the budget leases). */
  routes?: Record<string, Route>;
}

const MAX_BODY = 64 * 1024;

export function createApi(options: ApiOptions): RequestListener {
  const routes: Record<string, Route> = {
    "GET /v1/snapshots/watch": (req, res, who) => {
      const tenant = tenantOf(options.view, who.namespace)?.metadata.name;
      options.hub.subscribe(who, tenant, res);
      req.socket.setKeepAlive(true, 15_000);
    },
    "POST /v1/snapshots/ack": async (req, res, who) => {
      const body = (await readJson(req)) as { version?: unknown };
      if (typeof body.version !== "string") throw new AuthError(400, "bad_request", "body must be {\"version\": string}");
      const matched = options.hub.acknowledge(who, who.podName, body.version);
      sendJson(res, 200, { acknowledged: matched });
    },
    ...options.routes,
  };
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0] as string;
    const route = Object.entries(routes).find(([key]) => {
      const [method, prefix] = key.split(" ") as [string, string];
      return method === req.method && (path === prefix || path.startsWith(prefix + "/"));
    })?.[1];
    if (route === undefined) {
      sendJson(res, 404, { error: { code: "not_found", message: `${req.method} ${path} is not an IntentGate API route` } });
      return;
    }
    options
      .authenticate(req)
      .then((who) => route(req, res, who))
      .catch((error: unknown) => {
        const status = error instanceof AuthError ? error.status : 500;
        const code = error instanceof AuthError ? error.code : "internal_error";
        if (status >= 500) options.log.error({ code, reason: (error as Error).message }, "API request failed");
        if (!res.headersSent) sendJson(res, status, { error: { code, message: (error as Error).message } });
        else res.end();
      });
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

export function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new AuthError(413, "body_too_large", `request bodies are limited to ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch {
        reject(new AuthError(400, "bad_json", "request body is not JSON"));
      }
    });
    req.on("error", reject);
  });
}
