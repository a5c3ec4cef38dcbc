// The benchmark's baseline: a bare undici pass-through proxy with no checks at all. It reads the
// request body, forwards the bytes with the same small header allowlist the sidecar uses, and
// relays the upstream's status, headers and body.
//   node bench/bare-proxy.ts <upstream url> [stream|request]    prints one JSON line {"url": ...}
// `stream` (the default) relays with Pool.stream(), the fastest undici API on these machines (see
// /work/shared/docs/performance-notes.md); `request` uses Pool.request() and buffers the answer,
// as the sidecar's JSON relay does, to separate the cost of that API choice from the checks.
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Pool } from "undici";

export type BareApi = "stream" | "request";

const FORWARDED = ["accept", "content-type", "mcp-session-id", "mcp-protocol-version"];
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authenticate", "proxy-authorization"]);

export function requestHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of FORWARDED) {
    const value = req.headers[name];
    if (typeof value === "string") out[name] = value;
  }
  return out;
}

export function responseHeaders(headers: Record<string, string | string[] | undefined>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export function fail(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32603, message: `bare proxy: ${(error as Error).message}` } });
  res.writeHead(502, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
}

export async function startBareProxy(upstreamUrl: string, api: BareApi = "stream", port = 0): Promise<Server> {
  const target = new URL(upstreamUrl);
  const path = `${target.pathname}${target.search}`;
  // The sidecar's upstream pool settings (config defaults: 64 connections, no pipelining).
  const pool = new Pool(target.origin, { connections: 64, pipelining: 1 });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const headers = requestHeaders(req);
    if (api === "stream") {
      await pool.stream({ path, method: "POST", headers, body, opaque: res }, ({ statusCode, headers: h, opaque }) => {
        const out = opaque as ServerResponse;
        out.writeHead(statusCode, responseHeaders(h));
        return out;
      });
      return;
    }
    const up = await pool.request({ path, method: "POST", headers, body });
    const chunks: Buffer[] = [];
    for await (const chunk of up.body as AsyncIterable<Buffer>) chunks.push(chunk);
    const answer = Buffer.concat(chunks);
    res.writeHead(up.statusCode, { ...responseHeaders(up.headers), "content-length": answer.length });
    res.end(answer);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => fail(res, error));
  });
  server.keepAliveTimeout = 120_000;
  server.on("close", () => void pool.close());
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return server;
}

if (import.meta.main) {
  const [upstream, api = "stream"] = process.argv.slice(2);
  if (upstream === undefined || (api !== "stream" && api !== "request")) {
    process.stderr.write("usage: node bench/bare-proxy.ts <upstream url> [stream|request]\n");
    process.exit(2);
  }
  const server = await startBareProxy(upstream, api);
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}/mcp/payments` })}\n`);
  process.once("SIGTERM", () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
