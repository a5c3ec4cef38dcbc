// Capability-token micro-benchmark: ops/s of mint, attenuate, verify and coverage, against one bare
// HMAC-SHA256 of the same header bytes measured in the same run. About 4 s in all.
//   node bench/tokens.ts
import { createHmac } from "node:crypto";
import { cpus } from "node:os";
import {
  attenuateToken,
  checkCoverage,
  checkLiveness,
  decodeToken,
  KeyRing,
  mintToken,
  promptSha256,
  RevocationSet,
  verifySignature,
  type Caveat,
  type ToolCall,
} from "../wire/index.ts";

const WARMUP_MS = 200;
const SAMPLES = 5;
const SAMPLE_MS = 100;

const ring = KeyRing.fromFile({
  version: 1,
  active: "k1",
  keys: [{ kid: "k1", scope: "master", secret: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", created_at: "2026-01-01T00:00:00.000Z" }],
});
const now = Math.floor(Date.now() / 1000);
const prompt = "Pay Zo\u00eb \u00c5ngstr\u00f6m's invoice: 1 250,00 \u20ac";
// A realistic grant: tools, servers, expiry, two argument constraints and a prompt binding.
const caveats: Caveat[] = [
  { type: "tools", allow: ["bank.transfer", "bank.balance", "docs.read_*"] },
  { type: "servers", allow: ["bank", "docs"] },
  { type: "expires", at: now + 3600 },
  { type: "arg", tools: ["bank.transfer"], path: "/amount", op: "le", value: 1500 },
  { type: "arg", tools: ["bank.transfer"], path: "/iban", op: "eq", value: "FR7630006000011234567890189" },
  { type: "prompt", sha256: promptSha256(prompt) },
];
const mintOptions = { tenant: "acme", subject: "agent-7", caveats, issuedAt: now };
const root = mintToken(ring, mintOptions);
const hop: Caveat[] = [{ type: "tools", allow: ["bank.transfer"] }, { type: "expires", at: now + 600 }];
const token = attenuateToken(root, hop);
const revocations = new RevocationSet(Array.from({ length: 1000 }, (_, i) => `revoked-${String(i).padStart(8, "0")}`));
const verified = checkLiveness(verifySignature(token, ring) as never, { now, revocations });
if (!verified.ok) throw new Error(`benchmark token does not verify: ${verified.message}`);
const call: ToolCall = { server: "bank", tool: "transfer", arguments: { amount: 1250, iban: "FR7630006000011234567890189" }, agent: "agent-7", prompt };
if (!checkCoverage(verified.effective, call).ok) throw new Error("benchmark call is not covered");
const decoded = decodeToken(token);
if (!decoded.ok) throw new Error("benchmark token does not decode");
const headerBytes = decoded.token.segments[0] as Buffer;
const key = ring.tenantKey("k1", "acme");

let sink = 0; // keeps results alive so that no work is optimised away
const ops: [string, () => void][] = [
  ["HMAC-SHA256 of the header bytes (baseline)", () => (sink += createHmac("sha256", key).update(headerBytes).digest()[0] as number)],
  [`mint (${caveats.length} caveats)`, () => (sink += mintToken(ring, mintOptions).length)],
  [`attenuate (+1 hop, ${hop.length} caveats)`, () => (sink += attenuateToken(root, hop).length)],
  [
    "verifySignature + checkLiveness (1 hop, 1,000 revoked ids)",
    () => {
      const r = verifySignature(token, ring);
      if (r.ok) sink += checkLiveness(r, { now, revocations }).ok ? 1 : 0;
    },
  ],
  ["checkCoverage (tool, server, 2 args, prompt)", () => (sink += checkCoverage(verified.effective, call).ok ? 1 : 0)],
];

function opsPerSecond(fn: () => void, ms: number): number {
  const end = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
  const start = process.hrtime.bigint();
  let n = 0;
  while (process.hrtime.bigint() < end) {
    for (let i = 0; i < 32; i++) fn();
    n += 32;
  }
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

const rows: { name: string; rate: number }[] = [];
for (const [name, fn] of ops) {
  opsPerSecond(fn, WARMUP_MS);
  const samples = Array.from({ length: SAMPLES }, () => opsPerSecond(fn, SAMPLE_MS)).sort((a, b) => a - b);
  rows.push({ name, rate: samples[SAMPLES >> 1] as number });
}

const baseline = rows[0]?.rate ?? 1;
const fmt = (n: number, digits = 0): string => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
console.log(`Node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? "unknown"}); median of ${SAMPLES} x ${SAMPLE_MS} ms after ${WARMUP_MS} ms warm-up; token ${token.length} chars\n`);
console.log("| operation | ops/s | µs/op | cost in baseline HMACs |");
console.log("|---|---:|---:|---:|");
for (const { name, rate } of rows) console.log(`| ${name} | ${fmt(rate)} | ${fmt(1e6 / rate, 2)} | ${fmt(baseline / rate, 1)} |`);
if (sink === -1) console.log(sink);
