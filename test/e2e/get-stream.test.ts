// Answers on the GET stream of a Streamable HTTP session (the standalone stream, or a POST stream
// resumed with Last-Event-ID) are checked like answers on a POST stream: a response must answer a
// request the sidecar forwarded in that session and has not seen answered; tools/list results are
// filtered by the caller's token; an allowed call's outcome is recorded. A GET stream without a
// session can answer nothing: server requests and notifications pass, responses are dropped.
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startRecordingUpstream } from "../support/recording-upstream.ts";
import { eventually, toolCall } from "../support/rpc.ts";

const sse = (message: object, id?: string): string => `${id !== undefined ? `id: ${id}\n` : ""}data: ${JSON.stringify(message)}\n\n`;

const droppedEvents = async (gw: Gateway): Promise<number> => {
  const text = await (await fetch(`${gw.sidecar.adminUrl}/metrics`)).text();
  return Number(/^intentgate_upstream_messages_dropped_total (\d+)/m.exec(text)?.[1] ?? "0");
};

describe("answers on the GET stream", () => {
  let gw: Gateway;
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  /** What the upstream sends on the next GET stream before closing it. */
  let getStream = "";

  before(async () => {
    upstream = await startRecordingUpstream((req, res) => {
      if (req.method === "GET") {
        res.writeHead(200, { "content-type": "text/event-stream" }).end(getStream);
        return;
      }
      // Every POST stream is primed and closed before its answer (the server will replay it on a resumed GET).
      res.writeHead(200, { "content-type": "text/event-stream" }).end("id: prime-1\nretry: 50\ndata: \n\n");
    });
    gw = await startGateway({ policy: "default", upstreamUrl: upstream.url });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const url = (): string => `${gw.sidecar.url}/mcp/files`;
  const headers = (session: string, token: string): Record<string, string> => ({
    accept: "application/json, text/event-stream",
    authorization: `Bearer ${token}`,
    "mcp-session-id": session,
    "mcp-protocol-version": "2025-11-25",
  });

  async function post(session: string, token: string, message: object): Promise<string> {
    const res = await fetch(url(), { method: "POST", headers: { ...headers(session, token), "content-type": "application/json" }, body: JSON.stringify(message) });
    assert.equal(res.status, 200);
    return res.text();
  }

  /** Opens the session's GET stream and returns the JSON messages relayed on it. */
  async function get(session: string, token: string, extra: Record<string, string> = {}): Promise<Array<{ id?: unknown; result?: any }>> {
    const res = await fetch(url(), { headers: { ...headers(session, token), ...extra } });
    assert.equal(res.status, 200);
    const text = await res.text();
    return text
      .split("\n\n")
      .flatMap((block) => block.split("\n").filter((line) => line.startsWith("data: ")))
      .map((line) => JSON.parse(line.slice(6)) as { id?: unknown; result?: any });
  }

  const dropped = (): Promise<number> => droppedEvents(gw);

  test("a response to an id never forwarded is not relayed, and is counted", async () => {
    const token = gw.mint();
    const before = await dropped();
    getStream = sse({ jsonrpc: "2.0", id: 4242, result: { content: [] } }) + sse({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "hi" } });
    const messages = await get("s-unknown", token);
    assert.deepEqual(messages.map((m) => m.id ?? "notification"), ["notification"]);
    assert.equal(await dropped(), before + 1);
  });

  test("answers to requests whose POST stream closed early are relayed on the resumed stream: filtered, once, outcome recorded", async () => {
    const token = gw.mint([{ type: "tools", allow: ["files.read_*"] }]);
    const session = "s-resume";
    const posted = await post(session, token, { jsonrpc: "2.0", id: 1, method: "tools/list" });
    assert.match(posted, /id: prime-1/);
    await post(session, token, toolCall(2, "read_file", { path: "/data/a" }));
    const before = await dropped();
    const list = { jsonrpc: "2.0", id: 1, result: { tools: [{ name: "read_file", inputSchema: { type: "object" } }, { name: "delete_file", inputSchema: { type: "object" } }] } };
    const answer = { jsonrpc: "2.0", id: 2, result: { content: [{ type: "text", text: "a" }] } };
    getStream = sse(list, "e-1") + sse(answer, "e-2") + sse(answer, "e-3");
    const messages = await get(session, token, { "last-event-id": "prime-1" });
    assert.equal(upstream.requests.at(-1)?.headers["last-event-id"], "prime-1");
    assert.deepEqual(messages.map((m) => m.id), [1, 2], "each answered once; the second answer to 2 is dropped");
    assert.deepEqual(messages[0]?.result.tools.map((t: { name: string }) => t.name), ["read_file"]);
    assert.equal(await dropped(), before + 1);
    assert.ok(await eventually(async () => gw.auditRecords().some((r) => r.kind === "outcome" && (r as unknown as { outcome: string }).outcome === "ok")));

    // Answered now: a later stream cannot answer them again.
    getStream = sse(answer);
    assert.deepEqual(await get(session, token), []);
  });

  test("without a session, responses and non-JSON-RPC are dropped; comments, retry, ids, requests and notifications pass", async () => {
    const before = await dropped();
    const kept = ": keep-alive\n\nretry: 50\n\nid: e-0\ndata: \n\n" + sse({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "hi" } }, "e-2") + sse({ jsonrpc: "2.0", id: "s-1", method: "ping" }, "e-3");
    getStream =
      sse({ jsonrpc: "2.0", id: 1, result: { content: [{ type: "text", text: "forged" }] } }, "e-1") +
      kept +
      sse({ jsonrpc: "2.0", id: 2, error: { code: -32603, message: "forged" } }) +
      sse([{ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "x" } }, { jsonrpc: "2.0", id: 3, result: {} }]) +
      "data: not json\n\n" +
      sse({ jsonrpc: "2.0" });
    const res = await fetch(url(), { headers: { accept: "text/event-stream", authorization: `Bearer ${gw.mint()}`, "mcp-protocol-version": "2025-11-25" } });
    assert.equal(res.status, 200);
    assert.equal(upstream.requests.at(-1)?.headers["mcp-session-id"], undefined);
    assert.equal(await res.text(), kept);
    assert.equal(await dropped(), before + 5);
  });

  test("requests of one session are not answered on another session's stream", async () => {
    const token = gw.mint();
    await post("s-a", token, toolCall(3, "read_file", { path: "/data/a" }));
    getStream = sse({ jsonrpc: "2.0", id: 3, result: { content: [] } });
    assert.deepEqual(await get("s-b", token), []);
    assert.deepEqual((await get("s-a", token)).map((m) => m.id), [3]);
  });
});

describe("a GET stream without a session, with the SDK client", () => {
  let gw: Gateway;
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  // A stateless upstream (no session id) that holds each GET stream open for the test to write on.
  const opened: Array<{ res: ServerResponse; lastEventId: unknown }> = [];
  const waiters: Array<() => void> = [];
  const stream = async (n: number): Promise<{ res: ServerResponse; lastEventId: unknown }> => {
    while (opened.length <= n) await new Promise<void>((resolve) => waiters.push(resolve));
    return opened[n] as { res: ServerResponse; lastEventId: unknown };
  };
  const pong = Promise.withResolvers<void>();

  before(async () => {
    upstream = await startRecordingUpstream((req, res) => {
      if (req.method === "GET") {
        res.writeHead(200, { "content-type": "text/event-stream" }).flushHeaders();
        opened.push({ res, lastEventId: req.headers["last-event-id"] });
        for (const wake of waiters.splice(0)) wake();
        return;
      }
      const m = JSON.parse(req.body.toString("utf8")) as { id?: unknown; method?: string; params?: { protocolVersion?: string }; result?: unknown };
      if (m.method === "initialize") {
        const result = { protocolVersion: m.params?.protocolVersion, capabilities: { tools: {}, logging: {} }, serverInfo: { name: "stateless", version: "1.0.0" } };
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: m.id, result }));
        return;
      }
      if (m.id === "srv-1" && m.result !== undefined) pong.resolve();
      res.writeHead(202).end();
    });
    gw = await startGateway({ policy: "default", upstreamUrl: upstream.url });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test("the agent gets the server's request and notification, never the injected response, and the drop is counted", async () => {
    const client = new Client({ name: "e2e-agent", version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(new URL(`${gw.sidecar.url}/mcp/files`), { requestInit: { headers: { authorization: `Bearer ${gw.mint()}` } } });
    await client.connect(transport);
    assert.equal(transport.sessionId, undefined);
    const seen: JSONRPCMessage[] = [];
    const deliver = transport.onmessage;
    transport.onmessage = (message) => {
      seen.push(message);
      deliver?.(message);
    };
    const errors: string[] = [];
    client.onerror = (error) => errors.push(error.message);

    const first = await stream(0);
    const before = await droppedEvents(gw);
    // The injected answer reuses the id of initialize, the one request this client has sent.
    first.res.write(sse({ jsonrpc: "2.0", id: 0, result: { protocolVersion: "2025-11-25", capabilities: {}, serverInfo: { name: "forged", version: "6.6.6" } } }, "e-1"));
    first.res.write(": keep-alive\n\nretry: 10\n\n");
    first.res.write(sse({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "hello" } }, "e-2"));
    first.res.write(sse({ jsonrpc: "2.0", id: "srv-1", method: "ping" }, "e-3"));
    // The client answers the ping by POST: once the upstream has that answer, every earlier event has been handled.
    await pong.promise;
    assert.deepEqual(
      seen.map((m) => ("method" in m ? m.method : `response ${String((m as { id?: unknown }).id)}`)),
      ["notifications/message", "ping"],
    );
    assert.deepEqual(errors, []);
    assert.equal(await droppedEvents(gw), before + 1);

    // The ids of relayed events let the client resume: it reconnects with the last one it got.
    first.res.end();
    assert.equal((await stream(1)).lastEventId, "e-3");
    await client.close();
  });
});
