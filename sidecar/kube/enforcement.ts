// One snapshot, made executable: keys, revocations, policies, budgets, MCP servers and settings
// become the checks and the proxy handler that serve calls until the next snapshot replaces them
// with one assignment. Parts that outlive a snapshot (audit log, metrics, token-ceiling ledger,
// MCP sessions) are shared and passed in.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import { Counter } from "prom-client";
import { KeyRing, ringWriterKeys, RevocationSet } from "../../wire/index.ts";
import { anyGlobMatches } from "../../wire/glob.ts";
import type { Snapshot, SnapshotCeiling, SnapshotServer } from "../../wire/snapshot.ts";
import type { AuditLog } from "../audit/log.ts";
import type { BudgetLedger } from "../budget/ledger.ts";
import { createBudgetCheck, createCostTable } from "../checks/budget.ts";
import { createCapabilityCheck } from "../checks/capability.ts";
import { createIntentCheck } from "../checks/intent.ts";
import { createMemoryCheck } from "../checks/memory.ts";
import { createToolPins, type ToolDefinitions } from "../checks/pinned-tools.ts";
import { createPipeline } from "../checks/pipeline.ts";
import { createPolicyCheck } from "../checks/policy.ts";
import { ALLOW, block, type Check } from "../checks/types.ts";
import type { Ceilings, SidecarConfig, UpstreamConfig } from "../config/types.ts";
import { createDecider } from "../decide.ts";
import { buildIntent } from "../intent/build.ts";
import { ToolCatalog } from "../intent/catalog.ts";
import type { SidecarMetrics } from "../observability/metrics.ts";
import { createProxyHandler } from "../proxy/handler.ts";
import { HostTable } from "../proxy/hosts.ts";
import type { AllowedCall } from "../proxy/messages.ts";
import { Upstream } from "../proxy/upstream.ts";
import { repeatedLog } from "../observability/repeated-log.ts";
import { loadPolicySet } from "./policy-set.ts";

export interface SharedParts {
  audit: AuditLog;
  metrics: SidecarMetrics;
  log: Logger;
  /** The token's own ceilings (and, without leases, the agent's and tenant's) are counted here. */
  ledger: BudgetLedger;
  sessions: LRUCache<string, string>;
  limits: SidecarConfig["limits"];
  skewSeconds: number;
  now: () => number;
  /** Seconds since the controller last vouched for the current snapshot. */
  snapshotAge: () => number;
  recordOutcome: (call: AllowedCall, outcome: string) => void;
  /** The tool definitions each server last listed; they outlive snapshots so that pins apply without a new list. */
  toolDefinitions: ToolDefinitions;
  /** Replaces the local budget check: budget leases from the controller, reading the current snapshot's ceilings. */
  budgetCheck?: Check;
}

export interface Enforcement {
  readonly version: string;
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  close(): Promise<void>;
}

export async function buildEnforcement(snapshot: Snapshot, shared: SharedParts): Promise<Enforcement> {
  const keys = KeyRing.fromFile(snapshot.keys);
  const revoked = new RevocationSet(snapshot.revocations);
  const policy = await loadPolicySet(snapshot.policies, (name, verdict) =>
    shared.log.info({ policy: name, verdict: verdict.ok ? verdict.decision : verdict.code }, "dry-run policy evaluated"),
  );
  const upstreams = new Map(snapshot.servers.map((s, i) => [s.name, new Upstream(...upstreamConfig(s, i))]));
  const hosts = HostTable.build(snapshot.servers.map((s) => ({ server: s.name, url: s.url, sseUrl: s.sseUrl, hosts: s.hosts })), snapshot.settings.unknownHosts);
  const pins = createToolPins(snapshot.servers, shared.toolDefinitions, pinMismatchReporter(shared));
  const settings = snapshot.settings;
  const intent = buildIntent(
    {
      mode: settings.intent.mode,
      ...(settings.intent.extractor === undefined ? {} : { extractor: settings.intent.extractor }),
      minConfidence: settings.intent.minConfidence,
      lowConfidence: "refuse",
      cache: { maxEntries: 10_000, ttlSeconds: 300 },
    },
    new ToolCatalog(),
    {},
  );
  const { agent, tenant } = ceilingsOf(snapshot.budgets);
  const costs = Object.assign({}, ...snapshot.budgets.map((b) => b.costs ?? {})) as Record<string, number>;
  const checks: Check[] = [
    freshnessCheck(shared.snapshotAge, settings.maxSnapshotAgeSeconds),
    createCapabilityCheck({ keys: () => keys, revocations: revoked, skewSeconds: shared.skewSeconds }),
    serverToolsCheck(snapshot),
    pins.check,
    ...(settings.memory.provenance
      ? [createMemoryCheck({ mode: settings.memory.mode, keys: ringWriterKeys(keys), writers: settings.memory.writers, maxItems: 16, maxContentBytes: 65_536, skewSeconds: shared.skewSeconds })]
      : []),
    createIntentCheck(intent.deps),
    createPolicyCheck({ current: () => policy, mode: "enforce", ledger: shared.ledger, budget: { agent, tenant }, costOf: createCostTable(costs) }),
    shared.budgetCheck ?? createBudgetCheck({ ledger: shared.ledger, agent, tenant, costs }),
  ];
  const pipeline = createPipeline(checks, { observe: (stage, outcome, s) => shared.metrics.observeCheck(stage, outcome, s) });
  // A full spool or a failing disk refuses every call: one log line per 10 s says so (the metric counts each).
  const auditFailureLog = repeatedLog(shared.log, "error", 10_000);
  const decide = createDecider({
    tenant: snapshot.tenant,
    agent: snapshot.agent,
    pipeline,
    audit: shared.audit,
    now: shared.now,
    onDecision: (stage, decision, code) => shared.metrics.countDecision(stage, decision, code),
    onAuditFailure: (error) => {
      shared.metrics.auditFailures.inc();
      auditFailureLog({ reason: error.message }, "audit record not written: call refused");
    },
  });
  const handler = createProxyHandler({
    upstreams,
    defaultUpstream: snapshot.servers.length === 1 ? snapshot.servers[0]?.name : undefined,
    hosts: () => hosts,
    limits: shared.limits,
    decide,
    visibleTools: (_token, server) => pins.visible(server),
    onToolsListed: pins.listed,
    sessions: shared.sessions,
    metrics: shared.metrics,
    log: shared.log,
    ...(settings.audit.recordOutcomes ? { recordOutcome: shared.recordOutcome } : {}),
  });
  return {
    version: snapshot.version,
    handler,
    async close() {
      await Promise.all([...upstreams.values()].map((u) => u.close()));
      await intent.close();
    },
  };
}

/** Refuses every call once the controller has not confirmed the snapshot for longer than the tenant's bound. */
function freshnessCheck(age: () => number, maxAgeSeconds: number): Check {
  return {
    stage: "request",
    run() {
      const seconds = age();
      if (seconds <= maxAgeSeconds) return ALLOW;
      return block("snapshot_stale", `the policy snapshot was last confirmed ${Math.round(seconds)} s ago (bound ${maxAgeSeconds} s); revocations may be missing`);
    },
  };
}

/** An McpServer's allowedTools: calls to other tools of that server are refused before any other check. */
function serverToolsCheck(snapshot: Snapshot): Check {
  const allowed = new Map(snapshot.servers.filter((s) => s.allowedTools.length > 0).map((s) => [s.name, s.allowedTools]));
  return {
    stage: "request",
    run(ctx) {
      const globs = allowed.get(ctx.server);
      if (globs === undefined || anyGlobMatches(globs, ctx.tool)) return ALLOW;
      return block("tool_not_allowed_by_server", `tool "${ctx.tool}" is not in the allowed tools of MCP server ${ctx.server}`);
    },
  };
}

/** A listed definition that differs from its pin is removed from the list; operators hear of it here. */
function pinMismatchReporter(shared: SharedParts): (server: string, tool: string, seen: string, pin: string) => void {
  const name = "intentgate_pinned_tool_mismatches_total";
  const counter =
    (shared.metrics.registry.getSingleMetric(name) as Counter<"server"> | undefined) ??
    new Counter({ name, help: "Listed definitions of pinned tools that differ from their pin (removed from the list), by server.", labelNames: ["server"], registers: [shared.metrics.registry] });
  return (server, tool, seen, pin) => {
    counter.inc({ server });
    shared.log.warn({ server, tool, seen, pin }, "pinned tool listed with another definition: removed from the list, calls refused");
  };
}

/** The local ledger takes one agent and one tenant ceiling; with several, the tightest of each kind. */
function ceilingsOf(budgets: readonly SnapshotCeiling[]): { agent: Ceilings | undefined; tenant: Ceilings | undefined } {
  const pick = (scope: "agent" | "tenant"): Ceilings | undefined => {
    const out: Ceilings = {};
    for (const b of budgets.filter((x) => x.scope === scope)) {
      if (b.calls !== undefined && (out.calls === undefined || b.calls < out.calls.max)) out.calls = { max: b.calls, windowSeconds: b.windowSeconds };
      if (b.cost !== undefined && (out.cost === undefined || b.cost < out.cost.max)) out.cost = { max: b.cost, windowSeconds: b.windowSeconds };
    }
    return out.calls === undefined && out.cost === undefined ? undefined : out;
  };
  return { agent: pick("agent"), tenant: pick("tenant") };
}

/**
 * Credentials arrive as values in the snapshot; Upstream reads header values from an environment,
 * so each value is handed over under a private variable name instead of touching process.env.
 */
function upstreamConfig(server: SnapshotServer, index: number): [UpstreamConfig, NodeJS.ProcessEnv] {
  const { name, url, sseUrl, headers } = server;
  const env: NodeJS.ProcessEnv = {};
  const sources: NonNullable<UpstreamConfig["headers"]> = {};
  for (const [i, [header, value]] of Object.entries(headers).entries()) {
    const variable = `SNAPSHOT_${index}_HEADER_${i}`;
    env[variable] = value;
    sources[header] = { env: variable };
  }
  return [{ name, url, ...(sseUrl === undefined ? {} : { sseUrl }), connectTimeoutMs: 5_000, headersTimeoutMs: 60_000, bodyTimeoutMs: 300_000, connections: 64, headers: sources }, env];
}
