// Answers on the GET stream of a Streamable HTTP session (the standalone stream, or a POST stream
// resumed with Last-Event-ID) are checked like answers on a POST stream: a response must answer a
// request the sidecar forwarded in that session and has not seen answered; tools/list results are
// filtered by the caller's token; an allowed call's outcome is recorded.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startRecordingUpstream } from "../support/recording-upstream.ts";
import { eventually, toolCall } from "../support/rpc.ts";

const sse = (message: object, id?: string): string => `${id !== undefined ? `id: ${id}\n` : ""}data: ${JSON.stringify(message)}\n\n`;

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

  const dropped = async (): Promise<number> => {
    const text = await (await fetch(`${gw.sidecar.adminUrl}/metrics`)).text();
    return Number(/^intentgate_upstream_messages_dropped_total (\d+)/m.exec(text)?.[1] ?? "0");
  };

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

  test("requests of one session are not answered on another session's stream", async () => {
    const token = gw.mint();
    await post("s-a", token, toolCall(3, "read_file", { path: "/data/a" }));
    getStream = sse({ jsonrpc: "2.0", id: 3, result: { content: [] } });
    assert.deepEqual(await get("s-b", token), []);
    assert.deepEqual((await get("s-a", token)).map((m) => m.id), [3]);
  });
});
