// The admin port: /metrics for Prometheus, /healthz (the process is up), /readyz (it can decide:
// keys loaded, a policy loaded, the revocation list fresh).
import { createServer, type Server } from "node:http";
import type { SidecarMetrics } from "./observability/metrics.ts";

export function createAdminServer(metrics: SidecarMetrics, ready: () => { ok: boolean; problems: string[] }): Server {
  return createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/metrics") {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
      return;
    }
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    if (path === "/readyz") {
      const state = ready();
      res.writeHead(state.ok ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify(state));
      return;
    }
    res.writeHead(404).end();
  });
}
