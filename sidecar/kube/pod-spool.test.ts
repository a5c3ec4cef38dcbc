import assert from "node:assert/strict";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pino } from "pino";
import { decisionEvent, testAuditKeys } from "../../test/support/audit.ts";
import { openPodSpool } from "./pod-spool.ts";

const keys = testAuditKeys();
const log = pino({ level: "silent" });
const stateDir = (): string => mkdtempSync(join(tmpdir(), "intentgate-pod-spool-"));

test("a container restart in the same pod reopens its spool and continues its stream", async () => {
  const dir = join(stateDir(), "audit");
  const stream = "team-a:payments:agent-0:4f1c9a2e7b3d4e5f8a9b0c1d2e3f4a5b";
  const first = openPodSpool({ dir, stream, chainKey: keys.chainKey }, log);
  await first.append(decisionEvent(1));
  await first.close();
  const again = openPodSpool({ dir, stream, chainKey: keys.chainKey }, log);
  assert.equal(again.stream, stream);
  assert.equal(again.head.seq, 1);
  await again.close();
});

test("a spool of another stream (an earlier pod's, or a random-suffix one) is moved aside whole and a new stream starts", async () => {
  const state = stateDir();
  const dir = join(state, "audit");
  const old = openPodSpool({ dir, stream: "team-a:payments:agent-0:1a2b3c4d", chainKey: keys.chainKey }, log);
  for (let i = 0; i < 3; i++) await old.append(decisionEvent(i));
  await old.close();
  const stream = "team-a:payments:agent-0:4f1c9a2e7b3d4e5f8a9b0c1d2e3f4a5b";
  const spool = openPodSpool({ dir, stream, chainKey: keys.chainKey }, log, () => 1234);
  assert.equal(spool.stream, stream);
  assert.equal(spool.head.seq, 0, "a new chain, not the old one continued under a new name");
  await spool.append(decisionEvent(9));
  await spool.close();
  assert.deepEqual(readdirSync(state).sort(), ["audit", "audit-retired-1234"]);
  const kept = openPodSpool({ dir: join(state, "audit-retired-1234"), stream: "team-a:payments:agent-0:1a2b3c4d", chainKey: keys.chainKey }, log);
  assert.equal(kept.head.seq, 3, "the earlier records are all still there");
  assert.ok(kept.pendingBytes() > 0);
  await kept.close();
});
