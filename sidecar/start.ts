// Builds a sidecar from a validated configuration: keys, revocations, policy, budgets, audit and
// the pipeline are assembled once here; the request path only uses what this wires together.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import { checkLiveness, checkToolScope, KeyRing, ringWriterKeys, verifySignature } from "../wire/index.ts";
import { createAdminServer } from "./admin.ts";
import { AuditKeys, OCSF, safeText, type OutcomeEvent } from "../wire/audit/index.ts";
import { AuditLog } from "./audit/log.ts";
import { openAuditDatabase, startAuditShipping } from "./audit/shipping.ts";
import { AuditSpool } from "./audit/spool.ts";
import { MemoryBudgetLedger, type BudgetLedger } from "./budget/ledger.ts";
import { createBudgetCheck, createCostTable } from "./checks/budget.ts";
import { createCapabilityCheck } from "./checks/capability.ts";
import { createIntentCheck } from "./checks/intent.ts";
import { createMemoryCheck } from "./checks/memory.ts";
import { createPipeline } from "./checks/pipeline.ts";
import { createPolicyCheck } from "./checks/policy.ts";
import type { Check } from "./checks/types.ts";
import type { SidecarConfig } from "./config/types.ts";
import { createDecider } from "./decide.ts";
import { buildIntent } from "./intent/build.ts";
import { ToolCatalog } from "./intent/catalog.ts";
import { SidecarMetrics } from "./observability/metrics.ts";
import { traceDecisions, traceRequests } from "./observability/spans.ts";
import { startTracing, tracingConfigFromEnv, type SpanProcessors, type Tracing } from "./observability/tracing.ts";
import { PolicyStore } from "./policy/store.ts";
import { rebuildBudgets } from "./budget/replay.ts";
import { createProxyHandler } from "./proxy/handler.ts";
import { HostTable } from "./proxy/hosts.ts";
import type { AllowedCall } from "./proxy/messages.ts";
import { Upstream } from "./proxy/upstream.ts";
import { repeatedLog } from "./observability/repeated-log.ts";
import { FileRevocationStore } from "./revocations/file-store.ts";

export interface SidecarHandle {
  url: string;
  adminUrl: string;
  metrics: SidecarMetrics;
  close(): Promise<void>;
}

export interface StartOptions {
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** Replaces the in-memory ledger (tests use this to make the budget store fail). */
  ledger?: BudgetLedger;
  now?: () => number;
  metrics?: SidecarMetrics;
  /**
   * Test hook: trace with these span processors (e.g. an in-memory exporter) whatever OTEL_* says.
   * Without it, tracing runs only when the standard OTEL_* variables of process.env configure traces
   * (the OpenTelemetry SDK reads its exporter settings from process.env, not from `env`).
   */
  tracing?: { spanProcessors: SpanProcessors };
  /** Replaces the local budget check (e.g. the lease-based one); its owner closes it. */
  budgetCheck?: Check;
}

export async function startSidecar(config: SidecarConfig, options: StartOptions): Promise<SidecarHandle> {
  const { log } = options;
  const now = options.now ?? Date.now;
  const metrics = options.metrics ?? new SidecarMetrics();
  const keys = KeyRing.fromFile(JSON.parse(readFileSync(config.keys, "utf8")));
  // Upstreams first: a missing credential stops start-up before anything else is opened.
  const upstreams = new Map(config.upstreams.map((u) => [u.name, new Upstream(u, options.env ?? process.env)]));
  // Likewise a missing extractor API key. The catalog records tools/list answers for extractors that read it.
  const toolCatalog = new ToolCatalog();
  const intent = buildIntent(config.intent, toolCatalog, options.env ?? process.env);

  const revocations = config.revocations
    ? new FileRevocationStore(config.revocations.file, {
        maxStalenessMs: config.revocations.maxStalenessSeconds * 1000,
        pollMs: config.revocations.pollMs,
        onChange: (e) => {
          if (e.ok) metrics.revocationEntries.set(e.size ?? 0);
          else log.error({ reason: e.error }, "revocation list unreadable: refusing calls until it is readable");
        },
      }).start()
    : undefined;
  if (revocations === undefined) log.warn("no revocation list configured: tokens cannot be revoked on this gateway");
  const revocationLookup = revocations && {
    isRevoked(ids: readonly string[]): boolean {
      try {
        const revoked = revocations.isRevoked(ids);
        metrics.revocationLookups.inc({ result: revoked ? "revoked" : "clear" });
        return revoked;
      } catch (error) {
        metrics.revocationLookups.inc({ result: "error" });
        throw error;
      }
    },
  };

  const policies = await PolicyStore.open({
    bundle: config.policy.bundle,
    ...(config.policy.data !== undefined ? { data: config.policy.data } : {}),
    onReload: (e) => {
      metrics.policyReloads.inc({ result: e.ok ? "ok" : "error" });
      if (e.ok) {
        metrics.setPolicyVersion(e.version);
        log.info({ version: e.version }, "policy bundle loaded");
      } else log.error({ reason: e.error }, "policy bundle rejected; keeping the previous one");
    },
  });

  const ledger = options.ledger ?? new MemoryBudgetLedger();
  const costOf = createCostTable(config.budget.costs);
  const { audit, spool } = openAuditLog(config);
  const env = options.env ?? process.env;
  // One store for the budget rebuild and shipping; shipping closes it.
  const store = config.audit.database === undefined ? undefined : openAuditDatabase(config.audit.database, { log, env });
  const tokenCeilings =
    ledger instanceof MemoryBudgetLedger
      ? await rebuildBudgets({ ledger, spool, store, tenant: config.tenant, agent: config.agent, budget: config.budget, nowMs: now(), log })
      : undefined;
  const shipping = await startAuditShipping(spool, config.audit, { log, metrics, env, store });
  audit.onCheckpoint(() => shipping.wake());
  audit.onCheckpointError((error) => log.error({ reason: error.message }, "audit checkpoint not written (retried at the next trigger)"));
  const tracing = startTracingIfConfigured(options);
  const pipeline = createPipeline(
    [
      createCapabilityCheck({ keys: () => keys, revocations: revocationLookup, skewSeconds: config.skewSeconds }),
      ...(config.memory.provenance
        ? [
            createMemoryCheck({
              mode: config.memory.mode,
              keys: ringWriterKeys(keys),
              writers: config.memory.writers,
              maxItems: config.memory.maxItems,
              maxContentBytes: config.memory.maxContentBytes,
              maxAgeSeconds: config.memory.maxAgeSeconds,
              skewSeconds: config.skewSeconds,
            }),
          ]
        : []),
      createIntentCheck(intent.deps),
      createPolicyCheck({ current: () => policies.current(), mode: config.policy.mode, ledger, budget: config.budget, costOf }),
      options.budgetCheck ?? createBudgetCheck({ ledger, agent: config.budget.agent, tenant: config.budget.tenant, costs: config.budget.costs, tokenCeilings }),
    ],
    { observe: (stage, outcome, s) => metrics.observeCheck(stage, outcome, s) },
    tracing?.tracer,
  );
  // A full spool or a failing disk refuses every call: one log line per 10 s says so (the metric counts each).
  const auditFailureLog = repeatedLog(log, "error", 10_000);
  const decider = createDecider({
    tenant: config.tenant,
    agent: config.agent,
    pipeline,
    audit,
    now,
    onDecision: (stage, decision, code) => metrics.countDecision(stage, decision, code),
    onAuditFailure: (error) => {
      metrics.auditFailures.inc();
      auditFailureLog({ reason: error.message }, "audit record not written: call refused");
    },
  });
  const decide = tracing ? traceDecisions(decider) : decider;

  const defaultUpstream = config.defaultUpstream ?? (config.upstreams.length === 1 ? config.upstreams[0]?.name : undefined);
  const visibleTools = config.toolsList.filter
    ? (token: string | undefined, server: string) => {
        if (token === undefined) return () => false;
        const signed = verifySignature(token, keys);
        const live = signed.ok ? checkLiveness(signed, { now: Math.floor(now() / 1000), skewSeconds: config.skewSeconds, ...(revocationLookup ? { revocations: revocationLookup } : {}) }) : signed;
        if (!live.ok || live.header.tenant !== config.tenant) return () => false;
        return (tool: string) => checkToolScope(live.effective, { server, tool, agent: config.agent }).ok;
      }
    : undefined;

  const recordOutcome = (call: AllowedCall, outcome: string): void => {
    const event: OutcomeEvent = {
      kind: "outcome",
      time: new Date(now()).toISOString(),
      decision_id: call.decisionId,
      tenant: config.tenant,
      agent: config.agent,
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
  const hosts = HostTable.build(
    config.upstreams.map((u) => ({ server: u.name, url: u.url, sseUrl: u.sseUrl, hosts: u.hosts })),
    config.unknownHosts,
  );
  const handler = createProxyHandler({
    upstreams,
    defaultUpstream,
    hosts: () => hosts,
    limits: config.limits,
    decide,
    visibleTools,
    ...(intent.usesCatalog ? { onToolsListed: (server: string, tools: readonly unknown[]) => toolCatalog.record(server, tools) } : {}),
    sessions: new LRUCache<string, string>({ max: 10_000 }),
    metrics,
    log,
    ...(config.audit.recordOutcomes ? { recordOutcome } : {}),
  });
  const server = createServer(
    {
      requestTimeout: config.limits.requestTimeoutMs,
      headersTimeout: Math.min(config.limits.requestTimeoutMs, 60_000),
      // Node enforces the two timeouts above only when it sweeps connections (30 s by default).
      connectionsCheckingInterval: Math.max(100, Math.min(1000, config.limits.requestTimeoutMs / 4)),
      maxHeaderSize: config.limits.maxHeaderBytes,
    },
    tracing ? traceRequests(tracing.tracer, new Set(upstreams.keys()), defaultUpstream, handler) : handler,
  );
  const admin = createAdminServer(metrics, () => {
    const problems: string[] = [];
    if (policies.current() === undefined) problems.push("no policy loaded");
    if (revocations !== undefined && !revocations.healthy()) problems.push("revocation list unreadable or stale");
    return { ok: problems.length === 0, problems };
  });
  const listen = config.listen ?? { host: "127.0.0.1", port: 7070 };
  const adminAt = config.admin ?? { host: "127.0.0.1", port: 7071 };
  try {
    await listenOn(server, listen.host, listen.port);
    await listenOn(admin, adminAt.host, adminAt.port);
  } catch (error) {
    await tracing?.shutdown();
    await audit.close().finally(() => shipping.close());
    throw error;
  }
  const url = urlOf(server);
  log.info({ url, admin: urlOf(admin), upstreams: [...upstreams.keys()], tenant: config.tenant, agent: config.agent }, "sidecar listening");

  return {
    url,
    adminUrl: urlOf(admin),
    metrics,
    async close() {
      await Promise.all([closeServer(server), closeServer(admin)]);
      revocations?.stop();
      policies.close();
      await Promise.all([...upstreams.values()].map((u) => u.close()));
      await intent.close();
      // Shipping closes after the final checkpoint, so it ships too, and closes even when that checkpoint fails.
      await audit.close().finally(() => shipping.close());
      // Last, so the spans of requests that finished while closing are flushed too.
      await tracing?.shutdown();
    },
  };
}

function startTracingIfConfigured(options: StartOptions): Tracing | undefined {
  const config = tracingConfigFromEnv(process.env);
  const diagLevel = process.env["OTEL_LOG_LEVEL"];
  if (options.tracing !== undefined) {
    options.log.info({ serviceName: config.serviceName }, "tracing on: span processors passed in by the caller");
    return startTracing({ serviceName: config.serviceName, log: options.log, diagLevel, spanProcessors: options.tracing.spanProcessors });
  }
  if (!config.enabled) {
    options.log.debug({ reason: config.reason }, "tracing off");
    return undefined;
  }
  options.log.info({ serviceName: config.serviceName, reason: config.reason }, "tracing on");
  return startTracing({ serviceName: config.serviceName, log: options.log, diagLevel });
}

function listenOn(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function urlOf(server: Server): string {
  const a = server.address() as AddressInfo;
  return `http://${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function openAuditLog(config: SidecarConfig): { audit: AuditLog; spool: AuditSpool } {
  const keys = AuditKeys.fromFile(JSON.parse(readFileSync(config.audit.keys, "utf8")));
  const spool = AuditSpool.open({
    dir: config.audit.spool,
    stream: config.audit.stream ?? `${config.tenant}.${config.agent}.${randomBytes(4).toString("hex")}`.replace(/[^A-Za-z0-9._:-]/g, "_"),
    chainKey: keys.chainKey,
    maxBatch: config.audit.maxBatch,
    maxSpoolBytes: config.audit.maxSpoolBytes,
  });
  const audit = new AuditLog({
    spool,
    keys,
    checkpointEvery: config.audit.checkpointEvery,
    checkpointIntervalMs: config.audit.checkpointIntervalSeconds * 1000,
    storeArgumentValues: config.audit.storeArgumentValues,
  });
  return { audit, spool };
}
