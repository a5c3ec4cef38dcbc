// The spans of one agent request: a server span (parented on the agent's traceparent), the
// tools/call decisions recorded on it, and a client span per upstream call whose context replaces
// the agent's trace headers on the forwarded request. start.ts composes traceRequests and
// traceDecisions around the handler and the decider only when tracing runs; startUpstreamSpan
// finds no request state in the (no-op) context otherwise and returns at once.
// Attributes carry names, codes and ids only: never a token, a prompt, an argument value or a session id.
import type { IncomingMessage, ServerResponse } from "node:http";
import { context, createContextKey, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from "@opentelemetry/api";
import type { Dispatcher } from "undici";
import type { CallOutcome, ToolCallRequest } from "../decide.ts";
import { TRACE_CONTEXT_HEADERS } from "../proxy/headers.ts";
import { parseRoute, type Route } from "../proxy/route.ts";
import type { Upstream } from "../proxy/upstream.ts";
import { ATTR } from "./attributes.ts";

interface Decided {
  id: string;
  decision: string;
  code: string;
  tool: string;
}

interface RequestTrace {
  readonly tracer: Tracer;
  readonly span: Span;
  readonly decided: Decided[];
}

const REQUEST = createContextKey("intentgate.request-trace");
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]);
const PATHS: Readonly<Record<Route["kind"], (server: string) => string>> = {
  streamable: (server) => `/mcp/${server}`,
  "legacy-sse": (server) => `/mcp/${server}/sse`,
  "legacy-messages": (server) => `/mcp/${server}/messages`,
};

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Wraps the agent-facing handler: one server span per request, active while the handler runs. */
export function traceRequests(tracer: Tracer, upstreams: ReadonlySet<string>, defaultUpstream: string | undefined, handler: Handler): Handler {
  return (req, res) => {
    const method = METHODS.has(req.method ?? "") ? (req.method as string) : "_OTHER";
    const parsed = parseRoute(req.url ?? "/", defaultUpstream);
    const route = parsed !== undefined && upstreams.has(parsed.server) ? parsed : undefined;
    const path = route && PATHS[route.kind](route.server);
    const attributes: Attributes = { [ATTR.method]: method };
    if (route !== undefined) {
      attributes[ATTR.route] = path;
      attributes[ATTR.routeKind] = route.kind;
      attributes[ATTR.upstream] = route.server;
    }
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracer.startSpan(`mcp ${method} ${path ?? "(unknown route)"}`, { kind: SpanKind.SERVER, attributes }, parent);
    const state: RequestTrace = { tracer, span, decided: [] };
    res.once("close", () => endRequest(state, res));
    context.with(trace.setSpan(parent, span).setValue(REQUEST, state), handler, undefined, req, res);
  };
}

function endRequest(state: RequestTrace, res: ServerResponse): void {
  const { span, decided } = state;
  span.setAttribute(ATTR.status, res.statusCode);
  if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  const only = decided.length === 1 ? decided[0] : undefined;
  if (only !== undefined) {
    span.setAttributes({ [ATTR.mcpMethod]: "tools/call", [ATTR.tool]: only.tool, [ATTR.decision]: only.decision, [ATTR.reasonCode]: only.code, [ATTR.decisionId]: only.id });
  } else if (decided.length > 1) {
    // A batch: one entry per tools/call, in the order they were decided.
    span.setAttributes({
      [ATTR.mcpMethod]: "tools/call",
      [ATTR.calls]: decided.length,
      [ATTR.decisions]: decided.map((d) => d.decision),
      [ATTR.reasonCodes]: decided.map((d) => d.code),
      [ATTR.decisionIds]: decided.map((d) => d.id),
    });
  }
  span.end();
}

/** Wraps the decider: each tools/call's outcome is recorded on the request's server span. */
export function traceDecisions(decide: (call: ToolCallRequest) => Promise<CallOutcome>): (call: ToolCallRequest) => Promise<CallOutcome> {
  return async (call) => {
    const outcome = await decide(call);
    const state = context.active().getValue(REQUEST) as RequestTrace | undefined;
    state?.decided.push(
      outcome.allowed
        ? { id: outcome.decisionId, decision: "allow", code: "allowed", tool: call.tool }
        : { id: outcome.decisionId, decision: outcome.decision, code: outcome.code, tool: call.tool },
    );
    return outcome;
  };
}

/**
 * Starts the client span of an upstream call and writes its context into the outgoing headers (the
 * configured propagators, W3C trace context by default), replacing the agent's traceparent and
 * tracestate. Returns undefined, touching nothing, when the request is not traced.
 */
export function startUpstreamSpan(upstream: Upstream, pool: Dispatcher, method: string, headers: Record<string, string>): Span | undefined {
  const active = context.active();
  const state = active.getValue(REQUEST) as RequestTrace | undefined;
  if (state === undefined) return undefined;
  const origin = pool === upstream.pool ? upstream.origin : (upstream.sse?.origin ?? upstream.origin);
  const span = state.tracer.startSpan(
    `${method} upstream ${upstream.name}`,
    { kind: SpanKind.CLIENT, attributes: { [ATTR.method]: method, [ATTR.upstream]: upstream.name, ...addressOf(origin) } },
    active,
  );
  for (const name of TRACE_CONTEXT_HEADERS) delete headers[name];
  propagation.inject(trace.setSpan(active, span), headers);
  return span;
}

/** Ends an upstream span with the response status (a number) or the failure's error code (a string). */
export function endUpstreamSpan(span: Span | undefined, result: number | string): void {
  if (span === undefined) return;
  if (typeof result === "number") {
    span.setAttribute(ATTR.status, result);
    if (result >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  } else {
    span.setAttribute(ATTR.errorType, result);
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

const addresses = new Map<string, Attributes>();

function addressOf(origin: string): Attributes {
  let found = addresses.get(origin);
  if (found === undefined) {
    const url = new URL(origin);
    const port = url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
    found = Object.freeze({ [ATTR.serverAddress]: url.hostname, [ATTR.serverPort]: port });
    addresses.set(origin, found);
  }
  return found;
}
