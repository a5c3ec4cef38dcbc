// SSE priming events and resumption (MCP 2025-11-25, SEP-1699) through the sidecar, with the
// official SDK on both sides. The server opens each POST stream with a priming event (an id, a retry
// field and empty data); a client that has seen it may resume a stream the server closes mid-call
// by a GET with Last-Event-ID. The sidecar used to drop priming events as "not JSON", so the client
// never learnt an id and a call whose stream was closed never completed.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startEverythingServer, type EverythingServer } from "../conformance/everything-server.ts";
import { startGateway, type Gateway } from "../support/gateway.ts";

async function connect(url: string, token?: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: "e2e-agent", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: token ? { authorization: `Bearer ${token}` } : {} } });
  await client.connect(transport);
  return { client, transport };
}

/** The SSE events of a response, read until the stream ends: [fields of each event]. */
async function readEvents(res: Response): Promise<Array<Record<string, string>>> {
  const text = await res.text();
  return text
    .split(/\r?\n\r?\n/)
    .filter((block) => block.trim() !== "")
    .map((block) => Object.fromEntries(block.split(/\r?\n/).map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trimStart()])));
}

describe("SSE priming and resumption through the sidecar", () => {
  let server: EverythingServer;
  let gw: Gateway;
  const viaSidecar = (): string => `${gw.sidecar.url}/mcp/files`;

  before(async () => {
    server = await startEverythingServer({ retryIntervalMs: 200 });
    gw = await startGateway({ policy: "default", upstreamUrl: server.url });
  });
  after(async () => {
    await gw.close();
    await server.close();
  });

  test("a POST stream starts with the server's priming event, id and retry included", async () => {
    const { client, transport } = await connect(viaSidecar(), gw.mint());
    const res = await fetch(viaSidecar(), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        authorization: `Bearer ${gw.mint()}`,
        "mcp-session-id": transport.sessionId ?? "",
        "mcp-protocol-version": "2025-11-25",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "test_simple_text", arguments: {} } }),
    });
    assert.equal(res.status, 200);
    const events = await readEvents(res);
    await client.close();
    assert.ok(events.length >= 2, JSON.stringify(events));
    const [priming, answer] = events as [Record<string, string>, Record<string, string>];
    assert.equal(priming["data"], "");
    assert.match(priming["id"] ?? "", /\S/);
    assert.equal(priming["retry"], "200");
    assert.equal(JSON.parse(answer["data"] ?? "null").id, 7);
  });

  for (const route of ["direct", "through the sidecar"] as const) {
    test(`a call whose stream the server closes mid-call completes after the client resumes (${route})`, async () => {
      const before = server.calls.length;
      const { client } = await connect(route === "direct" ? server.url : viaSidecar(), gw.mint());
      try {
        const result = await client.callTool({ name: "test_reconnection", arguments: {} }, undefined, { timeout: 5000 });
        assert.match((result.content as Array<{ text: string }>)[0]?.text ?? "", /resumed/);
      } finally {
        await client.close();
      }
      assert.equal(server.calls.length, before + 1);
    });
  }
});
