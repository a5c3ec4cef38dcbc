// verifyStream: continuing from a vouched-for head, and what a broken prev_hash link is called.
import assert from "node:assert/strict";
import { createHash, createHmac, createSecretKey, randomBytes } from "node:crypto";
import { test } from "node:test";
import { canonicalize } from "../jcs.ts";
import { chainRecord, EMPTY_HEAD, recomputeLinks, signCheckpoint, type ChainHead } from "./chain.ts";
import { AuditKeys } from "./keys.ts";
import { OCSF, type AuditRecord, type DecisionEvent } from "./record.ts";
import { verifyStream, type StoredRow } from "./verify.ts";

const keys = AuditKeys.fromFile(AuditKeys.generateFile("k"));
const event = (n: number): DecisionEvent => ({
  kind: "decision",
  time: new Date(Date.UTC(2025, 0, 1, 0, 0, n)).toISOString(),
  decision_id: `d-${n}`,
  tenant: "acme",
  agent: "a",
  server: "files",
  tool: "read_file",
  disposition: "allowed",
  stage: null,
  code: null,
  reason: null,
  token_ids: null,
  arguments: { names: [], sha256: null, values: null },
  cost: null,
  policy: null,
  ocsf: OCSF,
});

function chain(count: number): { rows: StoredRow[]; records: AuditRecord[] } {
  let head: ChainHead = EMPTY_HEAD;
  const rows: StoredRow[] = [];
  const records: AuditRecord[] = [];
  for (let n = 1; n <= count; n++) {
    const { record, line } = chainRecord(event(n), "s", head, keys.chainKey);
    rows.push({ seq: record.seq, line });
    records.push(record);
    head = { seq: record.seq, hash: record.hash };
  }
  return { rows, records };
}

const verifyKeys = { chainKey: keys.chainKey, publicKeys: new Map([["k", keys.publicKey]]) };

test("rows verified in two parts, the second continuing from the first's head, give the same result as in one", () => {
  const { rows, records } = chain(6);
  const cp = signCheckpoint({ stream: "s", seq: 5, hash: (records[4] as AuditRecord).hash }, new Date(), "k", keys.signingKey);
  const whole = verifyStream("s", rows, [cp], verifyKeys);
  const first = verifyStream("s", rows.slice(0, 3), [], verifyKeys);
  const second = verifyStream("s", rows.slice(3), [cp], verifyKeys, first.head);
  assert.equal(whole.break, undefined);
  assert.equal(second.break, undefined);
  assert.deepEqual(second.head, whole.head);
});

test("a range starting after a signed checkpoint verifies from it; a wrong anchor hash does not", () => {
  const { rows, records } = chain(6);
  const anchor = signCheckpoint({ stream: "s", seq: 3, hash: (records[2] as AuditRecord).hash }, new Date(), "k", keys.signingKey);
  assert.equal(verifyStream("s", rows.slice(3), [anchor], verifyKeys, { seq: 3, hash: anchor.hash }).break, undefined);
  const wrong = verifyStream("s", rows.slice(3), [], verifyKeys, { seq: 3, hash: "f".repeat(64) });
  assert.deepEqual([wrong.break?.seq, wrong.break?.kind], [4, "modified"]);
});

test("a record rewritten with its hash recomputed: inserted (forged) with the chain key, modified at the next link without it", () => {
  const { rows } = chain(4);
  const r2 = JSON.parse((rows[1] as StoredRow).line) as Record<string, unknown>;
  delete r2["hash"];
  delete r2["mac"];
  const body = { ...r2, disposition: "blocked" };
  const text = canonicalize(body);
  const forged = { ...body, hash: createHash("sha256").update(text).digest("hex"), mac: createHmac("sha256", createSecretKey(randomBytes(32))).update(text).digest("hex") };
  const tampered = rows.map((r) => (r.seq === 2 ? { seq: 2, line: canonicalize(forged) } : r));
  const withKey = verifyStream("s", tampered, [], verifyKeys);
  assert.deepEqual([withKey.break?.seq, withKey.break?.kind], [2, "inserted"]);
  const withoutKey = verifyStream("s", tampered, [], { publicKeys: verifyKeys.publicKeys });
  assert.deepEqual([withoutKey.break?.seq, withoutKey.break?.kind], [3, "modified"]);
  assert.match(withoutKey.break?.detail ?? "", /prev_hash does not match the hash of seq 2/);
});

void test("a chained record's line is exactly the canonical JSON of the record", () => {
  const key = createSecretKey(randomBytes(32));
  const event = { kind: "decision", time: "t", decision_id: "d", tenant: "ténant", agent: "a", server: "s", tool: "工具", disposition: "allowed", stage: null, code: null, reason: "line\nbreak", token_ids: ["x"], arguments: { names: ["ä", "b"], sha256: null, values: { "😀": 1, a: [1.5, -0, 1e21] } }, cost: 0.1, policy: null, ocsf: OCSF } as const;
  const { record, line } = chainRecord(event as never, "stream-é", { seq: 7, hash: "a".repeat(64) }, key);
  assert.equal(line, canonicalize(record));
  assert.deepEqual(recomputeLinks(record, key), { hash: record.hash, mac: record.mac });
});

void test("the line is the record's canonical JSON wherever hash and mac fall among the members", () => {
  const key = createSecretKey(randomBytes(32));
  const names = ["a", "agent", "h", "hasg", "hasi", "i", "ma", "mab", "mad", "n", "z", "é", "😀"];
  for (let round = 0; round < 200; round++) {
    const event: Record<string, unknown> = {};
    for (const name of names) if (((randomBytes(1)[0] as number) & 1) === 1) event[name] = round % 3 === 0 ? { nested: [name, round] } : `${name}-${round}`;
    const { record, line } = chainRecord(event as never, "s", { seq: round, hash: "b".repeat(64) }, key);
    assert.equal(line, canonicalize(record), `event keys: ${Object.keys(event).join(",")}`);
  }
});
