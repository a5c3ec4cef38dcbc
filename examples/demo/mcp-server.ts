// A demo MCP tool server built with the official MCP TypeScript SDK: a few file and payment tools,
// served over Streamable HTTP (at /mcp, SSE or JSON responses) and the legacy HTTP+SSE transport
// (at /sse and /messages). It records every tool call it receives, so tests can prove that a
// refused call never reached it.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

export interface ReceivedCall {
  tool: string;
  arguments: Record<string, unknown>;
}

export interface DemoServer {
  url: string;
  sseUrl: string;
  calls: ReceivedCall[];
  close(): Promise<void>;
}

function buildServer(calls: ReceivedCall[]): McpServer {
  const server = new McpServer({ name: "intentgate-demo", version: "1.0.0" });
  const text = (t: string) => ({ content: [{ type: "text" as const, text: t }] });
  server.registerTool("read_file", { description: "Read a file under /data", inputSchema: { path: z.string() } }, async ({ path }) => {
    calls.push({ tool: "read_file", arguments: { path } });
    return text(`contents of ${path}`);
  });
  server.registerTool("list_files", { description: "List files in a folder", inputSchema: { folder: z.string() } }, async ({ folder }) => {
    calls.push({ tool: "list_files", arguments: { folder } });
    return text(`${folder}/report.csv\n${folder}/notes.txt`);
  });
  server.registerTool("delete_file", { description: "Delete a file", inputSchema: { path: z.string() } }, async ({ path }) => {
    calls.push({ tool: "delete_file", arguments: { path } });
    return text(`deleted ${path}`);
  });
  server.registerTool(
    "transfer",
    { description: "Transfer money to an IBAN", inputSchema: { amount: z.number(), currency: z.string(), iban: z.string() } },
    async (args) => {
      calls.push({ tool: "transfer", arguments: args });
      return text(`transferred ${args.amount} ${args.currency} to ${args.iban}`);
    },
  );
  server.registerTool("echo", { description: "Echo text back", inputSchema: { text: z.string() } }, async ({ text: t }, extra) => {
    calls.push({ tool: "echo", arguments: { text: t } });
    await extra.sendNotification({ method: "notifications/message", params: { level: "info", data: `echoing ${t.length} characters` } }).catch(() => undefined);
    return text(t);
  });
  return server;
}

export async function startDemoServer(options: { port?: number; host?: string; jsonResponse?: boolean } = {}): Promise<DemoServer> {
  const calls: ReceivedCall[] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const legacy = new Map<string, SSEServerTransport>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname === "/mcp") {
      const id = req.headers["mcp-session-id"];
      let transport = typeof id === "string" ? sessions.get(id) : undefined;
      if (transport === undefined) {
        if (typeof id === "string") {
          res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32001, message: "Session not found" } }));
          return;
        }
        const created = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          enableJsonResponse: options.jsonResponse ?? false,
          onsessioninitialized: (sid) => void sessions.set(sid, created),
        });
        created.onclose = () => {
          if (created.sessionId) sessions.delete(created.sessionId);
        };
        await buildServer(calls).connect(created);
        transport = created;
      }
      await transport.handleRequest(req, res);
      return;
    }
    if (url.pathname === "/sse" && req.method === "GET") {
      const transport = new SSEServerTransport("/messages", res);
      legacy.set(transport.sessionId, transport);
      res.on("close", () => legacy.delete(transport.sessionId));
      await buildServer(calls).connect(transport);
      return;
    }
    if (url.pathname === "/messages" && req.method === "POST") {
      const transport = legacy.get(url.searchParams.get("sessionId") ?? "");
      if (transport === undefined) {
        res.writeHead(404).end("unknown session");
        return;
      }
      await transport.handlePostMessage(req, res);
      return;
    }
    res.writeHead(404).end();
  }

  const http: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve) => http.listen(options.port ?? 0, host, resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/mcp`,
    sseUrl: `http://${host}:${port}/sse`,
    calls,
    async close() {
      for (const t of sessions.values()) await t.close().catch(() => undefined);
      for (const t of legacy.values()) await t.close().catch(() => undefined);
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

if (import.meta.main) {
  const port = Number(process.env["PORT"] ?? 3001);
  const demo = await startDemoServer({ port, ...(process.env["HOST"] ? { host: process.env["HOST"] } : {}) });
  process.stdout.write(`demo MCP server at ${demo.url} (legacy SSE at ${demo.sseUrl})\n`);
}
