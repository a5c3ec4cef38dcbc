// The lazy rebuild of token ceilings against a real embedded audit database (PGlite): what counts
// (allowed calls under the ceiling's scope, before start, inside the window, once each across the
// spool and the database), one read per key however many calls wait for it, and an unreadable
// database that refuses the call without being remembered as an empty count.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { KeyRing, MAX_SKEW_SECONDS, mintToken, verifySignature, type Caveat } from "../../wire/index.ts";
import type { ChainHead } from "../../wire/audit/index.ts";
import { chainedLines, decisionEvent, testAuditKeys } from "../../test/support/audit.ts";
import { PgliteAuditStore } from "../audit/store/pglite.ts";
import type { AuditStore } from "../audit/store/types.ts";
import { createBudgetCheck } from "../checks/budget.ts";
import type { CallContext, Verdict } from "../checks/types.ts";
import { MemoryBudgetLedger } from "./ledger.ts";
import { allowedCall, type RecordedCall } from "./recorded-calls.ts";
import { TokenCeilingReplay } from "./token-replay.ts";

const HOUR = 3600_000;
const STARTED = Date.parse("2026-03-01T12:00:00Z");
const keys = KeyRing.fromFile(KeyRing.generateFile("k1"));
const auditKeys = testAuditKeys();
const dir = mkdtempSync(join(tmpdir(), "intentgate-token-replay-"));
const db = new PgliteAuditStore(join(dir, "db"));
const ROOT = "root_token_01";
const OTHER = "other_token_1";

/** Allowed calls (or another disposition) of `ids`, `hoursAgo` before start, chained on one stream. */
function lines(stream: string, calls: Array<{ ids: string[]; hoursAgo: number; disposition?: "allowed" | "blocked" }>, head?: ChainHead): string[] {
  let i = 0;
  const event = () => {
    const c = calls[i++] as (typeof calls)[number];
    const allowed = (c.disposition ?? "allowed") === "allowed";
    return decisionEvent(1, { tool: "read_file", disposition: allowed ? "allowed" : "blocked", stage: allowed ? null : "policy", code: allowed ? null : "policy_blocked", reason: allowed ? null : "no", token_ids: c.ids }, new Date(STARTED - c.hoursAgo * HOUR));
  };
  return chainedLines(stream, calls.length, auditKeys, head, event).lines;
}

// An earlier run's stream, all shipped; and this sidecar's stream ("own"), whose first two records
// were written before start (the second not shipped yet) and whose third is this run's own call.
const earlier = lines("earlier", [
  { ids: [ROOT], hoursAgo: 3 },
  { ids: [ROOT, "hop_of_root_1"], hoursAgo: 2 },
  { ids: [OTHER], hoursAgo: 2 },
  { ids: [ROOT], hoursAgo: 2, disposition: "blocked" },
]);
const own = lines("own", [
  { ids: [ROOT], hoursAgo: 1 },
  { ids: [ROOT], hoursAgo: 0.5 },
  { ids: [ROOT], hoursAgo: 0.25 }, // seq 3: this run's, though its time is before start (a clock stepped back)
]);
const spooled: RecordedCall[] = own.slice(0, 2).map((line) => allowedCall(line, "acme", "agent-1") as RecordedCall);

before(async () => {
  await db.migrate();
  await db.insertRecords([...earlier, own[0] as string, own[2] as string]);
});
after(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The real store, its reads counted, and made to fail while `failing` is set. */
function observed(store: AuditStore) {
  const seen: { reads: number; failing: boolean; from?: Date | undefined } = { reads: 0, failing: false };
  return {
    seen,
    exportRecords: (...args: Parameters<AuditStore["exportRecords"]>) => {
      seen.reads++;
      seen.from = args[0]?.from;
      if (!seen.failing) return store.exportRecords(...args);
      return (async function* () {
        yield* [];
        throw new Error("connection refused (made to fail by the test)");
      })();
    },
  };
}

function rig(store: Pick<AuditStore, "exportRecords"> | undefined) {
  const ledger = new MemoryBudgetLedger();
  const replay = new TokenCeilingReplay({ ledger, spooled, store, tenant: "acme", agent: "agent-1", startedAt: STARTED, own: { stream: "own", seq: 2 } });
  const check = createBudgetCheck({ ledger, tokenCeilings: replay });
  let n = 0;
  const call = (caveats: Caveat[], at = STARTED + 1000, issuedAt = 1): CallContext => {
    const token = mintToken(keys, { tenant: "acme", subject: "agent-1", caveats, issuedAt, id: ROOT });
    const verified = verifySignature(token, keys);
    assert.ok(verified.ok);
    return { decisionId: `d${++n}`, now: at, tenant: "acme", agent: "agent-1", server: "files", tool: "read_file", name: "files.read_file", arguments: {}, token, prompt: undefined, verified };
  };
  return { check, call };
}

const codeOf = (v: Verdict): string => (v.ok ? "allowed" : v.code);

test("counted once each: allowed calls of the scope before start, from the database and the spool; concurrent first calls share one read", async () => {
  const store = observed(db);
  const { check, call } = rig(store);
  // Before start under ROOT: earlier 1 and 2 (a child's call counts for its root), own 1 (in both
  // places) and own 2 (spool only): 4. Not the blocked call, not OTHER's, not own 3 (this run's).
  const pending = Array.from({ length: 5 }, () => check.run(call([{ type: "calls", max: 5 }])));
  assert.ok(pending.every((p) => p instanceof Promise), "the first calls wait for the rebuild");
  const verdicts = await Promise.all(pending as Array<Promise<Verdict>>);
  assert.deepEqual(verdicts.map(codeOf).sort(), ["allowed", "budget_token_calls", "budget_token_calls", "budget_token_calls", "budget_token_calls"]);
  assert.equal(store.seen.reads, 1);
  const later = check.run(call([{ type: "calls", max: 5 }]));
  assert.ok(!(later instanceof Promise), "once rebuilt, the check answers without waiting");
  assert.equal(codeOf(later), "budget_token_calls");
  assert.equal(store.seen.reads, 1);
});

test("a rate ceiling counts only the calls inside its window", async () => {
  // 1.5 h: own 1 and own 2.
  const short = rig(db);
  const rate = [{ type: "rate", max: 3, window: 5400 }] as Caveat[];
  assert.deepEqual([codeOf(await short.check.run(short.call(rate))), codeOf(await short.check.run(short.call(rate)))], ["allowed", "budget_token_rate"]);
  // 2.5 h: earlier 2 as well.
  const long = rig(db);
  assert.equal(codeOf(await long.check.run(long.call([{ type: "rate", max: 3, window: 9000 }]))), "budget_token_rate");
});

test("an unreadable database refuses with budget_unavailable, every time, until it reads; the spool's calls are kept for then", async () => {
  const store = observed(db);
  store.seen.failing = true;
  const { check, call } = rig(store);
  const ceiling = [{ type: "calls", max: 5 }] as Caveat[];
  const refused = await Promise.all([check.run(call(ceiling)), check.run(call(ceiling))]);
  assert.deepEqual(refused.map(codeOf), ["budget_unavailable", "budget_unavailable"]);
  assert.equal(store.seen.reads, 1, "both calls waited for one read");
  assert.equal(codeOf(await check.run(call(ceiling))), "budget_unavailable");
  assert.equal(store.seen.reads, 2, "a failed read is tried again");
  assert.equal(codeOf(await check.run(call([]))), "allowed", "a token without ceilings does not wait for the database");
  store.seen.failing = false;
  assert.deepEqual([codeOf(await check.run(call(ceiling))), codeOf(await check.run(call(ceiling)))], ["allowed", "budget_token_calls"]);
});

test("without a database the spool alone is counted, and the check does not wait", () => {
  const { check, call } = rig(undefined);
  const first = check.run(call([{ type: "calls", max: 3 }]));
  assert.ok(!(first instanceof Promise));
  assert.equal(codeOf(first), "allowed", "own 1 and own 2 are in the spool: the third call is allowed");
  assert.equal(codeOf(check.run(call([{ type: "calls", max: 3 }])) as Verdict), "budget_token_calls");
});

test("a calls ceiling reads nothing from before the token could be used: its issued_at less the largest clock skew", async () => {
  const store = observed(db);
  const { check, call } = rig(store);
  // Issued 2.5 h before start: earlier 1 (3 h before start) cannot be this token's; earlier 2, own 1 and own 2 can.
  const issuedAt = Math.floor((STARTED - 2.5 * HOUR) / 1000);
  const ceiling = [{ type: "calls", max: 4 }] as Caveat[];
  assert.deepEqual([codeOf(await check.run(call(ceiling, STARTED + 1000, issuedAt))), codeOf(await check.run(call(ceiling, STARTED + 1000, issuedAt)))], ["allowed", "budget_token_calls"]);
  assert.equal(store.seen.from?.getTime(), (issuedAt - MAX_SKEW_SECONDS) * 1000 - 1, "the database is read from then on, not from the beginning");
});
