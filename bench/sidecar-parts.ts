// Where the sidecar's time per call goes, measured piece by piece in one process with the real
// modules and the inputs of bench/run.ts (same token, call, policies, revocation list). Each piece
// runs 200 ms of warm-up, then 5 samples of 150 ms; the table gives the median sample, in CPU time
// of this thread per operation (so that other work on a shared machine inflates it less than wall
// time would). The audit
// spool is timed separately with real writes and fsyncs, one record at a time, and so is the
// checkpoint (signed and fsynced synchronously, on the event loop). About 20 s.
//   node bench/sidecar-parts.ts
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { AuditLog } from "../sidecar/audit/log.ts";
import { AuditSpool } from "../sidecar/audit/spool.ts";
import { MemoryBudgetLedger } from "../sidecar/budget/ledger.ts";
import { agentKey, createBudgetCheck, createCostTable } from "../sidecar/checks/budget.ts";
import { createCapabilityCheck } from "../sidecar/checks/capability.ts";
import { createPipeline } from "../sidecar/checks/pipeline.ts";
import { createPolicyCheck, type LoadedPolicy } from "../sidecar/checks/policy.ts";
import type { CallContext, Check } from "../sidecar/checks/types.ts";
import { createDecider } from "../sidecar/decide.ts";
import { parseStrictJson } from "../sidecar/mcp/strict-json.ts";
import { SidecarMetrics } from "../sidecar/observability/metrics.ts";
import { loadPolicyBundle } from "../sidecar/policy/engine.ts";
import { AuditKeys, chainRecord, EMPTY_HEAD, type AuditEvent } from "../wire/audit/index.ts";
import { KeyRing, RevocationSet } from "../wire/index.ts";
import { AGENT, PROMPT, prepareSidecar, ROOT, TENANT } from "./sidecar.ts";

const WARMUP_MS = 200;
const SAMPLES = 5;
const SAMPLE_MS = 150;

const dir = mkdtempSync(join(tmpdir(), "intentgate-parts-"));
const fixture = prepareSidecar(dir, "http://127.0.0.1:9/mcp", 0, 0, { policy: "finance", budgetWindowSeconds: 3600 });
const config = JSON.parse(readFileSync(fixture.config, "utf8")) as { keys: string };
const keys = KeyRing.fromFile(JSON.parse(readFileSync(config.keys, "utf8")));
const revocations = RevocationSet.fromFile(JSON.parse(readFileSync(fixture.revocationsFile, "utf8")));

const body = Buffer.from(
  JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "tools/call",
    params: { name: "transfer", arguments: { amount: 250, currency: "EUR", iban: "FR76 3000 6000 0112 3456 7890 189" }, _meta: { "dev.intentgate/prompt": PROMPT } },
  }),
);
const args = { amount: 250, currency: "EUR", iban: "FR76 3000 6000 0112 3456 7890 189" };
const context = (): CallContext => ({
  decisionId: randomUUID(),
  now: Date.now(),
  tenant: TENANT,
  agent: AGENT,
  server: "payments",
  tool: "transfer",
  name: "payments.transfer",
  arguments: args,
  token: fixture.token,
  prompt: PROMPT,
});

async function engine(name: "finance" | "default"): Promise<LoadedPolicy> {
  const build = join(ROOT, "policies", name, "build");
  const data = name === "finance" ? (JSON.parse(readFileSync(join(build, "data.json"), "utf8")) as unknown) : undefined;
  return loadPolicyBundle(readFileSync(join(build, "policy.wasm")), data);
}
const finance = await engine("finance");
const fallback = await engine("default");

const capability = createCapabilityCheck({ keys: () => keys, revocations, skewSeconds: 30 });
const noBudget = new MemoryBudgetLedger();
const costOf = createCostTable(undefined);
const policyCheck = (policy: LoadedPolicy, ledger: MemoryBudgetLedger, budget: object): Check =>
  createPolicyCheck({ current: () => policy, mode: "enforce", ledger, budget, costOf });
const verifiedContext = (): CallContext => {
  const ctx = context();
  const v = capability.run(ctx);
  if (!("ok" in v) || !v.ok) throw new Error("benchmark call is not covered by its token");
  return ctx;
};

/** A ledger already holding `n` reservations of the agent inside its window. */
function ledgerWith(n: number): MemoryBudgetLedger {
  const ledger = new MemoryBudgetLedger();
  const now = Date.now();
  const request = [{ key: agentKey(TENANT, AGENT), limits: [{ code: "budget_agent_calls", kind: "calls" as const, max: 1e12, window: 3600 }] }];
  for (let i = 0; i < n; i++) ledger.reserve(request, 1, now - 1000 + (i * 1000) / Math.max(1, n));
  return ledger;
}

const metrics = new SidecarMetrics(false);
const auditKeys = AuditKeys.fromFile(JSON.parse(readFileSync(fixture.auditKeys, "utf8")));
const spool = AuditSpool.open({ dir: join(dir, "spool"), stream: "bench", chainKey: auditKeys.chainKey });
const auditLog = new AuditLog({ spool, keys: auditKeys, checkpointEvery: 1_000_000, checkpointIntervalMs: 3_600_000, storeArgumentValues: false });
let lastEvent: AuditEvent | undefined;
// The real argument digest; append only keeps the event (no chaining, no I/O).
const noIoAudit = { append: (event: AuditEvent) => ((lastEvent = event), Promise.resolve()), argumentsSummary: (a: Record<string, unknown>) => auditLog.argumentsSummary(a) };
const decideNoBudget = createDecider({
  tenant: TENANT,
  agent: AGENT,
  pipeline: createPipeline([capability, policyCheck(finance, noBudget, {}), createBudgetCheck({ ledger: noBudget })], { observe: () => undefined }),
  audit: noIoAudit,
  now: Date.now,
  onDecision: () => undefined,
  onAuditFailure: () => undefined,
});

let sink = 0;
const syncOps: Array<[string, () => void]> = [
  [`parse the request body (strict JSON, ${body.length} bytes)`, () => (sink += parseStrictJson(body, 64).text.length)],
  ["capability check (signature cached; liveness, 1,001 revoked ids; coverage with prompt SHA-256)", () => (sink += capability.run(context()) === undefined ? 0 : 1)],
  ["finance policy: opa-wasm evaluate only (input prebuilt)", () => void 0],
  ["default policy: opa-wasm evaluate only (input prebuilt)", () => void 0],
  ["policy check, finance (input built, ledger empty)", () => void 0],
  ["randomUUID (decision id)", () => (sink += randomUUID().length)],
  ["prom-client: the 9 metric updates of one call", () => void 0],
];

// Inputs prebuilt for the evaluate-only rows: capture what the policy check would hand the engine.
let capturedInput: unknown;
const capture = policyCheck({ version: "capture", evaluate: (input) => ((capturedInput = input), { ok: true, decision: "allow", reason: "", requiresStepUp: false }) }, noBudget, {});
void capture.run(verifiedContext());
const input = capturedInput as Parameters<LoadedPolicy["evaluate"]>[0];
if (finance.evaluate(input).ok !== true) throw new Error("finance policy does not allow the benchmark call");
const financeCheck = policyCheck(finance, noBudget, {});
const ctxForPolicy = verifiedContext();
syncOps[2] = [syncOps[2]?.[0] as string, () => (sink += finance.evaluate(input).ok ? 1 : 0)];
syncOps[3] = [syncOps[3]?.[0] as string, () => (sink += fallback.evaluate(input).ok ? 1 : 0)];
syncOps[4] = [syncOps[4]?.[0] as string, () => (sink += (financeCheck.run(ctxForPolicy) as { ok: boolean }).ok ? 1 : 0)];
syncOps[6] = [
  syncOps[6]?.[0] as string,
  () => {
    metrics.inflight.inc();
    for (const stage of ["capability", "intent", "policy", "budget"]) metrics.checkSeconds.observe({ stage, outcome: "pass" }, 0.00002);
    metrics.decisions.inc({ stage: "all", decision: "allow", code: "allowed" });
    metrics.upstreamSeconds.observe({ upstream: "payments", outcome: "200" }, 0.0003);
    metrics.inflight.dec();
    metrics.requests.inc({ route: "streamable", method: "POST", status: "200" });
  },
];
for (const n of [0, 1_000, 10_000, 100_000]) {
  const ledger = ledgerWith(n);
  const key = agentKey(TENANT, AGENT);
  const now = Date.now();
  syncOps.push([`budget ledger usage() scan, ${n.toLocaleString("en-US")} reservations in the window (2 per call today)`, () => (sink += ledger.usage(key, 3600, now).calls)]);
}

const cpuUs = (): number => {
  const c = process.threadCpuUsage();
  return c.user + c.system;
};

/** µs of this thread's CPU time per call of `fn`, over about `ms` of wall time. */
function cpuPerOp(fn: () => void, ms: number): number {
  const end = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
  const start = cpuUs();
  let n = 0;
  while (process.hrtime.bigint() < end) {
    for (let i = 0; i < 8; i++) fn();
    n += 8;
  }
  return (cpuUs() - start) / n;
}

async function asyncCpuPerOp(fn: () => Promise<unknown>, ms: number): Promise<number> {
  const end = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
  const start = cpuUs();
  let n = 0;
  while (process.hrtime.bigint() < end) {
    await fn();
    n++;
  }
  return (cpuUs() - start) / n;
}

const rows: Array<{ name: string; us: number }> = [];
for (const [name, fn] of syncOps) {
  cpuPerOp(fn, WARMUP_MS);
  const samples = Array.from({ length: SAMPLES }, () => cpuPerOp(fn, SAMPLE_MS)).sort((a, b) => a - b);
  rows.push({ name, us: samples[SAMPLES >> 1] as number });
}
{
  const fn = (): Promise<unknown> => decideNoBudget({ server: "payments", tool: "transfer", arguments: args, token: fixture.token, prompt: PROMPT });
  await asyncCpuPerOp(fn, WARMUP_MS);
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) samples.push(await asyncCpuPerOp(fn, SAMPLE_MS));
  samples.sort((a, b) => a - b);
  rows.push({ name: "decide(): the checks + audit event built with its argument digest (no budget; no chaining, no I/O)", us: samples[SAMPLES >> 1] as number });
}
{
  const event = lastEvent as AuditEvent;
  const later: Array<[string, () => void]> = [
    ["audit: keyed digest of the arguments (canonicalise + HMAC)", () => (sink += auditLog.argumentsSummary(args).names.length)],
    ["audit: chain one record (canonicalise body and record, SHA-256, HMAC)", () => (sink += chainRecord(event, "bench", EMPTY_HEAD, auditKeys.chainKey).line.length)],
  ];
  for (const [name, fn] of later) {
    cpuPerOp(fn, WARMUP_MS);
    const samples = Array.from({ length: SAMPLES }, () => cpuPerOp(fn, SAMPLE_MS)).sort((a, b) => a - b);
    rows.push({ name, us: samples[SAMPLES >> 1] as number });
  }
}

// The spool for real: one record at a time, so every append waits for its own write + fsync.
const appendMs: number[] = [];
const checkpointMs: number[] = [];
for (let i = 0; i < 400; i++) {
  const t = process.hrtime.bigint();
  await auditLog.append(lastEvent as AuditEvent);
  appendMs.push(Number(process.hrtime.bigint() - t) / 1e6);
  if (i % 8 === 7) {
    // What the sidecar does every 1,000 records: sign the head and append it durably (off the event loop).
    const c = process.hrtime.bigint();
    await auditLog.checkpoint();
    checkpointMs.push(Number(process.hrtime.bigint() - c) / 1e6);
  }
}
await auditLog.close();
rmSync(dir, { recursive: true, force: true });
const at = (values: number[], p: number): string => {
  const sorted = [...values].sort((a, b) => a - b);
  return (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number).toFixed(2);
};

console.log(`Node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? "unknown"}); median of ${SAMPLES} x ${SAMPLE_MS} ms after ${WARMUP_MS} ms warm-up; thread CPU time per operation; load average ${loadavg()[0]?.toFixed(2) ?? "?"}\n`);
console.log("| piece of one call | µs of CPU |");
console.log("|---|---:|");
for (const { name, us } of rows) console.log(`| ${name} | ${us < 10 ? us.toFixed(2) : us.toFixed(1)} |`);
console.log(`\nAudit spool append (chain + write + fdatasync, one record per batch, ${appendMs.length} appends, ${tmpdir()}): p50 ${at(appendMs, 50)} ms, p90 ${at(appendMs, 90)} ms, p99 ${at(appendMs, 99)} ms, max ${at(appendMs, 100)} ms`);
console.log(`Audit checkpoint (Ed25519 sign + open/write/fsync/close, synchronous: the event loop waits), ${checkpointMs.length} checkpoints: p50 ${at(checkpointMs, 50)} ms, p99 ${at(checkpointMs, 99)} ms, max ${at(checkpointMs, 100)} ms`);
if (sink === -1) console.log(sink);
