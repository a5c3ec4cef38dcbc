// Memory provenance through a running sidecar: the product page's IBAN scenario with the official
// MCP SDK client and the real demo MCP server, the runnable example as a user runs it, and every
// failure kind of the memory check, in enforce and advisory mode, with what the audit record says.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { buildConfig, ConfigError } from "../../sidecar/config/load.ts";
import { KeyRing, signMemoryItem, WriterKey, type MemoryItem } from "../../wire/index.ts";
import { ROOT, startGateway, TENANT, type Gateway, type GatewayOptions } from "../support/gateway.ts";
import { startRecordingUpstream } from "../support/recording-upstream.ts";
import { outcomeOf, postRpc, toolCall } from "../support/rpc.ts";

const LEGIT = "Acme Corp IBAN: NL12ACME0123456";
const PLANTED = "Acme Corp IBAN: NL00ATTACKER";
const now = (): number => Math.floor(Date.now() / 1000);

const present = (item: MemoryItem, content: string): Record<string, unknown> => ({ ...item, content });
const signed = (gw: Gateway, id: string, content: string, options: { writer?: string; tenant?: string; writtenAt?: number; expiresAt?: number; ring?: KeyRing } = {}): Record<string, unknown> => {
  const key = WriterKey.fromRing(options.ring ?? gw.keys, options.tenant ?? TENANT, options.writer ?? "crm-sync");
  const item = signMemoryItem(key, { id, content, writtenAt: options.writtenAt ?? now() - 60, ...(options.expiresAt !== undefined ? { expiresAt: options.expiresAt } : {}) });
  return present(item, content);
};

async function transferWithSdk(gw: Gateway, iban: string, memory: unknown[]): Promise<{ code: string; reason: string }> {
  const client = new Client({ name: "payments-agent", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.sidecar.url}/mcp/payments`), { requestInit: { headers: { authorization: `Bearer ${gw.mint()}` } } }));
  try {
    const result = await client.callTool({ name: "transfer", arguments: { amount: 250, currency: "EUR", iban }, _meta: { "dev.intentgate/memory": memory } });
    const decision = result._meta?.["dev.intentgate/decision"] as { code: string; reason: string } | undefined;
    return decision ?? { code: "allowed", reason: "" };
  } finally {
    await client.close();
  }
}

const lastDecision = (gw: Gateway): Record<string, any> => (gw.auditRecords() as unknown as Array<Record<string, any>>).filter((r) => r["kind"] === "decision").at(-1) ?? {};

describe("the product page's scenario: a planted IBAN in the agent's memory", () => {
  test("provenance off: the transfer to the planted IBAN goes through", async () => {
    const gw = await startGateway({ policy: "default" });
    try {
      const outcome = await transferWithSdk(gw, "NL00ATTACKER", [{ id: "mem-002", content: PLANTED }]);
      assert.equal(outcome.code, "allowed");
      assert.deepEqual(gw.demo.calls.map((c) => c.arguments["iban"]), ["NL00ATTACKER"]);
      assert.equal(lastDecision(gw)["memory"], undefined, "no memory verdict when the check is off");
    } finally {
      await gw.close();
    }
  });

  test("provenance on: that transfer is refused and the audit record says why; the legitimate one goes through", async () => {
    const gw = await startGateway({ policy: "default", config: { memory: { provenance: true, writers: ["crm-sync"] } } });
    try {
      const mem001 = signed(gw, "mem-001", LEGIT);
      const refused = await transferWithSdk(gw, "NL00ATTACKER", [{ id: "mem-002", content: PLANTED }]);
      assert.equal(refused.code, "memory_unsigned");
      assert.equal(refused.reason, "memory item mem-002 carries no signature");
      const record = lastDecision(gw);
      assert.equal(record["disposition"], "blocked");
      assert.equal(record["stage"], "memory");
      assert.equal(record["code"], "memory_unsigned");
      assert.equal(record["reason"], "memory item mem-002 carries no signature");
      assert.deepEqual(record["memory"], { checked: true, items: [{ id: "mem-002", ok: false, code: "memory_unsigned", writer: null }] });
      assert.ok(!JSON.stringify(gw.auditRecords()).includes("NL00ATTACKER"), "neither content nor argument values are in the audit log");

      // The agent retrieved both entries: presenting them both still refuses.
      assert.equal((await transferWithSdk(gw, "NL00ATTACKER", [mem001, { id: "mem-002", content: PLANTED }])).code, "memory_unsigned");

      const allowed = await transferWithSdk(gw, "NL12ACME0123456", [mem001]);
      assert.equal(allowed.code, "allowed");
      assert.deepEqual(lastDecision(gw)["memory"], { checked: true, items: [{ id: "mem-001", ok: true, code: null, writer: "crm-sync" }] });
      assert.deepEqual(gw.demo.calls.map((c) => c.arguments["iban"]), ["NL12ACME0123456"], "only the legitimate transfer reached the tool server");
    } finally {
      await gw.close();
    }
  });

  test("the runnable example (node examples/memory-poisoning/scenario.ts) shows the same", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [`${ROOT}examples/memory-poisoning/scenario.ts`], { timeout: 60_000 });
    const outcomes = stdout.split("\n").filter((l) => /^\s+(TRANSFERRED|REFUSED)/.test(l)).map((l) => l.trim().split(/\s+/).slice(0, 2).join(" "));
    assert.deepEqual(outcomes, ["TRANSFERRED allowed", "REFUSED memory_unsigned:", "TRANSFERRED allowed", "REFUSED memory_altered:"]);
    assert.match(stdout, /stage=memory code=memory_unsigned memory=\{"checked":true,"items":\[\{"code":"memory_unsigned","id":"mem-002","ok":false,"writer":null\}\]\}/);
  });
});

describe("memory check: every failure kind refuses, nothing is forwarded", () => {
  let gw: Gateway;
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  const options = (): GatewayOptions => ({ policy: "default", upstreamUrl: upstream.url, config: { memory: { provenance: true, writers: ["crm-sync", "kb-indexer"], maxItems: 4, maxContentBytes: 64 } } });
  before(async () => {
    upstream = await startRecordingUpstream();
    gw = await startGateway(options());
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });
  const call = async (memory: unknown): Promise<{ code: string; reason: string }> => {
    const reply = await postRpc(`${gw.sidecar.url}/mcp/payments`, toolCall(1, "transfer", { amount: 250, currency: "EUR", iban: "NL12ACME0123456" }, memory === undefined ? undefined : { "dev.intentgate/memory": memory }), gw.mint());
    return { code: outcomeOf(reply), reason: reply.body?.result?._meta?.["dev.intentgate/decision"]?.reason ?? "" };
  };
  const codeOf = async (memory: unknown): Promise<string> => (await call(memory)).code;

  test("valid items, or none, pass (and a repeated item, verified from the cache, still passes)", async () => {
    const before = upstream.requests.length;
    assert.equal(await codeOf(undefined), "allowed");
    assert.equal(await codeOf([]), "allowed");
    const item = signed(gw, "mem-001", LEGIT);
    assert.equal(await codeOf([item, signed(gw, "kb-7", "Acme invoices are due in 30 days", { writer: "kb-indexer" })]), "allowed");
    assert.equal(await codeOf([item]), "allowed");
    assert.equal(upstream.requests.length - before, 4);
  });

  test("each kind has its code", async () => {
    const before = upstream.requests.length;
    const item = signed(gw, "mem-001", LEGIT);
    const cases: [string, unknown][] = [
      ["memory_unsigned", [{ id: "mem-002", content: PLANTED }]],
      ["memory_unsigned", [{ ...item, signature: "" }]],
      ["memory_altered", [{ ...item, content: PLANTED }]],
      ["memory_altered", [{ ...item, id: "mem-003" }]],
      ["memory_altered", [{ ...item, written_at: (item["written_at"] as number) - 1 }]],
      ["memory_altered", [{ ...item, signature: signed(gw, "mem-001", PLANTED)["signature"] }]],
      ["memory_altered", [signed(gw, "mem-001", LEGIT, { ring: KeyRing.fromFile(KeyRing.generateFile("k1")) })]],
      ["memory_expired", [signed(gw, "mem-001", LEGIT, { writtenAt: now() - 7200, expiresAt: now() - 3600 })]],
      ["memory_not_yet_valid", [signed(gw, "mem-001", LEGIT, { writtenAt: now() + 3600 })]],
      ["memory_foreign_tenant", [signed(gw, "mem-001", LEGIT, { tenant: "globex" })]],
      ["memory_untrusted_writer", [signed(gw, "mem-001", LEGIT, { writer: "intern-bot" })]],
      ["memory_unknown_key", [signed(gw, "mem-001", LEGIT, { ring: KeyRing.fromFile(KeyRing.generateFile("k2")) })]],
      ["memory_malformed", { "mem-001": item }],
      ["memory_malformed", [item, item, item, item, item]],
      ["memory_malformed", [{ ...item, note: "unsigned rider" }]],
      ["memory_malformed", [signed(gw, "mem-001", "x".repeat(65))]],
      ["memory_malformed", ["mem-001"]],
    ];
    for (const [expected, memory] of cases) assert.equal(await codeOf(memory), expected, JSON.stringify(memory).slice(0, 160));
    assert.equal(upstream.requests.length, before, "no refused call was forwarded");
  });

  test("one bad item among good ones refuses; the reason names every failed item, the audit record every item", async () => {
    const good = signed(gw, "mem-001", LEGIT);
    const { code, reason } = await call([good, { id: "mem-002", content: PLANTED }, { ...good, id: "mem-009" }]);
    assert.equal(code, "memory_unsigned");
    assert.match(reason, /^memory item mem-002 carries no signature; memory item mem-009 has a signature that does not verify/);
    assert.deepEqual(lastDecision(gw)["memory"], {
      checked: true,
      items: [
        { id: "mem-001", ok: true, code: null, writer: "crm-sync" },
        { id: "mem-002", ok: false, code: "memory_unsigned", writer: null },
        { id: "mem-009", ok: false, code: "memory_altered", writer: "crm-sync" },
      ],
    });
  });

  test("advisory mode: the call goes to the policy with every item's verdict, and the default policy blocks it", async () => {
    const advisory = await startGateway({ ...options(), config: { memory: { provenance: true, mode: "advisory" } } });
    try {
      const reply = await postRpc(
        `${advisory.sidecar.url}/mcp/payments`,
        toolCall(1, "transfer", { amount: 250, currency: "EUR", iban: "NL00ATTACKER" }, { "dev.intentgate/memory": [signed(advisory, "mem-001", LEGIT), { id: "mem-002", content: PLANTED }] }),
        advisory.mint(),
      );
      assert.equal(outcomeOf(reply), "policy_blocked");
      assert.equal(reply.body.result._meta["dev.intentgate/decision"].reason, "memory item mem-002 failed provenance (carries no signature)");
      const record = lastDecision(advisory);
      assert.equal(record["stage"], "policy");
      assert.deepEqual(record["memory"].items.map((i: { ok: boolean }) => i.ok), [true, false]);
    } finally {
      await advisory.close();
    }
  });
});

describe("memory configuration", () => {
  const base = { tenant: "acme", agent: "a", keys: "k.json", upstreams: [{ name: "files", url: "http://127.0.0.1:1/mcp" }], policy: { bundle: "p.wasm" }, audit: { spool: "s", keys: "ak.json" } };
  test("off by default; enforce, 32 items, 64 KiB; bad writers and bounds are refused", () => {
    assert.deepEqual(buildConfig(base, {}, "/tmp").memory, { provenance: false, mode: "enforce", maxItems: 32, maxContentBytes: 65536 });
    for (const memory of [{ provenance: "yes" }, { writers: [] }, { writers: ["a b"] }, { writers: ["a", "a"] }, { maxItems: 0 }, { maxItems: 257 }, { mode: "audit" }, { maxAgeSeconds: 0 }, { sign: true }]) {
      assert.throws(() => buildConfig({ ...base, memory }, {}, "/tmp"), ConfigError, JSON.stringify(memory));
    }
  });
});
