// The sidecar as the agent's HTTP proxy (env interception with intentgate.dev/http-proxy): the agent
// addresses the tool server by its own name, its HTTP client sends absolute-form requests
// (`POST http://payments.tools.svc:8080/mcp HTTP/1.1`) to the sidecar, and the sidecar routes them
// by authority to the declared server, deciding every call. An authority no server declares is
// refused with unknown_host and nothing is forwarded, unless unknownHosts is "passthrough".
import assert from "node:assert/strict";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { fetch as undiciFetch, ProxyAgent } from "undici";
import { startDemoServer, type DemoServer } from "../../examples/demo/mcp-server.ts";
import { startGateway, type Gateway } from "../support/gateway.ts";

const SERVER_NAME = "payments.tools.svc:8080";

/** An MCP client whose HTTP goes through `proxy`, as an agent with HTTP_PROXY set would send it. */
async function connectThrough(proxy: string, url: string, token: string): Promise<Client> {
  const dispatcher = new ProxyAgent(proxy);
  const client = new Client({ name: "proxied-agent", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
    fetch: (input, init) => undiciFetch(input as string, { ...(init as object), dispatcher }) as unknown as Promise<Response>,
  });
  await client.connect(transport);
  return client;
}

/** One raw absolute-form request to the sidecar, exactly as a forward proxy receives it. */
function proxied(sidecar: string, target: string, body: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(sidecar);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: hostname, port, method: "POST", path: target, headers: { host: new URL(target).host, "content-type": "application/json", accept: "application/json, text/event-stream" } },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const initialize = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } });

describe("the sidecar as a forward proxy", () => {
  let demo: DemoServer;
  let other: Server;
  let otherHits = 0;
  let otherAuthority: string;
  let gw: Gateway;
  let passthrough: Gateway;

  before(async () => {
    demo = await startDemoServer();
    other = createServer((req, res) => {
      otherHits++;
      req.resume();
      res.end(`not mcp: ${req.method} ${req.url}`);
    });
    // An address of this machine that is not loopback: loopback authorities are the sidecar's own.
    const address = Object.values(networkInterfaces()).flat().find((i) => i?.family === "IPv4" && !i.internal)?.address;
    assert.ok(address, "this test needs a non-loopback IPv4 address");
    await new Promise<void>((resolve) => other.listen(0, address, resolve));
    otherAuthority = `${address}:${(other.address() as AddressInfo).port}`;
    const upstreams = [{ name: "payments", url: demo.url, hosts: [SERVER_NAME] }];
    gw = await startGateway({ config: { upstreams } });
    passthrough = await startGateway({ config: { upstreams, unknownHosts: "passthrough" } });
  });
  after(async () => {
    await gw.close();
    await passthrough.close();
    await demo.close();
    await new Promise<void>((resolve) => other.close(() => resolve()));
  });

  test("an MCP client that names the server itself reaches it through the sidecar, and every call is decided", async () => {
    const token = gw.mint([{ type: "tools", allow: ["payments.echo"] }]);
    const client = await connectThrough(gw.sidecar.url, `http://${SERVER_NAME}/mcp`, token);
    const before = demo.calls.length;
    const echoed = await client.callTool({ name: "echo", arguments: { text: "through the proxy" } });
    assert.equal(echoed.isError, undefined);
    assert.deepEqual(echoed.content, [{ type: "text", text: "through the proxy" }]);
    const refused = await client.callTool({ name: "read_file", arguments: { path: "/etc/passwd" } });
    assert.equal(refused.isError, true);
    assert.match(JSON.stringify(refused.content), /tool_not_allowed/);
    await client.close();
    assert.deepEqual(demo.calls.slice(before).map((c) => c.tool), ["echo"], "only the allowed call reached the server");
    const decisions = gw.auditRecords().filter((r) => r.kind === "decision") as Array<{ server: string; tool: string; disposition: string }>;
    assert.deepEqual(decisions.slice(-2).map((d) => [d.server, d.tool, d.disposition]), [["payments", "echo", "allowed"], ["payments", "read_file", "blocked"]]);
  });

  test("an undeclared host is refused with unknown_host and nothing is forwarded", async () => {
    const before = otherHits;
    const reply = await proxied(gw.sidecar.url, `http://${otherAuthority}/anything`, initialize);
    assert.equal(reply.status, 403);
    assert.equal(JSON.parse(reply.body).error.data.reason, "unknown_host");
    assert.equal(otherHits, before);
    const metrics = await (await fetch(`${gw.sidecar.adminUrl}/metrics`)).text();
    assert.match(metrics, /intentgate_unknown_host_requests_total\{action="refused"\} 1/);
  });

  test("a declared host on another port is another authority: refused", async () => {
    const reply = await proxied(gw.sidecar.url, "http://payments.tools.svc:9090/mcp", initialize);
    assert.equal(reply.status, 403);
    assert.equal(JSON.parse(reply.body).error.data.reason, "unknown_host");
  });

  test("with unknownHosts passthrough, an undeclared host is forwarded unchecked and counted", async () => {
    const before = otherHits;
    const reply = await proxied(passthrough.sidecar.url, `http://${otherAuthority}/anything?x=1`, initialize);
    assert.equal(reply.status, 200);
    assert.equal(reply.body, "not mcp: POST /anything?x=1");
    assert.equal(otherHits, before + 1);
    const metrics = await (await fetch(`${passthrough.sidecar.adminUrl}/metrics`)).text();
    assert.match(metrics, /intentgate_unknown_host_requests_total\{action="passthrough"\} 1/);
  });

  test("passthrough never applies to declared hosts: their calls are still decided", async () => {
    const token = passthrough.mint([{ type: "tools", allow: ["payments.echo"] }]);
    const client = await connectThrough(passthrough.sidecar.url, `http://${SERVER_NAME}/mcp`, token);
    const refused = await client.callTool({ name: "delete_file", arguments: { path: "/x" } });
    assert.equal(refused.isError, true);
    await client.close();
  });

  test("a redirected request (origin-form, Host naming the server) routes by Host; a foreign browser Origin is refused", async () => {
    const { hostname, port } = new URL(gw.sidecar.url);
    const send = (headers: Record<string, string>): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        const req = httpRequest({ host: hostname, port, method: "POST", path: "/mcp", headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers } }, (res) => {
          let text = "";
          res.on("data", (c: Buffer) => (text += c.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        req.on("error", reject);
        req.end(initialize);
      });
    const routed = await send({ host: SERVER_NAME });
    assert.equal(routed.status, 200, routed.body);
    assert.match(routed.body, /intentgate-demo/);
    const foreign = await send({ host: SERVER_NAME, origin: "http://evil.example" });
    assert.equal(foreign.status, 403);
    assert.equal(JSON.parse(foreign.body).error.data.reason, "origin_not_allowed");
    const undeclared = await send({ host: "evil.example:8080" });
    assert.equal(undeclared.status, 403);
    assert.equal(JSON.parse(undeclared.body).error.data.reason, "host_not_allowed");
  });
});
