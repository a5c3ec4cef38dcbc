// The sidecar in Kubernetes mode: its configuration is the snapshot the controller pushes. It serves
// from the last good snapshot on disk while (re)connecting, applies each new snapshot atomically,
// tells the controller what it applied, and refuses every call once the controller has not vouched
// for its snapshot within the tenant's bound. Before any snapshot, nothing is forwarded.
import { mkdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import { AuditKeys, OCSF, safeText, type OutcomeEvent } from "../../wire/audit/index.ts";
import { checkPodUid, podStream } from "../../wire/audit/pod-stream.ts";
import type { Snapshot } from "../../wire/snapshot.ts";
import { createAdminServer } from "../admin.ts";
import { AuditLog } from "../audit/log.ts";
import type { AuditShipping } from "../audit/shipping.ts";
import { MemoryBudgetLedger } from "../budget/ledger.ts";
import { LeaseClient } from "../budget/lease-client.ts";
import { createLeaseBudgetCheck } from "../checks/lease-budget.ts";
import { ToolDefinitions } from "../checks/pinned-tools.ts";
import { buildConfig } from "../config/load.ts";
import { SidecarMetrics } from "../observability/metrics.ts";
import { sendHttpError, HttpError } from "../proxy/http-error.ts";
import type { AllowedCall } from "../proxy/messages.ts";
import { shipToController } from "./audit-client.ts";
import { buildEnforcement, type Enforcement, type SharedParts } from "./enforcement.ts";
import { openPodSpool } from "./pod-spool.ts";
import { loadState, saveConfirmation, saveSnapshot } from "./state.ts";
import { Subscription } from "./subscription.ts";

export interface KubernetesOptions {
  controllerUrl: string;
  tokenFile: string;
  stateDir: string;
  podName: string;
  /** The pod's metadata.uid: its audit stream is named for it, and the controller checks that. */
  podUid: string;
  listen: { host: string; port: number };
  admin: { host: string; port: number };
  log: Logger;
  /** Reconnect when the controller sent nothing for this long (it heartbeats more often). */
  idleTimeoutMs?: number;
  now?: () => number;
  /** Take budget slices from the controller's lease API (it has a ledger); otherwise budgets are counted locally. */
  leases?: boolean;
  /** PEM CA bundle of an https controller with its own CA. */
  controllerCa?: string;
}

export interface KubernetesSidecar {
  url: string;
  adminUrl: string;
  metrics: SidecarMetrics;
  /** The applied snapshot's version, if any. */
  version(): string | undefined;
  close(): Promise<void>;
}

export async function startKubernetesSidecar(options: KubernetesOptions): Promise<KubernetesSidecar> {
  const { log } = options;
  const now = options.now ?? Date.now;
  checkPodUid(options.podUid); // at start, not at the first snapshot
  const metrics = new SidecarMetrics();
  mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
  // The schema's defaults for the HTTP limits, the same as a standalone sidecar's.
  const defaults = buildConfig({ tenant: "-", agent: "-", keys: "-", upstreams: [{ name: "x", url: "http://x" }], policy: { bundle: "-" }, audit: { spool: "-", keys: "-" } }, {}, options.stateDir);
  const ledger = new MemoryBudgetLedger();
  const sessions = new LRUCache<string, string>({ max: 10_000 });
  const toolDefinitions = new ToolDefinitions();

  let current: { snapshot: Snapshot; enforcement: Enforcement } | undefined;
  let confirmedAt = 0;
  let audit: AuditLog | undefined;
  let shipping: Promise<AuditShipping> | undefined;
  let problem = "waiting for the first snapshot";
  let applying: Promise<void> = Promise.resolve();
  const leaseClient = options.leases === true ? new LeaseClient({ url: options.controllerUrl, tokenFile: options.tokenFile, ...(options.controllerCa !== undefined ? { ca: options.controllerCa } : {}) }) : undefined;
  const leaseCheck = leaseClient && createLeaseBudgetCheck({ leases: leaseClient, ceilings: () => current?.snapshot.budgets ?? [], ledger, holder: options.podName });

  const recordOutcome = (call: AllowedCall, outcome: string): void => {
    if (current === undefined || audit === undefined) return;
    const event: OutcomeEvent = {
      kind: "outcome",
      time: new Date(now()).toISOString(),
      decision_id: call.decisionId,
      tenant: current.snapshot.tenant,
      agent: current.snapshot.agent,
      server: call.server,
      tool: safeText(call.tool),
      outcome,
      duration_ms: Math.max(0, now() - call.decidedAt),
      ocsf: OCSF,
    };
    audit.append(event).catch((error: unknown) => {
      metrics.auditFailures.inc();
      log.error({ reason: (error as Error).message, decision_id: call.decisionId }, "outcome record not written");
    });
  };

  const openAudit = (snapshot: Snapshot): AuditLog => {
    if (audit !== undefined) return audit;
    if (snapshot.auditKeys === undefined) throw new Error("the tenant has no audit keys (Tenant spec.auditKeysSecret): calls cannot be recorded");
    const keys = AuditKeys.fromFile(snapshot.auditKeys);
    // The controller stores records only in this pod's stream (the agent id is "<namespace>/<service account>").
    const namespace = snapshot.agent.split("/")[0] ?? "";
    const stream = podStream(snapshot.tenant, namespace, options.podName, options.podUid);
    const spool = openPodSpool({ dir: join(options.stateDir, "audit"), stream, chainKey: keys.chainKey, maxBatch: defaults.audit.maxBatch, maxSpoolBytes: defaults.audit.maxSpoolBytes }, log, now);
    const opened = new AuditLog({ spool, keys, checkpointEvery: defaults.audit.checkpointEvery, checkpointIntervalMs: defaults.audit.checkpointIntervalSeconds * 1000, storeArgumentValues: snapshot.settings.audit.storeArgumentValues });
    audit = opened;
    // Shipped in the background: the controller's absence never holds up enforcement, records wait in the spool.
    const target = { controllerUrl: options.controllerUrl, tokenFile: options.tokenFile, ...(options.controllerCa !== undefined ? { ca: options.controllerCa } : {}) };
    const started = shipToController(spool, target, defaults.audit.maxSpoolBytes, { log, metrics });
    shipping = started;
    opened.onCheckpoint(() => void started.then((s) => s.wake()));
    opened.onCheckpointError((error) => log.error({ reason: error.message }, "audit checkpoint not written (retried at the next trigger)"));
    return opened;
  };

  const apply = async (snapshot: Snapshot, confirmed: number, persist: boolean): Promise<void> => {
    if (current?.snapshot.version === snapshot.version) {
      confirmedAt = confirmed;
      return;
    }
    if (current !== undefined && (current.snapshot.tenant !== snapshot.tenant || current.snapshot.agent !== snapshot.agent)) {
      throw new Error(`snapshot is for ${snapshot.tenant}/${snapshot.agent}, this sidecar serves ${current.snapshot.tenant}/${current.snapshot.agent}`);
    }
    const shared: SharedParts = {
      audit: openAudit(snapshot),
      metrics,
      log,
      ledger,
      sessions,
      limits: defaults.limits,
      skewSeconds: defaults.skewSeconds,
      now,
      snapshotAge: () => (now() - confirmedAt) / 1000,
      recordOutcome,
      toolDefinitions,
      ...(leaseCheck ? { budgetCheck: leaseCheck } : {}),
    };
    const enforcement = await buildEnforcement(snapshot, shared);
    if (persist) saveSnapshot(options.stateDir, snapshot, confirmed);
    const previous = current;
    current = { snapshot, enforcement };
    confirmedAt = confirmed;
    problem = "";
    metrics.setPolicyVersion(snapshot.version);
    log.info({ version: snapshot.version, policies: snapshot.policies.map((p) => `${p.name}@${p.version}`) }, "snapshot applied");
    // Requests already inside the old handler finish with it; its pools close once they are done.
    if (previous !== undefined) setTimeout(() => void previous.enforcement.close().catch(() => undefined), 30_000).unref();
  };

  const saved = loadState(options.stateDir);
  if (!saved.ok) log.error({ reason: saved.reason }, "saved snapshot unusable: waiting for the controller");
  else if (saved.state !== undefined) {
    try {
      await apply(saved.state.snapshot, saved.state.confirmedAt, false);
      log.info({ version: saved.state.snapshot.version, confirmedAt: new Date(saved.state.confirmedAt).toISOString() }, "enforcing the saved snapshot until the controller answers");
    } catch (error) {
      log.error({ reason: (error as Error).message }, "saved snapshot could not be applied");
    }
  }

  const subscription = new Subscription(
    { controllerUrl: options.controllerUrl, tokenFile: options.tokenFile, idleTimeoutMs: options.idleTimeoutMs ?? 45_000, ...(options.controllerCa !== undefined ? { ca: options.controllerCa } : {}) },
    {
      snapshot: (snapshot) => {
        applying = applying.then(async () => {
          try {
            await apply(snapshot, now(), true);
            await subscription.acknowledge(snapshot.version).catch((error: unknown) => log.warn({ reason: (error as Error).message }, "snapshot acknowledgement failed"));
          } catch (error) {
            problem = `snapshot ${snapshot.version} rejected: ${(error as Error).message}`;
            log.error({ reason: problem }, "snapshot rejected; keeping the previous one");
          }
        });
        return applying;
      },
      heartbeat: (version) => {
        if (current?.snapshot.version !== version) return;
        confirmedAt = now();
        saveConfirmation(options.stateDir, version, confirmedAt);
      },
      refused: (code, message) => log.error({ code, reason: message }, "the controller cannot build this sidecar's snapshot"),
      disconnected: (reason) => log.warn({ reason }, "snapshot subscription interrupted; reconnecting"),
    },
  ).start();

  const server = createServer({ requestTimeout: defaults.limits.requestTimeoutMs, maxHeaderSize: defaults.limits.maxHeaderBytes }, (req, res) => {
    if (current === undefined) {
      metrics.countDecision("request", "block", "snapshot_unavailable");
      sendHttpError(res, new HttpError(503, "snapshot_unavailable", "no policy snapshot has been received from the controller yet; nothing is forwarded"));
      return;
    }
    current.enforcement.handler(req, res);
  });
  const admin = createAdminServer(metrics, () => {
    const problems: string[] = [];
    if (current === undefined) problems.push(problem || "no snapshot");
    else if ((now() - confirmedAt) / 1000 > current.snapshot.settings.maxSnapshotAgeSeconds) problems.push("snapshot stale: calls are refused");
    return { ok: problems.length === 0, problems };
  });
  await listen(server, options.listen);
  await listen(admin, options.admin);
  log.info({ url: urlOf(server), admin: urlOf(admin), controller: options.controllerUrl }, "sidecar listening (Kubernetes mode)");
  return {
    url: urlOf(server),
    adminUrl: urlOf(admin),
    metrics,
    version: () => current?.snapshot.version,
    async close() {
      await subscription.stop();
      await applying;
      for (const s of [server, admin]) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
      await current?.enforcement.close();
      await leaseCheck?.close();
      await leaseClient?.close();
      // Shipping closes after the final checkpoint, so it ships too, and closes even when that checkpoint fails.
      try {
        await audit?.close();
      } finally {
        await (await shipping)?.close();
      }
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
