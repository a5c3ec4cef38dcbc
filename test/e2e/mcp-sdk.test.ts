// End to end with the official MCP TypeScript SDK on both sides: a real client talks through the
// sidecar to a real server over Streamable HTTP (SSE and JSON responses) and legacy HTTP+SSE.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpServer, type ToolCallback } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { z } from "zod";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { eventually } from "../support/rpc.ts";

type Kind = "streamable-sse" | "streamable-json" | "legacy-sse";

async function connect(url: string, kind: Kind, token?: string): Promise<Client> {
  const client = new Client({ name: "e2e-agent", version: "1.0.0" });
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const transport =
    kind === "legacy-sse"
      ? new SSEClientTransport(new URL(url), { requestInit: { headers } })
      : new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  await client.connect(transport);
  return client;
}

const decisionOf = (result: { _meta?: Record<string, unknown> | undefined }): { code: string; decision: string; decision_id: string } =>
  result._meta?.["dev.intentgate/decision"] as { code: string; decision: string; decision_id: string };

for (const kind of ["streamable-sse", "streamable-json", "legacy-sse"] as const) {
  describe(`through the sidecar over ${kind}`, () => {
    let gw: Gateway;
    const url = (server: string): string => `${gw.sidecar.url}/mcp/${server}${kind === "legacy-sse" ? "/sse" : ""}`;
    const direct = (): string => (kind === "legacy-sse" ? gw.demo.sseUrl : gw.demo.url);

    before(async () => {
      gw = await startGateway({ policy: "finance", jsonResponse: kind === "streamable-json" });
    });
    after(async () => gw.close());

    test("an allowed call returns the server's result unchanged", async () => {
      const viaDirect = await connect(direct(), kind);
      const expected = await viaDirect.callTool({ name: "read_file", arguments: { path: "/data/report.csv" } });
      await viaDirect.close();
      const client = await connect(url("files"), kind, gw.mint());
      const result = await client.callTool({ name: "read_file", arguments: { path: "/data/report.csv" } });
      await client.close();
      assert.deepEqual(result, expected);
      assert.equal(gw.demo.calls.filter((c) => c.tool === "read_file").length, 2);
    });

    test("a call the token does not cover is a tool error with its code, and never reaches the server", async () => {
      const client = await connect(url("files"), kind, gw.mint([{ type: "tools", allow: ["files.read_*"] }]));
      const before = gw.demo.calls.length;
      const result = await client.callTool({ name: "delete_file", arguments: { path: "/data/report.csv" } });
      await client.close();
      assert.equal(result.isError, true);
      assert.equal(decisionOf(result).code, "tool_not_allowed");
      assert.match(decisionOf(result).decision_id, /^[0-9a-f-]{36}$/);
      assert.match((result.content as Array<{ text: string }>)[0]?.text ?? "", /tool_not_allowed/);
      assert.equal(gw.demo.calls.length, before);
    });

    test("without a token every call is refused with token_missing", async () => {
      const client = await connect(url("files"), kind);
      const result = await client.callTool({ name: "read_file", arguments: { path: "/data/x" } });
      await client.close();
      assert.equal(decisionOf(result).code, "token_missing");
    });

    test("tools/list shows only the tools the token covers", async () => {
      const client = await connect(url("files"), kind, gw.mint([{ type: "tools", allow: ["files.read_file", "files.list_*"] }]));
      const { tools } = await client.listTools();
      await client.close();
      assert.deepEqual(tools.map((t) => t.name).sort(), ["list_files", "read_file"]);
    });

    test("the finance policy escalates a large transfer and blocks a foreign IBAN; a small one passes", async () => {
      const client = await connect(url("payments"), kind, gw.mint());
      const before = gw.demo.calls.length;
      const large = await client.callTool({ name: "transfer", arguments: { amount: 25000, currency: "EUR", iban: "NL91ABNA0417164300" } });
      assert.equal(decisionOf(large).code, "approval_required");
      assert.equal(decisionOf(large).decision, "escalate");
      const foreign = await client.callTool({ name: "transfer", arguments: { amount: 50, currency: "EUR", iban: "GB29NWBK60161331926819" } });
      assert.equal(decisionOf(foreign).code, "policy_blocked");
      assert.equal(gw.demo.calls.length, before);
      const small = await client.callTool({ name: "transfer", arguments: { amount: 50, currency: "EUR", iban: "NL91ABNA0417164300" } });
      assert.equal(small.isError, undefined);
      assert.equal(gw.demo.calls.length, before + 1);
      await client.close();
    });
  });
}

interface LegacyUpstream {
  gw: Gateway;
  close(): Promise<void>;
}

/**
 * A real SDK server over legacy HTTP+SSE with one tool, read_file, behind a gateway. `refuse`
 * makes the message endpoint answer a POST with HTTP 500 itself instead of passing it on.
 */
async function legacyUpstream(name: string, readFile: (transport: SSEServerTransport) => ToolCallback<{ path: z.ZodString }>, refuse?: (body: { method?: string }) => boolean): Promise<LegacyUpstream> {
  const sessions = new Map<string, SSEServerTransport>();
  const http = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname === "/sse") {
      const transport = new SSEServerTransport("/messages", res);
      sessions.set(transport.sessionId, transport);
      const server = new McpServer({ name, version: "1.0.0" });
      server.registerTool("read_file", { inputSchema: { path: z.string() } }, readFile(transport));
      void server.connect(transport);
      return;
    }
    const transport = sessions.get(url.searchParams.get("sessionId") ?? "");
    if (transport === undefined) return void res.writeHead(404).end();
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { method?: string };
      if (refuse?.(body) === true) return void res.writeHead(500, { "content-type": "text/plain" }).end("storage offline");
      void transport.handlePostMessage(req, res, body);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const gw = await startGateway({ policy: "default", config: { upstreams: [{ name: "files", url: `${base}/mcp`, sseUrl: `${base}/sse` }] } });
  let closed: Promise<void> | undefined;
  return {
    gw,
    close: () =>
      (closed ??= (async () => {
        await gw.close();
        http.closeAllConnections();
        await new Promise((resolve) => http.close(resolve));
      })()),
  };
}

describe("legacy SSE: a call whose stream ends before its answer", () => {
  let upstream: LegacyUpstream;

  // read_file closes the session's stream and never answers.
  before(async () => {
    upstream = await legacyUpstream("hangs-up", (transport) => () => {
      void transport.close();
      return new Promise<never>(() => {});
    });
  });
  after(() => upstream.close());

  test("the allowed call gets an outcome record no_answer", async () => {
    const { gw } = upstream;
    const client = await connect(`${gw.sidecar.url}/mcp/files/sse`, "legacy-sse", gw.mint());
    const call = client.callTool({ name: "read_file", arguments: { path: "/data/a" } }).then(
      () => "answered",
      () => "failed",
    );
    const outcome = (): { outcome?: string; decision_id: string } | undefined =>
      gw.auditRecords().find((r) => r.kind === "outcome") as { outcome?: string; decision_id: string } | undefined;
    try {
      assert.ok(await eventually(async () => outcome() !== undefined), "an outcome record is written");
    } finally {
      await client.close();
    }
    const decisions = gw.auditRecords().filter((r) => r.kind === "decision");
    assert.deepEqual(
      decisions.map((d) => [d.tool, (d as { disposition?: string }).disposition]),
      [["read_file", "allowed"]],
    );
    assert.equal(outcome()?.decision_id, decisions[0]?.decision_id);
    assert.equal(outcome()?.outcome, "no_answer");
    assert.equal(await call, "failed");
  });
});

describe("legacy SSE: the upstream refuses the POST that carries a call", () => {
  let upstream: LegacyUpstream;

  // The message endpoint answers a tools/call POST with HTTP 500 itself.
  before(async () => {
    upstream = await legacyUpstream("refuses-calls", () => () => ({ content: [{ type: "text" as const, text: "never" }] }), (body) => body.method === "tools/call");
  });
  after(() => upstream.close());

  test("the allowed call's outcome is http_500 at once, while the stream is still open, and only that", async () => {
    const { gw } = upstream;
    const client = await connect(`${gw.sidecar.url}/mcp/files/sse`, "legacy-sse", gw.mint());
    const outcomes = (): Array<{ outcome?: string; decision_id: string }> =>
      gw.auditRecords().filter((r) => r.kind === "outcome") as Array<{ outcome?: string; decision_id: string }>;
    try {
      await assert.rejects(client.callTool({ name: "read_file", arguments: { path: "/data/a" } }));
      assert.ok(await eventually(async () => outcomes().length > 0), "an outcome record is written before the stream ends");
    } finally {
      await client.close();
    }
    // The stream's end must not add a no_answer for the same call: closing the gateway writes every outcome still waiting.
    await upstream.close();
    const [decision] = gw.auditRecords().filter((r) => r.kind === "decision");
    assert.deepEqual(outcomes().map((o) => [o.decision_id, o.outcome]), [[decision?.decision_id, "http_500"]]);
  });
});
