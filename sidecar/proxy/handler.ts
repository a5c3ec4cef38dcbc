// The agent-facing request handler: routes, then POST (validate, decide, forward or refuse),
// GET (the server's SSE stream), DELETE (end a session), and the legacy HTTP+SSE transport.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { Dispatcher } from "undici";
import type { LRUCache } from "lru-cache";
import { Counter } from "prom-client";
import type { CallOutcome, ToolCallRequest } from "../decide.ts";
import { RPC } from "../mcp/jsonrpc.ts";
import type { SidecarMetrics } from "../observability/metrics.ts";
import { endUpstreamSpan, startUpstreamSpan } from "../observability/spans.ts";
import { readBody } from "./body.ts";
import { downstreamResponseHeaders, upstreamRequestHeaders } from "./headers.ts";
import { HttpError, sendHttpError, sendJson } from "./http-error.ts";
import { LegacySessions } from "./legacy.ts";
import { localOriginRefusal } from "./local-origin.ts";
import { bearerToken, preparePost, type AllowedCall, type PreparedPost } from "./messages.ts";
import { pipeThrough, relayAnswer, rewriteEvent, streamEvents } from "./relay.ts";
import { HostTable } from "./hosts.ts";
import { createPassthrough, type Passthrough } from "./passthrough.ts";
import { NO_ANSWERS, type AnswerSet } from "./pending.ts";
import { parseRoute, resolveTarget, type Route } from "./route.ts";
import { SessionAnswers } from "./session-answers.ts";
import type { Upstream } from "./upstream.ts";

export interface ProxyLimits {
  maxBodyBytes: number;
  maxDepth: number;
  maxBatch: number;
  maxResponseBytes: number;
  maxSseEventBytes: number;
}

export interface ProxyDeps {
  upstreams: ReadonlyMap<string, Upstream>;
  defaultUpstream: string | undefined;
  /** The authorities that name each server, read once per request (swapped whole on a new configuration). */
  hosts?: () => HostTable;
  limits: ProxyLimits;
  decide: (call: ToolCallRequest) => Promise<CallOutcome>;
  visibleTools: ((token: string | undefined, server: string) => (tool: string) => boolean) | undefined;
  /** Told every tools/list result's tools as the upstream sent them (the intent catalog). */
  onToolsListed?: (server: string, tools: readonly unknown[]) => void;
  /** Session id -> negotiated MCP revision, learnt from initialize answers. */
  sessions: LRUCache<string, string>;
  metrics: SidecarMetrics;
  log: Logger;
  /** Records how an allowed call ended: the upstream's answer, or none. */
  recordOutcome?: (call: AllowedCall, outcome: string) => void;
}

export function createProxyHandler(deps: ProxyDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const legacy = new LegacySessions();
  const answers = new SessionAnswers();
  const dropped = (message: string): void => {
    deps.metrics.droppedEvents.inc();
    deps.log.warn({ reason: message }, "upstream message not relayed");
  };

  async function handle(req: IncomingMessage, res: ServerResponse, route: Route, upstream: Upstream, abort: AbortSignal): Promise<void> {
    const method = req.method ?? "";
    if (route.kind === "streamable") {
      if (method === "POST") return post(req, res, upstream, upstream.pool, upstream.path, abort, undefined);
      if (method === "GET" || method === "DELETE") return passThrough(req, res, upstream, method, abort);
      throw new HttpError(405, "http_method_not_allowed", `${method} is not an MCP transport method`);
    }
    if (route.kind === "legacy-sse") {
      if (method !== "GET") throw new HttpError(405, "http_method_not_allowed", "the legacy SSE stream is opened with GET");
      if (upstream.sse === undefined) throw new HttpError(404, "no_legacy_transport", `upstream ${upstream.name} has no legacy SSE endpoint`);
      const up = await request(upstream, upstream.sse.pool, { path: upstream.sse.path, method: "GET", headers: upstreamRequestHeaders(req.headers, upstream.credentials), signal: abort });
      const type = String(up.headers["content-type"] ?? "");
      if (up.statusCode !== 200 || !type.startsWith("text/event-stream")) return pipeThrough(up, res);
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.flushHeaders();
      return legacy.open(upstream, up, res, deps.limits.maxSseEventBytes, dropped);
    }
    if (method !== "POST") throw new HttpError(405, "http_method_not_allowed", "legacy messages are sent with POST");
    const session = legacy.get(route.session);
    if (session === undefined || session.upstream !== upstream || session.endpoint === undefined) {
      throw new HttpError(404, "unknown_session", "no open legacy SSE session has this id");
    }
    const pool = upstream.sse?.pool ?? upstream.pool;
    // Answers come on the stream, unless the upstream refuses the POST: then none will come.
    let parked: string[] = [];
    res.once("close", () => {
      if (res.statusCode >= 300 && parked.length > 0) legacy.refused(session, parked, `http_${res.statusCode}`);
    });
    return post(req, res, upstream, pool, session.endpoint, abort, async (prepared) => {
      parked = legacy.expect(session, prepared.pending);
      await legacy.deliver(session, prepared.refusals);
      if (prepared.forward === undefined) {
        res.writeHead(202).end();
        return true;
      }
      return false;
    }, legacy.answersFor(session));
  }

  async function post(
    req: IncomingMessage,
    res: ServerResponse,
    upstream: Upstream,
    pool: Dispatcher,
    path: string,
    abort: AbortSignal,
    deliverRefusals: ((prepared: PreparedPost) => Promise<boolean>) | undefined,
    /** Where an answer in the POST response is matched, when not in this POST's own requests (a legacy session). */
    answeredIn?: AnswerSet,
  ): Promise<void> {
    const type = String(req.headers["content-type"] ?? "").toLowerCase();
    if (!/^application\/json\s*(;|$)/.test(type)) throw new HttpError(415, "unsupported_media_type", "POST bodies must be application/json");
    const body = await readBody(req, deps.limits.maxBodyBytes);
    const token = bearerToken(req.headers);
    const headerVersion = req.headers["mcp-protocol-version"];
    const sessionId = req.headers["mcp-session-id"];
    const protocolVersion =
      typeof headerVersion === "string" ? headerVersion : typeof sessionId === "string" ? deps.sessions.get(sessionId) : deliverRefusals ? "2024-11-05" : undefined;
    const prepared = await preparePost({
      body,
      server: upstream.name,
      token,
      protocolVersion,
      maxDepth: deps.limits.maxDepth,
      maxBatch: deps.limits.maxBatch,
      decide: deps.decide,
      visibleTools: deps.visibleTools && ((t) => (deps.visibleTools as NonNullable<ProxyDeps["visibleTools"]>)(t, upstream.name)),
      ...(deps.onToolsListed ? { onToolsListed: deps.onToolsListed } : {}),
      ...(deps.recordOutcome ? { onOutcome: deps.recordOutcome } : {}),
    });
    if (deliverRefusals === undefined) {
      // Streamable HTTP answers on this response. Requests of a session still unanswered when it ends
      // may be answered on the session's GET stream (resumed with Last-Event-ID): they are kept for it,
      // and an allowed call among them records its outcome there (or no_answer when dropped unanswered).
      // Without a session, a call still unanswered when the response ends got no answer.
      const record = deps.recordOutcome;
      res.once("close", () => {
        if (typeof sessionId === "string" && res.statusCode < 300) return answers.park(sessionId, prepared.pending);
        if (record !== undefined) for (const call of prepared.allowed) if (call.outcome === undefined) record(call, res.statusCode >= 300 ? `http_${res.statusCode}` : "no_answer");
      });
    }
    if (deliverRefusals !== undefined) {
      if (await deliverRefusals(prepared)) return;
      prepared.refusals = [];
    } else if (prepared.forward === undefined) {
      return sendJson(res, 200, prepared.batch ? prepared.refusals : prepared.refusals[0]);
    }
    const forward = prepared.forward;
    if (forward === undefined) return;
    const headers = upstreamRequestHeaders(req.headers, upstream.credentials);
    const up = await request(upstream, pool, { path, method: "POST", headers, body: forward, signal: abort });
    await relayAnswer(up, res, {
      pending: answeredIn ?? prepared.pending,
      refusals: prepared.refusals,
      batch: prepared.batch,
      maxResponseBytes: deps.limits.maxResponseBytes,
      maxSseEventBytes: deps.limits.maxSseEventBytes,
      onInitialize: (version, session) => {
        if (session !== undefined) deps.sessions.set(session, version);
      },
      onDroppedEvent: dropped,
    });
  }

  async function passThrough(req: IncomingMessage, res: ServerResponse, upstream: Upstream, method: "GET" | "DELETE", abort: AbortSignal): Promise<void> {
    const up = await request(upstream, upstream.pool, { path: upstream.path, method, headers: upstreamRequestHeaders(req.headers, upstream.credentials), signal: abort });
    const type = String(up.headers["content-type"] ?? "");
    const sessionId = req.headers["mcp-session-id"];
    if (method === "DELETE" && typeof sessionId === "string" && up.statusCode < 300) answers.end(sessionId);
    if (method === "GET" && up.statusCode === 200 && type.startsWith("text/event-stream")) {
      res.writeHead(200, downstreamResponseHeaders(up.headers));
      res.flushHeaders();
      // In a session, a response here must answer a request forwarded by POST in that session whose
      // POST response ended first; it is checked, filtered and recorded as on a POST stream. Without
      // a session id no forwarded request can be answered here: every response is dropped, while
      // server requests and notifications pass.
      const plan = { pending: typeof sessionId === "string" ? answers.answersFor(sessionId) : NO_ANSWERS, onDroppedEvent: dropped };
      return streamEvents(up, res, deps.limits.maxSseEventBytes, (event) => rewriteEvent(event, plan));
    }
    return pipeThrough(up, res);
  }

  async function request(upstream: Upstream, pool: Dispatcher, options: { path: string; method: "GET" | "POST" | "DELETE"; headers: Record<string, string>; body?: Buffer; signal: AbortSignal }): Promise<Dispatcher.ResponseData> {
    const span = startUpstreamSpan(upstream, pool, options.method, options.headers);
    const started = process.hrtime.bigint();
    try {
      const up = await pool.request({ ...options, headersTimeout: upstream.headersTimeout, bodyTimeout: upstream.bodyTimeout });
      deps.metrics.observeUpstream(upstream.name, String(up.statusCode), seconds(started));
      endUpstreamSpan(span, up.statusCode);
      return up;
    } catch (error) {
      deps.metrics.observeUpstream(upstream.name, "error", seconds(started));
      const code = (error as { code?: string }).code ?? "";
      endUpstreamSpan(span, options.signal.aborted ? "aborted" : code || "error");
      if (options.signal.aborted) throw error;
      const timeout = code.includes("TIMEOUT");
      throw new HttpError(timeout ? 504 : 502, timeout ? "upstream_timeout" : "upstream_unavailable", `upstream ${upstream.name} failed: ${code || (error as Error).message}`, RPC.internal);
    }
  }

  const hosts = deps.hosts ?? (() => HostTable.empty);
  const unknownHosts = unknownHostCounter(deps.metrics);
  let passthrough: Passthrough | undefined;
  return (req, res) => {
    deps.metrics.inflight.inc();
    const target = resolveTarget(req.url ?? "/", { host: req.headers.host, origin: req.headers.origin }, hosts());
    const route = target.kind === "path" ? parseRoute(target.path, deps.defaultUpstream) : target.kind === "host" ? target.route : undefined;
    const abort = new AbortController();
    res.on("close", () => {
      deps.metrics.inflight.dec();
      deps.metrics.countRequest(route?.kind ?? (target.kind === "passthrough" ? "passthrough" : "none"), req.method ?? "", String(res.statusCode));
      if (!res.writableFinished) abort.abort();
    });
    const fail = (error: unknown): void => {
      if (error instanceof HttpError) return sendHttpError(res, error);
      if (abort.signal.aborted) return;
      deps.log.error({ err: error }, "request failed");
      sendHttpError(res, new HttpError(500, "internal_error", "the gateway failed to handle this request", RPC.internal));
    };
    if (target.kind === "refused") {
      if (target.error.reason === "unknown_host") unknownHosts.inc({ action: "refused" });
      req.resume();
      return sendHttpError(res, target.error);
    }
    if (target.kind === "passthrough") {
      unknownHosts.inc({ action: "passthrough" });
      deps.log.warn({ authority: target.authority }, "unknown host passed through unchecked");
      passthrough ??= createPassthrough();
      passthrough.forward(req, res, target.authority, target.path, abort.signal).catch(fail);
      return;
    }
    const foreign = target.kind === "path" ? localOriginRefusal(req) : undefined;
    if (foreign !== undefined) {
      req.resume();
      return sendHttpError(res, foreign);
    }
    const upstream = route && deps.upstreams.get(route.server);
    if (route === undefined || upstream === undefined) {
      req.resume();
      return sendHttpError(res, new HttpError(404, "unknown_route", "no MCP server is served at this path"));
    }
    handle(req, res, route, upstream, abort.signal).catch(fail);
  };
}

function unknownHostCounter(metrics: SidecarMetrics): Counter<"action"> {
  const name = "intentgate_unknown_host_requests_total";
  const existing = metrics.registry.getSingleMetric(name) as Counter<"action"> | undefined;
  return existing ?? new Counter({ name, help: "Forward-proxy requests for hosts no MCP server declares, by action (refused, passthrough).", labelNames: ["action"], registers: [metrics.registry] });
}

const seconds = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e9;
