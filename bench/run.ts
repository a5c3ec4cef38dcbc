// End-to-end proxy benchmark (`npm run bench`): the sidecar with every check on, against a bare
// undici pass-through proxy and the upstream called directly, measured in the same run.
//
// Pinning: the proxy under test runs on CPU 1 (both proxies live there, one loaded at a time);
// the upstream, this process and its load generators run on CPU 0. Each round measures every
// target closed-loop (autocannon, saturated) and then open-loop at a constant rate, targets in a
// rotated order from round to round so drift spreads over all of them. Every answer is compared
// byte for byte with what the upstream sends, so a refusal or an error never counts as a call.
//   node bench/run.ts [--rounds 3] [--seconds 5] [--rate 2000] [--rate-seconds 10] [--connections 32]
//                     [--warmup 3] [--targets direct,bare,sidecar] [--phases saturated,rate] [--policy finance|default]
//                     [--budget-window 3600] [--profile] [--json out.json] [--keep]
// Targets: direct, bare (Pool.stream), bare-request (Pool.request, answer buffered), floor (bare + the
// work no sidecar can skip: policy evaluation and one durable audit record; bench/floor-proxy.ts), sidecar.
// Diagnostics only (not "every check on"): --budget-window 0 runs the sidecar without a budget.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { formatSummary, groupTimes, summarise, type CpuProfile } from "./cpuprofile.ts";
import { constantRate, mergeSorted, percentile, saturate, targetOf, type CallRequest, type RateResult, type SaturatedResult, type Target } from "./load.ts";
import { PROMPT, prepareSidecar, ROOT, type SidecarFixture } from "./sidecar.ts";
import { toolCallAnswer } from "./upstream.ts";

const TARGETS = ["direct", "bare", "bare-request", "floor", "sidecar"] as const;
type TargetName = (typeof TARGETS)[number];

const { values: flags } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "5" },
    rate: { type: "string", default: "2000" },
    "rate-seconds": { type: "string", default: "10" },
    connections: { type: "string", default: "32" },
    warmup: { type: "string", default: "3" },
    targets: { type: "string", default: "direct,bare,floor,sidecar" },
    phases: { type: "string", default: "saturated,rate" },
    policy: { type: "string", default: "finance" },
    "budget-window": { type: "string", default: "3600" },
    profile: { type: "boolean", default: false },
    json: { type: "string" },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (flags.help) {
  const lines = readFileSync(new URL(import.meta.url), "utf8").split("\n");
  const header = lines.slice(0, lines.findIndex((l) => !l.startsWith("//")));
  process.stdout.write(`${header.map((l) => l.slice(3)).join("\n")}\n`);
  process.exit(0);
}
const num = (name: keyof typeof flags): number => {
  const n = Number(flags[name]);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
};
const opts = {
  rounds: num("rounds"),
  seconds: num("seconds"),
  rate: num("rate"),
  rateSeconds: num("rate-seconds"),
  connections: num("connections"),
  warmup: num("warmup"),
  budgetWindow: Number(flags["budget-window"]),
  targets: (flags.targets ?? "").split(",").map((t) => t.trim()) as TargetName[],
  policy: flags.policy as "finance" | "default",
  phases: (flags.phases ?? "").split(",").map((p) => p.trim()),
};
for (const p of opts.phases) if (p !== "saturated" && p !== "rate") throw new Error("--phases lists saturated and/or rate");
if (!Number.isInteger(opts.budgetWindow) || opts.budgetWindow < 0) throw new Error("--budget-window must be a whole number of seconds (0: no budget)");
for (const t of opts.targets) if (!TARGETS.includes(t)) throw new Error(`unknown target ${t} (one of ${TARGETS.join(", ")})`);
if (opts.policy !== "finance" && opts.policy !== "default") throw new Error("--policy is finance or default");

const log = (line: string): void => void process.stderr.write(`${line}\n`);

// ---------------------------------------------------------------------------------------------
// Processes

const cpuCount = cpus().length;
let pinned = cpuCount >= 2;
if (pinned) {
  try {
    execFileSync("taskset", ["-a", "-p", "-c", "0", String(process.pid)], { stdio: "ignore" });
  } catch {
    pinned = false;
  }
}
if (!pinned) log("warning: not pinned (needs taskset and 2 CPUs): numbers mix the proxy's and the load generator's CPU");
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

interface Child {
  name: string;
  proc: ChildProcess;
  info: Record<string, string>;
}
const children: Child[] = [];

async function startChild(name: string, cpu: number, script: string, args: string[], nodeArgs: string[] = []): Promise<Child> {
  const command = pinned ? "taskset" : process.execPath;
  const argv = [...(pinned ? ["-c", String(cpu), process.execPath] : []), ...nodeArgs, join(ROOT, script), ...args];
  const proc = spawn(command, argv, { stdio: ["ignore", "pipe", "inherit"] });
  const child: Child = { name, proc, info: {} };
  children.push(child); // tracked at once, so that it is stopped even if it never becomes ready
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 30 s`)), 30_000);
    rl.once("line", (l) => {
      clearTimeout(timer);
      rl.close();
      resolve(l);
    });
    proc.once("exit", (code) => reject(new Error(`${name} exited with ${code} before it was ready`)));
  });
  child.info = JSON.parse(line) as Record<string, string>;
  return child;
}

async function stopChildren(): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.proc.exitCode !== null || c.proc.signalCode !== null) return resolve();
          const timer = setTimeout(() => c.proc.kill("SIGKILL"), 10_000);
          c.proc.once("exit", () => {
            clearTimeout(timer);
            resolve();
          });
          c.proc.kill("SIGTERM");
        }),
    ),
  );
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number | undefined, file = `/proc/${pid}/stat`): number {
  if (pid === undefined) return NaN;
  const stat = readFileSync(file, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** CPU seconds of a process's main thread alone (the event loop; the rest is libuv's pool and V8's helpers). */
function mainThreadCpuSeconds(pid: number | undefined): number {
  return pid === undefined ? NaN : cpuSeconds(pid, `/proc/${pid}/task/${pid}/stat`);
}

interface CpuCost {
  cpuUsPerCall: number;
  mainCpuUsPerCall: number;
  upstreamCpuUsPerCall: number;
}

function cpuMeter(pid: number | undefined, upstreamPid: number | undefined): (calls: number) => CpuCost {
  const [total, main, up] = [cpuSeconds(pid), mainThreadCpuSeconds(pid), cpuSeconds(upstreamPid)];
  return (calls) => {
    const per = (s: number): number => (s / Math.max(1, calls)) * 1e6;
    return { cpuUsPerCall: per(cpuSeconds(pid) - total), mainCpuUsPerCall: per(mainThreadCpuSeconds(pid) - main), upstreamCpuUsPerCall: per(cpuSeconds(upstreamPid) - up) };
  };
}

/** Waits until the processes on the proxy core are idle (a target may still be draining a backlog). */
async function settle(pids: Array<number | undefined>, maxMs = 20_000): Promise<void> {
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    const used = (): number => pids.reduce<number>((n, p) => n + cpuSeconds(p), 0);
    const before = used();
    await new Promise((r) => setTimeout(r, 250));
    if ((used() - before) / 0.25 < 0.05) return;
  }
  log("warning: the proxy core did not become idle within 20 s");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Set-up

const loadAtStart = loadavg()[0] ?? NaN;
// The code measured: the commit, and whether the sidecar's sources differ from it.
const codeVersion = (() => {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "sidecar", "wire"], { cwd: ROOT, encoding: "utf8" }).trim();
    return dirty === "" ? `commit ${head}` : `commit ${head} plus uncommitted changes to ${dirty.split("\n").length} file(s) under sidecar/ or wire/`;
  } catch {
    return "unknown code version";
  }
})();
const dir = mkdtempSync(join(tmpdir(), "intentgate-bench-"));
const filesystem = (() => {
  try {
    return execFileSync("df", ["--output=fstype", dir], { encoding: "utf8" }).trim().split("\n").pop() ?? "?";
  } catch {
    return "?";
  }
})();

async function main(): Promise<void> {
  const upstream = await startChild("upstream", 0, "bench/upstream.ts", []);
  const upstreamUrl = upstream.info["url"] as string;
  const [port, adminPort] = [await freePort(), await freePort()];
  const fixture = prepareSidecar(dir, upstreamUrl, port, adminPort, { policy: opts.policy, budgetWindowSeconds: opts.budgetWindow });
  const profileDir = join(dir, "profile");
  if (flags.profile) mkdirSync(profileDir);

  const processes = new Map<TargetName, Child>();
  if (opts.targets.includes("bare")) processes.set("bare", await startChild("bare proxy", 1, "bench/bare-proxy.ts", [upstreamUrl, "stream"]));
  if (opts.targets.includes("bare-request")) processes.set("bare-request", await startChild("bare proxy (request)", 1, "bench/bare-proxy.ts", [upstreamUrl, "request"]));
  if (opts.targets.includes("floor")) processes.set("floor", await startChild("floor proxy", 1, "bench/floor-proxy.ts", [upstreamUrl, join(dir, "floor-spool")]));
  if (opts.targets.includes("sidecar")) {
    const nodeArgs = flags.profile ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
    processes.set("sidecar", await startChild("sidecar", 1, "bench/sidecar.ts", [fixture.config], nodeArgs));
  }

  const path = "/mcp/payments";
  const targets = new Map<TargetName, Target>();
  for (const t of opts.targets) targets.set(t, t === "direct" ? targetOf(upstreamUrl, path) : targetOf((processes.get(t) as Child).info["url"] as string, path));
  const pidOf = (t: TargetName): number | undefined => (t === "direct" ? upstream.proc.pid : processes.get(t)?.proc.pid);
  const proxyCore = [...processes.values()].map((c) => c.proc.pid);

  const call = benchCall(fixture.token);
  const controls = opts.targets.includes("sidecar") ? await negativeControls(targets.get("sidecar") as Target, fixture) : [];
  for (const t of opts.targets) {
    const answer = await post(targets.get(t) as Target, call.headers, call.body);
    if (answer.status !== 200 || answer.text !== call.expectedBody) throw new Error(`${t} does not answer the benchmark call as expected: HTTP ${answer.status} ${answer.text}`);
  }

  log(`bench: ${opts.targets.join(", ")}; ${opts.rounds} rounds of ${opts.seconds} s saturated (${opts.connections} connections) + ${opts.rateSeconds} s at ${opts.rate}/s; warm-up ${opts.warmup} s per target`);
  for (const t of opts.targets) await saturate(targets.get(t) as Target, call, opts.connections, opts.warmup);

  const saturated = new Map<TargetName, Array<SaturatedResult & CpuCost>>();
  const rated = new Map<TargetName, Array<RateResult & CpuCost>>();
  for (let round = 0; round < opts.rounds; round++) {
    const order = opts.targets.map((_, i) => opts.targets[(i + round) % opts.targets.length] as TargetName);
    if (opts.phases.includes("saturated")) {
      for (const t of order) {
        await settle(proxyCore);
        const meter = cpuMeter(pidOf(t), upstream.proc.pid);
        const r = await saturate(targets.get(t) as Target, call, opts.connections, opts.seconds);
        const row = { ...r, ...meter(r.ok) };
        saturated.set(t, [...(saturated.get(t) ?? []), row]);
        log(`round ${round + 1} saturated ${t}: ${r.rps.toFixed(0)} calls/s, ${r.errors} errors, ${row.cpuUsPerCall.toFixed(0)} µs CPU/call (main thread ${row.mainCpuUsPerCall.toFixed(0)})`);
      }
    }
    if (opts.phases.includes("rate")) {
      for (const t of order) {
        await settle(proxyCore);
        const meter = cpuMeter(pidOf(t), upstream.proc.pid);
        const r = await constantRate(targets.get(t) as Target, call, opts.rate, opts.rateSeconds);
        const row = { ...r, ...meter(r.ok) };
        rated.set(t, [...(rated.get(t) ?? []), row]);
        const errs = Object.values(r.errors).reduce((a, b) => a + b, 0);
        log(
          `round ${round + 1} ${opts.rate}/s ${t}: p50 ${ms(percentile(r.latencyUs, 50))} p99 ${ms(percentile(r.latencyUs, 99))} p99.9 ${ms(percentile(r.latencyUs, 99.9))} ms (from due: p99 ${ms(percentile(r.dueLatencyUs, 99))}), ${row.cpuUsPerCall.toFixed(0)} µs CPU/call (main thread ${row.mainCpuUsPerCall.toFixed(0)}), ${errs} errors ${JSON.stringify(r.errors)}${r.firstBadAnswer ? ` (first: ${r.firstBadAnswer})` : ""}`,
        );
      }
    }
  }

  const audit = opts.targets.includes("sidecar") ? await sidecarAccounting(processes.get("sidecar") as Child, fixture.auditSpool) : undefined;
  await stopChildren();
  const profile = flags.profile ? readdirSync(profileDir).filter((f) => f.endsWith(".cpuprofile")) : [];

  const report = formatReport(saturated, rated, controls, audit, fixture);
  process.stdout.write(`${report}\n`);
  for (const f of profile) {
    const data = JSON.parse(readFileSync(join(profileDir, f), "utf8")) as CpuProfile;
    const summary = summarise(data, 25);
    const calls = audit === undefined ? 0 : Object.values(audit.decisions).reduce((a, b) => a + b, 0);
    process.stdout.write(`\n### CPU profile of the sidecar (${f}; profiled run, slower than an unprofiled one)\n\n${profileGroups(data, summary.totalMs - summary.idleMs, calls)}\n\n${formatSummary(summary)}\n`);
  }
  if (flags.json !== undefined) {
    const plain = (m: Map<TargetName, readonly object[]>): Record<string, unknown> =>
      Object.fromEntries([...m].map(([k, rows]) => [k, rows.map((r) => ({ ...r, latencyUs: undefined, dueLatencyUs: undefined, lagUs: undefined }))]));
    writeFileSync(flags.json, JSON.stringify({ options: opts, saturated: plain(saturated), rated: plain(rated), controls, audit }, null, 2));
  }
}

// ---------------------------------------------------------------------------------------------
// The call, and proof that the checks are on

function benchCall(token: string): CallRequest {
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "tools/call",
    params: {
      name: "transfer",
      arguments: { amount: 250, currency: "EUR", iban: "FR76 3000 6000 0112 3456 7890 189" },
      _meta: { "dev.intentgate/prompt": PROMPT },
    },
  });
  return {
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-06-18",
      authorization: `Bearer ${token}`,
    },
    body,
    expectedBody: toolCallAnswer(1),
  };
}

async function post(target: Target, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://${target.host}:${target.port}${target.path}`, { method: "POST", headers, body });
  return { status: res.status, text: await res.text() };
}

interface Control {
  name: string;
  expected: string;
  got: string;
  ok: boolean;
}

/** Calls the sidecar must refuse, one per check, before the load starts. */
async function negativeControls(target: Target, fixture: SidecarFixture): Promise<Control[]> {
  const { token, revokedToken, policyControl } = fixture;
  const base = benchCall(token);
  const variant = (t: string | undefined, args: Record<string, unknown>, prompt = PROMPT, tool = "transfer"): [Record<string, string>, string] => {
    const headers = { ...base.headers };
    if (t === undefined) delete headers["authorization"];
    else headers["authorization"] = `Bearer ${t}`;
    const body = JSON.parse(base.body) as { params: { name: string; arguments: Record<string, unknown>; _meta: Record<string, unknown> } };
    body.params.name = tool;
    body.params.arguments = { ...body.params.arguments, ...args };
    body.params._meta["dev.intentgate/prompt"] = prompt;
    return [headers, JSON.stringify(body)];
  };
  const cases: Array<[string, string, [Record<string, string>, string]]> = [
    ["no token", "token_missing", variant(undefined, {})],
    ["revoked token (root id on the list)", "revoked", variant(revokedToken, {})],
    ["argument outside the token's caveat (amount 5,000 > 1,500)", "arg", variant(token, { amount: 5000 })],
    ["prompt not the one bound to the token", "prompt", variant(token, {}, "Pay someone else")],
    [policyControl.name, "policy_blocked", variant(policyControl.token, policyControl.arguments, PROMPT, policyControl.tool)],
  ];
  const out: Control[] = [];
  for (const [name, expected, [headers, body]] of cases) {
    const answer = await post(target, headers, body);
    const meta = (JSON.parse(answer.text) as { result?: { isError?: boolean; _meta?: Record<string, { code?: string }> } }).result;
    const code = meta?.isError === true ? (Object.values(meta._meta ?? {})[0]?.code ?? "?") : `not refused (HTTP ${answer.status})`;
    out.push({ name, expected, got: code, ok: code.includes(expected) });
  }
  for (const c of out) log(`control: ${c.name}: ${c.got}${c.ok ? "" : ` (expected ${c.expected})`}`);
  if (out.some((c) => !c.ok)) throw new Error("a negative control was not refused as expected: the sidecar is not checking what the benchmark claims");
  return out;
}

interface Accounting {
  decisions: Record<string, number>;
  auditRecords: number;
  auditKinds: Record<string, number>;
  auditAllows: number;
  checkpoints: number;
}

async function sidecarAccounting(sidecar: Child, spool: string): Promise<Accounting> {
  const text = await (await fetch(`${sidecar.info["adminUrl"] as string}/metrics`)).text();
  const decisions: Record<string, number> = {};
  for (const m of text.matchAll(/^intentgate_decisions_total\{([^}]*)\} (\S+)$/gm)) decisions[m[1] as string] = Number(m[2]);
  let auditRecords = 0;
  let auditAllows = 0;
  const auditKinds: Record<string, number> = {};
  for (const name of readdirSync(spool).filter((n) => /^seg-\d+\.ndjson$/.test(n))) {
    for (const line of readFileSync(join(spool, name), "utf8").split("\n")) {
      if (line === "") continue;
      auditRecords++;
      const record = JSON.parse(line) as { kind?: string; disposition?: string };
      auditKinds[record.kind ?? "?"] = (auditKinds[record.kind ?? "?"] ?? 0) + 1;
      if (record.kind === "decision" && record.disposition === "allowed") auditAllows++;
    }
  }
  let checkpoints = 0;
  try {
    checkpoints = readFileSync(join(spool, "checkpoints.ndjson"), "utf8").split("\n").filter(Boolean).length;
  } catch {
    // none signed yet
  }
  return { decisions, auditRecords, auditKinds, auditAllows, checkpoints };
}

// ---------------------------------------------------------------------------------------------
// Report

/** Main-thread time of the sidecar's parts, from the profile; disjoint groups (but the "of which" rows). */
const PROFILE_GROUPS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ["strict JSON parse of the request", ["parseStrictJson sidecar/mcp/strict-json.ts"]],
  ["capability check (cached signature, liveness, coverage)", ["run sidecar/checks/capability.ts"]],
  ["policy input document (includes the budget usage scans)", ["policyInput sidecar/checks/policy.ts"]],
  ["policy evaluation (opa-wasm)", ["evaluate sidecar/policy/engine.ts"]],
  ["of which: regex compilation inside the policy", ["compile(char const*)"]],
  ["budget check (reserve)", ["run sidecar/checks/budget.ts"]],
  ["audit event and keyed argument digest", ["auditEvent sidecar/decide.ts", "argumentsSummary sidecar/audit/log.ts"]],
  ["audit chaining (JCS, SHA-256, HMAC)", ["chainRecord wire/audit/chain.ts"]],
  ["audit spool write + fdatasync (calls on the event loop)", ["fsCall node:internal/fs/promises"]],
  ["audit checkpoints (Ed25519, synchronous fsync)", ["checkpoint sidecar/audit/log.ts"]],
  ["relay: upstream answer parsed, matched to its request and written to the agent", ["relayJson sidecar/proxy/relay.ts"]],
  ["of which: matching the answer to its request (checkAnswer)", ["checkAnswer sidecar/proxy/answers.ts"]],
  ["metrics (prom-client)", ["prom-client/"]],
  ["garbage collection", ["(garbage collector)"]],
];

function profileGroups(profile: CpuProfile, busyMs: number, calls: number): string {
  const rows = groupTimes(profile, PROFILE_GROUPS);
  const named = rows.filter((r) => !r.name.startsWith("of which")).reduce((n, r) => n + r.ms, 0);
  const out = [`Main-thread time by part, over ${calls} decided calls (µs per call = part's time ÷ calls; the run's start-up is included in "everything else"):`, "", "| part | ms | share of busy time | µs per call |", "|---|---:|---:|---:|"];
  for (const r of [...rows, { name: "everything else (HTTP server and client, sockets, promises, start-up)", ms: busyMs - named }]) {
    out.push(`| ${r.name} | ${r.ms.toFixed(0)} | ${((r.ms / busyMs) * 100).toFixed(1)}% | ${calls > 0 ? ((r.ms * 1000) / calls).toFixed(0) : "—"} |`);
  }
  return out.join("\n");
}

function cpuCell(rows: readonly CpuCost[]): string {
  return `${median(rows.map((r) => r.cpuUsPerCall)).toFixed(0)} (${median(rows.map((r) => r.mainCpuUsPerCall)).toFixed(0)})`;
}

function ms(us: number): string {
  return (us / 1000).toFixed(2);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function formatReport(
  saturated: Map<TargetName, Array<SaturatedResult & CpuCost>>,
  rated: Map<TargetName, Array<RateResult & CpuCost>>,
  controls: Control[],
  audit: Accounting | undefined,
  fixture: SidecarFixture,
): string {
  const lines: string[] = [];
  const cpu = cpus()[0]?.model ?? "unknown";
  lines.push(`Node ${process.version}, ${cpuCount} CPUs (${cpu}), ${pinned ? "proxy on CPU 1, upstream and load generators on CPU 0" : "NOT pinned"}; audit spool on ${filesystem}; ${new Date().toISOString()}; load average ${loadAtStart.toFixed(2)} at start, ${(loadavg()[0] ?? NaN).toFixed(2)} at end (1 min)`);
  const phases = [
    ...(opts.phases.includes("saturated") ? [`every target ${opts.seconds} s saturated (autocannon, ${opts.connections} connections)`] : []),
    ...(opts.phases.includes("rate") ? [`every target ${opts.rateSeconds} s at ${opts.rate} calls/s (open loop)`] : []),
  ];
  lines.push(`${opts.rounds} rounds; each: ${phases.join(", then ")}; order rotated per round; ${opts.warmup} s warm-up per target first. Sidecar code: ${codeVersion}.`);
  const budget = fixture.budget.windowSeconds > 0 ? `agent budget ${fixture.budget.max} calls per ${fixture.budget.windowSeconds} s` : "NO BUDGET (diagnostic run)";
  lines.push(`Sidecar: policy ${fixture.policy}, ${budget}, revocation list of 1,001 ids, hash-chained audit spool fsynced per batch (group commit), checkpoints signed every 1,000 records.`);
  lines.push("");

  const medRps = new Map([...saturated].map(([t, rows]) => [t, median(rows.map((r) => r.rps))]));
  const perRoundRatio = (t: TargetName, base: TargetName): number[] => {
    const a = saturated.get(t);
    const b = saturated.get(base);
    return a && b ? a.map((r, i) => r.rps / (b[i]?.rps ?? NaN)) : [];
  };
  // CPU per call is what a dedicated core would turn into throughput: bare ÷ target estimates the
  // throughput ratio on an idle machine, where the measured ratio also depends on what else ran.
  const cpuPerCall = (t: TargetName): number => median((saturated.get(t) ?? []).map((r) => r.cpuUsPerCall));
  const cpuRatio = (t: TargetName): string => (t === "direct" || !saturated.has("bare") ? "—" : (cpuPerCall("bare") / cpuPerCall(t)).toFixed(2));
  const ratio = (t: TargetName, base: TargetName): string => {
    const r = perRoundRatio(t, base);
    return r.length === 0 ? "—" : `${median(r).toFixed(2)} (${Math.min(...r).toFixed(2)}-${Math.max(...r).toFixed(2)})`;
  };
  if (saturated.size > 0) {
    lines.push("**Saturated throughput** (calls/s answered correctly; ratios are per round, median and range)");
    lines.push("");
    lines.push("| target | calls/s per round | median | vs bare proxy | vs direct | CPU µs per call, target process (main thread) | bare proxy's CPU per call ÷ this one's | upstream CPU µs per call | errors |");
    lines.push("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for (const [t, rows] of saturated) {
      lines.push(
        `| ${t} | ${rows.map((r) => r.rps.toFixed(0)).join(", ")} | ${(medRps.get(t) ?? 0).toFixed(0)} | ${saturated.has("bare") ? ratio(t, "bare") : "—"} | ${saturated.has("direct") ? ratio(t, "direct") : "—"} | ${cpuCell(rows)} | ${cpuRatio(t)} | ${median(rows.map((r) => r.upstreamCpuUsPerCall)).toFixed(0)} | ${rows.reduce((n, r) => n + r.errors, 0)} |`,
      );
    }
    lines.push("");
  }
  if (rated.size > 0) {
    lines.push(`**Constant rate, ${opts.rate} calls/s** (ms from writing each call to its complete answer, all rounds pooled; "from due" adds the generator's lateness)`);
    lines.push("");
    lines.push("| target | calls ok / sent | p50 | p90 | p99 | p99.9 | max | p99 per round | p99 from due | generator lag p99 | queued for a connection | CPU µs per call (main thread) | errors |");
    lines.push("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|");
    for (const [t, rows] of rated) {
      const all = mergeSorted(rows.map((r) => r.latencyUs));
      const due = mergeSorted(rows.map((r) => r.dueLatencyUs));
      const lag = mergeSorted(rows.map((r) => r.lagUs));
      const sent = rows.reduce((n, r) => n + r.sent, 0);
      const ok = rows.reduce((n, r) => n + r.ok, 0);
      const errors = rows.reduce((n, r) => n + Object.values(r.errors).reduce((a, b) => a + b, 0), 0);
      lines.push(
        `| ${t} | ${ok} / ${sent} | ${ms(percentile(all, 50))} | ${ms(percentile(all, 90))} | ${ms(percentile(all, 99))} | ${ms(percentile(all, 99.9))} | ${ms(all[all.length - 1] ?? NaN)} | ${rows.map((r) => ms(percentile(r.latencyUs, 99))).join(", ")} | ${ms(percentile(due, 99))} | ${ms(percentile(lag, 99))} | ${rows.reduce((n, r) => n + r.queued, 0)} | ${cpuCell(rows)} | ${errors} |`,
      );
    }
    lines.push("");

  }
  if (saturated.has("sidecar") && saturated.has("bare")) {
    const r = median(perRoundRatio("sidecar", "bare"));
    const c = cpuPerCall("bare") / cpuPerCall("sidecar");
    lines.push(`- Throughput target (sidecar >= 0.85 x bare proxy): **${r >= 0.85 && c >= 0.85 ? "met" : "not met"}** (measured ${r.toFixed(2)}; from CPU per call ${c.toFixed(2)}).`);
  }
  if (saturated.has("floor") && saturated.has("bare")) {
    const r = median(perRoundRatio("floor", "bare"));
    const c = cpuPerCall("bare") / cpuPerCall("floor");
    lines.push(`- Floor (bare proxy + one opa-wasm evaluation + one durable audit record, the least any sidecar does): ${r.toFixed(2)} x bare proxy measured, ${c.toFixed(2)} from CPU per call; the sidecar cannot exceed this.`);
  }
  const side = rated.get("sidecar");
  if (side !== undefined) {
    const p99 = percentile(mergeSorted(side.map((r) => r.latencyUs)), 99) / 1000;
    const errors = side.reduce((n, r) => n + Object.values(r.errors).reduce((a, b) => a + b, 0), 0);
    const queued = side.reduce((n, r) => n + r.queued, 0);
    const met = p99 <= 1.5 && errors === 0 && queued === 0;
    lines.push(`- Latency target (p99 <= 1.5 ms at ${opts.rate}/s, no errors, the rate sustained): **${met ? "met" : "not met"}** (p99 ${p99.toFixed(2)} ms, ${errors} errors, ${queued} calls waited for a free connection).`);
  }
  if (controls.length > 0) lines.push(`- Refused as expected before the load: ${controls.map((c) => `${c.name} → \`${c.got}\``).join("; ")}.`);
  if (audit !== undefined) {
    const refusals = Object.entries(audit.decisions).filter(([k]) => !k.includes('decision="allow"')).reduce((n, [, v]) => n + v, 0);
    const allows = Object.entries(audit.decisions).filter(([k]) => k.includes('decision="allow"')).reduce((n, [, v]) => n + v, 0);
    lines.push(`- Sidecar accounting: ${allows} calls allowed and ${refusals} refused (the ${controls.length} controls) by its metrics; ${audit.auditRecords} chained audit records in the spool (${Object.entries(audit.auditKinds).map(([k, n]) => `${n} ${k}`).join(", ")}), ${audit.auditAllows} of them decisions to allow; ${audit.checkpoints} signed checkpoints.`);
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Run (last, so that every declaration above is initialised)

let exitCode = 0;
try {
  await main();
} catch (error) {
  log(`bench failed: ${(error as Error).stack ?? String(error)}`);
  exitCode = 1;
} finally {
  await stopChildren();
  if (!flags.keep && !flags.profile) rmSync(dir, { recursive: true, force: true });
  else log(`files kept in ${dir}`);
}
process.exit(exitCode);
