// Byte compatibility in practice: a token minted in one language and attenuated in the other is accepted
// by a real sidecar (official MCP clients on both sides), and a hop that adds a tool outside its parent's
// is refused. The Python SDK runs in its own process with the standard library's crypto only.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { attenuateToken, bindPrompt, inspectToken, mintToken, refusalOf, sidecarTransportOptions, TokenKeys, toolCallMeta } from "../../sdk/typescript/src/index.ts";
import { AGENT, startGateway, TENANT, type Gateway } from "../support/gateway.ts";
import { pythonSdk, ROOT } from "./python.ts";
import { readFileSync } from "node:fs";

const run = promisify(execFile);
let gw: Gateway;
let python: string;

const py = async (...args: string[]): Promise<string> => (await run(python, [join(ROOT, "test/sdk/xlang.py"), ...args], { cwd: ROOT })).stdout.trim();
const filesUrl = (): string => `${gw.sidecar.url}/mcp/files`;

async function callWithTs(token: string, tool: string, args: Record<string, unknown>, prompt?: string): Promise<string> {
  const client = new Client({ name: "xlang-agent", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(filesUrl()), sidecarTransportOptions(token)));
  try {
    const result = await client.callTool({ name: tool, arguments: args, ...(prompt === undefined ? {} : { _meta: toolCallMeta({ prompt }) }) });
    return refusalOf(result)?.code ?? (result.isError ? "tool_error" : "allowed");
  } finally {
    await client.close();
  }
}

async function callWithPython(token: string, tool: string, args: Record<string, unknown>): Promise<string> {
  const outcome = JSON.parse(await py("call", filesUrl(), token, tool, JSON.stringify(args))) as { refused: string | null; is_error: boolean };
  return outcome.refused ?? (outcome.is_error ? "tool_error" : "allowed");
}

before(async () => {
  python = pythonSdk();
  gw = await startGateway({ policy: "default" });
});
after(async () => gw.close());

void test("minted in Python, attenuated and prompt-bound in TypeScript: the sidecar accepts it, and refuses a widened hop", async () => {
  const parent = await py("mint", join(gw.dir, "keys.json"), TENANT, AGENT, JSON.stringify([{ type: "tools", allow: ["files.read_file", "files.list_files"] }]));
  const prompt = "R\u00e9sume le rapport trimestriel \ud83d\udcca";
  const child = await bindPrompt(await attenuateToken(parent, [{ type: "tools", allow: ["files.read_file"] }, { type: "arg", path: "/path", op: "under", value: "/data" }]), prompt);
  const before = gw.demo.calls.length;
  assert.equal(await callWithTs(child, "read_file", { path: "/data/report.csv" }, prompt), "allowed");
  assert.equal(gw.demo.calls.length, before + 1);
  assert.equal(await callWithTs(child, "read_file", { path: "/data/report.csv" }, `${prompt}!`), "prompt_mismatch");
  assert.equal(await callWithTs(child, "list_files", { folder: "/data" }, prompt), "tool_not_allowed");

  const widened = await attenuateToken(parent, [{ type: "tools", allow: ["files.read_file", "files.delete_file"] }]);
  assert.equal(await callWithTs(widened, "delete_file", { path: "/data/report.csv" }), "tool_not_allowed");
  assert.equal(gw.demo.calls.length, before + 1, "nothing refused reached the server");
});

void test("minted in TypeScript, attenuated in Python: the sidecar accepts it through the Python MCP client, and refuses a widened hop", async () => {
  const keys = TokenKeys.fromFile(JSON.parse(readFileSync(join(gw.dir, "keys.json"), "utf8")));
  const parent = await mintToken(keys, { tenant: TENANT, subject: AGENT, issuedAt: Math.floor(Date.now() / 1000), caveats: [{ type: "tools", allow: ["files.read_file", "files.list_files"] }] });
  const child = await py("attenuate", parent, JSON.stringify([{ type: "tools", allow: ["files.read_file"] }, { type: "arg", path: "/path", op: "under", value: "/d\u00e4ta" }]));
  const seen = inspectToken(child);
  assert.ok(seen.ok);
  assert.equal(seen.revocationIds.length, 2, "the Python hop has its own id");
  const before = gw.demo.calls.length;
  assert.equal(await callWithPython(child, "read_file", { path: "/d\u00e4ta/b\u00e9r\u00e9nice.txt" }), "allowed");
  assert.equal(await callWithTs(child, "read_file", { path: "/d\u00e4ta/b\u00e9r\u00e9nice.txt" }), "allowed");
  assert.equal(await callWithPython(child, "read_file", { path: "/etc/passwd" }), "argument_violation");
  assert.equal(gw.demo.calls.length, before + 2);

  const widened = await py("attenuate", parent, JSON.stringify([{ type: "tools", allow: ["files.read_file", "files.delete_file"] }]));
  assert.equal(await callWithPython(widened, "delete_file", { path: "/data/report.csv" }), "tool_not_allowed");
  // Cutting the parent's caveat out of the chain (instead of adding a hop) breaks the signature.
  const parts = widened.split(".");
  assert.equal(await callWithPython([...parts.slice(0, 2), ...parts.slice(3)].join("."), "delete_file", { path: "/data/report.csv" }), "bad_signature");
  assert.equal(gw.demo.calls.length, before + 2, "nothing refused reached the server");
});
