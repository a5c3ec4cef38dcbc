// Where a request goes. Two ways to name a server:
// - by path, on the sidecar's own address: /mcp/<server> (Streamable HTTP), /mcp (the default
//   server), and for the legacy HTTP+SSE transport /mcp/<server>/sse and /mcp/<server>/messages;
// - by authority, when the agent addressed the server itself and the request reached the sidecar
//   anyway: redirected by iptables (origin-form, the Host header names the server) or sent to the
//   sidecar as its HTTP proxy (absolute-form: `POST http://payments:8080/mcp HTTP/1.1`).
// An authority that names loopback is the sidecar's own: path routing. A declared authority routes
// to its server. A forward-proxy request for any other authority is an unknown host (refused, or
// passed through unchecked when the table says so). An origin-form request with an undeclared Host
// is left to path routing and the DNS-rebinding check: on a loopback connection it is refused there,
// because a page that rebound its name to 127.0.0.1 sends exactly that.
import { HttpError } from "./http-error.ts";
import { authorityKey, type HostTable } from "./hosts.ts";
import { isLoopbackHostname } from "./local-origin.ts";

export type Route =
  | { kind: "streamable"; server: string }
  | { kind: "legacy-sse"; server: string }
  | { kind: "legacy-messages"; server: string; session: string | null };

export type Target =
  /** Path routing on the sidecar's own address (the DNS-rebinding check still applies). */
  | { kind: "path"; path: string }
  /** A declared authority: already routed (undefined: the authority has no endpoint at this path). */
  | { kind: "host"; route: Route | undefined }
  /** A forward-proxy request for an authority no server declares, and the table allows passthrough. */
  | { kind: "passthrough"; authority: string; path: string }
  | { kind: "refused"; error: HttpError };

export function parseRoute(url: string, defaultServer: string | undefined): Route | undefined {
  const q = url.indexOf("?");
  const path = q === -1 ? url : url.slice(0, q);
  if (path === "/mcp" || path === "/mcp/") return defaultServer === undefined ? undefined : { kind: "streamable", server: defaultServer };
  const m = /^\/mcp\/([a-z0-9][a-z0-9-]{0,62})(\/sse|\/messages)?\/?$/.exec(path);
  if (m === null) return undefined;
  const server = m[1] as string;
  if (m[2] === "/sse") return { kind: "legacy-sse", server };
  if (m[2] === "/messages") return { kind: "legacy-messages", server, session: new URLSearchParams(q === -1 ? "" : url.slice(q + 1)).get("session") };
  return { kind: "streamable", server };
}

const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\//i;

export function resolveTarget(url: string, headers: { host?: string | undefined; origin?: string | undefined }, table: HostTable): Target {
  let authority = headers.host;
  let path = url;
  const absolute = ABSOLUTE_FORM.test(url);
  if (absolute) {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return { kind: "refused", error: new HttpError(400, "bad_request_target", "the request target is not a URL") };
    }
    if (target.protocol !== "http:" || target.username !== "" || target.password !== "") {
      return { kind: "refused", error: new HttpError(400, "bad_request_target", "a proxied request must name an http:// URL without credentials") };
    }
    authority = target.host;
    path = `${target.pathname}${target.search}`;
  }
  const key = authority === undefined ? undefined : authorityKey(authority, 80);
  if (key === undefined) {
    if (absolute) return { kind: "refused", error: new HttpError(400, "bad_request_target", "the request target has no usable authority") };
    return { kind: "path", path };
  }
  if (isLoopbackHostname(key.slice(0, key.lastIndexOf(":")))) return { kind: "path", path };
  if (table.declares(key)) {
    const refusal = foreignOrigin(headers.origin, key, table);
    if (refusal !== undefined) return { kind: "refused", error: refusal };
    return { kind: "host", route: routeAt(key, path, table) };
  }
  if (!absolute) return { kind: "path", path };
  if (table.unknownHosts === "passthrough") return { kind: "passthrough", authority: key, path };
  return { kind: "refused", error: new HttpError(403, "unknown_host", `no MCP server is declared for ${JSON.stringify(authority)}; nothing was forwarded`) };
}

/** A declared authority's request: the server's own endpoint paths, or the sidecar's layout for a server declared there. */
function routeAt(key: string, path: string, table: HostTable): Route | undefined {
  const q = path.indexOf("?");
  const match = table.match(key, q === -1 ? path : path.slice(0, q));
  if (match !== undefined) return match;
  const route = parseRoute(path, undefined);
  return route !== undefined && table.serversAt(key).includes(route.server) ? route : undefined;
}

/**
 * A browser's Origin on a host-routed request must be loopback or the server's own authority:
 * a page elsewhere must not drive the agent's sidecar, whatever name it rebinds.
 */
function foreignOrigin(origin: string | undefined, key: string, table: HostTable): HttpError | undefined {
  if (origin === undefined) return undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(origin);
  } catch {
    parsed = undefined;
  }
  if (parsed !== undefined && parsed.protocol === "http:") {
    if (isLoopbackHostname(parsed.hostname)) return undefined;
    const originKey = authorityKey(parsed.host, 80);
    if (originKey !== undefined && table.declares(originKey) && table.serversAt(originKey).some((s) => table.serversAt(key).includes(s))) return undefined;
  }
  return new HttpError(403, "origin_not_allowed", `Origin ${JSON.stringify(origin)} is neither loopback nor the addressed server (DNS rebinding protection)`);
}
