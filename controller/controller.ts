// The controller, assembled: informers over the custom resources and (per namespace) Secrets, a compile step every
// replica runs (so each can serve snapshots), the snapshot hub and API every replica serves, and the
// reconcilers (status, minted tokens) that only the leader runs.
import { createServer, type Server } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { AdmissionregistrationV1Api, AuthenticationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { KeyRing } from "../wire/keys.ts";
import { API_VERSION, KINDS, type Budget, type CapabilityGrant, type Kind, type McpServer, type Tenant, type TokenRevocation, type ToolPolicy } from "./api/types.ts";
import { Informer, type KubeObject } from "./kube/informer.ts";
import { NamespacedInformers } from "./kube/namespaced-informers.ts";
import { LeaderElector } from "./kube/leader.ts";
import { ensureWebhookTls, type WebhookTls } from "./webhook/certs.ts";
import type { InjectorSettings } from "./webhook/inject.ts";
import { apiLookup, createPodMutator } from "./webhook/mutate.ts";
import { startWebhookServer, type WebhookServer } from "./webhook/server.ts";
import { objectKey, parseKey, WorkQueue } from "./kube/queue.ts";
import { createLeaseHandler, leaseBudgetOf, LeaseService } from "./leases/index.ts";
import { ControllerMetrics } from "./metrics.ts";
import { PolicyCompiler } from "./policy/compile.ts";
import { reconcileObject } from "./reconcile/reconcile.ts";
import { createApi } from "./serve/api.ts";
import { createAuditIngest, type AuditIngestStore } from "./serve/audit-ingest.ts";
import { createAuthenticator, type Authenticate } from "./serve/auth.ts";
import { SnapshotHub } from "./serve/hub.ts";
import { deleteStaleReports, readReport, REPORT_LABEL, ReportPublisher, summarize, sumReports, type ReplicaReport } from "./serve/replica-report.ts";
import { agentId, budgetApplies, DEFAULT_ENTRYPOINT, tenantOf, type ClusterView, type CompiledPolicy } from "./snapshot/build.ts";

export interface ControllerOptions {
  kc: KubeConfig;
  /** Where Tenant key Secrets live (the controller's own namespace). */
  namespace: string;
  log: Logger;
  listen: { host: string; port: number };
  admin: { host: string; port: number };
  opa?: string;
  heartbeatMs?: number;
  /** PostgreSQL for budget leases; without it, no lease API (sidecars count budgets locally). */
  database?: string;
  /**
   * The audit database sidecars ship their records to (opened by the caller, usually on the same
   * URL as `database`; closed with the controller). Without it the audit ingest API answers 501.
   */
  auditStore?: AuditIngestStore & { close(): Promise<void> };
  /** Leader election with a Lease in `namespace`; absent: this replica always leads (single replica). */
  leaderElection?: { leaseName: string; identity: string; leaseDurationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number };
  /**
   * TLS the controller manages itself (CA and serving certificate in a Secret, CA patched into the
   * webhook configuration): the sidecar API is then HTTPS. Absent: plain HTTP (tests on loopback).
   */
  tls?: { secretName: string; webhookConfigName: string; dnsNames: string[]; ipAddresses?: string[] };
  /** The sidecar injector (needs `tls`). */
  webhook?: { listen: { host: string; port: number }; settings: Omit<InjectorSettings, "controllerCa" | "budgetLeases"> };
  /** Test hook: replace TokenReview authentication. */
  authenticate?: Authenticate;
  watch?: { idleTimeoutMs?: number; watchTimeoutSeconds?: number; maxBackoffMs?: number };
  /** How often a replica rewrites its sidecar report (with leader election); a report 3x older is ignored. Default 30000. */
  reportRefreshMs?: number;
}

export interface ControllerHandle {
  url: string;
  adminUrl: string;
  webhookUrl: string | undefined;
  /** The CA sidecars trust for the API, when it is HTTPS. */
  caPem: string | undefined;
  hub: SnapshotHub;
  isLeader(): boolean;
  close(): Promise<void>;
}

type Informers = { [K in Kind]: Informer<KubeObject> };

export async function startController(options: ControllerOptions): Promise<ControllerHandle> {
  const { kc, log } = options;
  const metrics = new ControllerMetrics();
  const compiler = new PolicyCompiler(options.opa);
  const compiled = new Map<string, { generation: number; result: CompiledPolicy | { errors: string[] } }>();
  const informerOptions = { kc, log, ...options.watch };
  const path = (kind: Kind): string => `/apis/${API_VERSION}/${KINDS[kind].plural}`;
  const informers: Informers = {
    Tenant: new Informer({ ...informerOptions, path: path("Tenant") }),
    ToolPolicy: new Informer({ ...informerOptions, path: path("ToolPolicy") }),
    CapabilityGrant: new Informer({ ...informerOptions, path: path("CapabilityGrant") }),
    Budget: new Informer({ ...informerOptions, path: path("Budget") }),
    TokenRevocation: new Informer({ ...informerOptions, path: path("TokenRevocation") }),
    McpServer: new Informer({ ...informerOptions, path: path("McpServer") }),
  };
  // Secrets of the controller's namespace (keys, TLS) and of the tenants' namespaces (credentials, grant tokens) only.
  const secretChanged = (): void => {
    hub.invalidate();
    // A tenant key Secret changing re-mints nothing by itself, but grants read it.
    for (const g of informers.CapabilityGrant.list()) queue.add(objectKey("CapabilityGrant", g.metadata.namespace, g.metadata.name));
  };
  const secrets = new NamespacedInformers(informerOptions, "secrets", { add: secretChanged, update: secretChanged, delete: () => hub.invalidate() });
  const watchSecretsOfTenants = (): void => secrets.setNamespaces([options.namespace, ...informers.Tenant.list().flatMap((t) => (t as unknown as Tenant).spec.namespaces)]);

  const view: ClusterView = {
    controllerNamespace: options.namespace,
    tenants: () => informers.Tenant.list() as unknown as Tenant[],
    policies: (ns) => informers.ToolPolicy.list(ns) as unknown as ToolPolicy[],
    budgets: (ns) => informers.Budget.list(ns) as unknown as Budget[],
    revocations: (ns) => informers.TokenRevocation.list(ns) as unknown as TokenRevocation[],
    grants: (ns) => informers.CapabilityGrant.list(ns) as unknown as CapabilityGrant[],
    servers: (ns) => informers.McpServer.list(ns) as unknown as McpServer[],
    secret: (ns, name) => {
      const s = secrets.get(name, ns) as unknown as { data?: Record<string, string> } | undefined;
      if (s === undefined) return undefined;
      return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
    },
    compiled: (p) => {
      const c = compiled.get(p.metadata.uid ?? "");
      return c !== undefined && c.generation === p.metadata.generation && "wasm" in c.result ? c.result : undefined;
    },
  };

  let leases: LeaseService | undefined;
  const hub = new SnapshotHub({
    view,
    heartbeatMs: options.heartbeatMs ?? 10_000,
    onChange: () => {
      publisher?.changed();
      policyStatusSoon();
    },
  });
  // With several replicas, each publishes what its own subscribers loaded; the leader sums them.
  const identity = options.leaderElection?.identity;
  const refreshMs = options.reportRefreshMs ?? 30_000;
  const reports =
    identity === undefined ? undefined : new Informer({ ...informerOptions, path: `/api/v1/namespaces/${options.namespace}/configmaps`, labelSelector: `${REPORT_LABEL}=true` });
  const ownReport = (): ReplicaReport => summarize(hub, view, identity ?? "", Math.floor(Date.now() / 1000));
  const sidecars = (): ReturnType<typeof sumReports> => {
    const now = Math.floor(Date.now() / 1000);
    const others = (reports?.list() ?? []).flatMap((cm) => readReport(cm as { data?: Record<string, string> }, now, (3 * refreshMs) / 1000) ?? []);
    return sumReports([ownReport(), ...others]);
  };
  const publisher =
    identity === undefined
      ? undefined
      : new ReportPublisher({ kc, namespace: options.namespace, identity, name: `intentgate-sidecars-${identity}`.toLowerCase().replace(/[^a-z0-9.-]/g, "-").slice(0, 253), report: ownReport, log, refreshMs });
  let elector: LeaderElector | undefined;
  const leading = (): boolean => elector?.isLeader() ?? true;
  const queue = new WorkQueue({
    concurrency: 2,
    baseDelayMs: 500,
    maxDelayMs: 60_000,
    process: async (key) => {
      if (!leading()) return;
      const { kind, namespace, name } = parseKey(key);
      const informer = informers[kind as Kind] as Informer<KubeObject> | undefined;
      const object = informer?.get(name, namespace === "" ? undefined : namespace);
      if (object === undefined) return;
      // Grants read their token Secrets and tenant keys, servers their credentials: not before those are listed,
      // or a grant would take its existing token for missing and mint another. A deleted grant reads the API server
      // instead (its namespace may have left every Tenant, and its Secrets' informer with it).
      const deleted = object.metadata["deletionTimestamp"] !== undefined;
      if ((kind === "CapabilityGrant" || kind === "McpServer") && !deleted && !(secrets.hasSynced(options.namespace) && secrets.hasSynced(namespace))) {
        queue.addAfter(key, 500);
        return;
      }
      const requeueAfterMs = await reconcileObject({ kc, view, sidecars, compiled, log, metrics, ...(leases ? { leases } : {}) }, kind as Kind, object);
      if (requeueAfterMs !== undefined) queue.addAfter(key, requeueAfterMs);
    },
    onResult: (r) => {
      metrics.observeReconcile(r);
      if (r.outcome !== "ok") log.warn({ key: r.key, outcome: r.outcome, retryInMs: r.retryInMs, reason: (r.error as Error | undefined)?.message }, "reconcile failed");
    },
  });

  // Policies compile in every replica: each serves snapshots from its own caches.
  const compile = (object: KubeObject): void => {
    const p = object as unknown as ToolPolicy;
    const uid = p.metadata.uid ?? "";
    const generation = p.metadata.generation ?? 0;
    if (compiled.get(uid)?.generation === generation) return;
    compiler
      .compile({ modules: p.spec.modules, data: p.spec.data, entrypoint: p.spec.entrypoint ?? DEFAULT_ENTRYPOINT })
      .then((result) => {
        if ((informers.ToolPolicy.get(p.metadata.name, p.metadata.namespace)?.metadata as { generation?: number } | undefined)?.generation !== generation) return;
        compiled.set(uid, { generation, result: result.ok ? { version: result.version, wasm: result.wasm } : { errors: result.errors } });
        metrics.compilations.inc({ result: result.ok ? "ok" : "error" });
        hub.invalidate();
        queue.add(objectKey("ToolPolicy", p.metadata.namespace, p.metadata.name));
      })
      .catch((error: unknown) => log.error({ policy: `${p.metadata.namespace}/${p.metadata.name}`, reason: (error as Error).message }, "opa build could not run"));
  };

  let statusTimer: NodeJS.Timeout | undefined;
  const policyStatusSoon = (): void => {
    statusTimer ??= setTimeout(() => {
      statusTimer = undefined;
      for (const p of informers.ToolPolicy.list()) queue.add(objectKey("ToolPolicy", p.metadata.namespace, p.metadata.name));
      for (const t of informers.Tenant.list()) queue.add(objectKey("Tenant", undefined, t.metadata.name));
    }, 500);
  };

  for (const [kind, informer] of Object.entries(informers) as Array<[Kind, Informer<KubeObject>]>) {
    const changed = (object: KubeObject): void => {
      hub.invalidate();
      if (kind === "ToolPolicy") compile(object);
      queue.add(objectKey(kind, object.metadata.namespace, object.metadata.name));
      if (kind === "Tenant") tenantsChanged();
    };
    const deleted = (): void => {
      hub.invalidate();
      if (kind === "Tenant") tenantsChanged();
    };
    informer.on({ add: changed, update: changed, delete: deleted });
  }
  // Only the leader writes (status, Secrets); on taking over it reconciles everything once.
  const requeueAll = (): void => {
    for (const [kind, informer] of Object.entries(informers)) for (const o of informer.list()) queue.add(objectKey(kind, o.metadata.namespace, o.metadata.name));
  };
  // Which tenant owns a namespace (or whether two claim it) is in every object's status: look at all again.
  const tenantsChanged = (): void => {
    watchSecretsOfTenants();
    requeueAll();
  };
  if (options.leaderElection !== undefined) {
    const le = options.leaderElection;
    elector = new LeaderElector({
      kc,
      namespace: options.namespace,
      name: le.leaseName,
      identity: le.identity,
      ...(le.leaseDurationMs !== undefined ? { leaseDurationMs: le.leaseDurationMs } : {}),
      ...(le.renewDeadlineMs !== undefined ? { renewDeadlineMs: le.renewDeadlineMs } : {}),
      ...(le.retryPeriodMs !== undefined ? { retryPeriodMs: le.retryPeriodMs } : {}),
      log,
      onStartedLeading: () => {
        metrics.leader.set(1);
        log.info({ identity: le.identity }, "leading: reconciling");
        requeueAll();
      },
      onStoppedLeading: () => {
        metrics.leader.set(0);
        log.info({ identity: le.identity }, "no longer leading: serving snapshots only");
      },
    });
  }
  metrics.leader.set(elector === undefined ? 1 : 0);
  for (const informer of Object.values(informers)) informer.start();
  watchSecretsOfTenants();
  reports?.on({ add: () => policyStatusSoon(), update: () => policyStatusSoon(), delete: () => policyStatusSoon() });
  reports?.start();
  // The leader clears the reports of replicas that died without removing theirs.
  const staleTimer = setInterval(() => {
    if (reports === undefined || !leading()) return;
    const list = reports.list() as unknown as Array<{ metadata: { name: string }; data?: Record<string, string> }>;
    void deleteStaleReports(kc, options.namespace, list, Math.floor(Date.now() / 1000), (3 * refreshMs) / 1000);
  }, refreshMs);
  staleTimer.unref();
  elector?.start();

  const authenticate = options.authenticate ?? createAuthenticator({ auth: kc.makeApiClient(AuthenticationV1Api), core: kc.makeApiClient(CoreV1Api) });
  let leaseHandler: ReturnType<typeof createLeaseHandler> | undefined;
  if (options.database !== undefined) {
    leases = await LeaseService.open({ database: options.database });
    leases.sweepEvery(5_000, (error) => log.error({ reason: error.message }, "lease sweep failed"));
    leaseHandler = createLeaseHandler({
      service: leases,
      budgets: (name, caller) => {
        const [ns, n] = name.split("/");
        const [callerNs = "", serviceAccount = ""] = caller.agent.split("/");
        const b = informers.Budget.get(n ?? "", ns) as unknown as Budget | undefined;
        const tenant = b === undefined ? undefined : tenantOf(view, ns ?? "");
        if (b === undefined || tenant === undefined || !budgetApplies(b, { namespace: callerNs, serviceAccount, podLabels: caller.podLabels ?? {} })) return undefined;
        return leaseBudgetOf(b, tenant.metadata.name);
      },
      tenantKeys: (name) => {
        const tenant = view.tenants().find((t) => t.metadata.name === name);
        const ref = tenant?.spec.keysSecret;
        const text = ref === undefined ? undefined : view.secret(view.controllerNamespace, ref.name)?.[ref.key];
        if (text === undefined) return undefined;
        try {
          return KeyRing.fromFile(JSON.parse(text));
        } catch {
          return undefined;
        }
      },
      authenticate: async (req) => {
        const who = await authenticate(req);
        const tenant = tenantOf(view, who.namespace);
        if (tenant === undefined) throw new Error(`no Tenant owns namespace ${who.namespace}`);
        return { tenant: tenant.metadata.name, agent: agentId(who), podLabels: who.podLabels };
      },
      onError: (error) => log.error({ reason: error.message }, "lease ledger error"),
    });
  }
  const auditRoutes = createAuditIngest({ store: options.auditStore, tenantOf: (ns) => tenantOf(view, ns)?.metadata.name, log: log.child({ api: "audit" }) });
  const api = createApi({ authenticate, hub, view, log, routes: auditRoutes });
  let tls: WebhookTls | undefined;
  const core = kc.makeApiClient(CoreV1Api);
  const refreshTls = async (): Promise<WebhookTls | undefined> => {
    if (options.tls === undefined) return undefined;
    return ensureWebhookTls({ core, admission: kc.makeApiClient(AdmissionregistrationV1Api), namespace: options.namespace, secretName: options.tls.secretName, webhookConfigName: options.tls.webhookConfigName, dnsNames: options.tls.dnsNames, ...(options.tls.ipAddresses ? { ipAddresses: options.tls.ipAddresses } : {}) });
  };
  tls = await refreshTls();
  const route: Parameters<typeof createServer>[1] = (req, res) => {
    // The lease handler authenticates by itself (same TokenReview), so it sits beside the API router.
    if (leaseHandler !== undefined && (req.url ?? "").startsWith("/v1/leases")) {
      void leaseHandler(req, res);
      return;
    }
    api(req, res);
  };
  const server = tls === undefined ? createServer(route) : createTlsServer({ cert: tls.certPem, key: tls.keyPem, minVersion: "TLSv1.2" }, route);
  let webhook: WebhookServer | undefined;
  if (options.webhook !== undefined) {
    if (tls === undefined) throw new Error("the sidecar injector needs the controller's TLS (options.tls)");
    const settings: InjectorSettings = { ...options.webhook.settings, controllerCa: tls.caBundle, budgetLeases: options.database !== undefined };
    webhook = await startWebhookServer({ ...options.webhook.listen, tls, mutate: createPodMutator(apiLookup(core, kc.makeApiClient(CustomObjectsApi)), settings), log });
  }
  // Certificates are renewed well before they expire; every replica re-reads the shared Secret.
  const tlsTimer = setInterval(() => {
    refreshTls()
      .then((next) => {
        if (next === undefined || next.certPem === tls?.certPem) return;
        tls = next;
        if ("setSecureContext" in server) server.setSecureContext({ cert: next.certPem, key: next.keyPem });
        webhook?.setTls(next);
        log.info({ notAfter: next.notAfter.toISOString() }, "serving certificate renewed");
      })
      .catch((error: unknown) => log.error({ reason: (error as Error).message }, "TLS refresh failed"));
  }, 3_600_000);
  tlsTimer.unref();
  const admin = createServer((req, res) => {
    const p = (req.url ?? "/").split("?")[0];
    if (p === "/metrics") {
      metrics.update({ subscribers: hub.size, compiled: compiled.size });
      metrics.registry.metrics().then((text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text), () => res.writeHead(500).end());
    } else if (p === "/healthz") res.writeHead(200).end("ok\n");
    else if (p === "/readyz") {
      // Not the tenants' namespaces: one that cannot be listed (RBAC narrowed) must not take every replica out.
      const synced = Object.values(informers).every((i) => i.hasSynced()) && secrets.hasSynced(options.namespace);
      res.writeHead(synced ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify({ ok: synced, problems: synced ? [] : ["informers not yet synced"] }));
    } else res.writeHead(404).end();
  });
  await listen(server, options.listen);
  await listen(admin, options.admin);
  const url = urlOf(server).replace(/^http:/, tls === undefined ? "http:" : "https:");
  log.info({ url, admin: urlOf(admin), webhook: webhook?.url }, "controller listening");
  return {
    url,
    adminUrl: urlOf(admin),
    webhookUrl: webhook?.url,
    caPem: tls?.caBundle,
    hub,
    isLeader: leading,
    async close() {
      clearInterval(tlsTimer);
      clearInterval(staleTimer);
      await elector?.stop();
      await webhook?.close();
      hub.close();
      await publisher?.close();
      clearTimeout(statusTimer);
      for (const s of [server, admin]) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
      await queue.stop();
      await Promise.all([...Object.values(informers), ...(reports ? [reports] : []), secrets].map((i) => i.stop()));
      await leases?.close();
      await options.auditStore?.close();
    },
  };
}

function listen(server: Server, at: { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(at.port, at.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function urlOf(server: Server): string {
  const a = server.address() as AddressInfo;
  return `http://${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`;
}
