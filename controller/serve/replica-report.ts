// How many sidecars each replica serves, and which policy versions they loaded. Sidecars subscribe
// to any replica but only the leader writes status, so every replica publishes a summary of its own
// subscribers in a ConfigMap of its own (refreshed, so a dead replica's summary expires), and the
// leader adds the fresh summaries of the others to its live count.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { KubeApiError, kubeJson } from "../kube/client.ts";
import { selects, type ClusterView } from "../snapshot/build.ts";
import type { SnapshotHub } from "./hub.ts";

export const REPORT_LABEL = "intentgate.dev/replica-report";
const DATA_KEY = "report.json";

export interface ReplicaReport {
  identity: string;
  /** When it was written, epoch seconds. */
  at: number;
  /** Per policy ("namespace/name"): sidecars it selects, and how many loaded each version. */
  policies: Record<string, { selected: number; loaded: Record<string, number> }>;
  /** Sidecars per tenant. */
  tenants: Record<string, number>;
  /** Per tenant, the sidecars that applied the newest snapshot sent to them. */
  current: Record<string, number>;
}

/** Counts over every replica: what policy and tenant status show. */
export interface SidecarCounts {
  policy(name: string, version: string): { selected: number; loaded: number };
  tenant(name: string): { sidecars: number; current: number };
}

export function summarize(hub: SnapshotHub, view: ClusterView, identity: string, at: number): ReplicaReport {
  const report: ReplicaReport = { identity, at, policies: {}, tenants: {}, current: {} };
  for (const sub of hub.subscribers()) {
    if (sub.tenant !== undefined) {
      report.tenants[sub.tenant] = (report.tenants[sub.tenant] ?? 0) + 1;
      if (sub.sent !== undefined && sub.loaded?.version === sub.sent.version) report.current[sub.tenant] = (report.current[sub.tenant] ?? 0) + 1;
    }
    for (const p of view.policies(sub.who.namespace)) {
      if (!selects(p.spec.agents, sub.who)) continue;
      const name = `${p.metadata.namespace}/${p.metadata.name}`;
      const entry = (report.policies[name] ??= { selected: 0, loaded: {} });
      entry.selected++;
      const version = sub.loaded?.policies.get(name);
      if (version !== undefined) entry.loaded[version] = (entry.loaded[version] ?? 0) + 1;
    }
  }
  return report;
}

/** Sums reports; each identity counts once (its own live summary wins over its published one). */
export function sumReports(reports: readonly ReplicaReport[]): SidecarCounts {
  const seen = new Set<string>();
  const unique = reports.filter((r) => !seen.has(r.identity) && seen.add(r.identity));
  return {
    policy: (name, version) => {
      let selected = 0;
      let loaded = 0;
      for (const r of unique) {
        selected += r.policies[name]?.selected ?? 0;
        loaded += r.policies[name]?.loaded[version] ?? 0;
      }
      return { selected, loaded };
    },
    tenant: (name) => ({ sidecars: unique.reduce((n, r) => n + (r.tenants[name] ?? 0), 0), current: unique.reduce((n, r) => n + (r.current?.[name] ?? 0), 0) }),
  };
}

/** A published report, or undefined when it is malformed or older than maxAgeSeconds. */
export function readReport(configMap: { data?: Record<string, string> }, now: number, maxAgeSeconds: number): ReplicaReport | undefined {
  try {
    const r = JSON.parse(configMap.data?.[DATA_KEY] ?? "") as ReplicaReport;
    if (typeof r.identity !== "string" || typeof r.at !== "number" || typeof r.policies !== "object" || typeof r.tenants !== "object") return undefined;
    return now - r.at <= maxAgeSeconds ? r : undefined;
  } catch {
    return undefined;
  }
}

export interface PublisherOptions {
  kc: KubeConfig;
  namespace: string;
  identity: string;
  /** The ConfigMap's name; one per replica. */
  name: string;
  report: () => ReplicaReport;
  log: Logger;
  /** Rewritten at least this often, so readers can tell a live replica's report from a dead one's. */
  refreshMs: number;
}

/** Writes this replica's report when its subscribers change (at most once a second) and every refreshMs. */
export class ReportPublisher {
  readonly #o: PublisherOptions;
  readonly #timer: NodeJS.Timeout;
  #soon: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(options: PublisherOptions) {
    this.#o = options;
    this.#timer = setInterval(() => this.#write(), options.refreshMs);
    this.#timer.unref();
    this.#write();
  }

  changed(): void {
    this.#soon ??= setTimeout(() => {
      this.#soon = undefined;
      this.#write();
    }, 1000);
    this.#soon.unref();
  }

  /** Removes the report: a replica that shuts down serves nobody. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    clearTimeout(this.#soon);
    await this.#writing;
    // Bounded: with the API server gone, the report simply expires.
    await kubeJson(this.#o.kc, { method: "DELETE", path: `${this.#path()}/${this.#o.name}`, signal: AbortSignal.timeout(3000) }).catch(() => undefined);
  }

  #path(): string {
    return `/api/v1/namespaces/${this.#o.namespace}/configmaps`;
  }

  #write(): void {
    this.#writing = this.#writing.then(async () => {
      let body: object;
      try {
        body = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: this.#o.name, namespace: this.#o.namespace, labels: { [REPORT_LABEL]: "true" } }, data: { [DATA_KEY]: JSON.stringify(this.#o.report()) } };
      } catch (error) {
        this.#failed(error);
        return;
      }
      try {
        await kubeJson(this.#o.kc, { method: "PUT", path: `${this.#path()}/${this.#o.name}`, body, signal: AbortSignal.timeout(10_000) });
      } catch (error) {
        if (error instanceof KubeApiError && error.statusCode === 404) {
          await kubeJson(this.#o.kc, { method: "POST", path: this.#path(), body, signal: AbortSignal.timeout(10_000) }).catch((e: unknown) => this.#failed(e));
        } else this.#failed(error);
      }
    });
  }

  #failed(error: unknown): void {
    this.#o.log.warn({ reason: (error as Error).message }, "could not publish this replica's sidecar report (retried at the next change or refresh)");
  }
}

/** Deletes the reports of replicas that stopped without removing theirs (crashed, evicted): they would pile up. */
export async function deleteStaleReports(kc: KubeConfig, namespace: string, configMaps: ReadonlyArray<{ metadata: { name: string }; data?: Record<string, string> }>, now: number, maxAgeSeconds: number): Promise<void> {
  for (const cm of configMaps) {
    if (readReport(cm, now, maxAgeSeconds) !== undefined) continue;
    await kubeJson(kc, { method: "DELETE", path: `/api/v1/namespaces/${namespace}/configmaps/${cm.metadata.name}`, signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
  }
}
