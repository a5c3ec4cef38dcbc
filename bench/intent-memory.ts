// What the intent and memory checks add to a call when their caches hit, measured in one process
// with the real check factories (sidecar/checks/intent.ts and memory.ts), against the intent check
// switched off (the stage every gateway runs) as the baseline of the same run. Each row runs its
// check's `run(ctx)` (awaited, as the pipeline does) in a closed loop: 200 ms of warm-up, then 5
// samples of 150 ms; the table gives the median sample. Misses (an HTTP extraction on loopback,
// an Ed25519 verification) are measured too, for scale. About 10 s.
//   node bench/intent-memory.ts
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus } from "node:os";
import { createIntentCheck } from "../sidecar/checks/intent.ts";
import { createMemoryCheck } from "../sidecar/checks/memory.ts";
import type { CallContext, Check } from "../sidecar/checks/types.ts";
import { createBuiltinExtractor } from "../sidecar/intent/builtin.ts";
import { createCachedExtractor } from "../sidecar/intent/cache.ts";
import { ToolCatalog } from "../sidecar/intent/catalog.ts";
import { createHttpExtractor } from "../sidecar/intent/http.ts";
import { foldCaveats, KeyRing, promptSha256, ringWriterKeys, signMemoryItem, verifyMemoryItem, WriterKey, type TokenHeader } from "../wire/index.ts";

const WARMUP_MS = 200;
const SAMPLES = 5;
const SAMPLE_MS = 150;

const PROMPT = "Pay Acme Corp's March invoice, 1,250 EUR, to the IBAN in our vendor records; do not delete anything";
const ring = KeyRing.fromFile({ version: 1, active: "k1", keys: [{ kid: "k1", scope: "master", secret: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", created_at: "2026-01-01T00:00:00.000Z" }] });
const header = { version: 1, id: "root-id-0001", kid: "k1", tenant: "acme", subject: "agent-1", issuer: "bench", issued_at: 0 } as unknown as TokenHeader;
const effective = foldCaveats(header, [{ type: "tools", allow: ["payments.transfer"] }, { type: "prompt", sha256: promptSha256(PROMPT) }]);

// Four memory items as a RAG step might present them: ~100-300 bytes of content each.
const writer = WriterKey.fromRing(ring, "acme", "crm-sync");
const nowS = Math.floor(Date.now() / 1000);
const contents = [
  "Acme Corp IBAN: NL12ACME0123456",
  "Acme Corp invoices are payable within 30 days of issue; late fees apply after 45 days.",
  "Vendor record: Acme Corp, Keizersgracht 1, Amsterdam. Contact: accounts@acme.example. Preferred currency EUR.",
  "March invoice INV-2026-0313 from Acme Corp: 1,250.00 EUR, consulting services, due 2026-04-12. ".repeat(3),
];
const items = contents.map((content, i) => ({ ...signMemoryItem(writer, { id: `mem-00${i + 1}`, content, writtenAt: nowS - 3600, expiresAt: nowS + 86_400 }), content }));

const context = (memoryItems?: unknown[]): CallContext => ({
  decisionId: randomUUID(),
  now: Date.now(),
  tenant: "acme",
  agent: "agent-1",
  server: "payments",
  tool: "transfer",
  name: "payments.transfer",
  arguments: { amount: 1250, currency: "EUR", iban: "NL12ACME0123456" },
  token: "t",
  prompt: PROMPT,
  ...(memoryItems ? { memoryItems } : {}),
  verified: { header, effective },
});

// An extractor speaking /v1/extract on loopback, for the HTTP rows.
const recommendation = { summary: "pay Acme", allowed_tools: ["payments.transfer"], forbidden_tools: ["files.delete_file"], confidence: 0.9, rationale: "payment" };
const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ intent: recommendation })));
});
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const http = createHttpExtractor({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, timeoutMs: 2000 });

const catalog = new ToolCatalog();
catalog.record("files", [
  { name: "read_file", description: "Read a file under /data" },
  { name: "list_files", description: "List files in a folder" },
  { name: "delete_file", description: "Delete a file" },
]);
catalog.record("payments", [{ name: "transfer", description: "Transfer money to an IBAN" }]);
// 200 more tools with made-up names and descriptions, as a large deployment might list.
catalog.record("crm", Array.from({ length: 200 }, (_, i) => ({ name: `op_${i}_record`, description: `Operation ${i} on customer records and their history` })));

const cached = (inner: Parameters<typeof createCachedExtractor>[0], generation?: () => number) =>
  createCachedExtractor(inner, { maxEntries: 10_000, ttlMs: 3_600_000, ...(generation ? { generation } : {}) });
const intent = (extractor: Parameters<typeof createCachedExtractor>[0] | undefined): Check => createIntentCheck({ mode: "enforce", extractor, minConfidence: 0.5 });
const memory = (): Check => createMemoryCheck({ mode: "enforce", keys: ringWriterKeys(ring), maxItems: 32, maxContentBytes: 65_536, skewSeconds: 30 });
const memoryKeys = ringWriterKeys(ring);

const rows: Array<[string, () => unknown]> = [
  ["intent off (baseline: the stage every gateway runs)", ((c) => () => c.run(context()))(intent(undefined))],
  ["intent, HTTP extractor, cache hit", ((c) => () => c.run(context()))(intent(cached(http)))],
  ["intent, built-in classifier (204 tools), cache hit", ((c) => () => c.run(context()))(intent(cached(createBuiltinExtractor(catalog), () => catalog.generation)))],
  ["intent, built-in classifier (204 tools), no cache", ((c) => () => c.run(context()))(intent(createBuiltinExtractor(catalog)))],
  ["intent, HTTP extractor, no cache (loopback round trip)", ((c) => () => c.run(context()))(intent(http))],
  ["memory, no items presented", ((c) => () => c.run(context()))(memory())],
  ["memory, 1 item, signature cached", ((c) => () => c.run(context(items.slice(0, 1))))(memory())],
  ["memory, 4 items, signatures cached", ((c) => () => c.run(context(items)))(memory())],
  ["memory, 1 item, no cache (Ed25519 verification)", () => verifyMemoryItem(items[0], { tenant: "acme", now: nowS, skewSeconds: 30, keys: memoryKeys })],
];

let sink = 0;
async function opsPerSecond(fn: () => unknown, ms: number): Promise<number> {
  const end = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
  const start = process.hrtime.bigint();
  let n = 0;
  while (process.hrtime.bigint() < end) {
    for (let i = 0; i < 16; i++) {
      const result = fn();
      const verdict = result instanceof Promise ? await result : result;
      if ((verdict as { ok: boolean }).ok) sink++;
    }
    n += 16;
  }
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

const results: { name: string; rate: number }[] = [];
for (const [name, fn] of rows) {
  // Every check must pass its input, or the row would time a refusal.
  const first = fn();
  if (!((first instanceof Promise ? await first : first) as { ok: boolean }).ok) throw new Error(`${name}: the benchmark call is refused`);
  await opsPerSecond(fn, WARMUP_MS);
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) samples.push(await opsPerSecond(fn, SAMPLE_MS));
  samples.sort((a, b) => a - b);
  results.push({ name, rate: samples[SAMPLES >> 1] as number });
}
await http.close();
server.close();

const baseline = results[0]?.rate ?? 1;
const fmt = (n: number, digits = 0): string => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
console.log(`Node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? "unknown"}); median of ${SAMPLES} x ${SAMPLE_MS} ms after ${WARMUP_MS} ms warm-up\n`);
console.log("| check, situation | calls/s | µs/call | added over baseline, µs |");
console.log("|---|---:|---:|---:|");
for (const { name, rate } of results) console.log(`| ${name} | ${fmt(rate)} | ${fmt(1e6 / rate, 2)} | ${name.startsWith("intent off") ? "—" : fmt(1e6 / rate - 1e6 / baseline, 2)} |`);
if (sink === -1) console.log(sink);
