// URL layout: /mcp/<server> (Streamable HTTP), /mcp (the default server), and for the legacy
// HTTP+SSE transport /mcp/<server>/sse (the stream) and /mcp/<server>/messages (its POSTs).

export type Route =
  | { kind: "streamable"; server: string }
  | { kind: "legacy-sse"; server: string }
  | { kind: "legacy-messages"; server: string; session: string | null };

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
