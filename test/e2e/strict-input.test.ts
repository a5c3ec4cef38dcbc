// Malformed or hostile input is refused with a clear error and nothing reaches the upstream;
// the sidecar's own headers never cross; answers must match the request id exactly.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startRecordingUpstream, type Responder } from "../support/recording-upstream.ts";

const call = (id: number | string, name = "read_file", args: object = { path: "/data/a" }): object => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } });

describe("strict input handling", () => {
  let gw: Gateway;
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let responder: Responder | undefined;
  let token: string;

  before(async () => {
    upstream = await startRecordingUpstream((req, res) => (responder ?? defaultResponder)(req, res));
    gw = await startGateway({ policy: "default", upstreamUrl: upstream.url, config: { limits: { maxBodyBytes: 4096, maxDepth: 8, requestTimeoutMs: 500 } } });
    token = gw.mint();
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });
  const defaultResponder: Responder = (req, res) => {
    const m = JSON.parse(req.body.toString()) as { id?: unknown };
    if (Array.isArray(m)) {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(m.filter((x: { id?: unknown }) => x.id !== undefined).map((x: { id?: unknown }) => ({ jsonrpc: "2.0", id: x.id, result: { content: [] } }))));
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: m.id, result: { content: [] } }));
  };

  async function post(body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
    const res = await fetch(`${gw.sidecar.url}/mcp/files`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${token}`, ...headers },
      body,
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  }

  function expectNothingForwarded(before: number): void {
    assert.equal(upstream.requests.length, before, "nothing may reach the upstream");
  }

  const cases: Array<[string, string | Buffer, number, string]> = [
    ["invalid JSON", "{not json", 400, "invalid_json"],
    ["duplicate keys", '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","name":"delete_file"}}', 400, "duplicate_key"],
    ["nesting deeper than the limit", JSON.stringify(call(1, "read_file", { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } })), 400, "too_deep"],
    ["a body that is not UTF-8", Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), 400, "invalid_utf8"],
    ["a body over the size limit", JSON.stringify(call(1, "read_file", { path: "x".repeat(5000) })), 413, "body_too_large"],
    ["a method that is not MCP", '{"jsonrpc":"2.0","id":1,"method":"Tools/Call","params":{}}', 400, "method_not_allowed"],
    ["a wrong jsonrpc version", '{"jsonrpc":"1.0","id":1,"method":"ping"}', 400, "bad_jsonrpc_version"],
    ["an unknown top-level member", '{"jsonrpc":"2.0","id":1,"method":"ping","extra":true}', 400, "unknown_member"],
    ["a null id", '{"jsonrpc":"2.0","id":null,"method":"ping"}', 400, "bad_id"],
    ["a tools/call without a name", '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{}}}', 400, "bad_tool_name"],
    ["arguments that are not an object", '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":[1]}}', 400, "bad_arguments"],
    ["an empty batch", "[]", 400, "empty_batch"],
  ];
  for (const [name, body, status, reason] of cases) {
    test(`refuses ${name} with ${status} ${reason}`, async () => {
      const before = upstream.requests.length;
      const res = await post(body);
      assert.equal(res.status, status);
      assert.equal(res.json.error.data.reason, reason);
      assert.equal(res.json.jsonrpc, "2.0");
      expectNothingForwarded(before);
    });
  }

  test("refuses a body that is not application/json with 415", async () => {
    const before = upstream.requests.length;
    const res = await post(JSON.stringify(call(1)), { "content-type": "text/plain" });
    assert.equal(res.status, 415);
    expectNothingForwarded(before);
  });

  test("refuses a batch under a revision without batches (2025-06-18)", async () => {
    const before = upstream.requests.length;
    const res = await post(JSON.stringify([call(1), call(2)]), { "mcp-protocol-version": "2025-06-18" });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.data.reason, "batch_not_allowed");
    expectNothingForwarded(before);
  });

  test("checks each batch element on its own under 2025-03-26: forwards the allowed ones only", async () => {
    token = gw.mint([{ type: "tools", allow: ["files.read_*"] }]);
    try {
      const before = upstream.requests.length;
      const res = await post(JSON.stringify([call(1), call(2, "delete_file"), { jsonrpc: "2.0", method: "notifications/initialized" }]), { "mcp-protocol-version": "2025-03-26" });
      assert.equal(res.status, 200);
      const byId = new Map((res.json as Array<{ id: number; result: any }>).map((m) => [m.id, m]));
      assert.equal(byId.get(1)?.result.isError, undefined);
      assert.equal(byId.get(2)?.result.isError, true);
      assert.equal(byId.get(2)?.result._meta["dev.intentgate/decision"].code, "tool_not_allowed");
      assert.equal(upstream.requests.length, before + 1);
      const forwarded = JSON.parse(upstream.requests.at(-1)?.body.toString() ?? "") as Array<{ id?: number; method: string }>;
      assert.deepEqual(forwarded.map((m) => m.id ?? m.method), [1, "notifications/initialized"]);
    } finally {
      token = gw.mint();
    }
  });

  test("the capability token and other non-MCP headers never reach the upstream; credentials are not the agent's", async () => {
    const before = upstream.requests.length;
    await post(JSON.stringify(call(7)), { cookie: "session=1", "x-intentgate-token": "secret", "proxy-authorization": "x", "mcp-session-id": "s-1" });
    const seen = upstream.requests[before];
    assert.ok(seen);
    assert.equal(seen.headers["authorization"], undefined);
    assert.equal(seen.headers["cookie"], undefined);
    assert.equal(seen.headers["x-intentgate-token"], undefined);
    assert.equal(seen.headers["proxy-authorization"], undefined);
    assert.equal(seen.headers["mcp-session-id"], "s-1");
  });

  test("forwards the original request bytes exactly", async () => {
    const body = '{ "jsonrpc" : "2.0", "id" : 9, "method" : "tools/call", "params" : { "name" : "read_file", "arguments" : { "path" : "/data/\\u00e9" } } }';
    const before = upstream.requests.length;
    await post(body);
    assert.equal(upstream.requests[before]?.body.toString(), body);
  });

  test("an upstream answer to another id is not relayed (502)", async () => {
    responder = (_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: 999, result: {} }));
    try {
      const res = await post(JSON.stringify(call(5)));
      assert.equal(res.status, 502);
      assert.equal(res.json.error.data.reason, "upstream_protocol_error");
    } finally {
      responder = undefined;
    }
  });

  test("an id of another type (\"5\" for 5) is not a match", async () => {
    responder = (_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: "5", result: {} }));
    try {
      const res = await post(JSON.stringify(call(5)));
      assert.equal(res.status, 502);
    } finally {
      responder = undefined;
    }
  });

  test("conflicting Content-Length and Transfer-Encoding is refused before anything is forwarded", async () => {
    const before = upstream.requests.length;
    const body = JSON.stringify(call(1));
    const raw = `POST /mcp/files HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAuthorization: Bearer ${token}\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const reply = await rawRequest(gw.sidecar.url, raw);
    assert.match(reply, /^HTTP\/1\.1 400/);
    expectNothingForwarded(before);
  });

  test("a chunked body (no Content-Length) over the size limit is answered 413 and nothing is forwarded", async () => {
    const before = upstream.requests.length;
    const body = JSON.stringify(call(1, "read_file", { path: "x".repeat(6000) }));
    const chunks = [body.slice(0, 3000), body.slice(3000)].map((c) => `${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n`).join("");
    const raw = `POST /mcp/files HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAuthorization: Bearer ${token}\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`;
    const reply = await rawRequest(gw.sidecar.url, raw);
    assert.match(reply, /^HTTP\/1\.1 413/);
    assert.match(reply, /body_too_large/);
    expectNothingForwarded(before);
  });

  test("a request whose body arrives too slowly is cut off and nothing is forwarded", async () => {
    const before = upstream.requests.length;
    const body = JSON.stringify(call(1));
    const raw = `POST /mcp/files HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAuthorization: Bearer ${token}\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`;
    const reply = await rawRequest(gw.sidecar.url, raw, 3000);
    assert.match(reply, /^HTTP\/1\.1 408/);
    expectNothingForwarded(before);
  });

  test("an unknown route is 404 and an unsupported method 405", async () => {
    assert.equal((await fetch(`${gw.sidecar.url}/mcp/nope`, { method: "POST" })).status, 404);
    assert.equal((await fetch(`${gw.sidecar.url}/mcp/files`, { method: "PUT" })).status, 405);
  });
});

function rawRequest(base: string, raw: string, waitMs = 2000): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(raw));
    let data = "";
    socket.on("data", (c) => (data += c.toString()));
    socket.on("end", () => resolve(data));
    socket.on("error", reject);
    setTimeout(() => {
      socket.destroy();
      resolve(data);
    }, waitMs).unref();
  });
}
