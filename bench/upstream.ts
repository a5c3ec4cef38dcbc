// The benchmark's upstream: a lean MCP-shaped JSON-RPC responder on node:http (keep-alive). It
// parses each POST, answers a `tools/call` with a small tool result echoing the request id (and
// `initialize`/`tools/list` minimally), so a proxy in front of it sees real MCP traffic shapes.
//
// Not the SDK demo server (examples/demo): that one builds a session transport, validates the
// arguments with zod and records every call, costing several times a proxy's own work per call on
// these machines; it would dominate the numbers and hide the proxy cost this benchmark isolates.
//   node bench/upstream.ts [port]     prints one JSON line {"url": ...} when listening
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export const TOOL_RESULT_TEXT = "transfer accepted: 250.00 EUR";

/** The exact bytes this upstream answers to a tools/call with the given id (bench requests check them). */
export function toolCallAnswer(id: unknown): string {
  return JSON.stringify({ jsonrpc: "2.0", id, result: { content: [{ type: "text", text: TOOL_RESULT_TEXT }], isError: false } });
}

function answer(message: { id?: unknown; method?: unknown }): unknown {
  switch (message.method) {
    case "tools/call":
      return JSON.parse(toolCallAnswer(message.id));
    case "initialize":
      return { jsonrpc: "2.0", id: message.id, result: { protocolVersion: "2025-06-18", capabilities: { tools: {} }, serverInfo: { name: "bench-upstream", version: "1" } } };
    case "tools/list":
      return { jsonrpc: "2.0", id: message.id, result: { tools: [{ name: "transfer", inputSchema: { type: "object" } }] } };
    default:
      return { jsonrpc: "2.0", id: message.id ?? null, error: { code: -32601, message: "method not found" } };
  }
}

export function startUpstream(port = 0): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let message: { id?: unknown; method?: unknown };
      try {
        message = JSON.parse(Buffer.concat(chunks).toString("utf8")) as typeof message;
      } catch {
        res.writeHead(400, { "content-type": "application/json" }).end('{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}');
        return;
      }
      if (message.id === undefined) {
        res.writeHead(202).end(); // a notification
        return;
      }
      const body = message.method === "tools/call" ? toolCallAnswer(message.id) : JSON.stringify(answer(message));
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
    });
  });
  // Idle keep-alive connections stay open between benchmark phases.
  server.keepAliveTimeout = 120_000;
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

if (import.meta.main) {
  const server = await startUpstream(Number(process.argv[2] ?? 0));
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}/mcp` })}\n`);
  process.once("SIGTERM", () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
