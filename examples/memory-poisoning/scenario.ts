// The memory-poisoning scenario (OWASP agentic threat T1 / AAI03), against a real gateway in front of
// the real demo MCP server, with the official MCP SDK client:
//   - a trusted writer (crm-sync) stored "Acme Corp IBAN: NL12ACME0123456" as mem-001 and signed it;
//   - an attacker who can write to the memory store, but holds no writer key, planted
//     "Acme Corp IBAN: NL00ATTACKER" as mem-002;
//   - the agent pays Acme with the IBAN it retrieved, presenting the memory item it drew it from.
// Provenance off: the planted IBAN is paid. Provenance on: that transfer is refused and the audit
// record says why; the transfer drawn from the signed item goes through; an item altered in the
// store is refused too.
//   node examples/memory-poisoning/scenario.ts
//
// The gateway runs the `default` policy, which allows transfers, so that only the memory check is at
// work here. (The `finance` policy would also block NL00ATTACKER, but only because that IBAN is
// malformed; a well-formed attacker IBAN in an allowlisted country would pass it.)
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { pino } from "pino";
import { buildConfig } from "../../sidecar/config/load.ts";
import { startSidecar } from "../../sidecar/start.ts";
import { AuditKeys } from "../../wire/audit/index.ts";
import { KeyRing, mintToken, signMemoryItem, WriterKey, type PresentedMemoryItem } from "../../wire/index.ts";
import { startDemoServer } from "../demo/mcp-server.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const TENANT = "acme";
const AGENT = "payments-agent";
export const LEGIT_IBAN = "NL12ACME0123456";
export const PLANTED_IBAN = "NL00ATTACKER";

/** What an agent can hold in its memory store: a presented item, or an unsigned entry. */
type StoredEntry = PresentedMemoryItem | { id: string; content: string };

export interface RunResult {
  name: string;
  provenance: boolean;
  iban: string;
  presented: string[];
  outcome: string;
  message: string;
  /** The decision's audit record. */
  audit: Record<string, unknown>;
  /** Whether the demo server executed this transfer. */
  executed: boolean;
}

export async function runMemoryPoisoning(print: (line: string) => void = () => undefined): Promise<RunResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "intentgate-memory-poisoning-"));
  const demo = await startDemoServer();
  try {
    // Keys: the tenant's key ring (the capability-token trust boundary) and the audit keys.
    const keyFile = KeyRing.generateFile("k1");
    writeFileSync(join(dir, "keys.json"), JSON.stringify(keyFile), { mode: 0o600 });
    writeFileSync(join(dir, "audit-keys.json"), JSON.stringify(AuditKeys.generateFile("audit-demo")), { mode: 0o600 });
    const ring = KeyRing.fromFile(keyFile);

    // The trusted writer signs what it writes (`intentgate memory sign` does the same from a shell).
    const writer = WriterKey.fromRing(ring, TENANT, "crm-sync");
    const now = Math.floor(Date.now() / 1000);
    const legitContent = `Acme Corp IBAN: ${LEGIT_IBAN}`;
    const store: StoredEntry[] = [
      { ...signMemoryItem(writer, { id: "mem-001", content: legitContent, writtenAt: now - 86_400, expiresAt: now + 90 * 86_400 }), content: legitContent },
      // The attacker writes to the store too, but cannot sign: no writer key.
      { id: "mem-002", content: `Acme Corp IBAN: ${PLANTED_IBAN}` },
    ];
    const entry = (id: string): StoredEntry => store.find((e) => e.id === id) as StoredEntry;
    const ibanOf = (e: StoredEntry): string => e.content.replace(/^.*IBAN:\s*/, "");

    const token = mintToken(ring, { tenant: TENANT, subject: AGENT, caveats: [{ type: "tools", allow: ["payments.transfer"] }], issuedAt: now });
    print(`memory store: mem-001 "${store[0]?.content}" (signed by crm-sync); mem-002 "${store[1]?.content}" (planted, unsigned)`);

    const results: RunResult[] = [];
    const run = async (name: string, provenance: boolean, presented: StoredEntry[]): Promise<void> => {
      const spool = join(dir, `audit-${results.length}`);
      const config = buildConfig(
        {
          tenant: TENANT,
          agent: AGENT,
          listen: { host: "127.0.0.1", port: 0 },
          admin: { host: "127.0.0.1", port: 0 },
          keys: join(dir, "keys.json"),
          upstreams: [{ name: "payments", url: demo.url }],
          policy: { bundle: join(ROOT, "policies/default/build/policy.wasm") },
          memory: { provenance, writers: ["crm-sync"] },
          audit: { spool, keys: join(dir, "audit-keys.json"), stream: "memory-poisoning" },
          logLevel: "silent",
        },
        {},
        dir,
      );
      const sidecar = await startSidecar(config, { log: pino({ level: "silent" }) });
      const client = new Client({ name: "payments-agent", version: "1.0.0" });
      try {
        await client.connect(new StreamableHTTPClientTransport(new URL(`${sidecar.url}/mcp/payments`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
        const iban = ibanOf(presented[0] as StoredEntry);
        const before = demo.calls.length;
        const result = await client.callTool({
          name: "transfer",
          arguments: { amount: 250, currency: "EUR", iban },
          // The agent's memory middleware presents the items the call was drawn from.
          _meta: { "dev.intentgate/memory": presented },
        });
        const decision = result._meta?.["dev.intentgate/decision"] as { code: string; reason: string } | undefined;
        const audit = readAudit(spool).at(-1) ?? {};
        const r: RunResult = {
          name,
          provenance,
          iban,
          presented: presented.map((p) => p.id),
          outcome: decision?.code ?? "allowed",
          message: decision?.reason ?? "",
          audit,
          executed: demo.calls.length > before,
        };
        results.push(r);
        print("");
        print(`${name}`);
        print(`  provenance ${provenance ? "on " : "off"}  transfer 250 EUR to ${iban.padEnd(16)} presenting ${r.presented.join(", ")}`);
        print(`  ${r.executed ? "TRANSFERRED" : "REFUSED    "} ${r.outcome}${r.message ? `: ${r.message}` : ""}`);
        print(`  audit: disposition=${String(audit["disposition"])} stage=${String(audit["stage"])} code=${String(audit["code"])}${audit["memory"] ? ` memory=${JSON.stringify(audit["memory"])}` : ""}`);
      } finally {
        await client.close().catch(() => undefined);
        await sidecar.close();
      }
    };

    await run("1. the agent pays the planted IBAN, provenance off", false, [entry("mem-002")]);
    await run("2. the same call, provenance on", true, [entry("mem-002")]);
    await run("3. the legitimate transfer, drawn from the signed item, provenance on", true, [entry("mem-001")]);
    const tampered = { ...(entry("mem-001") as PresentedMemoryItem), content: `Acme Corp IBAN: ${PLANTED_IBAN}` };
    await run("4. the attacker rewrites mem-001's content in the store, provenance on", true, [tampered]);
    return results;
  } finally {
    await demo.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function readAudit(dir: string): Record<string, unknown>[] {
  return readdirSync(dir)
    .filter((name) => /^seg-\d{12}\.ndjson$/.test(name))
    .sort()
    .flatMap((name) => readFileSync(join(dir, name), "utf8").split("\n").filter(Boolean))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((record) => record["kind"] === "decision");
}

if (import.meta.main) {
  await runMemoryPoisoning((line) => process.stdout.write(`${line}\n`));
}
