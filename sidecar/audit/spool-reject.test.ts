import assert from "node:assert/strict";
import { createSecretKey, randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { OCSF, type DecisionEvent } from "../../wire/audit/index.ts";
import { AuditSpool } from "./spool.ts";

const event = (cost: number): DecisionEvent => ({
  kind: "decision",
  time: new Date(0).toISOString(),
  decision_id: "d",
  tenant: "t",
  agent: "a",
  server: "s",
  tool: "x",
  disposition: "allowed",
  stage: null,
  code: null,
  reason: null,
  token_ids: null,
  arguments: { names: [], sha256: null, values: null },
  cost,
  policy: null,
  ocsf: OCSF,
});

void test("a record that cannot be canonicalised is refused at once and leaves no gap in the stream", async () => {
  const spool = AuditSpool.open({ dir: mkdtempSync(join(tmpdir(), "intentgate-spool-")), stream: "s", chainKey: createSecretKey(randomBytes(32)) });
  try {
    const results = await Promise.allSettled([spool.append(event(1)), spool.append(event(Infinity)), spool.append(event(2))]);
    assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
    const seqs = results.flatMap((r) => (r.status === "fulfilled" ? [r.value.seq] : []));
    assert.deepEqual(seqs, [1, 2]);
    assert.equal(spool.head.seq, 2);
  } finally {
    await spool.close();
  }
});
