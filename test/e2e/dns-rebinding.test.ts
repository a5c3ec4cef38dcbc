// DNS-rebinding protection on a sidecar listening on loopback: a request whose Host or Origin names
// another site (what a browser sends after evil.example rebinds its name to 127.0.0.1) is refused
// with 403 before it is routed, parsed or forwarded; requests that name loopback pass. The official
// conformance suite's dns-rebinding-protection scenario checks the same through the sidecar.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { request } from "undici";
import { startGateway, type Gateway } from "../support/gateway.ts";
import { startRecordingUpstream } from "../support/recording-upstream.ts";

const initialize = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "rebinding-test", version: "1.0.0" } },
});

describe("DNS-rebinding protection", () => {
  let gw: Gateway;
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let port: string;

  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway({ upstreamUrl: upstream.url });
    port = new URL(gw.sidecar.url).port;
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  async function send(method: "POST" | "GET" | "DELETE", path: string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
    const res = await request(`${gw.sidecar.url}${path}`, {
      method,
      headers: { accept: "application/json, text/event-stream", ...(method === "POST" ? { "content-type": "application/json" } : {}), ...headers },
      ...(method === "POST" ? { body: initialize } : {}),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: text === "" ? undefined : JSON.parse(text) };
  }

  const refusals: Array<[string, "POST" | "GET" | "DELETE", string, Record<string, string>, string]> = [
    ["a foreign Host and Origin", "POST", "/mcp/files", { host: "evil.example.com", origin: "http://evil.example.com" }, "host_not_allowed"],
    ["a foreign Host alone", "POST", "/mcp/files", { host: "evil.example.com:80" }, "host_not_allowed"],
    ["a loopback Host with a foreign Origin", "POST", "/mcp/files", { origin: "http://evil.example.com" }, "origin_not_allowed"],
    ["an opaque Origin (null)", "POST", "/mcp/files", { origin: "null" }, "origin_not_allowed"],
    ["a Host that hides a loopback name behind userinfo", "POST", "/mcp/files", { host: "evil.example.com@127.0.0.1" }, "host_not_allowed"],
    ["a foreign Host on the GET stream", "GET", "/mcp/files", { host: "evil.example.com" }, "host_not_allowed"],
    ["a foreign Host on DELETE", "DELETE", "/mcp/files", { host: "evil.example.com", "mcp-session-id": "s1" }, "host_not_allowed"],
    ["a foreign Host on the legacy SSE stream", "GET", "/mcp/files/sse", { host: "evil.example.com" }, "host_not_allowed"],
    ["a foreign Host on an unknown route", "POST", "/elsewhere", { host: "evil.example.com" }, "host_not_allowed"],
  ];
  for (const [what, method, path, headers, reason] of refusals) {
    test(`${what}: 403 ${reason}, nothing forwarded`, async () => {
      const before = upstream.requests.length;
      const reply = await send(method, path, headers);
      assert.equal(reply.status, 403);
      assert.equal(reply.body?.error?.data?.reason, reason);
      assert.equal(upstream.requests.length, before);
    });
  }

  for (const host of ["127.0.0.1", "localhost", "LOCALHOST", "[::1]", "127.0.0.2"]) {
    test(`Host ${host} (with and without port, with a matching Origin) is forwarded`, async () => {
      for (const headers of [{ host }, { host: `${host}:${port}`, origin: `http://${host}:${port}` }]) {
        const before = upstream.requests.length;
        const reply = await send("POST", "/mcp/files", headers);
        assert.equal(reply.status, 200, JSON.stringify({ headers, reply }));
        assert.equal(reply.body?.result?.echoed, "initialize");
        assert.equal(upstream.requests.length, before + 1);
      }
    });
  }
});
