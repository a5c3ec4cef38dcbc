// A refusal that repeats on every call does not flood the application log.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { pino } from "pino";
import { repeatedLog } from "./repeated-log.ts";

void test("one line per interval, the next one saying how many were left out", () => {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString("utf8")) as Record<string, unknown>), done()) });
  let clock = 0;
  const log = repeatedLog(pino({ level: "info" }, sink), "error", 10_000, () => clock);
  for (let i = 0; i < 1000; i++) log({ reason: "spool full" }, "audit record not written: call refused");
  clock = 9_999;
  log({ reason: "spool full" }, "audit record not written: call refused");
  clock = 10_000;
  log({ reason: "spool full" }, "audit record not written: call refused");
  log({ reason: "spool full" }, "audit record not written: call refused");
  clock = 30_000;
  log({ reason: "disk error" }, "audit record not written: call refused");
  assert.deepEqual(lines.map((l) => [l["level"], l["reason"], l["suppressed"]]), [[50, "spool full", undefined], [50, "spool full", 1000], [50, "disk error", 1]]);
});
