// Which headers cross the sidecar. Requests: an allowlist, so the capability token, cookies and any
// header the upstream should not see never leave; the upstream's credentials are added here.
// Responses: everything but hop-by-hop headers.
// The agent's trace headers are forwarded as they came; when tracing runs, the upstream call's span
// replaces them (observability/spans.ts) so the upstream sees the sidecar's span as its parent.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";

/** The W3C trace context headers that a traced upstream call rewrites. */
export const TRACE_CONTEXT_HEADERS = ["traceparent", "tracestate"] as const;

const FORWARDED_REQUEST_HEADERS = [
  "accept",
  "content-type",
  "mcp-session-id",
  "mcp-protocol-version",
  "last-event-id",
  "user-agent",
  "traceparent",
  "tracestate",
  "baggage",
];

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "content-length",
]);

export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, credentials: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = incoming[name];
    if (typeof value === "string") out[name] = value;
  }
  for (const [name, value] of Object.entries(credentials)) out[name] = value;
  return out;
}

export function downstreamResponseHeaders(upstream: Record<string, string | string[] | undefined>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const connection = upstream["connection"];
  // Headers the Connection header names are hop-by-hop too; most answers name none but keep-alive.
  const named = typeof connection === "string" ? connectionNamed(connection) : undefined;
  for (const name of Object.keys(upstream)) {
    const value = upstream[name];
    if (value === undefined || HOP_BY_HOP.has(name) || named?.has(name) === true || name.startsWith("x-intentgate-")) continue;
    out[name] = value;
  }
  return out;
}

function connectionNamed(connection: string): ReadonlySet<string> | undefined {
  const lower = connection.toLowerCase();
  if (lower === "keep-alive") return undefined; // hop-by-hop already
  return new Set(
    lower
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );
}
