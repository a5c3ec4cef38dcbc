// Load generators for bench/run.ts, both checking every answer byte for byte:
// - `saturate`: closed loop with autocannon (N connections, each sending its next request as soon as
//   the previous answer arrives): the highest rate a target sustains.
// - `constantRate`: an open-loop generator on raw sockets. Requests are due at fixed intervals
//   whatever the target does: a request that finds no idle connection gets a new one (up to 256),
//   so a slow answer never delays the next send (no coordinated omission). Latency is measured
//   from the write to the complete answer, and also from when the request was due (which adds the
//   generator's own lateness: Node timers fire about once a millisecond, so requests leave in
//   pairs about every millisecond, up to ~1 ms late). autocannon's `overallRate` is not used for
//   this: it lets each connection send its per-second quota back to back and then pause until the
//   next second, so it measures bursts, and it records latency in whole milliseconds, too coarse
//   for a 1.5 ms target.
import { createRequire } from "node:module";
import { connect, type Socket } from "node:net";

export interface Target {
  host: string;
  port: number;
  path: string;
}

export interface CallRequest {
  headers: Record<string, string>;
  body: string;
  /** The exact bytes every answer must carry; anything else counts as an error. */
  expectedBody: string;
}

export function targetOf(url: string, path: string): Target {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port), path };
}

// ---------------------------------------------------------------------------------------------
// Closed loop (autocannon)

interface AutocannonResult {
  duration: number;
  "2xx": number;
  non2xx: number;
  errors: number;
  timeouts: number;
  mismatches: number;
  latency: { p50: number; p99: number };
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

export interface SaturatedResult {
  rps: number;
  ok: number;
  errors: number;
  seconds: number;
}

export async function saturate(target: Target, call: CallRequest, connections: number, seconds: number): Promise<SaturatedResult> {
  const result = await autocannon({
    url: `http://${target.host}:${target.port}${target.path}`,
    method: "POST",
    headers: call.headers,
    body: call.body,
    expectBody: call.expectedBody,
    connections,
    pipelining: 1,
    duration: seconds,
    timeout: 10,
  });
  const ok = result["2xx"] - result.mismatches;
  const errors = result.non2xx + result.errors + result.timeouts + result.mismatches;
  return { rps: ok / result.duration, ok, errors, seconds: result.duration };
}

// ---------------------------------------------------------------------------------------------
// Open loop (constant rate)

export interface RateResult {
  rate: number;
  seconds: number;
  sent: number;
  ok: number;
  errors: { status: number; body: number; connection: number; unanswered: number };
  firstBadAnswer: string | undefined;
  /** Microseconds from writing each request to its complete answer, sorted. */
  latencyUs: Float64Array;
  /** Microseconds from when each request was due to its complete answer, sorted. */
  dueLatencyUs: Float64Array;
  /** Requests that waited because all connections were busy. */
  queued: number;
  /** Microseconds from when each request was due to when it was written (generator lag), sorted. */
  lagUs: Float64Array;
  connections: number;
}

const now = (): number => Number(process.hrtime.bigint()) / 1000; // µs

function requestBytes(target: Target, call: CallRequest): Buffer {
  const body = Buffer.from(call.body, "utf8");
  const head = [`POST ${target.path} HTTP/1.1`, `host: ${target.host}:${target.port}`, ...Object.entries(call.headers).map(([k, v]) => `${k}: ${v}`), `content-length: ${body.length}`, "", ""].join("\r\n");
  return Buffer.concat([Buffer.from(head, "latin1"), body]);
}

interface Outstanding {
  due: number;
  sent: number;
}

type OnAnswer = (conn: Connection, req: Outstanding, status: number, body: Buffer | undefined) => void;

/** One keep-alive connection with at most one request in flight and a minimal HTTP/1.1 response reader. */
class Connection {
  readonly socket: Socket;
  inflight: Outstanding | undefined;
  #buffer: Buffer = Buffer.alloc(0);
  readonly #done: OnAnswer;
  readonly #lost: (conn: Connection) => void;

  constructor(target: Target, done: OnAnswer, lost: (conn: Connection) => void) {
    this.#done = done;
    this.#lost = lost;
    this.socket = connect(target.port, target.host);
    this.socket.setNoDelay(true);
    this.socket.on("data", (chunk: Buffer) => this.#read(chunk));
    this.socket.on("error", () => undefined);
    this.socket.on("close", () => this.#lost(this));
  }

  send(bytes: Buffer, req: Outstanding): void {
    this.inflight = req;
    req.sent = now();
    this.socket.write(bytes);
  }

  #read(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const end = this.#buffer.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = this.#buffer.subarray(0, end).toString("latin1");
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const req = this.inflight;
    if (length === null || req === undefined) {
      // Only fixed-length answers are expected from every target; anything else is a fault.
      if (req !== undefined) this.#done(this, req, status, undefined);
      this.inflight = undefined;
      this.socket.destroy();
      return;
    }
    const total = end + 4 + Number(length[1]);
    if (this.#buffer.length < total) return;
    const body = this.#buffer.subarray(end + 4, total);
    this.#buffer = this.#buffer.length > total ? this.#buffer.subarray(total) : Buffer.alloc(0);
    this.inflight = undefined;
    this.#done(this, req, status, body);
  }
}

const sortedCopy = (values: number[]): Float64Array => new Float64Array(values).sort();

export async function constantRate(target: Target, call: CallRequest, rate: number, seconds: number, options: { maxConnections?: number; warmConnections?: number } = {}): Promise<RateResult> {
  const bytes = requestBytes(target, call);
  const expected = Buffer.from(call.expectedBody, "utf8");
  const maxConnections = options.maxConnections ?? 256;
  const total = Math.round(rate * seconds);
  const interval = 1e6 / rate;
  const idle: Connection[] = [];
  const all = new Set<Connection>();
  const queue: Outstanding[] = [];
  const latencies: number[] = [];
  const dueLatencies: number[] = [];
  const lags: number[] = [];
  let queued = 0;
  const errors = { status: 0, body: 0, connection: 0, unanswered: 0 };
  let firstBadAnswer: string | undefined;
  let ok = 0;
  let finished = 0;
  let resolveAll: (() => void) | undefined;

  const settle = (): void => {
    finished++;
    if (finished === total) resolveAll?.();
  };
  const onDone: OnAnswer = (conn, req, status, body) => {
    const t = now();
    if (status !== 200) {
      errors.status++;
      firstBadAnswer ??= `HTTP ${status}: ${body?.toString("utf8").slice(0, 300) ?? "(no length)"}`;
    } else if (body === undefined || !body.equals(expected)) {
      errors.body++;
      firstBadAnswer ??= `HTTP 200: ${body?.toString("utf8").slice(0, 300) ?? "(no length)"}`;
    } else {
      ok++;
      latencies.push(t - req.sent);
      dueLatencies.push(t - req.due);
      lags.push(req.sent - req.due);
    }
    settle();
    release(conn);
  };
  let closing = false;
  const onLost = (conn: Connection): void => {
    if (closing) return;
    all.delete(conn);
    const i = idle.indexOf(conn);
    if (i >= 0) idle.splice(i, 1);
    if (conn.inflight !== undefined) {
      errors.connection++;
      conn.inflight = undefined;
      settle();
    }
  };
  const open = (): Connection => {
    const conn = new Connection(target, onDone, onLost);
    all.add(conn);
    return conn;
  };
  const release = (conn: Connection): void => {
    const next = queue.shift();
    if (next !== undefined) conn.send(bytes, next);
    else idle.push(conn);
  };
  const fire = (due: number): void => {
    const req: Outstanding = { due, sent: 0 };
    // Oldest idle connection first, so none sits idle long enough for a server to close it.
    const conn = idle.shift() ?? (all.size < maxConnections ? open() : undefined);
    if (conn === undefined) {
      queued++;
      queue.push(req);
    } else conn.send(bytes, req);
  };

  // Connections opened before the clock starts, so connecting is not part of the measurement.
  const warm = Array.from({ length: options.warmConnections ?? 16 }, () => open());
  await Promise.all(warm.map((c) => new Promise<void>((resolve) => c.socket.once("connect", () => resolve()).once("error", () => resolve()))));
  idle.push(...warm.filter((c) => all.has(c)));

  const allDone = new Promise<void>((resolve) => (resolveAll = resolve));
  const start = now() + 1000;
  let next = 0;
  await new Promise<void>((resolve) => {
    // Node timers fire at most about once a millisecond: each tick sends every request now due.
    const tick = (): void => {
      const t = now();
      while (next < total && start + next * interval <= t) fire(start + next++ * interval);
      if (next < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  const deadline = new Promise<void>((resolve) => setTimeout(resolve, 10_000).unref());
  await Promise.race([allDone, deadline]);
  const elapsed = (now() - start) / 1e6;
  errors.unanswered = total - finished;
  const connections = all.size;
  closing = true;
  for (const conn of all) conn.socket.destroy();
  return { rate, seconds: elapsed, sent: total, ok, errors, firstBadAnswer, latencyUs: sortedCopy(latencies), dueLatencyUs: sortedCopy(dueLatencies), queued, lagUs: sortedCopy(lags), connections };
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function mergeSorted(parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out.sort();
}
