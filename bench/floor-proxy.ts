// The benchmark's floor: the bare proxy plus only what no IntentGate sidecar can skip on a tools/call,
// using the product's own modules. Per call it parses the body, evaluates the default policy
// in opa-wasm (the smallest real policy) and appends one chained audit record to an fsynced spool
// (group commit), waiting for it before forwarding. No token, no budget, no outcome record, no
// metrics, no strict parsing or answer matching. Whatever share of the bare proxy's throughput
// this keeps is an upper bound for the sidecar with every check on.
//   node bench/floor-proxy.ts <upstream url> <spool dir>    prints one JSON line {"url": ...}
import { createSecretKey, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Pool } from "undici";
import { AuditSpool } from "../sidecar/audit/spool.ts";
import { loadPolicyBundle } from "../sidecar/policy/index.ts";
import { decisionEvent } from "../test/support/audit.ts";
import { fail, readBody, requestHeaders, responseHeaders } from "./bare-proxy.ts";

const ROOT = new URL("../", import.meta.url).pathname;

export async function startFloorProxy(upstreamUrl: string, spoolDir: string): Promise<ReturnType<typeof createServer>> {
  const target = new URL(upstreamUrl);
  const path = `${target.pathname}${target.search}`;
  const pool = new Pool(target.origin, { connections: 64, pipelining: 1 });
  const policy = await loadPolicyBundle(readFileSync(join(ROOT, "policies/default/build/policy.wasm")));
  const spool = AuditSpool.open({ dir: spoolDir, stream: "floor", chainKey: createSecretKey(randomBytes(32)) });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const call = JSON.parse(body.toString("utf8")) as { params: { name: string; arguments: Record<string, unknown> } };
    const name = `payments.${call.params.name}`;
    const verdict = policy.evaluate({ name, tool: call.params.name, server: "payments", arguments: call.params.arguments } as never);
    if (!verdict.ok) throw new Error(`policy refused the call: ${verdict.code}`);
    await spool.append(decisionEvent(1, { server: "payments", tool: call.params.name })); // an allowed call's record, of the sidecar's shape and size
    await pool.stream({ path, method: "POST", headers: requestHeaders(req), body, opaque: res }, ({ statusCode, headers, opaque }) => {
      const out = opaque as ServerResponse;
      out.writeHead(statusCode, responseHeaders(headers));
      return out;
    });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => fail(res, error));
  });
  server.keepAliveTimeout = 120_000;
  server.on("close", () => void pool.close().then(() => spool.close()));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

if (import.meta.main) {
  const [upstream, spoolDir] = process.argv.slice(2);
  if (upstream === undefined || spoolDir === undefined) {
    process.stderr.write("usage: node bench/floor-proxy.ts <upstream url> <spool dir>\n");
    process.exit(2);
  }
  const server = await startFloorProxy(upstream, spoolDir);
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}/mcp/payments` })}\n`);
  process.once("SIGTERM", () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
