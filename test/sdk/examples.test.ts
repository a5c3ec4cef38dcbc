// The getting-started examples run as a user runs them, against a real sidecar: each agent calls a tool
// through it with its official MCP client, each writer's signed item passes the memory check (and the
// same item with other content does not). The docs show the example files verbatim.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { buildSdk } from "../../sdk/typescript/build.ts";
import { refusalOf, sidecarTransportOptions, toolCallMeta, type MemoryItem } from "../../sdk/typescript/src/index.ts";
import { startGateway, TENANT, type Gateway } from "../support/gateway.ts";
import { pythonSdk, ROOT } from "./python.ts";

const run = promisify(execFile);
const IBAN_ENTRY = "Acme Corp IBAN: NL12ACME0123456";
let gw: Gateway;
let python: string;

const EXAMPLES = {
  typescript: { doc: "docs/sdk/typescript.md", agent: "sdk/typescript/examples/agent.ts", writer: "sdk/typescript/examples/writer.ts" },
  python: { doc: "docs/sdk/python.md", agent: "sdk/python/examples/agent.py", writer: "sdk/python/examples/writer.py" },
} as const;

async function runExample(language: keyof typeof EXAMPLES, which: "agent" | "writer", args: string[], env: Record<string, string>): Promise<string> {
  const file = join(ROOT, EXAMPLES[language][which]);
  const command = language === "typescript" ? process.execPath : python;
  // Run from the example's folder, as a user would: the TypeScript ones find @intentgate/sdk by its package name.
  const { stdout } = await run(command, [file, ...args], { cwd: join(file, ".."), env: { ...process.env, ...env } });
  return stdout;
}

async function transfer(memory: unknown[]): Promise<string> {
  const client = new Client({ name: "payments-agent", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.sidecar.url}/mcp/payments`), sidecarTransportOptions(gw.mint())));
  try {
    const result = await client.callTool({ name: "transfer", arguments: { amount: 250, currency: "EUR", iban: "NL12ACME0123456" }, _meta: toolCallMeta({ memory: memory as (MemoryItem & { content: string })[] }) });
    return refusalOf(result)?.code ?? "allowed";
  } finally {
    await client.close();
  }
}

before(async () => {
  python = pythonSdk();
  await buildSdk();
  gw = await startGateway({ policy: "default", config: { memory: { provenance: true, writers: ["crm-sync"] } } });
});
after(async () => gw.close());

for (const language of ["typescript", "python"] as const) {
  void test(`${language}: the agent example reads a file through the sidecar, and its narrowed token refuses a delete`, async () => {
    const before = gw.demo.calls.length;
    const out = await runExample(language, "agent", [], { INTENTGATE_URL: `${gw.sidecar.url}/mcp/files`, INTENTGATE_TOKEN: gw.mint() });
    const lines = out.trim().split("\n");
    assert.match(lines[0] ?? "", /^read_file: .*report\.csv/);
    assert.match(lines[1] ?? "", /^delete_file: refused \(tool_not_allowed\)/);
    assert.deepEqual(gw.demo.calls.slice(before).map((c) => c.tool), ["read_file"]);
  });

  void test(`${language}: the writer example's signed item passes the sidecar's memory check; other content does not`, async () => {
    const item = JSON.parse(await runExample(language, "writer", ["mem-001", IBAN_ENTRY], { INTENTGATE_KEYS: join(gw.dir, "keys.json"), INTENTGATE_TENANT: TENANT })) as MemoryItem;
    assert.equal(item.writer, "crm-sync");
    assert.equal(await transfer([{ ...item, content: IBAN_ENTRY }]), "allowed");
    assert.equal(await transfer([{ ...item, content: "Acme Corp IBAN: NL00ATTACKER" }]), "memory_altered");
  });

  void test(`${language}: the getting-started page shows both examples verbatim`, () => {
    const doc = readFileSync(join(ROOT, EXAMPLES[language].doc), "utf8");
    for (const which of ["agent", "writer"] as const) {
      assert.ok(doc.includes(readFileSync(join(ROOT, EXAMPLES[language][which]), "utf8").trimEnd()), `${EXAMPLES[language][which]} in ${EXAMPLES[language].doc}`);
    }
  });
}
