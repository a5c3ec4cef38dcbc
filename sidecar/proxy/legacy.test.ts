// A legacy SSE session's forwarded requests wait for their answers on its stream within bounds: a
// call dropped by the limit, left unanswered when the stream ends, or posted after it ended is
// abandoned (its outcome is no_answer). Real sockets on both sides.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import type { UpstreamConfig } from "../config/types.ts";
import { LegacySessions } from "./legacy.ts";
import { PendingRequests } from "./pending.ts";
import { Upstream } from "./upstream.ts";

const listen = async (server: Server): Promise<string> => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

const legacy = new LegacySessions({ maxSessions: 10, maxPerSession: 2, ttlMs: 60_000 });
const upstreamStreams: ServerResponse[] = [];
const upstreamServer = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/event-stream" }).write("event: endpoint\ndata: /messages?sessionId=u1\n\n");
  upstreamStreams.push(res);
});
let upstream: Upstream;
const agentServer = createServer((_req, res) => {
  void (async () => {
    const up = await (upstream.sse?.pool ?? upstream.pool).request({ path: "/sse", method: "GET" });
    res.writeHead(200, { "content-type": "text/event-stream" }).flushHeaders();
    await legacy.open(upstream, up, res, 1 << 16, () => {});
  })();
});
let agentUrl = "";

before(async () => {
  const base = await listen(upstreamServer);
  upstream = new Upstream({ name: "files", url: `${base}/mcp`, sseUrl: `${base}/sse`, connections: 2, connectTimeoutMs: 5000, headersTimeoutMs: 5000, bodyTimeoutMs: 0 } as UpstreamConfig, {});
  agentUrl = await listen(agentServer);
});
after(async () => {
  for (const server of [agentServer, upstreamServer]) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  await upstream.close();
});

/** Calls 1..n, each telling `log` how it ended. */
function calls(ids: number[], log: string[]): PendingRequests {
  const pending = new PendingRequests();
  for (const id of ids) pending.add(id, { method: "tools/call", answered: (outcome) => log.push(`${id} ${outcome}`), abandoned: () => log.push(`${id} no_answer`) });
  return pending;
}

test("calls past the per-session limit, unanswered at the stream's end, or posted after it, get no answer", async () => {
  const res = await fetch(`${agentUrl}/sse`);
  const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
  const endpoint = (await reader.read()).value ?? "";
  const session = legacy.get(/session=([0-9a-f-]+)/.exec(endpoint)?.[1] ?? null);
  assert.ok(session, endpoint);

  const log: string[] = [];
  legacy.expect(session, calls([1, 2, 3], log));
  assert.deepEqual(log, ["1 no_answer"], "the oldest call is dropped past the limit of 2");

  const stream = upstreamStreams[0] as ServerResponse;
  stream.end('data: {"jsonrpc":"2.0","id":2,"result":{"content":[]}}\n\n');
  let relayed = "";
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) relayed += chunk.value;
  assert.match(relayed, /"id":2/);
  if (!session.res.closed) await once(session.res, "close");
  assert.deepEqual(log, ["1 no_answer", "2 ok", "3 no_answer"], "the stream ended with 3 unanswered");

  legacy.expect(session, calls([4], log));
  assert.deepEqual(log.at(-1), "4 no_answer", "a call posted after the stream ended");
  assert.equal(legacy.get(session.id), undefined);
});
