// Tampering with a real audit database is caught by `intentgate audit verify`, with the stream, seq
// and kind of the first break. Records come from real sidecars (two streams, one audit key file),
// are loaded into a real PostgreSQL cluster with plain INSERTs, tampered with as an attacker with
// database access would, and verified by the CLI as a child process. Also: exports verify offline,
// CSV cannot smuggle formulas, and tail cannot smuggle terminal escapes.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { AuditKeys, chainRecord, type AuditRecord, type DecisionEvent } from "../../wire/audit/index.ts";
import { canonicalize } from "../../wire/jcs.ts";
import { insertCheckpoint, insertRecord, loadSpool, spoolLines } from "../support/audit-db.ts";
import { ROOT, startGateway } from "../support/gateway.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import { postRpc, toolCall } from "../support/rpc.ts";

const MAIN = join(ROOT, "cli/main.ts");
const FORMULA_TOOL = '=HYPERLINK("http://evil.example","x")';
const ESCAPE_TOOL = "list\u001b[2J\u001b]0;pwned\u0007files\u202eevil";

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}
interface Report {
  ok: boolean;
  mac_checked: boolean;
  notes: string[];
  streams: Array<{ stream: string; ok: boolean; records: number; start: { seq: number; from: string }; checkpoints: { verified: number }; break: { stream: string; seq: number; kind: string; detail: string } | null }>;
}

function cli(args: string[]): Run {
  const r = spawnSync(process.execPath, [MAIN, "audit", ...args], { encoding: "utf8", env: { ...process.env, INTENTGATE_DEBUG: "" } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let pgServer: TestPostgres;
let dir: string;
let keyFile: string;
let publicKey: string;
let spoolA: string;
let spoolB: string;
let databases = 0;

/** Makes calls through a real sidecar writing `stream` with the shared audit key file; returns its spool folder. */
async function produce(stream: string, calls: Array<[string, Record<string, unknown>]>): Promise<string> {
  const spool = join(dir, `spool-${stream}`);
  const agent = `agent-${stream}`;
  const gw = await startGateway({
    policy: "default",
    config: { agent, audit: { spool, keys: keyFile, stream, checkpointEvery: 4, checkpointIntervalSeconds: 86400, recordOutcomes: false } },
  });
  try {
    const token = gw.mint([{ type: "tools", allow: ["files.read_file", "files.list_files"] }], agent);
    for (const [i, [tool, args]] of calls.entries()) await postRpc(`${gw.sidecar.url}/mcp/files`, toolCall(i + 1, tool, args), token);
  } finally {
    await gw.close(); // the audit log signs a last checkpoint at the head
  }
  return spool;
}

/** A fresh database holding both streams, and a client to tamper with it. */
async function freshDatabase(): Promise<{ url: string; db: pg.Client }> {
  const name = `audit_${++databases}`;
  const admin = new pg.Client({ connectionString: pgServer.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = pgServer.url.replace(/\/postgres$/, `/${name}`);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  await loadSpool(db, spoolA);
  await loadSpool(db, spoolB);
  return { url, db };
}

async function tampered(tamper: (db: pg.Client) => Promise<void>): Promise<string> {
  const { url, db } = await freshDatabase();
  try {
    await tamper(db);
  } finally {
    await db.end();
  }
  return url;
}

function verify(args: string[], expectedStatus: number): Report {
  const r = cli(["verify", ...args]);
  assert.equal(r.status, expectedStatus, `verify ${args.join(" ")}: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout) as Report;
}

function assertBreak(report: Report, stream: string, seq: number, kind: string): void {
  assert.equal(report.ok, false);
  const broken = report.streams.filter((s) => s.break !== null);
  assert.deepEqual(
    broken.map((s) => ({ stream: s.break?.stream, seq: s.break?.seq, kind: s.break?.kind })),
    [{ stream, seq, kind }],
    JSON.stringify(broken),
  );
}

const lineAt = async (db: pg.Client, stream: string, seq: number): Promise<string> =>
  ((await db.query<{ line: string }>("SELECT line FROM intentgate_audit_records WHERE stream = $1 AND seq = $2", [stream, seq])).rows[0] as { line: string }).line;

const keys = (): string[] => ["--keys", keyFile];
const pub = (): string[] => ["--public-key", publicKey];

before(async () => {
  pgServer = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), "intentgate-audit-tamper-"));
  keyFile = join(dir, "audit-keys.json");
  const file = AuditKeys.generateFile("audit-test");
  writeFileSync(keyFile, JSON.stringify(file), { mode: 0o600 });
  publicKey = join(dir, "audit.pem");
  writeFileSync(publicKey, file.public_key);
  spoolA = await produce("stream-a", [
    ["read_file", { path: "/data/1" }],
    ["list_files", { folder: "/data" }],
    ["read_file", { path: "/data/3" }],
    ["write_file", { path: "/etc/passwd" }], // refused: not in the token
    ["read_file", { path: "/data/5" }],
    ["read_file", { path: "/data/6" }],
    [ESCAPE_TOOL, { "=1+1": "x" }], // refused; its tool name and reason carry terminal escapes
    [FORMULA_TOOL, {}], // refused, with a formula for a tool name
    ["read_file", { path: "/data/9" }],
    ["read_file", { path: "/data/10" }],
  ]);
  spoolB = await produce("stream-b", [
    ["read_file", { path: "/b/1" }],
    ["write_file", { path: "/b/2" }],
    ["read_file", { path: "/b/3" }],
  ]);
});

after(() => {
  pgServer?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the records the sidecars wrote", () => {
  test("stream-a has 10 records and checkpoints at 4, 8 and 10; stream-b has 3", () => {
    const a = spoolLines(spoolA);
    assert.equal(a.records.length, 10);
    assert.deepEqual(a.checkpoints.map((l) => (JSON.parse(l) as { seq: number }).seq), [4, 8, 10]);
    assert.equal(spoolLines(spoolB).records.length, 3);
  });
});

describe("audit verify on a real database", () => {
  test("a clean database passes, with MACs and checkpoints checked", async () => {
    const url = await tampered(async () => {});
    const report = verify(["--database", url, ...keys()], 0);
    assert.equal(report.ok, true);
    assert.equal(report.mac_checked, true);
    assert.deepEqual(report.streams.map((s) => [s.stream, s.records, s.checkpoints.verified]), [["stream-a", 10, 3], ["stream-b", 3, 1]]);
  });

  test("with only the public key, a clean database passes and the report says MACs were not checked", async () => {
    const url = await tampered(async () => {});
    const report = verify(["--database", url, ...pub()], 0);
    assert.equal(report.mac_checked, false);
    assert.match(report.notes.join(" "), /MACs were NOT checked/);
  });

  test("the URL can come from an environment variable; --stream limits the check", async () => {
    const url = await tampered(async () => {});
    const r = spawnSync(process.execPath, [MAIN, "audit", "verify", "--database-env", "AUDIT_DB", "--stream", "stream-b", ...keys()], {
      encoding: "utf8",
      env: { ...process.env, AUDIT_DB: url },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as Report).streams.map((s) => s.stream), ["stream-b"]);
  });

  test("an updated row (a reason rewritten) is reported modified at its seq, also with the public key alone", async () => {
    const url = await tampered(async (db) => {
      const line = await lineAt(db, "stream-a", 4);
      assert.match(line, /"reason":"token does not cover/);
      const edited = canonicalize({ ...(JSON.parse(line) as object), reason: "approved by the security team" });
      await db.query("UPDATE intentgate_audit_records SET line = $1 WHERE stream = 'stream-a' AND seq = 4", [edited]);
    });
    assertBreak(verify(["--database", url, ...keys()], 1), "stream-a", 4, "modified");
    const publicOnly = verify(["--database", url, ...pub()], 1);
    assertBreak(publicOnly, "stream-a", 4, "modified");
    assert.equal(publicOnly.mac_checked, false);
  });

  test("a deleted row is reported deleted at its seq, also with the public key alone", async () => {
    const url = await tampered(async (db) => {
      await db.query("DELETE FROM intentgate_audit_records WHERE stream = 'stream-a' AND seq = 3");
    });
    assertBreak(verify(["--database", url, ...keys()], 1), "stream-a", 3, "deleted");
    assertBreak(verify(["--database", url, ...pub()], 1), "stream-a", 3, "deleted");
  });

  test("an inserted row whose hash the attacker recomputed (but not the MAC) is reported inserted", async () => {
    let forged = "";
    const url = await tampered(async (db) => {
      const head = JSON.parse(await lineAt(db, "stream-a", 10)) as AuditRecord;
      const rest: Record<string, unknown> = { ...head };
      delete rest["hash"];
      delete rest["mac"];
      const body = { ...rest, seq: 11, prev_hash: head.hash, decision_id: "00000000-0000-4000-8000-000000000000", tool: "transfer_funds", disposition: "allowed" };
      const text = canonicalize(body);
      const record = { ...body, hash: createHash("sha256").update(text).digest("hex"), mac: createHmac("sha256", randomBytes(32)).update(text).digest("hex") };
      forged = canonicalize(record);
      await insertRecord(db, forged);
    });
    const report = verify(["--database", url, ...keys()], 1);
    assertBreak(report, "stream-a", 11, "inserted");
    // Without the chain key nothing can tell a well-formed record after the last checkpoint from a real one:
    // the documented limit of public-key-only verification (docs/spec/audit.md, threat analysis).
    const publicOnly = verify(["--database", url, ...pub()], 0);
    assert.equal(publicOnly.mac_checked, false);
    assert.ok(forged.includes('"seq":11'));
  });

  test("two swapped rows are reported reordered at the first of them", async () => {
    const url = await tampered(async (db) => {
      const five = JSON.parse(await lineAt(db, "stream-a", 5)) as AuditRecord;
      const six = JSON.parse(await lineAt(db, "stream-a", 6)) as AuditRecord;
      await db.query("DELETE FROM intentgate_audit_records WHERE stream = 'stream-a' AND seq IN (5, 6)");
      await insertRecord(db, canonicalize(six), "stream-a", 5);
      await insertRecord(db, canonicalize(five), "stream-a", 6);
    });
    assertBreak(verify(["--database", url, ...keys()], 1), "stream-a", 5, "reordered");
  });

  test("a truncated tail under a checkpoint is reported truncated; with the public key alone too", async () => {
    const url = await tampered(async (db) => {
      await db.query("DELETE FROM intentgate_audit_records WHERE stream = 'stream-a' AND seq > 7");
    });
    assertBreak(verify(["--database", url, ...keys()], 1), "stream-a", 8, "truncated");
    assertBreak(verify(["--database", url, ...pub()], 1), "stream-a", 8, "truncated");
  });

  test("a tail truncated together with its checkpoints passes on the database alone, and fails against checkpoints kept elsewhere", async () => {
    const kept = join(dir, "kept-checkpoints.ndjson");
    const clean = await tampered(async () => {});
    const saved = cli(["export", "--database", clean, "--checkpoints-only", "--out", kept]);
    assert.equal(saved.status, 0, saved.stderr);
    assert.equal(readFileSync(kept, "utf8").trimEnd().split("\n").length, 4);
    const url = await tampered(async (db) => {
      await db.query("DELETE FROM intentgate_audit_records WHERE stream = 'stream-a' AND seq > 7");
      await db.query("DELETE FROM intentgate_audit_checkpoints WHERE stream = 'stream-a' AND seq > 7");
    });
    verify(["--database", url, ...keys()], 0); // the limit the threat analysis states
    assertBreak(verify(["--database", url, ...keys(), "--checkpoints", kept], 1), "stream-a", 8, "truncated");
  });

  test("a row replayed from another stream is reported moved", async () => {
    const url = await tampered(async (db) => {
      const fromB = await lineAt(db, "stream-b", 2);
      await db.query("DELETE FROM intentgate_audit_records WHERE stream = 'stream-a' AND seq = 2");
      await insertRecord(db, fromB, "stream-a", 2);
    });
    assertBreak(verify(["--database", url, ...keys()], 1), "stream-a", 2, "moved");
  });

  test("an index column edited to hide a refusal from queries is reported, though the line is intact", async () => {
    const url = await tampered(async (db) => {
      await db.query("UPDATE intentgate_audit_records SET disposition = 'allowed' WHERE stream = 'stream-b' AND seq = 2");
    });
    const report = verify(["--database", url, ...keys()], 1);
    assertBreak(report, "stream-b", 2, "modified");
    assert.match(report.streams[1]?.break?.detail ?? "", /index column disposition/);
  });

  test("a checkpoint with a forged signature is reported bad_checkpoint", async () => {
    const url = await tampered(async (db) => {
      const line = (await db.query<{ line: string }>("SELECT line FROM intentgate_audit_checkpoints WHERE stream = 'stream-b'")).rows[0]?.line as string;
      const c = JSON.parse(line) as Record<string, unknown>;
      const forged = AuditKeys.fromFile(AuditKeys.generateFile("audit-test"));
      const { signCheckpoint } = await import("../../wire/audit/index.ts");
      const resigned = signCheckpoint({ stream: "stream-b", seq: c["seq"] as number, hash: c["hash"] as string }, new Date(), "audit-test", forged.signingKey);
      await db.query("DELETE FROM intentgate_audit_checkpoints WHERE stream = 'stream-b'");
      await insertCheckpoint(db, canonicalize(resigned));
    });
    assertBreak(verify(["--database", url, ...pub()], 1), "stream-b", 3, "bad_checkpoint");
  });

  test("bad input exits 2 with one line and no stack trace", async () => {
    const checks: Array<[string[], RegExp]> = [
      [["verify"], /give exactly one source/],
      [["verify", "--database", "postgres://nobody@127.0.0.1:1/none"], /cannot connect to the audit database/],
      [["verify", "--file", join(dir, "missing.ndjson")], /no such file/],
      [["verify", "--spool", dir, "--file", publicKey], /give exactly one source/],
      [["verify", "--spool", spoolA, "--keys", publicKey], /audit key file/],
      [["export", "--spool", spoolA, "--from", "yesterday"], /--from/],
    ];
    for (const [args, message] of checks) {
      const r = cli(args);
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at |\.ts:\d+/);
    }
  });
});

describe("audit export", () => {
  test("an NDJSON export verifies offline; a tampered copy does not", async () => {
    const url = await tampered(async () => {});
    const file = join(dir, "export.ndjson");
    const r = cli(["export", "--database", url, "--out", file]);
    assert.equal(r.status, 0, r.stderr);
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    assert.equal(lines.length, 10 + 3 + 3 + 1, "every record and checkpoint");
    const exportedA = lines.filter((l) => l.includes('"schema":"intentgate.audit/v1"') && l.includes('"stream":"stream-a"'));
    assert.deepEqual(exportedA, spoolLines(spoolA).records, "the exact stored lines, in order");
    const report = verify(["--file", file, ...pub()], 0);
    assert.deepEqual(report.streams.map((s) => [s.stream, s.records]), [["stream-a", 10], ["stream-b", 3]]);
    verify(["--file", file, ...keys()], 0);

    const edited = join(dir, "export-edited.ndjson");
    writeFileSync(edited, lines.map((l) => (l.includes('"seq":4,') && l.includes('"stream":"stream-a"') ? l.replace('"disposition":"blocked"', '"disposition":"allowed"') : l)).join("\n") + "\n");
    assertBreak(verify(["--file", edited, ...pub()], 1), "stream-a", 4, "modified");

    const dropped = join(dir, "export-dropped.ndjson");
    writeFileSync(dropped, lines.filter((l) => l !== exportedA[5]).join("\n") + "\n");
    assertBreak(verify(["--file", dropped, ...pub()], 1), "stream-a", 6, "deleted");

    const swapped = join(dir, "export-swapped.ndjson");
    const copy = [...lines];
    [copy[1], copy[2]] = [copy[2] as string, copy[1] as string];
    writeFileSync(swapped, copy.join("\n") + "\n");
    assertBreak(verify(["--file", swapped, ...pub()], 1), "stream-a", 2, "reordered");
  });

  test("a filtered NDJSON export carries checkpoint-anchored ranges and verifies offline", async () => {
    const url = await tampered(async () => {});
    const file = join(dir, "blocked.ndjson");
    const r = cli(["export", "--database", url, "--disposition", "blocked", "--stream", "stream-a", "--out", file]);
    assert.equal(r.status, 0, r.stderr);
    const records = readFileSync(file, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as { schema: string; seq: number; disposition?: string });
    // Blocked records of stream-a are seqs 4, 7, 8: the range runs from after checkpoint 0 (genesis)... to checkpoint 8.
    const blockedSeqs = records.filter((x) => x.schema === "intentgate.audit/v1" && x.disposition === "blocked").map((x) => x.seq);
    assert.deepEqual(blockedSeqs, [4, 7, 8]);
    assert.deepEqual(records.filter((x) => x.schema === "intentgate.audit/v1").map((x) => x.seq), [1, 2, 3, 4, 5, 6, 7, 8]);
    verify(["--file", file, ...keys()], 0);

    // Only the formula call (seq 8): the range starts right after the checkpoint at 4, which anchors it, and ends at 8.
    const fromFive = join(dir, "from-five.ndjson");
    assert.equal(cli(["export", "--database", url, "--tool", `files.${FORMULA_TOOL}`, "--out", fromFive]).status, 0);
    const exported = readFileSync(fromFive, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as { schema: string; seq: number });
    assert.deepEqual(exported.map((x) => `${x.schema.endsWith("checkpoint/v1") ? "c" : "r"}${x.seq}`), ["c4", "r5", "r6", "r7", "r8", "c8"]);
    const report = verify(["--file", fromFive, ...keys()], 0);
    assert.deepEqual(report.streams[0]?.start, { seq: 5, from: "checkpoint" });
    // Dropping the anchoring checkpoint leaves a range nothing vouches for: reported, not trusted.
    const unanchored = join(dir, "unanchored.ndjson");
    writeFileSync(unanchored, readFileSync(fromFive, "utf8").split("\n").filter((l) => !l.includes('"seq":4,')).join("\n"));
    assertBreak(verify(["--file", unanchored, ...keys()], 1), "stream-a", 1, "deleted");
  });

  test("CSV export escapes every cell a spreadsheet would run as a formula", async () => {
    const url = await tampered(async () => {});
    const r = cli(["export", "--database", url, "--format", "csv"]);
    assert.equal(r.status, 0, r.stderr);
    const rows = parseCsv(r.stdout);
    assert.equal(rows.length, 1 + 13);
    const header = rows[0] as string[];
    const tool = header.indexOf("tool");
    const names = header.indexOf("argument_names");
    assert.ok(rows.some((row) => row[tool] === `'${FORMULA_TOOL}`), "the formula tool name is prefixed with an apostrophe");
    assert.ok(rows.some((row) => row[names] === "'=1+1"), "an argument named =1+1 too");
    for (const row of rows) for (const cell of row) assert.doesNotMatch(cell, /^\s*[=+\-@]|^[\t\r]/, `cell ${JSON.stringify(cell)}`);
    // Filters apply to the records themselves: only stream-b's refusal.
    const blocked = parseCsv(cli(["export", "--database", url, "--format", "csv", "--disposition", "blocked", "--agent", "agent-stream-b"]).stdout);
    assert.deepEqual(blocked.slice(1).map((row) => [row[0], row[1]]), [["stream-b", "2"]]);
  });
});

describe("audit tail", () => {
  test("one line per record, with no raw control characters or bidi overrides", async () => {
    const url = await tampered(async () => {});
    const r = cli(["tail", "--database", url, "--lines", "100"]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 13);
    // eslint-disable-next-line no-control-regex -- no control character may reach the terminal
    assert.doesNotMatch(r.stdout, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/);
    assert.ok(lines.some((l) => l.includes("list\\x1b[2J\\x1b]0;pwned\\x07files\\u{202e}evil")), r.stdout);
    assert.ok(lines.some((l) => /stream-b#2 BLOCKED acme\/agent-stream-b files\.write_file tool_not_allowed/.test(l)), r.stdout);
    // The same from the spool folder.
    const fromSpool = cli(["tail", "--spool", spoolA, "--lines", "3"]);
    assert.deepEqual(fromSpool.stdout.trimEnd().split("\n").map((l) => l.split(" ")[1]), ["stream-a#8", "stream-a#9", "stream-a#10"]);
  });

  test("--follow prints records as they arrive", async () => {
    const { url, db } = await freshDatabase();
    const child = spawn(process.execPath, [MAIN, "audit", "tail", "--database", url, "--stream", "stream-b", "--follow", "--interval", "100"], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    try {
      await until(() => stdout.split("\n").length > 3, () => stdout);
      const chain = AuditKeys.fromFile(JSON.parse(readFileSync(keyFile, "utf8")));
      const head = JSON.parse(await lineAt(db, "stream-b", 3)) as AuditRecord;
      const event: DecisionEvent = { ...(JSON.parse(await lineAt(db, "stream-b", 2)) as DecisionEvent), decision_id: "11111111-2222-4333-8444-555555555555", reason: "late\u001b[31m" };
      const { line } = chainRecord(strip(event), "stream-b", { seq: head.seq, hash: head.hash }, chain.chainKey);
      await insertRecord(db, line);
      await until(() => stdout.includes("id=11111111-2222-4333-8444-555555555555"), () => stdout);
      assert.match(stdout, /stream-b#4 BLOCKED .*"late\\x1b\[31m"/);
    } finally {
      child.kill("SIGTERM");
      await exited;
      await db.end();
    }
  });
});

function strip(event: DecisionEvent): DecisionEvent {
  const copy: Record<string, unknown> = { ...event };
  for (const k of ["schema", "stream", "seq", "prev_hash", "hash", "mac"]) delete copy[k];
  return copy as unknown as DecisionEvent;
}

async function until(probe: () => boolean, show: () => string, deadlineMs = 15_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!probe()) {
    if (Date.now() > end) assert.fail(`gave up waiting; output so far: ${show()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** RFC 4180, enough for what export writes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted && c === '"' && text[i + 1] === '"') {
      cell += '"';
      i++;
    } else if (quoted && c === '"') {
      quoted = false;
    } else if (quoted) {
      cell += c;
    } else if (c === '"') {
      quoted = true;
    } else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i++;
    } else {
      cell += c;
    }
  }
  return rows;
}
