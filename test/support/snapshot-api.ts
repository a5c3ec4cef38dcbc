// The controller's snapshot API for Kubernetes-mode sidecar tests that run without a kube-apiserver:
// the real snapshot builder and SnapshotHub over an in-memory ClusterView (a stand-in for the
// controller's informer caches), behind an HTTP server that skips authentication (a stand-in for
// TokenReview: every subscriber is the agent the test names). The whole controller against a real
// API server is tested in test/kube/.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { McpServer, Tenant, ToolPolicy } from "../../controller/api/types.ts";
import { SnapshotHub } from "../../controller/serve/hub.ts";
import type { AgentIdentity, ClusterView, CompiledPolicy } from "../../controller/snapshot/build.ts";

export interface StandInCluster {
  tenants: Tenant[];
  policies: ToolPolicy[];
  servers: McpServer[];
  /** "<namespace>/<name>" -> the Secret's data. */
  secrets: Map<string, Record<string, string>>;
  /** The ToolPolicy name -> its compiled wasm (what the controller's compiler would produce). */
  compiled: Map<string, CompiledPolicy>;
  controllerNamespace: string;
}

export interface SnapshotApi {
  url: string;
  /** Applies a change to the cluster's resources and pushes the rebuilt snapshot (like an informer event). */
  update(change: (cluster: StandInCluster) => void): void;
  /** Versions the sidecar acknowledged, in order. */
  acknowledged: string[];
  close(): Promise<void>;
}

export async function startSnapshotApi(cluster: StandInCluster, who: AgentIdentity, heartbeatMs = 300): Promise<SnapshotApi> {
  const inNamespace = <T extends { metadata: { namespace?: string } }>(items: readonly T[], ns: string): T[] => items.filter((i) => i.metadata.namespace === ns);
  const view: ClusterView = {
    tenants: () => cluster.tenants,
    policies: (ns) => inNamespace(cluster.policies, ns),
    budgets: () => [],
    revocations: () => [],
    grants: () => [],
    servers: (ns) => inNamespace(cluster.servers, ns),
    secret: (ns, name) => cluster.secrets.get(`${ns}/${name}`),
    compiled: (policy) => cluster.compiled.get(policy.metadata.name),
    controllerNamespace: cluster.controllerNamespace,
  };
  const hub = new SnapshotHub({ view, heartbeatMs });
  const acknowledged: string[] = [];
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/v1/snapshots/watch") return void hub.subscribe(who, cluster.tenants[0]?.metadata.name, res);
    if (req.method === "POST" && path === "/v1/snapshots/ack") {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const version = (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { version: string }).version;
        acknowledged.push(version);
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ acknowledged: hub.acknowledge(who, who.podName, version) }));
      });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    update(change) {
      change(cluster);
      hub.invalidate();
    },
    acknowledged,
    async close() {
      hub.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
