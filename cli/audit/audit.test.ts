// The auditor's helpers on their own: terminal and CSV safety, and verification of spool folders
// (a spool legitimately loses its first segments once shipped; lines out of order are named so).
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { AuditKeys, chainRecord, EMPTY_HEAD, OCSF, type ChainHead } from "../../wire/audit/index.ts";
import { loadAuditorKeys } from "./keys.ts";
import { PassThrough } from "node:stream";
import { exportCsv, Sink } from "./export.ts";
import { parseFilters } from "./filters.ts";
import { openSpools } from "./spool-source.ts";
import { csvCell, terminalSafe } from "./text.ts";
import { verifySource } from "./verifier.ts";

const dir = mkdtempSync(join(tmpdir(), "intentgate-audit-unit-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("terminalSafe shows control characters, bidi overrides and backslashes as escapes", () => {
  assert.equal(terminalSafe("a\u001b[31mb\u0007c\u202ed\\e\u0085f"), "a\\x1b[31mb\\x07c\\u{202e}d\\\\e\\x85f");
  assert.equal(terminalSafe("plain text, ünïcødé"), "plain text, ünïcødé");
});

test("csvCell defuses formulas and quotes per RFC 4180", () => {
  assert.equal(csvCell("=1+1"), "'=1+1");
  assert.equal(csvCell("+SUM(A1)"), "'+SUM(A1)");
  assert.equal(csvCell("-2"), "'-2");
  assert.equal(csvCell("@cmd"), "'@cmd");
  assert.equal(csvCell("  =x"), "'  =x");
  assert.equal(csvCell("\tx"), "'\tx");
  assert.equal(csvCell('a,"b"'), '"a,""b"""');
  assert.equal(csvCell("a\u001bb"), "a\\x1bb");
  assert.equal(csvCell(-2), "-2");
  assert.equal(csvCell(null), "");
});

const keyFile = join(dir, "keys.json");
const file = AuditKeys.generateFile("k");
writeFileSync(keyFile, JSON.stringify(file));
const keys = AuditKeys.fromFile(file);

/** A spool folder of `count` records of stream `name`, in segments of three starting at `from`, lines in the given order. */
function spool(name: string, count: number, order: (lines: string[]) => string[] = (l) => l, from = 1): string {
  const folder = join(dir, name);
  mkdirSync(folder);
  writeFileSync(join(folder, "stream.json"), JSON.stringify({ stream: name }));
  const lines: string[] = [];
  let head: ChainHead = EMPTY_HEAD;
  for (let n = 1; n <= count; n++) {
    const event = { kind: "outcome" as const, time: new Date(Date.UTC(2025, 0, 1, 0, 0, n)).toISOString(), decision_id: `d${n}`, tenant: "t", agent: "a", server: "s", tool: "x", outcome: "ok", duration_ms: n, ocsf: OCSF };
    const { record, line } = chainRecord(event, name, head, keys.chainKey);
    lines.push(line);
    head = { seq: record.seq, hash: record.hash };
  }
  const ordered = order(lines);
  for (let first = from; first <= count; first += 3) {
    writeFileSync(join(folder, `seg-${String(first).padStart(12, "0")}.ndjson`), ordered.slice(first - 1, first + 2).map((l) => `${l}\n`).join(""));
  }
  return folder;
}

const auditor = loadAuditorKeys([keyFile], []);
const verifySpool = async (folder: string) => (await verifySource(openSpools([folder]), auditor))[0];

test("a spool verifies; once its first segments are shipped it still does, from an unanchored start", async () => {
  assert.equal((await verifySpool(spool("whole", 7)))?.ok, true);
  const shipped = await verifySpool(spool("shipped", 7, undefined, 4));
  assert.deepEqual([shipped?.ok, shipped?.records, shipped?.start], [true, 4, { seq: 4, from: "unanchored" }]);
});

test("swapped lines in a spool are reordered, a missing line is deleted, an edited one modified", async () => {
  const swapped = await verifySpool(spool("swapped", 6, (l) => [l[0], l[2], l[1], ...l.slice(3)] as string[]));
  assert.deepEqual([swapped?.break?.seq, swapped?.break?.kind], [2, "reordered"]);
  const missing = await verifySpool(spool("missing", 6, (l) => l.filter((_, i) => i !== 4)));
  assert.deepEqual([missing?.break?.seq, missing?.break?.kind], [5, "deleted"]);
  const edited = await verifySpool(spool("edited", 6, (l) => l.map((x, i) => (i === 2 ? x.replace('"outcome":"ok"', '"outcome":"no"') : x))));
  assert.deepEqual([edited?.break?.seq, edited?.break?.kind], [3, "modified"]);
});

test("the CSV export has the intent check's mode and verdict of each decision", async () => {
  const folder = join(dir, "intent");
  mkdirSync(folder);
  writeFileSync(join(folder, "stream.json"), JSON.stringify({ stream: "intent" }));
  const decision = (n: number, intent?: { mode: "enforce" | "advisory"; verdict: string; confidence: number; error: null }) => ({
    kind: "decision" as const, time: "2025-01-01T00:00:00.000Z", decision_id: `d${n}`, tenant: "t", agent: "a", server: "s", tool: "x",
    disposition: "allowed" as const, stage: null, code: null, reason: null, token_ids: null, arguments: { names: [], sha256: null, values: null },
    cost: 1, policy: null, ...(intent ? { intent } : {}), ocsf: OCSF,
  });
  const first = chainRecord(decision(1, { mode: "advisory", verdict: "intent_not_allowed", confidence: 0.4, error: null }), "intent", EMPTY_HEAD, keys.chainKey);
  const second = chainRecord(decision(2), "intent", { seq: first.record.seq, hash: first.record.hash }, keys.chainKey);
  writeFileSync(join(folder, "seg-000000000001.ndjson"), `${first.line}\n${second.line}\n`);
  const out = new PassThrough();
  let text = "";
  out.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
  await exportCsv(openSpools([folder]), parseFilters({}), new Sink(out));
  const [header, ...rows] = text.trimEnd().split("\r\n").map((line) => line.split(","));
  const column = (name: string): string[] => rows.map((row) => row[(header as string[]).indexOf(name)] as string);
  assert.deepEqual(column("intent_mode"), ["advisory", ""]);
  assert.deepEqual(column("intent_verdict"), ["intent_not_allowed", ""]);
});
